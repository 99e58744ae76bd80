/**
 * A folder held open, so that names inside it are resolved in that very
 * folder even if someone renames it or swaps a link in for it meanwhile:
 * the kernel's `openat()` without a binding for it. On Linux every name is
 * reached through `/proc/self/fd/N/NAME`, which resolves the open folder by
 * its descriptor, not by a path; a subfolder is opened with `O_NOFOLLOW |
 * O_DIRECTORY`, so a link where a folder should be is refused, never
 * followed. Deno allows /proc only with `--allow-all`; elsewhere, and under
 * every narrower permission set, names are joined to the folder's real path,
 * which is resolved again on every call. Two rules then keep every call
 * inside: a folder is walked through only when nobody untrusted can rename
 * it ({@link FolderTrust}: the StrictModes rule; others are refused with
 * {@link UnsafeFolderError}), and the folder's path is checked to still
 * name the very folder held open (device and inode) before and after each
 * call that reads, creates or lists ({@link FolderChangedError}), so that
 * a swap by anyone is caught before a byte of the wrong file moves.
 *
 * Nested paths from the network (docs/PROTOCOL.md#paths) are always walked
 * one checked segment at a time through these handles.
 *
 * @module
 */

// Deferred: the client program loads these only once it opens a folder.
import defer * as nodeFs from "node:fs";
import defer * as nodeFsPromises from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  createExclusive,
  createSmallNow,
  errorCode,
  type FileFacts,
  type FolderFile,
  lstatFacts,
  openExisting,
  readSmallNow,
} from "./files.ts";
import { type FolderOwnership, FolderTrust, knownSelfUid, learnSelfUid } from "./folder_trust.ts";

/** Opens a folder read-only, with more flags (`O_DIRECTORY` always). */
function openFolder(path: string, flags = 0): Promise<FileHandle> {
  const c = nodeFs.constants;
  return nodeFsPromises.open(path, c.O_RDONLY | (c.O_DIRECTORY ?? 0) | flags);
}

/** `O_NOFOLLOW | O_NONBLOCK`, where the system has them. */
function noFollow(): number {
  return (nodeFs.constants.O_NOFOLLOW ?? 0) | (nodeFs.constants.O_NONBLOCK ?? 0);
}

/** Whether `/proc/self/fd` resolves open folders here (Linux); decided on first use. */
let procWorks: boolean | undefined;

async function checkProc(handle: FileHandle): Promise<boolean> {
  if (procWorks !== undefined) return procWorks;
  try {
    await Deno.stat(`/proc/self/fd/${handle.fd}/.`);
    procWorks = true;
  } catch {
    procWorks = false;
  }
  return procWorks;
}

/** A name inside a folder that is not a folder of its own (a file, a link, a FIFO). */
export class NotAFolderError extends Error {
  /**
   * Creates a NotAFolderError.
   *
   * @param message what was found
   */
  constructor(message: string) {
    super(message);
    this.name = "NotAFolderError";
  }
}

/**
 * A folder that is there but refused: not to be taken for a missing one
 * (see {@link UnsafeFolderError} and {@link FolderChangedError}).
 */
export class FolderRefusedError extends NotAFolderError {
  /**
   * Creates a FolderRefusedError.
   *
   * @param message why
   */
  constructor(message: string) {
    super(message);
    this.name = "FolderRefusedError";
  }
}

/**
 * Whether an error says only that a folder is not there (missing, or not a
 * folder), not that one is there and refused.
 *
 * @param error what was thrown
 * @returns true for a {@link NotAFolderError} that is no {@link FolderRefusedError}
 */
export function notThere(error: unknown): boolean {
  return error instanceof NotAFolderError && !(error instanceof FolderRefusedError);
}

/**
 * A folder that others could swap for a link while it is walked by path:
 * it is not walked through (see {@link FolderTrust}).
 */
export class UnsafeFolderError extends FolderRefusedError {
  /** Why, as a phrase for a person. */
  readonly why: string;

