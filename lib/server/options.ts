/**
 * How a server is set up: its options with their defaults (the command
 * line's help and the README quote these), and the check that a folder can
 * be served.
 *
 * @module
 */

import type { WebOptions } from "./web_server.ts";
import type { FolderLimits } from "../protocol/paths.ts";
import type { ServerListener } from "./events.ts";
import type { ServerSecurityOptions } from "./security.ts";

/** How a server is set up; {@link SERVER_DEFAULTS} fills in what is left out. */
export interface ServerOptions extends ServerSecurityOptions {
  /** The folder to serve. */
  root: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Address to listen on; default all interfaces, IPv4 and IPv6. */
  host?: string;
  /** Refuse uploads (default false). */
  readOnly?: boolean;
  /** What a client that tries to upload to a read-only server is told. */
  readOnlyMessage?: string;
  /** Shut down after this long without a connection; 0 never. */
  idleTimeoutMs?: number;
  /** Most connections serving a request at once; more get `busy`. */
  maxConnections?: number;
  /** Most connections serving a request from one address; more get `busy`. */
  maxPerAddress?: number;
  /**
   * Most connections that have not sent their command yet; a newcomer
   * beyond it closes the oldest of the address that holds the most.
   */
  maxPending?: number;
  /** Time a client has to send its whole command, however it trickles. */
  commandTimeoutMs?: number;
  /** Deadline for progress while data flows. */
  dataTimeoutMs?: number;
  /**
   * Least average rate of a transfer's data, in bytes a second, over each
   * `dataTimeoutMs`; 0 for none.
   */
  minRate?: number;
  /** Pause between a classic get's `pass` and its data (see docs/PROTOCOL.md). */
  classicPauseMs?: number;
  /** Partial uploads older than this are removed. */
  partialTtlMs?: number;
  /** Most bytes all transfer buffers together may hold. */
  bufferBytes?: number;
  /** What one folder put or get may hold (default FOLDER_LIMITS, in README). */
  folderLimits?: Readonly<FolderLimits>;
  /**
   * Bytes free on the served folder's disk, checked before a folder put;
   * default `statfs` (with `--allow-sys=statfs`; without it, unchecked).
   */
  freeSpace?: () => Promise<number | undefined>;
  /** Serve the folder as a web page too, on a port of its own (docs/PROTOCOL.md "Web page"). */
  web?: WebOptions;
  /** Receives every event, from the first (`started`) on. */
  onEvent?: ServerListener;
}

/** Defaults for every option that has one. */
export const SERVER_DEFAULTS = {
  idleTimeoutMs: 300_000,
  maxConnections: 128,
  maxPerAddress: 32,
  maxPending: 128,
  commandTimeoutMs: 10_000,
  dataTimeoutMs: 30_000,
  minRate: 4096,
  classicPauseMs: 30,
  partialTtlMs: 24 * 3600_000,
  bufferBytes: 512 * 1024 * 1024,
  /** How long transfers in flight may finish when the server is asked to stop. */
  graceMs: 30_000,
} as const;

/** A folder that cannot be served. */
export class RootError extends Error {
  /** `missing`, `not-folder` or `denied`. */
  readonly code: "missing" | "not-folder" | "denied";

  /**
   * Creates a RootError.
   *
   * @param code what is wrong
   * @param message one sentence
   * @param options the system's error
   */
  constructor(code: RootError["code"], message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RootError";
    this.code = code;
  }
}

/**
 * Checks that a folder can be served: it exists and is a folder.
 *
 * @param root the folder
 * @throws {RootError} when it cannot be served
 */
export function checkRoot(root: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(root);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new RootError("missing", `The folder '${root}' does not exist`, { cause: error });
    }
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new RootError("denied", `Cannot serve '${root}': ${error.message}`, { cause: error });
    }
    throw error;
  }
  if (!info.isDirectory) throw new RootError("not-folder", `'${root}' is not a folder`);
}
