/**
 * What a request holds while it waits, besides its buffers: the manifest of
 * a folder put, a have-list. It counts against the server's buffer pool, so
 * that README's bound (the pool plus a little a request) holds however many
 * requests hold large messages: a request holds {@link OWN_BYTES} of its own,
 * and takes the rest from the pool; when the pool has no room it is refused
 * `busy`, and a message larger than the whole pool `too-large`.
 *
 * @module
 */

import { CancelError } from "../protocol/errors.ts";
import type { Manifest } from "../protocol/folder.ts";
import type { FolderLimits } from "../protocol/paths.ts";
import type { ChunkPool } from "../transfer/pool.ts";

/**
 * What holding one manifest entry costs besides its path, estimated high:
 * about 180 bytes were measured for an entry with a path of 80 ASCII
 * characters (the object, the string, its place in a map and a set).
 */
const ENTRY_BYTES = 160;

/**
 * The most a manifest of `count` entries may cost to hold, paths at two
 * bytes a character: counted whole before it is read, so that of many
 * manifests arriving at once some are read whole, rather than all in part.
 *
 * @param count files and folders announced
 * @param limits the server's folder limits
 * @returns bytes
 */
export function manifestCost(count: number, limits: Readonly<FolderLimits>): number {
  return count * ENTRY_BYTES + 2 * Math.min(count * limits.maxPathBytes, limits.maxNamesBytes);
}

/**
 * What a folder get holds: the manifest the server walked, and the
 * have-list it may get for it (a line per file, with a SHA-256 in hex).
 *
 * @param manifest the walked manifest
 * @returns bytes
 */
export function walkedCost(manifest: Manifest): number {
  let bytes = 0;
  for (const entry of manifest.entries) bytes += ENTRY_BYTES + 2 * entry.path.length;
  for (const path of manifest.files.keys()) bytes += 2 * ENTRY_BYTES + 2 * path.length;
  return bytes;
}

/** Bytes a request may hold of its own before it takes from the pool. */
export const OWN_BYTES = 64 * 1024;

/** The bytes one request holds, counted against the pool. */
export class HeldBytes {
  readonly #pool: ChunkPool;
  #own = OWN_BYTES;
  #reserved = 0;

  /**
   * Creates a HeldBytes.
   *
   * @param pool the server's pool
   */
  constructor(pool: ChunkPool) {
    this.#pool = pool;
  }

  /**
   * Counts `bytes` more.
   *
   * @param bytes what the request now holds besides
   * @throws {CancelError} `too-large` past the whole pool, `busy` when the pool has no room now
   */
  add(bytes: number): void {
    const own = Math.min(this.#own, bytes);
    this.#own -= own;
    const more = bytes - own;
    if (more <= 0) return;
    if (this.#reserved + more > this.#pool.budget) {
      throw new CancelError(
        "too-large",
        `The folder's list needs more than the ${this.#pool.budget / 1024 / 1024} MiB the ` +
          "server may hold: send it in parts",
      );
    }
    if (!this.#pool.reserve(more)) {
      throw new CancelError(
        "busy",
        "The server is holding all the memory it may for other requests: try again later",
      );
    }
    this.#reserved += more;
  }

  /** Gives back everything counted; safe to call more than once. */
  release(): void {
    this.#pool.unreserve(this.#reserved);
    this.#reserved = 0;
    this.#own = OWN_BYTES;
  }
}
