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
import { type BodySource, streamSource } from "../transfer/body.ts";
import { CHUNK_SIZE, ChunkPool } from "../transfer/pool.ts";
import { getClassic, listClassic, putClassic } from "./classic.ts";
import { ClientError, toClientError } from "./errors.ts";
import {
  destination,
  openPartial,
  openSource,
  q,
  refuseExisting,
  requirePermission,
} from "./local.ts";
import { getPs2, listPs2, type Moved, type Progress, putPs2 } from "./ps2.ts";
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
    const reader = streamSource(source.stream);
    local = { source: reader, size: source.size, close: () => reader[Symbol.dispose]() };
  }
  try {
    const moved = await session(
      options,
      "put",
      (wire, step) =>
        options.classic
          ? putClassic(wire, local.source, name, local.size, step)
          : putPs2(wire, local.source, name, local.size, options.resume ?? true, step),
    );
    return result(name, path, moved, started);
  } finally {
    local.close();
  }
}

/**
 * Downloads a file. It lands under its name in the current folder, or at
 * `output` (a file path, or a folder to put it in), and never replaces a
 * local file unless `force`.
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
  const dest = destination(name, options.output);
  requirePermission({ name: "write", path: dirname(dest) }, `to save ${q(dest)}`);
  requirePermission({ name: "read", path: dirname(dest) }, `to save ${q(dest)}`);
  const force = options.force ?? false;
  refuseExisting(dest, force);
  const resume = (options.resume ?? true) && !options.classic;
  const partial = openPartial(dest, resume, force);
  let keep = true;
  try {
    let moved;
    try {
      moved = await session(
        options,
        "get",
        (wire, step) =>
          options.classic
            ? getClassic(wire, partial.file, name, step)
            : getPs2(wire, partial.file, name, step),
      );
    } catch (error) {
      // A refused or corrupt download leaves nothing to resume (a password refused does).
      const { kind, reason } = error as ClientError;
      if ((kind !== "connection" && kind !== "aborted") || options.classic) keep = false;
      if (reason === "unauthorized") keep = true;
      throw error;
    }
    await partial.commit();
    return result(name, dest, moved, started);
  } catch (error) {
    await partial.abort(keep);
    throw error;
  }
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
        ? (await listClassic(wire)).map((name) => ({ name }))
        : await listPs2(wire, step.where),
  );
}

/**
 * Connects, runs one operation on the connection, and closes it; every
 * failure comes out as a {@link ClientError}.
 */
async function session<T>(
  options: TransferOptions,
  op: "put" | "get" | "list",
  run: (
    wire: Wire,
    step: { where: string; pool: ChunkPool; onProgress?: TransferOptions["onProgress"] },
  ) => Promise<T>,
): Promise<T> {
  const where = `${options.host}:${options.port}`;
  requirePermission({ name: "net", host: where }, `to connect to ${where}`);
  const signal = options.signal;
  const timeoutMs = options.timeoutMs ?? CLIENT_DEFAULTS.timeoutMs;
  let wire: Wire | undefined;
  const onAbort = () => wire?.close();
  try {
    signal?.throwIfAborted();
    wire = await openWire(options, timeoutMs, signal);
    wire.setDeadline(timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    return await run(wire, {
      where,
      pool,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
  } catch (error) {
    throw toClientError(explainFailure(error, wire, where), where, op, signal);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    wire?.close();
  }
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
