/**
 * A folder held open, so that names inside it are resolved in that very
 * folder even if someone renames it or swaps a link in for it meanwhile:
 * the kernel's `openat()` without a binding for it. On Linux every name is
 * reached through `/proc/self/fd/N/NAME`, which resolves the open folder by
 * its descriptor, not by a path; a subfolder is opened with `O_NOFOLLOW |
 * O_DIRECTORY`, so a link where a folder should be is refused, never
 * followed. Deno allows /proc only with `--allow-all`; elsewhere names are
 * joined to the folder's real path, resolved again on every call, under a
 * {@link FolderGuard}: folders that others could swap are refused, and the
 * path must still name the folder held open before and after each call.
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
import { join } from "node:path";
import {
  createExclusive,
  createSmallNow,
  errorCode,
  type FileFacts,
  type FolderFile,
  lstatFacts,
  noFollow,
  openExisting,
  readSmallNow,
} from "./files.ts";
import { knownSelfUid, processUid } from "./folder_trust.ts";
import { FolderGuard, NotAFolderError } from "./folder_guard.ts";

/** Opens a folder read-only, with more flags (`O_DIRECTORY` always). */
function openFolder(path: string, flags = 0): Promise<FileHandle> {
  const c = nodeFs.constants;
  return nodeFsPromises.open(path, c.O_RDONLY | (c.O_DIRECTORY ?? 0) | flags);
}

/** Whether `/proc/self/fd` resolves open folders here (Linux); decided on first use. */
let procWorks: boolean | undefined;

async function checkProc(handle: FileHandle): Promise<boolean> {
  procWorks ??= await Deno.stat(`/proc/self/fd/${handle.fd}/.`).then(() => true, () => false);
  return procWorks;
}

/** An open folder; its names are resolved in it, never through a link. */
export class Dir {
  /** The folder's path, for messages and as the fallback without /proc. */
  readonly location: string;
  readonly #handle: FileHandle;
  readonly #base: string;
  /** Without /proc: what keeps the path this folder (undefined with /proc, and on Windows). */
  readonly #guard: FolderGuard | undefined;
  #closed = false;

  private constructor(handle: FileHandle, location: string, viaProc: boolean, guard?: FolderGuard) {
    this.#handle = handle;
    this.location = location;
    this.#base = viaProc ? `/proc/self/fd/${handle.fd}` : location;
    this.#guard = viaProc ? undefined : guard;
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
      return new Dir(handle, location, false, await FolderGuard.top(location, await handle.stat()));
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
    this.#guard?.steady();
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
    try {
      const guard = this.#guard?.child(location, info);
      this.#guard?.steady();
      guard?.steady();
      return new Dir(handle, location, this.#base !== this.location, guard);
    } catch (error) {
      await handle.close();
      throw error;
    }
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
    return this.#guard?.refusesAll(knownSelfUid());
  }

  /** Another handle on this same folder. */
  async reopen(): Promise<Dir> {
    const handle = await openFolder(
      this.#base === this.location ? this.location : `/proc/self/fd/${this.#handle.fd}`,
    );
    const again = new Dir(handle, this.location, this.#base !== this.location, this.#guard);
    try {
      this.#guard?.same(await handle.stat());
    } catch (error) {
      await again.close();
      throw error;
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
    this.#guard?.steady();
    const facts = new Array<FileFacts | undefined>(names.length);
    for (let at = 0; at < names.length; at += parallel) {
      const batch = names.slice(at, at + parallel);
      const found = await Promise.all(batch.map((name) => lstatFacts(join(this.#base, name))));
      found.forEach((fact, i) => facts[at + i] = fact);
    }
    this.#guard?.steady();
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
    // The new folder will be this process's: could others swap it once made?
    this.#guard?.mayMake(join(this.location, name), knownSelfUid() ?? await processUid(this) ?? -1);
    await Deno.mkdir(this.path(name), { mode });
    this.#guard?.steady();
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
      this.#guard?.steady();
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
    // Made through a swapped path, it is closed and left: nothing proves it is ours to remove.
    return this.#kept(createSmallNow(this.path(name), bytes));
  }

  /** A file opened or made here, if the folder is still itself; closed otherwise. */
  #kept(file: FolderFile): FolderFile {
    try {
      this.#guard?.steady();
    } catch (error) {
      file.close().catch(() => {});
      throw error;
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
    this.#guard?.steady();
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
    return this.#kept(await openExisting(this.path(name)));
  }

  /**
   * The names in this folder, with what each is (links not followed).
   *
   * @returns the entries, in the order the system gives them
   */
  async entries(): Promise<Deno.DirEntry[]> {
    this.#guard?.steady();
    const found: Deno.DirEntry[] = [];
    for await (const entry of Deno.readDir(this.#base)) found.push(entry);
    this.#guard?.steady();
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
    this.#guard?.steady();
    to.#guard?.steady();
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
    this.#guard?.steady();
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
