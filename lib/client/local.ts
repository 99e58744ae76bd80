/**
 * The client's own folder: every file-system operation of the client lives
 * here or in `partial.ts` beside it. Opening a file to send, and deciding,
 * before any connection, where a download lands and what an existing path
 * there means. Metadata calls are synchronous: each takes microseconds,
 * where the async form's round trip through the thread pool costs more than
 * the call itself (measured on gets of 4 KiB).
 *
 * Paths the user typed are trusted as far as the user said: a link is
 * followed to a folder only when the path ends in a slash, and to a device
 * or FIFO (`/dev/stdout`). Paths that a download's name chose are not
 * trusted at all: nothing there is ever followed or written through.
 *
 * @module
 */

import type { Hash } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { newHash } from "../transfer/body.ts";
import type { ChunkPool } from "../transfer/pool.ts";
import { cancelled, ClientError } from "./errors.ts";

/**
 * Fails unless Deno granted a permission, rather than letting Deno prompt.
 *
 * @param descriptor the permission
 * @param why what it is needed for, such as `to read 'a.txt'`
 * @throws {ClientError} `usage` with code `permission`
 */
export function requirePermission(descriptor: Deno.PermissionDescriptor, why: string): void {
  if (Deno.permissions.querySync(descriptor).state !== "granted") {
    const permission = descriptor.name as "read" | "write" | "net";
    throw new ClientError("usage", `privateshare needs ${permission} permission ${why}`, {
      code: "permission",
      permission,
      purpose: why,
    });
  }
}

/**
 * Opens a local file to send.
 *
 * @param path the file
 * @returns the open file and its size
 * @throws {ClientError} `local` when it is missing, unreadable or not a file
 */
export async function openSource(path: string): Promise<{ file: Deno.FsFile; size: number }> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    throw localError(error, path);
  }
  if (!info.isFile) {
    throw new ClientError("local", `${q(path)} is not a regular file: put sends one file`, {
      path,
    });
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    throw localError(error, path);
  }
  return { file, size: file.statSync().size };
}

/**
 * Turns a file-system error about a path into a one-line local failure;
 * returns any other error as it is.
 *
 * @param error what was thrown
 * @param path the path involved
 * @param writing whether the path was being written (a folder's permission)
 * @returns the error to throw
 */
export function localError(error: unknown, path: string, writing = false): unknown {
  if (error instanceof Deno.errors.NotFound) {
    return writing
      ? new ClientError("local", `The folder ${q(dirname(path))} does not exist: create it first`, {
        path,
        cause: error,
      })
      : new ClientError("local", `No such file: ${q(path)}: check the name and the folder`, {
        path,
        cause: error,
      });
  }
  if (error instanceof Deno.errors.NotADirectory) {
    return new ClientError("local", `${q(dirname(path))} is not a folder`, { path, cause: error });
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return writing
      ? new ClientError("local", `Cannot write in ${q(dirname(path))}: permission denied`, {
        path,
        cause: error,
      })
      : new ClientError("local", `Cannot read ${q(path)}: permission denied`, {
        path,
        cause: error,
      });
  }
  if ((error as { code?: string })?.code === "EROFS") {
    return new ClientError("local", `Cannot write in ${q(dirname(path))}: it is read-only`, {
      path,
      cause: error,
    });
  }
  return error;
}

/**
 * Where a download goes, decided before connecting: a regular file written
 * through a hidden partial download and moved into place (replacing what is
 * there only when `replace`), or an existing character device or FIFO that
 * the bytes are written into as they arrive (`/dev/null`, a named pipe).
 */
export type Target =
  | { kind: "file"; path: string; replace: boolean }
  | { kind: "stream"; path: string };

/** Paths that name one of this process's own file descriptors. */
const DESCRIPTOR = /^\/dev\/(stdout|stderr|fd\/\d+)$|^\/proc\/self\/fd\/\d+$/;

/**
 * Decides where a download of `name` lands, and checks that it can, without
 * touching anything: the file's name in the current folder, or `output`.
 *
 * `/dev/stdout`, `/dev/stderr`, `/dev/fd/N` and `/proc/self/fd/N` are this
 * process's own descriptors, written into whatever they are. `output`
 * ending in a slash is a folder, which must exist (a link to one is
 * followed). An existing folder is saved into; a link to a folder is refused
 * without the slash, which says that the folder is meant. An existing
 * character device or FIFO (or a link to one, such as `/dev/stdout`) is
 * written into. An existing regular file or other link is replaced only with
 * `force` (a link is replaced itself, never written through). Inside a
 * folder, the path the name chose is never followed: a folder, device or FIFO
 * there is refused even with `force`.
 *
 * @param name the valid name on the server
 * @param output the caller's choice, if any
 * @param force whether an existing file may be replaced
 * @returns the target
 * @throws {ClientError} `local` for an empty path, a missing folder, an existing file without
 *   `force` (code `exists`), or a path that cannot be a download's destination
 */
