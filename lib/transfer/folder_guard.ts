/**
 * What keeps a folder held by its path (every permission set but
 * `--allow-all`, see {@link Dir}) the folder it was: the trust rule of
 * {@link FolderTrust} where a folder is entered, and an identity check
 * (device and inode) of the path against the folder held open, before and
 * after each call. With the errors for a folder that is not there, and for
 * one that is there but refused.
 *
 * @module
 */

import { dirname } from "node:path";
import { type FolderOwnership, FolderTrust } from "./folder_trust.ts";

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

/** Which folder a handle is (`fstat`), and who may change it. */
export interface HeldFolder extends FolderOwnership {
  /** Device. */
  dev: number;
  /** Inode. */
  ino: number;
}

/** The guard of one folder held by its path. */
export class FolderGuard {
  /** The folder's real path. */
  readonly location: string;
  readonly #held: HeldFolder;
  readonly #trust: FolderTrust;

  private constructor(location: string, held: HeldFolder, trust: FolderTrust) {
    this.location = location;
    this.#held = { dev: held.dev, ino: held.ino, uid: held.uid, gid: held.gid, mode: held.mode };
    this.#trust = trust;
  }

  /**
   * The guard of a folder the user named: its owner is trusted, and no
   * folder on the way to it may be one that someone untrusted can rename.
   *
   * @param location its real path (no links)
   * @param held the open folder's `fstat`
   * @returns the guard, once the path was checked to name that folder
   * @throws {UnsafeFolderError} naming the first folder on the way that others could swap
   */
  static async top(location: string, held: HeldFolder): Promise<FolderGuard> {
    const trust = new FolderTrust(held.uid);
    const chain: string[] = [];
    for (let at = location;; at = dirname(at)) {
      chain.unshift(at);
      if (dirname(at) === at) break;
    }
    let parent: Deno.FileInfo | undefined;
    for (const path of chain) {
      const info = await Deno.lstat(path);
      if (parent) {
        const problem = trust.problem(ownership(parent), ownership(info), path, dirname(path));
        if (problem) throw new UnsafeFolderError(problem);
      }
      parent = info;
    }
    const guard = new FolderGuard(location, held, trust);
    guard.steady();
    return guard;
  }

  /**
   * The guard of a subfolder just opened, under the same trust.
   *
   * @param location its path
   * @param held the open subfolder's `fstat`
   * @returns its guard
   * @throws {UnsafeFolderError} when someone untrusted could swap it
   */
  child(location: string, held: HeldFolder): FolderGuard {
    const problem = this.#trust.problem(this.#held, held, location, this.location);
    if (problem) throw new UnsafeFolderError(problem);
    return new FolderGuard(location, held, this.#trust);
  }

  /**
   * Checks that a folder this process makes here could not be swapped by others.
   *
   * @param location the new folder's path
   * @param selfUid this process's user id (-1 when unknown)
   * @throws {UnsafeFolderError} when it could
   */
  mayMake(location: string, selfUid: number): void {
    const problem = this.#trust.problem(
      this.#held,
      { uid: selfUid, gid: -1, mode: 0 },
      location,
      this.location,
    );
    if (problem) throw new UnsafeFolderError(problem);
  }

  /**
   * Why every folder in this one is refused (others may rename what it
   * holds), or undefined; a sticky folder refuses only other users' folders.
   *
   * @param selfUid this process's user id, when known
   * @returns a phrase for a person, or undefined
   */
  refusesAll(selfUid: number | null): string | undefined {
    this.steady();
    const ours = { uid: selfUid ?? this.#held.uid, gid: -1, mode: 0 };
    return this.#trust.problem(this.#held, ours, this.location, this.location);
  }

  /**
   * Checks that another handle is on this very folder.
   *
   * @param held the other handle's `fstat`
   * @throws {FolderChangedError} when it is not
   */
  same(held: HeldFolder): void {
    if (held.dev !== this.#held.dev || held.ino !== this.#held.ino) {
      throw new FolderChangedError(this.location);
    }
  }

  /**
   * Checks that the folder's path still names the folder held open, and
   * nothing else (not a link, not another folder); learns who may change it
   * now (a chmod since it was opened counts).
   *
   * @throws {FolderChangedError} when it does not
   */
  steady(): void {
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(this.location);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        throw new FolderChangedError(this.location);
      }
      throw error;
    }
    if (!info.isDirectory || info.dev !== this.#held.dev || (info.ino ?? 0) !== this.#held.ino) {
      throw new FolderChangedError(this.location);
    }
    Object.assign(this.#held, ownership(info));
  }
}

function ownership(info: Deno.FileInfo): FolderOwnership {
  return { uid: info.uid ?? 0, gid: info.gid ?? 0, mode: info.mode ?? 0 };
}
