/**
 * The privateshare client: put, get and list as functions that the CLI and
 * a GUI both call. Each speaks the default protocol, or the classic one with
 * `classic: true`, can be cancelled with an `AbortSignal`, and keeps the
 * local side as safe as the server keeps its own: a hidden partial file,
 * verified, then moved into place.
 *
 * @module
 */

import { basename, dirname } from "node:path";
import { nameProblem } from "../protocol/names.ts";
import type { Wire } from "../net/wire.ts";
import { type BodySource, newHash, streamSource } from "../transfer/body.ts";
import { CHUNK_SIZE, ChunkPool } from "../transfer/pool.ts";
import { getClassic, listClassic, putClassic } from "./classic.ts";
import { ClientError, toClientError } from "./errors.ts";
import {
  hashFilePrefix,
  openSource,
  openStream,
  q,
  requirePermission,
  resolveTarget,
} from "./local.ts";
import { openPartial } from "./partial.ts";
import {
  type DownloadSink,
  getPs2,
  type HashedPrefix,
  HashFirst,
  listPs2,
  type Moved,
  type Progress,
  putPs2,
  type StepOptions,
} from "./ps2.ts";
import { explainFailure, openWire, type SecurityOptions } from "./secure.ts";

/** Where the server is and how to talk to it. */
export interface ConnectOptions extends SecurityOptions {
  /** Host name or address. */
  host: string;
  /** Port. */
  port: number;
  /** Speak the original privateshare format. */
  classic?: boolean;
  /** Deadline for any progress on the connection (default {@link CLIENT_DEFAULTS}). */
  timeoutMs?: number;
  /** Cancels the operation; a cancelled get keeps its partial download for a resume. */
  signal?: AbortSignal;
}

/** Options for put and get. */
export interface TransferOptions extends ConnectOptions {
  /** Called as bytes move. */
  onProgress?: (progress: Progress) => void;
  /** Continue an interrupted transfer (default true). */
  resume?: boolean;
}

/** Options for put. */
export interface PutOptions extends TransferOptions {
  /** The name on the server, instead of the file's own. */
  as?: string;
}

/** Options for get. */
export interface GetOptions extends TransferOptions {
  /** Where to save: a file path, or a folder to save into (default: the current folder). */
  output?: string;
  /** Replace a local file of the same name. */
  force?: boolean;
}

/** Data to put that is not a local file: a stream of known size, such as a browser upload. */
export interface PutStream {
  /** The name on the server. */
  name: string;
  /** Exactly how many bytes the stream holds. */
  size: number;
  /** The bytes. */
  stream: ReadableStream<Uint8Array>;
}

/** What a finished transfer did. */
export interface TransferResult {
  /** The name on the server. */
  name: string;
  /** The local file (empty for a stream put). */
  path: string;
  /** The file's size. */
  size: number;
  /** Bytes moved in this run (less than size when resumed). */
  moved: number;
  /** Where a resumed transfer started, 0 otherwise. */
  resumedFrom: number;
  /** The verified SHA-256, or undefined for the classic protocol. */
  sha256?: string;
  /** Milliseconds the operation took. */
  ms: number;
  /** A get written into a device, FIFO or descriptor as it arrived, rather than saved as a file. */
  streamed?: boolean;
}

/** One file of a listing; classic servers give only names. */
export interface RemoteFile {
  /** Name on the server. */
  name: string;
  /** Size in bytes, when known. */
  size?: number;
  /** Modification time, ms since the epoch, when known. */
  mtime?: number;
}

/** Defaults of the client's options. */
export const CLIENT_DEFAULTS = {
  /** Deadline for any progress on the connection. */
  timeoutMs: 30_000,
} as const;

/** The client's buffers: one transfer, two chunks, so that disk and network overlap. */
const pool = new ChunkPool(2 * CHUNK_SIZE);

/**
 * Uploads a local file, or a stream of known size.
 *
 * @param source the local file's path, or a {@link PutStream}
 * @param options the server, and `as` for another name on the server
 * @returns what was sent
 * @throws {ClientError} for every failure, with its kind
 * @example
 * ```ts
 * import { put } from "./client.ts";
 * await put("apple.jpg", { host: "localhost", port: 365 });
 * ```
 */
export async function put(
  source: string | PutStream,
  options: PutOptions,
): Promise<TransferResult> {
  const started = performance.now();
  const path = typeof source === "string" ? source : "";
  const name = typeof source === "string" ? options.as ?? basename(source) : source.name;
  let local: { source: BodySource & Partial<Deno.FsFile>; size: number; close(): void };
  if (typeof source === "string") {
    requirePermission({ name: "read", path }, `to read ${q(path)}`);
    const { file, size } = await openSource(path);
    local = { source: file, size, close: () => file.close() };
  } else {
    // A stream resumes the server's partial upload when that is its own
    // beginning; it cannot go back to start over when it is not.
    const reader = Object.assign(streamSource(source.stream), {
      seek: () => Promise.reject(restartError(name)),
    });
    local = { source: reader, size: source.size, close: () => reader[Symbol.dispose]() };
  }
  // A cancel must not wait for a stalled stream's next bytes.
  const onAbort = () => void local.source.cancel?.();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    let hashed: HashedPrefix | undefined;
    while (true) {
      try {
        const moved = await session(
          options,
          "put",
          (wire, step) =>
            options.classic
              ? putClassic(wire, local.source, name, local.size, step)
              : putPs2(wire, local.source, name, local.size, options.resume ?? true, step, hashed),
        );
        return result(name, path, moved, started);
      } catch (error) {
        // A long prefix to resume from is hashed with no server waiting, then offered again.
        if (!(error instanceof HashFirst)) throw error;
        const file = local.source as Deno.FsFile;
        const { hash } = await hashFilePrefix(file, path, error.offset, {
          pool,
          ...(options.signal ? { signal: options.signal } : {}),
        });
        hashed = { offset: error.offset, hash };
      }
    }
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    local.close();
  }
}

