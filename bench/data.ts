/**
 * The benchmark's files: sources of random bytes made once and reused, their
 * SHA-256, and the folders that hold served and downloaded copies, emptied
 * between runs so that the disk does not fill.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname } from "node:path";

/** Random bytes are made and written in blocks of this size. */
const BLOCK = 8 * 1024 * 1024;
/** `crypto.getRandomValues` fills at most this many bytes per call. */
const RANDOM_MAX = 65536;

/**
 * Makes a file of `size` random bytes at `path`, unless a file of exactly
 * that size is already there (a source from an earlier run is reused: its
 * content does not matter, only that it is incompressible).
 *
 * @param path where the file goes
 * @param size bytes
 * @returns true when the file was made, false when reused
 */
export async function ensureRandomFile(path: string, size: number): Promise<boolean> {
  try {
    if ((await Deno.stat(path)).size === size) return false;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await Deno.mkdir(dirname(path), { recursive: true });
  // Written under another name and renamed, so that an interrupted run never
  // leaves a short file that the next run would take for a finished one.
  const partial = `${path}.partial`;
  {
    using file = await Deno.open(partial, { write: true, create: true, truncate: true });
    const block = new Uint8Array(BLOCK);
    let left = size;
    while (left > 0) {
      const part = block.subarray(0, Math.min(block.length, left));
      for (let at = 0; at < part.length; at += RANDOM_MAX) {
        crypto.getRandomValues(part.subarray(at, at + RANDOM_MAX));
      }
      await writeAll(file, part);
      left -= part.length;
    }
  }
  await Deno.rename(partial, path);
  return true;
}

/**
 * The SHA-256 of a file, read in large blocks.
 *
 * @param path the file
 * @returns the digest in hex
 */
export async function sha256File(path: string): Promise<string> {
  using file = await Deno.open(path, { read: true });
  const hash = createHash("sha256");
  const buffer = new Uint8Array(BLOCK);
  while (true) {
    const n = await file.read(buffer);
    if (n === null) break;
    hash.update(buffer.subarray(0, n));
  }
  return hash.digest("hex");
}

/**
 * Removes a folder and everything in it, then makes it again, empty.
 *
 * @param path the folder
 */
export async function emptyDir(path: string): Promise<void> {
  await removeIfPresent(path);
  await Deno.mkdir(path, { recursive: true });
}

/**
 * Removes a file or folder (recursively) if it exists.
 *
 * @param path what to remove
 */
export async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}