  /**
   * Creates an UnsafeFolderError.
   *
   * @param why why the folder is not walked through
   */
  constructor(why: string) {
    super(
      `${why}: privateshare does not go through a folder that others can change ` +
        "(remove their write access, or give the folder the sticky bit and your ownership)",
    );
    this.name = "UnsafeFolderError";
    this.why = why;
  }
}

/** A folder held open whose path no longer names it: someone moved it or swapped it for a link. */
export class FolderChangedError extends FolderRefusedError {
  /**
   * Creates a FolderChangedError.
   *
   * @param location the folder's path
   */
  constructor(location: string) {
    super(`${JSON.stringify(location)} was moved or replaced while in use: stopped`);
    this.name = "FolderChangedError";
  }
}

/** Which folder a handle is, and who may change it. */
interface Held extends FolderOwnership {
  dev: number;
  ino: number;
}

function heldOf(info: { dev: number; ino: number; uid: number; gid: number; mode: number }): Held {
  return { dev: info.dev, ino: info.ino, uid: info.uid, gid: info.gid, mode: info.mode };
}

/** An open folder; its names are resolved in it, never through a link. */
export class Dir {
  /** The folder's path, for messages and as the fallback without /proc. */
  readonly location: string;
  readonly #handle: FileHandle;
  readonly #base: string;
  /** Without /proc: the folder held and the trust it was reached under (undefined on Windows). */
  readonly #held: Held | undefined;
  readonly #trust: FolderTrust | undefined;
  #closed = false;

  private constructor(
    handle: FileHandle,
    location: string,
    viaProc: boolean,
    held?: Held,
    trust?: FolderTrust,
  ) {
    this.#handle = handle;
    this.location = location;
    this.#base = viaProc ? `/proc/self/fd/${handle.fd}` : location;
    this.#held = viaProc ? undefined : held;
    this.#trust = viaProc ? undefined : trust;
  }

