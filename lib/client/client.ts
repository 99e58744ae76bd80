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
import { joinPath, lastName, pathProblem } from "../protocol/paths.ts";
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
import { openPartial, type PartialDownload } from "./partial.ts";
import { folderPlace, isLocalFolder, looksLikeFolder, openLocalFolder } from "./folder_local.ts";
import { type FolderMoved, getFolderFirst, getFolderPs2, putFolderPs2 } from "./folders.ts";
import {
  type DownloadSink,
  FolderPass,
  getPs2,
  type HashedPrefix,
  HashFirst,
  listPs2,
  type Moved,
  putPs2,
  type StepOptions,
} from "./ps2.ts";
import { explainFailure, openWire } from "./secure.ts";

import type {
  ConnectOptions,
  GetOptions,
  ListOptions,
  PutOptions,
  PutStream,
  RemoteFile,
  TransferOptions,
  TransferResult,
} from "./options.ts";

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
  const own = typeof source === "string" ? options.as ?? basename(source) : source.name;
  const name = options.to ? joinPath(trimSlash(options.to), own) : own;
  if (typeof source === "string") {
    requirePermission({ name: "read", path }, `to read ${q(path)}`);
    if (isLocalFolder(source)) return await putFolder(source, name, options, started);
  }
  let local: { source: BodySource & Partial<Deno.FsFile>; size: number; close(): void };
  if (typeof source === "string") {
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
export async function get(path: string, options: GetOptions): Promise<TransferResult> {
  const started = performance.now();
  const name = trimSlash(path);
  const problem = pathProblem(name);
  if (problem) {
    // The server would refuse it too; a bad name must not become a local path.
    throw new ClientError("refused", `Invalid name ${JSON.stringify(name)}: ${problem}`, {
      reason: "invalid-name",
    });
  }
  const where = `${options.host}:${options.port}`;
  requirePermission({ name: "read", path: options.output || "." }, `to save ${q(name)}`);
  const last = lastName(name);
  const force = options.force ?? false;
  const place = options.classic
    ? undefined
    : folderPlace(last, options.output, options.resume ?? true);
  if (place && looksLikeFolder(place)) {
    // A folder here, or an earlier folder download's work: ask for a folder.
    requirePermission({ name: "write", path: place.parent }, `to save ${q(last)}`);
    const moved = await session(
      options,
      "get",
      (wire, step) => getFolderFirst(wire, name, place, force, step),
    );
    return folderResult(name, moved, started);
  }
  const target = resolveTarget(last, options.output, force);
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
      const moved = await session(options, "get", async (wire, step) => {
        try {
          return await receive(sink)(wire, step);
        } catch (error) {
          if (!(error instanceof FolderPass)) throw error;
          return await getFolderPs2(wire, error.reply, name, undefined, force, step);
        }
      });
      return { ...result(name, target.path, moved, started), streamed: true };
    } finally {
      file.close();
    }
  }
  const partial: PartialDownload = await openPartial(target.path, {
    resume: (options.resume ?? true) && !options.classic,
    replace: target.replace,
    server: where,
    name,
    pool,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  let moved: Moved | FolderMoved;
  try {
    moved = await session(options, "get", async (wire, step) => {
      try {
        return await receive(partial)(wire, step);
      } catch (error) {
        if (!(error instanceof FolderPass)) throw error;
        // A folder: its working folder takes the partial file's name.
        partial.abort(false);
        return await getFolderPs2(wire, error.reply, name, place, force, step);
      }
    });
  } catch (error) {
    // Only data known to be wrong is dropped; a classic download cannot resume.
    const corrupt = error instanceof ClientError && error.kind === "corrupt";
    partial.abort(!corrupt && !options.classic);
    throw error;
  }
  if ("files" in moved) return folderResult(name, moved, started);
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
export async function list(options: ListOptions): Promise<RemoteFile[]> {
  const folder = options.folder === undefined ? undefined : trimSlash(options.folder);
  if (folder !== undefined && folder !== "") {
    const problem = pathProblem(folder);
    if (problem) {
      throw new ClientError("refused", `Invalid folder ${JSON.stringify(folder)}: ${problem}`, {
        reason: "invalid-name",
      });
    }
    if (options.classic) {
      throw new ClientError("usage", "The classic protocol has no folders: list the top");
    }
  }
  return await session(
    options,
    "list",
    async (wire, step) =>
      options.classic
        ? (await listClassic(wire, step)).map((name) => ({ name }))
        : await listPs2(wire, step, folder || undefined, options.folders ?? true),
  );
}

/** Puts a local folder whole, as a new folder on the server. */
async function putFolder(
  path: string,
  name: string,
  options: PutOptions,
  started: number,
): Promise<TransferResult> {
  if (options.classic) {
    throw new ClientError("usage", `${q(path)} is a folder: the classic protocol sends files only`);
  }
  const local = await openLocalFolder(path);
  try {
    const moved = await session(
      options,
      "put",
      (wire, step) => putFolderPs2(wire, local, name, options.resume ?? true, step),
    );
    return folderResult(name, { ...moved, path }, started);
  } finally {
    await local.dir.close();
  }
}

/** A name as typed, without the trailing slashes that say it is a folder. */
function trimSlash(name: string): string {
  return name.length > 1 ? name.replace(/\/+$/, "") : name;
}

function folderResult(name: string, moved: FolderMoved, started: number): TransferResult {
  return {
    name,
    path: moved.path,
    size: moved.size,
    moved: moved.size - moved.resumedFrom,
    resumedFrom: moved.resumedFrom,
    ms: performance.now() - started,
    type: "folder",
    files: moved.files,
    kept: moved.kept,
    skipped: moved.skipped,
  };
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
