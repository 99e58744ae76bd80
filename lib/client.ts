/**
 * The privateshare client: put, get and list as functions that the CLI and
 * the GUI both call. Each speaks the default protocol, or the classic one
 * with `classic: true`, and keeps the local side as safe as the server keeps
 * its own: a hidden partial file, verified, then moved into place.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { basename, dirname, join } from "node:path";
import {
  readClassicCode,
  readClassicList,
  sendClassicBody,
  sendClassicCommand,
} from "./classic.ts";
import {
  CancelError,
  decodeListing,
  decodeReply,
  decodeTrailer,
  encodeCommand,
  encodeLine,
  MAX_REPLY_BYTES,
  type Reason,
  type Reply,
} from "./protocol.ts";
import { nameProblem } from "./store.ts";
import { clientPool, hashPrefix, newHash, receiveBody, sendBody } from "./transfer.ts";
import { isConnectionError, TimeoutError, TruncatedError, Wire } from "./wire.ts";

/** What kind of failure ended an operation; the CLI maps each to an exit code. */
export type FailureKind = "usage" | "refused" | "connection" | "corrupt" | "local" | "protocol";

/** A failure of put, get or list, with a sentence for a person. */
export class ClientError extends Error {
  /** What kind of failure. */
  readonly kind: FailureKind;
  /** The server's reason code, for a refusal. */
  readonly reason?: Reason;

  /**
   * @param kind what kind of failure
   * @param message one line: what went wrong and what to do
   * @param reason the server's reason code, for a refusal
   */
  constructor(kind: FailureKind, message: string, reason?: Reason) {
    super(message);
    this.name = "ClientError";
    this.kind = kind;
    if (reason !== undefined) this.reason = reason;
  }
}

/** Where the server is and how to talk to it. */
export interface ConnectOptions {
  /** Host name or address. */
  host: string;
  /** Port. */
  port: number;
  /** Speak the original privateshare format. */
  classic?: boolean;
  /** Deadline for any progress on the connection (default 30 s). */
  timeoutMs?: number;
}

/** How a transfer is going. */
export interface Progress {
  /** Bytes of the file in place so far, resumed bytes included. */
  done: number;
  /** The file's size, when known (not for a classic get). */
  total?: number;
  /** Where a resumed transfer started, 0 otherwise. */
  resumedFrom: number;
}

/** Options for put and get. */
export interface TransferOptions extends ConnectOptions {
  /** Called as bytes move. */
  onProgress?: (progress: Progress) => void;
  /** Continue an interrupted transfer (default true). */
  resume?: boolean;
}