  /**
   * Without /proc: checks that the folder's path still names the folder
   * held open, and nothing else (not a link, not another folder).
   *
   * @throws {FolderChangedError} when it does not
   */
  #steady(): void {
    const held = this.#held;
    if (!held) return;
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(this.location);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        throw new FolderChangedError(this.location);
      }
      throw error;
    }
    if (!info.isDirectory || info.dev !== held.dev || (info.ino ?? 0) !== held.ino) {
      throw new FolderChangedError(this.location);
    }
    // Who may change it now (a chmod since it was opened counts).
    held.uid = info.uid ?? held.uid;
    held.gid = info.gid ?? held.gid;
    held.mode = info.mode ?? held.mode;
  }

  /**
   * Opens a folder by its path, as a user or the server's options gave it
   * (a link there is followed: it is the user's choice).
   *
   * @param path the folder
   * @returns the open folder
   * @throws an error with `code` `ENOENT` or `ENOTDIR`
   */
  static async open(path: string): Promise<Dir> {
    const handle = await openFolder(path);
    try {
      if (await checkProc(handle)) return new Dir(handle, path, true);
      const location = await Deno.realPath(path);
      if (Deno.build.os === "windows") return new Dir(handle, location, false);
      const held = heldOf(await handle.stat());
      const trust = new FolderTrust(held.uid);
      await checkAncestors(location, trust);
      const dir = new Dir(handle, location, false, held, trust);
      dir.#steady();
      return dir;
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /**
   * The path that names `name` inside this folder: safe to hand to any file
   * system call, which resolves it in this folder and does not follow a
   * link in its last part unless the call itself does.
   *
   * @param name one name, no separator
   * @returns the path
   */
  path(name: string): string {
    this.#steady();
    return join(this.#base, name);
  }

  /**
   * Opens a subfolder, refusing a link or anything else.
   *
   * @param name one name
   * @returns the open subfolder, or undefined when nothing has that name
   * @throws {NotAFolderError} when the name is a file, a link or anything but a folder
   */
  async openDir(name: string): Promise<Dir | undefined> {
    const location = join(this.location, name);
    if (this.#base === this.location) {
      // No /proc: check the name itself first, as closely as can be.
      const facts = await Deno.lstat(location).catch(() => undefined);
      if (!facts) return undefined;
      if (!facts.isDirectory) throw new NotAFolderError(`${location} is not a folder`);
    }
    let handle: FileHandle;
    try {
      handle = await openFolder(this.path(name), noFollow());
    } catch (error) {
      const code = errorCode(error);
      if (code === "ENOENT") return undefined;
      if (code === "ENOTDIR" || code === "ELOOP") {
        throw new NotAFolderError(`${location} is not a folder`);
      }
      throw error;
    }
    const info = await handle.stat();
    if (!info.isDirectory()) {
      await handle.close();
      throw new NotAFolderError(`${location} is not a folder`);
    }
    const child = new Dir(
      handle,
      location,
      this.#base !== this.location,
      heldOf(info),
      this.#trust,
    );
    try {
      const problem = this.#held &&
        this.#trust?.problem(this.#held, child.#held!, location, this.location);
      if (problem) throw new UnsafeFolderError(problem);
      this.#steady();
      child.#steady();
    } catch (error) {
      await child.close();
      throw error;
    }
    return child;
  }

  /**
   * Opens a folder below this one, one checked segment at a time.
   *
   * @param names the segments, outermost first; none opens this folder again
   * @returns the open folder, or undefined when a segment does not exist
   * @throws {NotAFolderError} when a segment is not a folder (a link included)
   */
  async openPath(names: readonly string[]): Promise<Dir | undefined> {
    if (names.length === 0) return await this.reopen();
    let current: Dir | undefined;
    for (const name of names) {
      let next: Dir | undefined;
      try {
        next = await (current ?? this).openDir(name);
      } finally {
        await current?.close();
      }
      if (!next) return undefined;
      current = next;
    }
    return current;
  }

  /**
   * Why folders inside this one cannot be trusted (see {@link FolderTrust}):
   * others may rename what it holds, so every folder in it, even this
   * process's own, is refused. A sticky folder is not such a folder: only
   * other users' folders in it are refused.
   *
   * @returns a phrase for a person, or undefined (always, where folders are held open)
   */
  foldersRefused(): string | undefined {
    if (!this.#held || !this.#trust) return undefined;
    this.#steady();
    const ours = { uid: knownSelfUid() ?? this.#held.uid, gid: -1, mode: 0 };
    return this.#trust.problem(this.#held, ours, join(this.location, "*"), this.location);
  }

  /** Another handle on this same folder. */
  async reopen(): Promise<Dir> {
    const handle = await openFolder(
      this.#base === this.location ? this.location : `/proc/self/fd/${this.#handle.fd}`,
    );
    const again = new Dir(
      handle,
      this.location,
      this.#base !== this.location,
      this.#held,
      this.#trust,
    );
    if (this.#held) {
      const info = await handle.stat();
      if (info.dev !== this.#held.dev || info.ino !== this.#held.ino) {
        await again.close();
        throw new FolderChangedError(this.location);
      }
    }
    return again;
  }

  /**
   * The facts of a name itself (a link is not followed).
   *
   * @param name one name
   * @returns its facts, or undefined when nothing has that name
   */
  async lstat(name: string): Promise<FileFacts | undefined> {
    return await lstatFacts(this.path(name));
  }

  /**
   * The facts of many names (links not followed), `parallel` calls at a
   * time; the folder is checked once before and once after, not per name.
   *
   * @param names names in this folder
   * @param parallel how many `lstat` calls run at once
   * @returns their facts, in order; undefined for a name that is gone
   */
  async lstatAll(
    names: readonly string[],
    parallel: number,
  ): Promise<(FileFacts | undefined)[]> {
    this.#steady();
    const facts = new Array<FileFacts | undefined>(names.length);
    for (let at = 0; at < names.length; at += parallel) {
      const batch = names.slice(at, at + parallel);
      const found = await Promise.all(batch.map((name) => lstatFacts(join(this.#base, name))));
      found.forEach((fact, i) => facts[at + i] = fact);
    }
    this.#steady();
    return facts;
  }

  /**
   * Creates a subfolder that did not exist (an existing name of any kind
   * makes it fail).
   *
   * @param name one name
   * @param mode permission bits (0o700 for a hidden working folder)
   * @throws an error with `code` `EEXIST` when the name is taken
   * @throws {UnsafeFolderError} when others could swap the new folder (nothing is made)
   */
  async mkdir(name: string, mode = 0o777): Promise<void> {
    if (this.#held && this.#trust) {
      // The new folder will be this process's: could others swap it once made?
      const mine = { uid: knownSelfUid() ?? await processUid(this) ?? -1, gid: -1, mode };
      const where = join(this.location, name);
      const problem = this.#trust.problem(this.#held, mine, where, this.location);
      if (problem) throw new UnsafeFolderError(problem);
    }
    await Deno.mkdir(this.path(name), { mode });
    this.#steady();
  }

  /**
   * Creates a new file exclusively (`O_CREAT | O_EXCL`): never an existing
   * name, a link or a FIFO.
   *
   * @param name one name
   * @returns the file, open for reading and writing
   */
  async createFile(name: string): Promise<FolderFile> {
    return await this.#afterCreate(name, await createExclusive(this.path(name)));
  }

  /** Checks the folder after a file was created in it; a file made elsewhere is removed. */
  async #afterCreate(name: string, file: FolderFile): Promise<FolderFile> {
    try {
      this.#steady();
      return file;
    } catch (error) {
      // Made through a swapped path: remove it where it landed, if that name is still it.
      const made = await file.facts().catch(() => undefined);
      await file.close();
      const path = join(this.location, name);
      const there = await lstatFacts(path).catch(() => undefined);
      if (made && there && there.dev === made.dev && there.ino === made.ino) {
        await Deno.remove(path).catch(() => {});
      }
      throw error;
    }
  }

  /**
   * Creates a new small file with its bytes at once, on this thread
   * ({@link createSmallNow}).
   *
   * @param name one name
   * @param bytes all of its bytes
   * @returns the file, open, for a flush
   */
  createSmallNow(name: string, bytes: Uint8Array): FolderFile {
    const file = createSmallNow(this.path(name), bytes);
    if (this.#held) {
      try {
        this.#steady();
      } catch (error) {
        // Made through a swapped path: the caller removes nothing it cannot prove is its own.
        file.close().catch(() => {});
        throw error;
      }
    }
    return file;
  }

  /**
   * Reads a small file whole, on this thread ({@link readSmallNow}).
   *
   * @param name one name
   * @param size the bytes it must hold
   * @returns its bytes, or undefined when it is no longer a regular file of that size
   */
  readSmallNow(name: string, size: number): Uint8Array | undefined {
    const bytes = readSmallNow(this.path(name), size);
    this.#steady();
    return bytes;
  }

  /**
   * Opens an existing name for reading, never through a link, never
   * waiting on a FIFO; the caller checks the handle's facts.
   *
   * @param name one name
   * @returns the open file
   * @throws an error with `code` `ELOOP` for a link, `ENOENT`, `EACCES`, ...
   */
  async openFile(name: string): Promise<FolderFile> {
    const file = await openExisting(this.path(name));
    try {
      this.#steady();
    } catch (error) {
      await file.close();
      throw error;
    }
    return file;
  }

  /**
   * The names in this folder, with what each is (links not followed).
   *
   * @returns the entries, in the order the system gives them
   */
  async entries(): Promise<Deno.DirEntry[]> {
    this.#steady();
    const found: Deno.DirEntry[] = [];
    for await (const entry of Deno.readDir(this.#base)) found.push(entry);
    this.#steady();
    return found;
  }

  /**
   * Renames a name of this folder to a name of another open folder (or
   * this one). As `rename()` does, it replaces an empty folder or a file at
   * the target: callers claim the target first.
   *
   * @param name the name here
   * @param to the target folder
   * @param target the name there
   */
  async rename(name: string, to: Dir, target: string): Promise<void> {
    await Deno.rename(this.path(name), to.path(target));
    this.#steady();
    to.#steady();
  }

  /**
   * Removes a name of this folder: a file, a link (not its target) or an
   * empty folder.
   *
   * @param name one name
   */
  async remove(name: string): Promise<void> {
    await Deno.remove(this.path(name));
  }

  /** Flushes the folder's own entries (names created, renamed, removed) to disk. */
  async sync(): Promise<void> {
    try {
      await this.#handle.sync();
    } catch (error) {
      // Some systems cannot flush a folder opened for reading; its files are flushed.
      const code = errorCode(error);
      if (code !== "EINVAL" && code !== "EBADF" && code !== "EPERM") throw error;
    }
  }

  /**
   * Sets the open folder's own permission bits (`fchmod`: the folder held
   * open, whatever its name holds now).
   *
   * @param mode permission bits
   */
  async chmod(mode: number): Promise<void> {
    await this.#handle.chmod(mode);
  }

  /** The facts of the open folder itself (`fstat`). */
  async facts(): Promise<Deno.FileInfo> {
    this.#steady();
    return await Deno.lstat(this.#base === this.location ? this.location : `${this.#base}/.`);
  }

  /** Closes the folder; safe to call more than once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#handle.close();
  }

  /** Closes the folder. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** This process's user id (null where files have none), learnt once. */
let knownUid: number | null | undefined;

/**
 * This process's user id, to tell its own files from anyone else's, without
 * the `--allow-sys` permission that `Deno.uid()` needs (neither program is
 * given it, and asking would prompt): the owner of a file just created
 * exclusively in `dir` says it.
 *
 * @param dir a folder this process may create a file in, if it must
 * @returns the user id, or null where files have none (Windows)
 */
export async function processUid(dir: Dir): Promise<number | null> {
  if (knownUid !== undefined) return knownUid;
  if (Deno.build.os === "windows") return knownUid = null;
  if (Deno.permissions.querySync({ name: "sys", kind: "uid" }).state === "granted") {
    const uid = Deno.uid();
    if (uid !== null) learnSelfUid(uid);
    return knownUid = uid;
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  // The server's own temporary-file pattern, which its sweep removes if a crash leaves it.
  const probe = ".privateshare-tmp-" +
    Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const file = await dir.createFile(probe);
  try {
    const uid = (await file.facts()).uid;
    learnSelfUid(uid);
    return knownUid = uid;
  } finally {
    await file.close();
    await dir.remove(probe).catch(() => {});
  }
}

/**
 * Checks that no folder on the way to `location` (a real path, no links)
 * can be renamed by someone untrusted: otherwise the path could be made to
 * lead elsewhere between two calls.
 *
 * @throws {UnsafeFolderError} naming the first such folder
 */
async function checkAncestors(location: string, trust: FolderTrust): Promise<void> {
  const chain: string[] = [];
  for (let at = location;; at = dirname(at)) {
    chain.unshift(at);
    if (dirname(at) === at) break;
  }
  let parent: Deno.FileInfo | undefined;
  let parentPath = "";
  for (const path of chain) {
    const info = await Deno.lstat(path);
    if (parent) {
      const problem = trust.problem(ownership(parent), ownership(info), path, parentPath);
      if (problem) throw new UnsafeFolderError(problem);
    }
    parent = info;
    parentPath = path;
  }
}

function ownership(info: Deno.FileInfo): FolderOwnership {
  return { uid: info.uid ?? 0, gid: info.gid ?? 0, mode: info.mode ?? 0 };
}
