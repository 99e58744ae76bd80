/**
 * Opening files in a folder that other people and programs can write to.
 * Every open here refuses to follow a link (`O_NOFOLLOW`) and never waits
 * on a FIFO or a device (`O_NONBLOCK`), and every handle is checked with
 * `fstat` before a byte moves: a name that someone else swapped for a link,
 * a FIFO or another file between a check and the open is caught on the
 * handle itself. `Deno.open` has neither flag, so existing names are
 * opened through `node:fs`, which passes them to the system as they are;
 * new files are created exclusively, which no link or FIFO can answer.
 *
 * @module
 */

// Deferred: the client program loads these only once it opens a folder's file.
import defer * as nodeFs from "node:fs";
import defer * as nodeFsPromises from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import type { BodySink, BodySource } from "./body.ts";

/**
 * `O_NOFOLLOW | O_NONBLOCK`, where the system has them.
 *
 * @returns the flags
 */
export function noFollow(): number {
  return (nodeFs.constants.O_NOFOLLOW ?? 0) | (nodeFs.constants.O_NONBLOCK ?? 0);
}
/**
 * Reads of at most this many bytes (a small file, whole), the `fstat` of an
 * open handle and the `lstat` of the one name a request opens are made at
 * once: each is a system call of small, bounded work, cheaper than the trip
 * to Deno's thread pool and back that an asynchronous call makes (a 4 KiB
 * get cost the server about a fifth less CPU: bench/RESULTS.md).
 */
const SMALL_READ = 64 * 1024;

/** What the checks need to know of a file. */
export interface FileFacts {
  /** Device and inode: which file it is. */
  dev: number;
  /** Inode number. */
  ino: number;
  /** Hard links to it. */
  nlink: number;
  /** Owner's user id. */
  uid: number;
  /** Bytes. */
  size: number;
  /** Last modification, ms since 1970. */
  mtimeMs: number;
  /** Last change of its metadata (a chmod, say), ms since 1970. */
  ctimeMs: number;
  /** Permission bits. */
  mode: number;
  /** A regular file (not a link, folder, FIFO, socket or device). */
  isFile: boolean;
  /** A folder. */
  isFolder: boolean;
  /** A symbolic link (only from `lstat`). */
  isLink: boolean;
}

/**
 * The system's code of an error from `node:fs` or Deno (`ENOENT`, ...).
 *
 * @param error what was thrown
 * @returns the code, or undefined
 */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * The facts of a name itself (a link is not followed), or undefined when
 * nothing has that name.
 *
 * @param path the path
 * @returns the facts, or undefined
 */
export async function lstatFacts(path: string): Promise<FileFacts | undefined> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  return factsOf(info);
}

/**
 * {@link lstatFacts} at once (see {@link SMALL_READ}), for the one name a
 * request opens; a listing, which looks at every name, uses lstatFacts.
 *
 * @param path the path
 * @returns the facts, or undefined
 */
