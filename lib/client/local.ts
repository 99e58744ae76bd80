/**
 * The client's own folder: every file-system operation of the client lives
 * here. Opening a file to send, choosing where a download lands, and the
 * partial download (a hidden file beside the destination, verified, then
 * moved into place). Metadata calls are synchronous: each takes
 * microseconds, where the async form's round trip through the thread pool
 * costs more than the call itself (measured on gets of 4 KiB).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { ClientError } from "./errors.ts";

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

function localError(error: unknown, path: string): unknown {
  if (error instanceof Deno.errors.NotFound) {
    return new ClientError("local", `No such file: ${q(path)}: check the name and the folder`, {
      path,
      cause: error,
    });
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new ClientError("local", `Cannot read ${q(path)}: permission denied`, {
      path,
      cause: error,
    });
  }
  return error;
}

/**
 * Where a download lands: its name in the current folder, or `output` (a
 * file path, or a folder to put it in).
 *
 * @param name the valid name on the server
 * @param output the caller's choice, if any
 * @returns the local path
 */
export function destination(name: string, output: string | undefined): string {
  const local = basename(name) || "download";
  if (output === undefined) return local;
  try {
    if (Deno.statSync(output).isDirectory) return join(output, local);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return output;
}

/**
 * Whether anything (a link included) is at a path.
 *
 * @param path the path
 */
export function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Refuses a download over an existing file unless `force`.
 *
 * @param dest the destination
 * @param force whether replacing is allowed
 * @throws {ClientError} `local` with code `exists`
 */
export function refuseExisting(dest: string, force: boolean): void {
  if (!force && exists(dest)) {
    throw new ClientError("local", `${q(dest)} already exists`, { code: "exists", path: dest });
  }
}

/** A download in progress: a hidden file beside its destination. */
export interface PartialDownload {
  /** The hidden file, open for reading and writing at its start. */
  readonly file: Deno.FsFile;
  /** Its path. */
  readonly path: string;
  /**
   * Flushes it and moves it into place; without `force`, never over a file.
   *
   * @throws {ClientError} `local` with code `appeared` when the destination appeared meanwhile
   */
  commit(): Promise<void>;
  /**
   * Gives up: closes it and, unless `keep` and it holds something to resume
   * from, removes it.
   *
   * @param keep keep it for a later resume
   */
  abort(keep: boolean): Promise<void>;
}

/**
 * Opens the partial download for a destination, continuing an earlier one
 * when `resume`.
 *
 * @param dest the destination
 * @param resume keep what an earlier download left
 * @param force replace the destination on commit
 * @returns the partial download
 * @throws {ClientError} `local` when the folder is missing or not writable
 */
export function openPartial(dest: string, resume: boolean, force: boolean): PartialDownload {
  const path = partialPath(dest);
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true, write: true, create: true });
    if (!resume) file.truncateSync(0);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new ClientError("local", `The folder of ${q(path)} does not exist`, {
        path,
        cause: error,
      });
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new ClientError(
        "local",
        `Cannot write in the folder of ${q(path)}: permission denied`,
        {
          path,
          cause: error,
        },
      );
    }
    throw error;
  }
  let closed = false;
  const close = () => {
    if (!closed) file.close();
    closed = true;
  };
  return {
    file,
    path,
    async commit() {
      await file.syncData();
      close();
      commitLocal(path, dest, force);
    },
    async abort(keep: boolean) {
      close();
      const size = await Deno.stat(path).then((info) => info.size, () => 0);
      if (!keep || size === 0) await Deno.remove(path).catch(() => {});
    },
  };
}

/** The hidden file a download is written to: beside its destination, within 255 bytes. */
function partialPath(dest: string): string {
  const base = basename(dest);
  const name = `.${base}.privateshare-partial`;
  if (new TextEncoder().encode(name).length <= 255) return join(dirname(dest), name);
  const key = createHash("sha256").update(base).digest("hex").slice(0, 32);
  return join(dirname(dest), `.${key}.privateshare-partial`);
}

function commitLocal(partial: string, dest: string, force: boolean): void {
  if (force) return Deno.renameSync(partial, dest);
  try {
    Deno.linkSync(partial, dest);
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      Deno.removeSync(partial);
      throw new ClientError("local", `${q(dest)} appeared while downloading and was left alone`, {
        code: "appeared",
        path: dest,
        cause: error,
      });
    }
    throw error;
  }
  Deno.removeSync(partial);
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