/** What a finished transfer did. */
export interface TransferResult {
  /** The name on the server. */
  name: string;
  /** The local file. */
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

const _DEFAULT_TIMEOUT_MS = 30_000;
const _MAX_CLASSIC_LIST = 64 * 1024 * 1024;

/**
 * Uploads a local file.
 *
 * @param path the local file
 * @param options the server, and `as` for another name on the server
 * @returns what was sent
 * @throws {ClientError} for every failure, with its kind
 * @example
 * ```ts
 * await put("apple.jpg", { host: "localhost", port: 365 });
 * ```
 */
export async function put(
  path: string,
  options: TransferOptions & { as?: string },
): Promise<TransferResult> {
  const started = performance.now();
  const name = options.as ?? basename(path);
  _requirePermission({ name: "read", path }, "--allow-read", `to read ${_q(path)}`);
  const file = await _openLocal(path);
  try {
    const size = file.statSync().size;
    const wire = await _connect(options);
    try {
      const moved = options.classic
        ? await _putClassic(wire, file, name, size, options)
        : await _putPs2(wire, file, name, size, options);
      return {
        name,
        path,
        size,
        moved: moved.bytes,
        resumedFrom: moved.resumedFrom,
        ...(moved.sha256 ? { sha256: moved.sha256 } : {}),
        ms: performance.now() - started,
      };
    } catch (error) {
      throw _clientError(error, options, "put");
    } finally {
      wire.close();
    }
  } finally {
    file.close();
  }
}

async function _putPs2(
  wire: Wire,
  file: Deno.FsFile,
  name: string,
  size: number,
  options: TransferOptions,
): Promise<{ bytes: number; resumedFrom: number; sha256: string }> {
  await wire.write(encodeCommand({ op: "put", name, size, resume: options.resume ?? true }));
  const reply = await _firstReply(wire, options);
  let hash = newHash();
  let start = 0;
  const offset = reply.offset ?? 0;
  if (offset > 0 && offset <= size && reply.prefixSha256) {
    await hashPrefix(file, offset, hash, clientPool);
    if (hash.copy().digest("hex") === reply.prefixSha256) {
      start = offset;
    } else {
      // The server's partial came from a different file: start over.
      hash = newHash();
      await file.seek(0, Deno.SeekMode.Start);
    }
  }
  await wire.write(encodeLine({ offset: start }));
  const progress = options.onProgress;
  progress?.({ done: start, total: size, resumedFrom: start });
  let sendFailure: unknown;
  const sending = (async () => {
    await sendBody(file, wire, size - start, {
      pool: clientPool,
      hash,
      onProgress: progress &&
        ((n) => progress({ done: start + n, total: size, resumedFrom: start })),
    });
    await wire.write(encodeLine({ sha256: hash.digest("hex") }));
  })().catch((error) => sendFailure = error);
  // The server answers after the checksum, or early with a cancel (a full
  // disk, say): read its verdict while sending.
  let verdict: Reply;
  try {
    verdict = await _reply(wire);
  } catch (error) {
    await sending;
    throw sendFailure ?? error;
  }
  if (verdict.code !== "done") wire.close();
  await sending;
  if (verdict.code === "cancel") throw new CancelError(verdict.reason, verdict.message);
  if (sendFailure) throw sendFailure;
  if (verdict.code !== "done") throw _unexpected(verdict);
  return { bytes: size - start, resumedFrom: start, sha256: verdict.sha256 };
}

async function _putClassic(
  wire: Wire,
  file: Deno.FsFile,
  name: string,
  size: number,
  options: TransferOptions,
): Promise<{ bytes: number; resumedFrom: number; sha256?: string }> {
  await sendClassicCommand(wire, "put", name);
  if (await readClassicCode(wire) === "cancel") {
    throw new CancelError(
      "exists",
      `The server refused to store ${_q(name)}: the name is taken, invalid, or uploads are off`,
    );
  }
  const progress = options.onProgress;
  await sendClassicBody(wire, file, size, {
    pool: clientPool,
    hash: newHash(),
    onProgress: progress && ((n) => progress({ done: n, total: size, resumedFrom: 0 })),
  });
  return { bytes: size, resumedFrom: 0 };
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
export async function get(
  name: string,
  options: TransferOptions & { output?: string; force?: boolean },
): Promise<TransferResult> {
  const started = performance.now();
  const problem = nameProblem(name);
  if (problem) {
    // The server would refuse it too; a bad name must not become a local path.
    throw new ClientError(
      "refused",
      `Invalid name ${JSON.stringify(name)}: ${problem}`,
      "invalid-name",
    );
  }
  const dest = _destination(name, options.output);
  _requirePermission(
    { name: "write", path: dirname(dest) },
    "--allow-write",
    `to save ${_q(dest)}`,
  );
  _requirePermission({ name: "read", path: dirname(dest) }, "--allow-read", `to save ${_q(dest)}`);
  if (!options.force && _exists(dest)) {
    throw new ClientError(
      "local",
      `${_q(dest)} already exists: add --force to overwrite it, or --output to save elsewhere`,
    );
  }
  const partialPath = _partialPath(dest);
  const resume = (options.resume ?? true) && !options.classic;
  const file = _openPartial(partialPath, resume);
  let keep = true;
  try {
    const wire = await _connect(options);
    let moved;
    try {
      moved = options.classic
        ? await _getClassic(wire, file, name, options)
        : await _getPs2(wire, file, name, options);
    } catch (error) {
      const failure = _clientError(error, options, "get");
      // A refused or corrupt download leaves nothing to resume.
      if (failure.kind !== "connection" || options.classic) keep = false;
      throw failure;
    } finally {
      wire.close();
    }
    await file.syncData();
    file.close();
    _commitLocal(partialPath, dest, options.force ?? false);
    return {
      name,
      path: dest,
      size: moved.size,
      moved: moved.size - moved.resumedFrom,
      resumedFrom: moved.resumedFrom,
      ...(moved.sha256 ? { sha256: moved.sha256 } : {}),
      ms: performance.now() - started,
    };
  } catch (error) {
    try {
      file.close();
    } catch (closeError) {
      if (!(closeError instanceof Deno.errors.BadResource)) throw closeError;
    }
    // Keep a partial download only when it holds something to resume from.
    const size = await Deno.stat(partialPath).then((info) => info.size, () => 0);
    if (!keep || size === 0) await Deno.remove(partialPath).catch(() => {});
    throw error;
  }
}

async function _getPs2(
  wire: Wire,
  file: Deno.FsFile,
  name: string,
  options: TransferOptions,
): Promise<{ size: number; resumedFrom: number; sha256: string }> {
  let hash = newHash();
  const have = file.statSync().size;
  if (have > 0) await hashPrefix(file, have, hash, clientPool);
  await wire.write(encodeCommand(
    have > 0
      ? { op: "get", name, offset: have, prefixSha256: hash.copy().digest("hex") }
      : { op: "get", name, offset: 0 },
  ));
  const reply = await _firstReply(wire, options);
  if (reply.size === undefined) throw _unexpected(reply);
  const size = reply.size;
  const start = reply.offset ?? 0;
  if (start !== 0 && start !== have) throw _unexpected(reply);
  if (start === 0 && have > 0) {
    // The server's file is not the one the partial came from: start over.
    hash = newHash();
    await file.truncate(0);
    await file.seek(0, Deno.SeekMode.Start);
  }
  const progress = options.onProgress;
  progress?.({ done: start, total: size, resumedFrom: start });
  await receiveBody(wire, file, size - start, {
    pool: clientPool,
    hash,
    onProgress: progress && ((n) => progress({ done: start + n, total: size, resumedFrom: start })),
  });
  const trailer = await wire.readLine(MAX_REPLY_BYTES);
  if (trailer === null) throw new TruncatedError("The server closed before its checksum");
  const digest = hash.digest("hex");
  if (decodeTrailer(trailer) !== digest) {
    throw new CancelError(
      "corrupt",
      `The data received for ${_q(name)} does not match the server's SHA-256: nothing was kept; ` +
        "try again",
    );
  }
  return { size, resumedFrom: start, sha256: digest };
}

async function _getClassic(
  wire: Wire,
  file: Deno.FsFile,
  name: string,
  options: TransferOptions,
): Promise<{ size: number; resumedFrom: number; sha256?: string }> {
  await sendClassicCommand(wire, "get", name);
  if (await readClassicCode(wire) === "cancel") {
    throw new CancelError("not-found", `The server has no file named ${_q(name)}`);
  }
  const progress = options.onProgress;
  const size = await receiveBody(wire, file, undefined, {
    pool: clientPool,
    hash: newHash(),
    onProgress: progress && ((n) => progress({ done: n, resumedFrom: 0 })),
  });
  return { size, resumedFrom: 0 };
}

/**
 * Lists the server's files.
 *
 * @param options the server
 * @returns the files, by name; sizes and times only from privateshare servers
 * @throws {ClientError} for every failure, with its kind
 */
export async function list(options: ConnectOptions): Promise<RemoteFile[]> {
  const wire = await _connect(options);
  try {
    if (options.classic) {
      await sendClassicCommand(wire, "list", "");
      return (await readClassicList(wire, _MAX_CLASSIC_LIST)).map((name) => ({ name }));
    }
    await wire.write(encodeCommand({ op: "list" }));
    const reply = await _firstReply(wire, options);
    if (reply.count === undefined) throw _unexpected(reply);
    const body = await wire.readToEnd(reply.count * MAX_REPLY_BYTES);
    try {
      return decodeListing(body, reply.count);
    } catch (error) {
      if (!(error instanceof CancelError)) throw error;
      throw new ClientError(
        "protocol",
        `The listing from ${options.host}:${options.port} was incomplete or malformed ` +
          `(${error.message}): try again`,
      );
    }
  } catch (error) {
    throw _clientError(error, options, "list");
  } finally {
    wire.close();
  }
}

async function _connect(options: ConnectOptions): Promise<Wire> {
  const where = `${options.host}:${options.port}`;
  _requirePermission(
    { name: "net", host: where },
    "--allow-net",
    `to connect to ${where}`,
  );
  let conn: Deno.Conn;
  // A timer of our own, cleared once connected, rather than AbortSignal.timeout,
  // whose timer would outlive every request of a long-running caller.
  const abort = new AbortController();
  const timer = setTimeout(
    () => abort.abort(new DOMException("No answer", "TimeoutError")),
    options.timeoutMs ?? _DEFAULT_TIMEOUT_MS,
  );
  try {
    conn = await Deno.connect({ hostname: options.host, port: options.port, signal: abort.signal });
  } catch (error) {
    const why = error instanceof Deno.errors.ConnectionRefused
      ? "connection refused"
      : error instanceof DOMException && error.name === "TimeoutError"
      ? "no answer"
      : error instanceof Error
      ? error.message.replace(/\s*\(os error \d+\)$/, "")
      : String(error);
    throw new ClientError(
      "connection",
      `Cannot connect to ${where} (${why}): check that the server is running and the address is right`,
    );
  } finally {
    clearTimeout(timer);
  }
  const wire = new Wire(conn);
  wire.setDeadline(options.timeoutMs ?? _DEFAULT_TIMEOUT_MS);
  return wire;
}

/** Reads the server's first answer; a non-privateshare answer hints at --classic. */
async function _firstReply(wire: Wire, options: ConnectOptions): Promise<Reply & { code: "pass" }> {
  const mismatch = () =>
    new ClientError(
      "protocol",
      `The server at ${options.host}:${options.port} did not answer in the privateshare ` +
        "protocol: if it is an original privateshare server, add --classic",
    );
  let line: Uint8Array | null;
  try {
    line = await wire.readLine(MAX_REPLY_BYTES);
  } catch (error) {
    if (
      error instanceof TruncatedError || error instanceof CancelError ||
      error instanceof Deno.errors.ConnectionReset
    ) throw mismatch();
    throw error;
  }
  if (line === null) throw mismatch();
  let reply: Reply;
  try {
    reply = decodeReply(line);
  } catch {
    throw mismatch();
  }
  if (reply.code === "cancel") throw new CancelError(reply.reason, reply.message);
  if (reply.code !== "pass") throw _unexpected(reply);
  return reply;
}

async function _reply(wire: Wire): Promise<Reply> {
  const line = await wire.readLine(MAX_REPLY_BYTES);
  if (line === null) throw new TruncatedError("The server closed without a verdict");
  return decodeReply(line);
}

function _unexpected(reply: Reply): ClientError {
  return new ClientError(
    "protocol",
    `The server sent an unexpected answer (${JSON.stringify(reply)}): is it a privateshare server?`,
  );
}

/** Turns whatever an operation threw into a ClientError. */
function _clientError(error: unknown, options: ConnectOptions, op: string): ClientError {
  if (error instanceof ClientError) return error;
  const where = `${options.host}:${options.port}`;
  if (error instanceof CancelError) {
    if (error.reason === "corrupt") return new ClientError("corrupt", error.message, "corrupt");
    return new ClientError("refused", `The server refused: ${error.message}`, error.reason);
  }
  const again = op === "list" ? "try again" : "run the same command again to resume";
  if (error instanceof TimeoutError) {
    return new ClientError("connection", `The server at ${where} stopped responding: ${again}`);
  }
  if (
    error instanceof TruncatedError && error.message.startsWith("The file ended")
  ) {
    return new ClientError("local", "The local file shrank while it was being sent: try again");
  }
  if (isConnectionError(error)) {
    return new ClientError("connection", `The connection to ${where} was lost: ${again}`);
  }
  if ((error as { code?: string })?.code === "ENOSPC") {
    return new ClientError("local", "The local disk is full: free some space and try again");
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new ClientError("local", `Permission denied: ${error.message}`);
  }
  throw error;
}

function _requirePermission(
  descriptor: Deno.PermissionDescriptor,
  flag: string,
  why: string,
): void {
  if (Deno.permissions.querySync(descriptor).state !== "granted") {
    throw new ClientError("usage", `privateshare needs ${flag} ${why}: run it with ${flag}`);
  }
}

async function _openLocal(path: string): Promise<Deno.FsFile> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new ClientError("local", `No such file: ${_q(path)}: check the name and the folder`);
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new ClientError("local", `Cannot read ${_q(path)}: permission denied`);
    }
    throw error;
  }
  if (!info.isFile) {
    throw new ClientError("local", `${_q(path)} is not a regular file: put sends one file`);
  }
  try {
    return await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new ClientError("local", `Cannot read ${_q(path)}: permission denied`);
    }
    throw error;
  }
}

