/**
 * Making a verified upload visible under its name without ever replacing a
 * file (the {@link Upload} a put writes to, and its commit step): a hard link where the file system has them, else an exclusive
 * claim of the name and a rename over the claim; and the free space a
 * put is checked against before its bytes move, less what other folder
 * puts under way were promised.
 *
 * @module
 */

import { statfs } from "node:fs/promises";
import { CancelError } from "../protocol/errors.ts";
import { quoteName } from "../protocol/names.ts";
import {
  createExclusive,
  errorCode,
  type FileFacts,
  type FolderFile,
  lstatFacts,
  sameFile,
} from "../transfer/files.ts";
import { removeQuietly } from "./store_own.ts";

/** An upload in progress: a hidden file that becomes the named file on commit. */
export interface Upload {
  /** The hidden file, open for writing at {@link offset}. */
  readonly file: FolderFile;
  /** Bytes already in the hidden file from an earlier, interrupted upload. */
  readonly offset: number;
  /** Empties the hidden file to start over. */
  restart(): Promise<void>;
  /**
   * Flushes the file to disk and makes it visible under its name, never
   * replacing an existing file.
   *
   * @throws {CancelError} `exists` when the name was taken meanwhile
   */
  commit(): Promise<void>;
  /**
   * Gives up: closes the hidden file and, unless `keep`, removes it.
   *
   * @param keep keep the partial file so that a later put can resume it
   */
  abort(keep: boolean): Promise<void>;
}

/** Places flushed temporary files under their final names. */
export class FilePlacer {
  #linkWorks = true;
  readonly #onNoLinks: (message: string) => void;

  /**
   * Creates a FilePlacer.
   *
   * @param onNoLinks told once when the file system turns out to have no hard links
   */
  constructor(onNoLinks: (message: string) => void) {
    this.#onNoLinks = onNoLinks;
  }

  /**
   * The commit step of an upload: places its flushed temporary file under
   * its name, checks that the name now holds that very file, and removes
   * the temporary name.
   *
   * @param name the upload's name, for messages
   * @param path the temporary file
   * @param finalPath its name to be
   * @param facts the temporary file's facts as flushed
   * @returns the facts of the file now under its name
   * @throws {CancelError} `exists` when the name is taken, `not-found` when its folder is gone
   */
  async commit(
    name: string,
    path: string,
    finalPath: string,
    facts: FileFacts,
  ): Promise<FileFacts> {
    const exists = () =>
      new CancelError("exists", `${quoteName(name)} already exists on the server`);
    const linked = await this.place(path, finalPath, exists).catch((error) => {
      // The file's folder was removed while it was sent (or its work file, by someone else).
      if (errorCode(error) !== "ENOENT") throw error;
      throw new CancelError(
        "not-found",
        `The folder of ${quoteName(name)} was removed while the file was sent: ` +
          "nothing was kept; send it again",
        { cause: error },
      );
    });
    const placed = await lstatFacts(finalPath);
    if (!placed || !sameFile(placed, facts)) {
      throw new Error(`The upload's temporary file for ${quoteName(name)} was replaced meanwhile`);
    }
    if (linked) await removeQuietly(path);
    return placed;
  }

  /**
   * Makes `path` visible as `finalPath` too, never replacing anything there.
   *
   * @param path the temporary file
   * @param finalPath its name to be
   * @param exists the refusal when the name is taken
   * @returns true when linked (the temporary name is still there), false when renamed
   * @throws {CancelError} `exists` when the name is taken
   */
  async place(path: string, finalPath: string, exists: () => CancelError): Promise<boolean> {
    if (this.#linkWorks) {
      try {
        await Deno.link(path, finalPath);
        return true;
      } catch (error) {
        if (error instanceof Deno.errors.AlreadyExists) throw exists();
        if (!linkUnsupported(error)) throw error;
        this.#linkWorks = false;
        this.#onNoLinks(
          `The folder does not support hard links (${
            errorCode(error) ?? (error as Error).name
          }): uploads are committed by an exclusive create and a rename (see README)`,
        );
      }
    }
    // Claim the name exclusively, then move the file over the claim. A
    // program that writes the name without checking, in between, can
    // lose its file; an exclusive create (another privateshare) cannot.
    let placeholder: FolderFile;
    try {
      placeholder = await createExclusive(finalPath);
    } catch (error) {
      if (errorCode(error) === "EEXIST") throw exists();
      throw error;
    }
    const claim = await placeholder.facts();
    await placeholder.close();
    try {
      await Deno.rename(path, finalPath);
    } catch (error) {
      await removeIfSame(finalPath, claim);
      throw error;
    }
    return false;
  }
}