export function resolveTarget(name: string, output: string | undefined, force: boolean): Target {
  if (output === undefined) return inFolder(".", name, force);
  if (output === "") {
    throw new ClientError("local", "The output path is empty: give a file name or a folder", {
      path: output,
    });
  }
  // This process's own output, whatever it is (a terminal, a pipe, a file the shell opened).
  if (DESCRIPTOR.test(output)) return { kind: "stream", path: output };
  if (/[/\\]$/.test(output) || [".", ".."].includes(basename(output))) {
    let info;
    try {
      info = statOrUndefined(output, true);
    } catch (error) {
      if (!(error instanceof ClientError && error.cause instanceof Deno.errors.NotADirectory)) {
        throw error;
      }
      throw new ClientError("local", `${q(output)} is not a folder`, {
        path: output,
        cause: error,
      });
    }
    if (!info) {
      throw new ClientError("local", `The folder ${q(output)} does not exist: create it first`, {
        path: output,
      });
    }
    if (!info.isDirectory) {
      throw new ClientError("local", `${q(output)} is not a folder`, { path: output });
    }
    return inFolder(output, name, force);
  }
  const entry = statOrUndefined(output, false);
  if (!entry) {
    const parent = statOrUndefined(dirname(output), true);
    if (!parent) {
      throw new ClientError(
        "local",
        `The folder ${q(dirname(output))} does not exist: create it first`,
        { path: output },
      );
    }
    if (!parent.isDirectory) {
      throw new ClientError("local", `${q(dirname(output))} is not a folder`, { path: output });
    }
    return { kind: "file", path: output, replace: force };
  }
  const info = entry.isSymlink ? statOrUndefined(output, true) ?? entry : entry;
  if (info.isDirectory && entry.isSymlink) {
    // A link planted where a file was meant to go must not send the download elsewhere.
    throw new ClientError(
      "local",
      `${q(output)} is a link to a folder: end it with a slash to save into that folder`,
      { path: output },
    );
  }
  if (info.isDirectory) return inFolder(output, name, force);
  if (info.isCharDevice || info.isFifo) return { kind: "stream", path: output };
  if (entry.isFile || entry.isSymlink) return replaceable(output, force);
  throw new ClientError(
    "local",
    `${q(output)} is ${kindOf(info)}: a download goes to a file, a folder, a character device ` +
      "or a FIFO",
    { path: output },
  );
}

/** The path a name chose inside a folder: nothing there is followed. */
function inFolder(folder: string, name: string, force: boolean): Target {
  const path = join(folder, basename(name));
  const entry = statOrUndefined(path, false);
  if (!entry) return { kind: "file", path, replace: force };
  if (entry.isFile || entry.isSymlink) return replaceable(path, force);
  throw new ClientError(
    "local",
    `${q(path)} is ${kindOf(entry)}, not a file, and is never replaced: ` +
      "name another file or folder to save to",
    { path },
  );
}

function replaceable(path: string, force: boolean): Target {
  if (!force) {
    throw new ClientError("local", `${q(path)} already exists`, { code: "exists", path });
  }
  return { kind: "file", path, replace: true };
}

function kindOf(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a folder";
  if (info.isFifo) return "a FIFO";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "not a regular file";
}

/** The entry at a path (following a link when `follow`), or undefined when there is none. */
function statOrUndefined(path: string, follow: boolean): Deno.FileInfo | undefined {
  try {
    return follow ? Deno.statSync(path) : Deno.lstatSync(path);
  } catch (error) {
    // A dangling link, or a loop of links, leads nowhere.
    if (error instanceof Deno.errors.NotFound) return undefined;
    if (follow && error instanceof Deno.errors.FilesystemLoop) return undefined;
    throw localError(error, path);
  }
}

/**
 * Opens an existing character device or FIFO (or one of this process's
 * descriptors) to write a download into, checking the open handle is still one.
 *
 * @param path the device or FIFO (a link to one is followed: the user named it)
 * @returns the open file
 * @throws {ClientError} `local` when it cannot be opened or is no longer a device or FIFO
 */
export async function openStream(path: string): Promise<Deno.FsFile> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { write: true });
  } catch (error) {
    throw localError(error, path);
  }
  const info = file.statSync();
  if (!info.isCharDevice && !info.isFifo && !DESCRIPTOR.test(path)) {
    file.close();
    throw new ClientError("local", `${q(path)} changed while it was being opened: try again`, {
      path,
    });
  }
  return file;
}

/**
 * Hashes a local file's first `length` bytes from its start, before any
 * connection waits for it; stops when the caller cancels.
 *
 * @param file the open file; left at `length`
 * @param path its path, for messages
 * @param length bytes to hash
 * @param options buffers, the caller's signal, and `at`: also take the SHA-256 of the first `at`
 *   bytes on the way
 * @returns the running hash, and the hex SHA-256 of the first `at` bytes when asked
 * @throws {ClientError} `aborted` when cancelled; `local` when the file is shorter than `length`
 */
export async function hashFilePrefix(
  file: Deno.FsFile,
  path: string,
  length: number,
  options: { pool: ChunkPool; signal?: AbortSignal; at?: number },
): Promise<{ hash: Hash; prefix?: string }> {
  const { pool, signal, at } = options;
  const hash = newHash();
  let prefix: string | undefined;
  await file.seek(0, Deno.SeekMode.Start);
  const buffer = await pool.acquire(length);
  try {
    let done = 0;
    while (done < length) {
      if (signal?.aborted) {
        throw cancelled("get");
      }
      const until = at !== undefined && at > done ? Math.min(at, length) : length;
      const n = await file.read(buffer.subarray(0, Math.min(buffer.length, until - done)));
      if (n === null) {
        throw new ClientError("local", `${q(path)} shrank while it was being read: try again`, {
          path,
        });
      }
      hash.update(buffer.subarray(0, n));
      done += n;
      if (done === at) prefix = hash.copy().digest("hex");
    }
  } finally {
    pool.release(buffer);
  }
  return { hash, ...(prefix !== undefined ? { prefix } : {}) };
}

/**
 * Quotes a path for a message.
 *
 * @param text the path
 * @returns it in single quotes
 */
export function q(text: string): string {
  return `'${text}'`;
}
