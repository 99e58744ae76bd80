/**
 * Making a verified upload visible under its name without ever replacing a
 * file: a hard link where the file system has them, else an exclusive
 * claim of the name and a rename over the claim; and the free-space probe
 * a folder put is checked against.
 *
 * @module
 */

import { statfs } from "node:fs/promises";
import type { CancelError } from "../protocol/errors.ts";
import {
  createExclusive,
  errorCode,
  type FileFacts,
  type FolderFile,
  lstatFacts,
  sameFile,
} from "../transfer/files.ts";
import { removeQuietly } from "./store_own.ts";

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

/** Whether `link()` failed because the file system has no hard links. */
function linkUnsupported(error: unknown): boolean {
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotSupported) {
    return true;
  }
  const code = errorCode(error);
  return code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "ENOSYS";
}