export function lstatFactsNow(path: string): FileFacts | undefined {
  try {
    return factsOf(Deno.lstatSync(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** The facts of a `Deno.FileInfo`, from `lstat` or `fstat` alike. */
function factsOf(info: Deno.FileInfo): FileFacts {
  return {
    dev: info.dev,
    ino: info.ino ?? 0,
    nlink: info.nlink ?? 1,
    uid: info.uid ?? 0,
    size: info.size,
    mtimeMs: info.mtime?.getTime() ?? 0,
    ctimeMs: info.ctime?.getTime() ?? 0,
    mode: info.mode ?? 0,
    isFile: info.isFile,
    isFolder: info.isDirectory,
    isLink: info.isSymlink,
  };
}

/**
 * Whether two facts name the same file. On systems that report no inode
 * numbers (0), nothing can be compared and they count as the same.
 *
 * @param a one file's facts
 * @param b the other's
 */
export function sameFile(a: FileFacts, b: FileFacts): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** An open file of the folder: a body's source or sink. */
export interface FolderFile extends BodySource, BodySink {
  /**
   * Moves the position (from the start or from the current position).
   *
   * @param offset where to
   * @param whence from where
   * @returns the new position
   */
  seek(offset: number, whence: Deno.SeekMode): Promise<number>;
  /**
   * Cuts the file to `length` bytes and moves the position there.
   *
   * @param length the new length
   */
  truncate(length?: number): Promise<void>;
  /** Flushes the file's data to disk. */
  syncData(): Promise<void>;
  /** The facts of the open file (`fstat`). */
  facts(): Promise<FileFacts>;
  /** Closes the file; safe to call more than once. */
  close(): Promise<void>;
}

/**
 * A file opened by Deno: its reads and writes run off the event loop. Used
 * for files created exclusively (which cannot be a link or a FIFO) and for
 * files reopened through their checked handle.
 */
class DenoFile implements FolderFile {
  readonly #file: Deno.FsFile;
  #closed = false;

  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  read(p: Uint8Array): Promise<number | null> {
    return this.#file.read(p);
  }

  write(p: Uint8Array): Promise<number> {
    return this.#file.write(p);
  }

  seek(offset: number, whence: Deno.SeekMode): Promise<number> {
    return this.#file.seek(offset, whence);
  }

  async truncate(length = 0): Promise<void> {
    await this.#file.truncate(length);
    await this.#file.seek(length, Deno.SeekMode.Start);
  }

  async syncData(): Promise<void> {
    await this.#file.syncData();
  }

  async facts(): Promise<FileFacts> {
    return factsOf(await this.#file.stat());
  }

  close(): Promise<void> {
    if (!this.#closed) this.#file.close();
    this.#closed = true;
    return Promise.resolve();
  }
}

/**
 * A file opened through `node:fs`, with `O_NOFOLLOW | O_NONBLOCK`, read and
 * written at explicit positions. Its reads run off the event loop; its
 * writes do not (Deno runs them on the main thread), so it is written to
 * only where nothing else can open a name safely.
 */
class NodeFile implements FolderFile {
  readonly handle: FileHandle;
  #position = 0;
  #closed = false;

  constructor(handle: FileHandle) {
    this.handle = handle;
  }

  async read(p: Uint8Array): Promise<number | null> {
    if (p.length === 0) return 0;
    const bytesRead = p.length <= SMALL_READ
      ? nodeFs.readSync(this.handle.fd, p, 0, p.length, this.#position)
      : (await this.handle.read(p, 0, p.length, this.#position)).bytesRead;
    if (bytesRead === 0) return null;
    this.#position += bytesRead;
    return bytesRead;
  }

  async write(p: Uint8Array): Promise<number> {
    const { bytesWritten } = await this.handle.write(p, 0, p.length, this.#position);
    this.#position += bytesWritten;
    return bytesWritten;
  }

  seek(offset: number, whence: Deno.SeekMode): Promise<number> {
    if (whence === Deno.SeekMode.End) throw new TypeError("Seeking from the end is not supported");
    this.#position = whence === Deno.SeekMode.Start ? offset : this.#position + offset;
    return Promise.resolve(this.#position);
  }

  async truncate(length = 0): Promise<void> {
    await this.handle.truncate(length);
    this.#position = length;
  }

  async syncData(): Promise<void> {
    await this.handle.datasync();
  }

  facts(): Promise<FileFacts> {
    const info = nodeFs.fstatSync(this.handle.fd);
    return Promise.resolve({
      dev: info.dev,
      ino: info.ino,
      nlink: info.nlink,
      uid: info.uid,
      size: info.size,
      mtimeMs: info.mtimeMs,
      ctimeMs: info.ctimeMs,
      mode: info.mode,
      isFile: info.isFile(),
      isFolder: info.isDirectory(),
      isLink: info.isSymbolicLink(),
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.handle.close();
  }
}

/**
 * Opens an existing name for reading: never through a link, never waiting
 * on a FIFO. The caller checks the handle's {@link FolderFile.facts}.
 *
 * @param path the path
 * @returns the open file
 * @throws an error with `code` `ELOOP` for a link, `ENOENT`, `EACCES`, ...
 */
export async function openExisting(path: string): Promise<FolderFile> {
  return new NodeFile(await nodeFsPromises.open(path, nodeFs.constants.O_RDONLY | noFollow()));
}

/**
 * Opens a checked file for writing too. On Linux the handle itself is
 * reopened (`/proc/self/fd/N` names the open file, not a path, so nothing
 * can be swapped in), and writes run off the event loop; elsewhere, or
 * without permission to /proc, the name is opened again with
 * `O_NOFOLLOW | O_NONBLOCK`. Either way the caller compares the facts of the
 * result with the checked ones before writing.
 *
 * @param file a file from {@link openExisting}, whose facts were checked; closed here
 * @param path its path
 * @returns the file, open for reading and writing
 */
export async function reopenForWriting(file: FolderFile, path: string): Promise<FolderFile> {
  if (!(file instanceof NodeFile)) throw new TypeError("Not a file from openExisting");
  try {
    return new DenoFile(
      await Deno.open(`/proc/self/fd/${file.handle.fd}`, { read: true, write: true }),
    );
  } catch (error) {
    if (
      !(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotCapable ||
        error instanceof Deno.errors.PermissionDenied)
    ) throw error;
    return new NodeFile(await nodeFsPromises.open(path, nodeFs.constants.O_RDWR | noFollow()));
  } finally {
    await file.close();
  }
}

/**
 * Creates a new file that did not exist (`O_CREAT | O_EXCL`): an existing
 * name of any kind, a link or a FIFO included, makes it fail rather than be
 * opened.
 *
 * @param path the path
 * @returns the new file, open for reading and writing
 * @throws an error with `code` `EEXIST` when the name is taken
 */
export async function createExclusive(path: string): Promise<FolderFile> {
  return new DenoFile(await Deno.open(path, { read: true, write: true, createNew: true }));
}

/**
 * Writes a small file's bytes to a new file at once (`O_CREAT | O_EXCL`),
 * on this thread: for a file of a few KiB, one trip through Deno's thread
 * pool per call costs more than the calls themselves (bench/RESULTS.md).
 * The file is left open, for a flush that may run in the background.
 *
 * @param path the path
 * @param bytes all of the file's bytes
 * @returns the new file, open, holding the bytes
 * @throws an error with `code` `EEXIST` when the name is taken
 */
export function createSmallNow(path: string, bytes: Uint8Array): FolderFile {
  const file = Deno.openSync(path, { read: true, write: true, createNew: true });
  try {
    for (let at = 0; at < bytes.length;) at += file.writeSync(bytes.subarray(at));
  } catch (error) {
    file.close();
    throw error;
  }
  return new DenoFile(file);
}

/**
 * Reads a small existing file whole, on this thread, never through a link
 * and never waiting on a FIFO; it must still be a regular file of `size`
 * bytes.
 *
 * @param path the path
 * @param size the bytes it must hold
 * @returns its bytes, or undefined when it is no longer a regular file of that size
 * @throws an error with `code` `ELOOP` for a link, `ENOENT`, `EACCES`, ...
 */
export function readSmallNow(path: string, size: number): Uint8Array | undefined {
  const fd = nodeFs.openSync(path, nodeFs.constants.O_RDONLY | noFollow());
  try {
    const info = nodeFs.fstatSync(fd);
    if (!info.isFile() || info.size !== size) return undefined;
    const bytes = new Uint8Array(size);
    for (let got = 0; got < size;) {
      const n = nodeFs.readSync(fd, bytes, got, size - got, got);
      if (n === 0) return undefined;
      got += n;
    }
    return bytes;
  } finally {
    nodeFs.closeSync(fd);
  }
}