/**
 * Downloads a file. Where it lands is decided and checked before connecting:
 * under its name in the current folder, or at `output` (a file path; a
 * folder to save into, which a trailing slash requires; or an existing
 * character device or FIFO, such as `/dev/null`, written into). It never
 * replaces a local file unless `force`, and never writes through a link.
 *
 * The download goes to a hidden partial file, created exclusively, locked,
 * and recorded as the client's own; it is kept for a resume whenever the
 * download stops, except when the data is known wrong (a SHA-256 mismatch).
 *
 * @param name the name on the server
 * @param options the server, `output`, `force`
 * @returns what was received
 * @throws {ClientError} for every failure, with its kind
 */
export async function get(name: string, options: GetOptions): Promise<TransferResult> {
  const started = performance.now();
  const problem = nameProblem(name);
  if (problem) {
    // The server would refuse it too; a bad name must not become a local path.
    throw new ClientError("refused", `Invalid name ${JSON.stringify(name)}: ${problem}`, {
      reason: "invalid-name",
    });
  }
  const where = `${options.host}:${options.port}`;
  requirePermission({ name: "read", path: options.output || "." }, `to save ${q(name)}`);
  const target = resolveTarget(name, options.output, options.force ?? false);
  const folder = target.kind === "stream" ? target.path : dirname(target.path);
  requirePermission({ name: "write", path: folder }, `to save ${q(target.path)}`);
  requirePermission({ name: "read", path: folder }, `to save ${q(target.path)}`);
  requireNet(options);
  const receive = (sink: DownloadSink) => (wire: Wire, step: StepOptions) =>
    options.classic ? getClassic(wire, sink.file, name, step) : getPs2(wire, sink, name, step);
  if (target.kind === "stream") {
    const file = await openStream(target.path);
    try {
      const sink = { file, have: 0, hash: newHash(), hashed: 0, restart: () => Promise.resolve() };
      const moved = await session(options, "get", receive(sink));
      return { ...result(name, target.path, moved, started), streamed: true };
    } finally {
      file.close();
    }
  }
  const partial = await openPartial(target.path, {
    resume: (options.resume ?? true) && !options.classic,
    replace: target.replace,
    server: where,
    name,
    pool,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  let moved: Moved;
  try {
    moved = await session(options, "get", receive(partial));
  } catch (error) {
    // Only data known to be wrong is dropped; a classic download cannot resume.
    const corrupt = error instanceof ClientError && error.kind === "corrupt";
    partial.abort(!corrupt && !options.classic);
    throw error;
  }
  try {
    await partial.commit();
  } catch (error) {
    partial.abort(true);
    throw error;
  }
  return result(name, target.path, moved, started);
}

/**
 * Lists the server's files.
 *
 * @param options the server
 * @returns the files, by name; sizes and times only from privateshare servers
 * @throws {ClientError} for every failure, with its kind
 */
export async function list(options: ConnectOptions): Promise<RemoteFile[]> {
  return await session(
    options,
    "list",
    async (wire, step) =>
      options.classic
        ? (await listClassic(wire, step)).map((name) => ({ name }))
        : await listPs2(wire, step),
  );
}

/**
 * Connects, runs one operation on the connection, and closes it; every
 * failure comes out as a {@link ClientError}.
 */
async function session<T>(
  options: TransferOptions,
  op: "put" | "get" | "list",
  run: (wire: Wire, step: StepOptions) => Promise<T>,
): Promise<T> {
  const where = requireNet(options);
  const signal = options.signal;
  const timeoutMs = options.timeoutMs ?? CLIENT_DEFAULTS.timeoutMs;
  let wire: Wire | undefined;
  const onAbort = () => wire?.close();
  try {
    signal?.throwIfAborted();
    wire = await openWire(options, timeoutMs, signal);
    wire.setDeadline(timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    // An abort between connecting and listening for it closes the wire too.
    if (signal?.aborted) wire.close();
    return await run(wire, {
      where,
      pool,
      timeoutMs,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
  } catch (error) {
    throw toClientError(explainFailure(error, wire, where), where, op, signal);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    wire?.close();
  }
}

function restartError(name: string): ClientError {
  return new ClientError(
    "local",
    `The server's partial upload of '${name}' holds other data: put it again without resuming`,
    { code: "restart" },
  );
}

/** Checks the permission to connect, before anything else is done; returns `host:port`. */
function requireNet(options: ConnectOptions): string {
  const where = `${options.host}:${options.port}`;
  requirePermission({ name: "net", host: where }, `to connect to ${where}`);
  return where;
}

function result(name: string, path: string, moved: Moved, started: number): TransferResult {
  return {
    name,
    path,
    size: moved.size,
    moved: moved.size - moved.resumedFrom,
    resumedFrom: moved.resumedFrom,
    ...(moved.sha256 ? { sha256: moved.sha256 } : {}),
    ms: performance.now() - started,
  };
}