function _destination(name: string, output: string | undefined): string {
  const local = basename(name) || "download";
  if (output === undefined) return local;
  try {
    if (Deno.statSync(output).isDirectory) return join(output, local);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return output;
}

/** The hidden file a download is written to: beside its destination, within 255 bytes. */
function _partialPath(dest: string): string {
  const base = basename(dest);
  const name = `.${base}.privateshare-partial`;
  if (new TextEncoder().encode(name).length <= 255) return join(dirname(dest), name);
  const key = createHash("sha256").update(base).digest("hex").slice(0, 32);
  return join(dirname(dest), `.${key}.privateshare-partial`);
}

function _exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function _openPartial(path: string, resume: boolean): Deno.FsFile {
  try {
    const file = Deno.openSync(path, { read: true, write: true, create: true });
    if (!resume) file.truncateSync(0);
    return file;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new ClientError("local", `The folder of ${_q(path)} does not exist`);
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new ClientError(
        "local",
        `Cannot write in the folder of ${_q(path)}: permission denied`,
      );
    }
    throw error;
  }
}

/**
 * Moves a verified download into place; without `force`, never over a file.
 * Metadata calls on the client are synchronous: each takes microseconds,
 * where the async form's round trip through the thread pool costs more
 * than the call itself (measured on gets of 4 KiB).
 */
function _commitLocal(partial: string, dest: string, force: boolean): void {
  if (force) return Deno.renameSync(partial, dest);
  try {
    Deno.linkSync(partial, dest);
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      Deno.removeSync(partial);
      throw new ClientError(
        "local",
        `${_q(dest)} appeared while downloading and was left alone: add --force to overwrite it`,
      );
    }
    throw error;
  }
  Deno.removeSync(partial);
}

function _q(text: string): string {
  return `'${text}'`;
}