/**
 * Removes a file this run created, unless its name now holds something else.
 *
 * @param path the file
 * @param facts what it was when created
 */
export async function removeIfSame(path: string, facts: FileFacts): Promise<void> {
  const now = await lstatFacts(path);
  if (now && sameFile(now, facts)) await removeQuietly(path);
}

/**
 * Bytes free for this user on a folder's disk.
 *
 * @param root the folder
 * @returns the bytes, or undefined without `--allow-sys=statfs`
 */
export async function freeBytes(root: string): Promise<number | undefined> {
  if (Deno.permissions.querySync({ name: "sys", kind: "statfs" as "uid" }).state !== "granted") {
    return undefined;
  }
  const stats = await statfs(root);
  return Number(stats.bavail) * Number(stats.bsize);
}

/** A folder put must leave this much free beside its bytes. */
export const FREE_SPACE_MARGIN = 1024 * 1024;

/** Bytes of free space promised to one folder put under way. */
export interface SpacePromise {
  /** Bytes promised and not yet written (the put lowers it as its data arrives). */
  bytes: number;
  /** Ends the promise: the put committed, failed or was cancelled. */
  release(): void;
}

/**
 * The free space that folder puts are checked against: what the disk has,
 * less what was promised to folder puts under way and not yet written, so
 * that two puts cannot both pass the check and then fill the disk.
 */
export class FreeSpace {
  readonly #probe: () => Promise<number | undefined>;
  readonly #promises = new Set<SpacePromise>();

  /**
   * Creates a FreeSpace.
   *
   * @param probe bytes free on the disk, or undefined when unknown
   */
  constructor(probe: () => Promise<number | undefined>) {
    this.#probe = probe;
  }

  /** Bytes promised to folder puts under way and not yet written. */
  get promised(): number {
    let bytes = 0;
    for (const promise of this.#promises) bytes += promise.bytes;
    return bytes;
  }

  /**
   * Lets an upload of one file go ahead only if the rest of its bytes fit beside what is
   * promised to folder puts: a file the disk cannot hold is refused before its bytes move,
   * rather than when the disk is full.
   *
   * @param upload the upload, just begun (its partial may hold some bytes already)
   * @param size its announced size, or undefined when unknown (classic)
   * @returns the upload
   * @throws {CancelError} `no-space` when it does not fit; the upload is then given up, and a
   *   partial that held bytes kept
   */
  async admit(upload: Upload, size: number | undefined): Promise<Upload> {
    if (size === undefined) return upload;
    const rest = size - upload.offset;
    const free = await this.#probe();
    if (free === undefined || free - this.promised >= rest + FREE_SPACE_MARGIN) return upload;
    await upload.abort(upload.offset > 0);
    const room = Math.max(0, free - this.promised - FREE_SPACE_MARGIN);
    throw new CancelError(
      "no-space",
      `The server has room for ${room} bytes, too few for the file's ${rest}: ` +
        "free some space on it and try again",
    );
  }

  /**
   * Checks that a folder of `size` bytes fits beside what is promised, and
   * promises it that space until it releases it.
   *
   * @param size the folder's bytes
   * @returns the promise, to lower as data arrives and release when the put ends
   * @throws {CancelError} `no-space` when it does not fit
   */
  async promise(size: number): Promise<SpacePromise> {
    const free = await this.#probe();
    // From here to the promise below nothing awaits: no other put can check in between.
    const promised = this.promised;
    if (free !== undefined && free - promised < size + FREE_SPACE_MARGIN) {
      throw new CancelError(
        "no-space",
        promised > 0
          ? `The server has ${free} bytes free, ${promised} of them promised to folder puts ` +
            `under way, too few for the folder's ${size}: try again when they end`
          : `The server has ${free} bytes free, too few for the folder's ${size}: ` +
            "free some space and try again",
      );
    }
    const promise: SpacePromise = {
      bytes: size,
      release: () => this.#promises.delete(promise),
    };
    this.#promises.add(promise);
    return promise;
  }
}

/** Whether `link()` failed because the file system has no hard links. */
function linkUnsupported(error: unknown): boolean {
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotSupported) {
    return true;
  }
  const code = errorCode(error);
  return code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "ENOSYS";
}
