/**
 * Sending and receiving a file body: 32 MiB chunks through `Deno.FsFile`,
 * SHA-256 on the way, two buffers so that disk and network overlap, and a
 * pool that bounds how much memory all transfers together may hold.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { CHUNK_SIZE } from "./protocol.ts";
import { TruncatedError, type Wire } from "./wire.ts";

/** Chunks a pool keeps for reuse when no transfer holds them. */
const _SPARE_CHUNKS = 4;

/**
 * A budget of bytes for transfer buffers. Full chunks are kept and reused;
 * a buffer for a small file is only as large as the file.
 */
export class ChunkPool {
  /** Most bytes all buffers may hold at once. */
  readonly budget: number;
  #used = 0;
  #free: Uint8Array[] = [];
  #waiters: (() => void)[] = [];

  /** @param budget most bytes all buffers may hold at once (at least one chunk) */
  constructor(budget: number) {
    this.budget = Math.max(budget, CHUNK_SIZE);
  }

  /** Bytes held by buffers in use now. */
  get used(): number {
    return this.#used;
  }

  /**
   * A buffer of `size` bytes (at most one chunk), waiting until the budget
   * has room.
   *
   * @param size bytes wanted
   * @returns the buffer; give it back with {@link release}
   */
  async acquire(size: number): Promise<Uint8Array> {
    while (true) {
      const buffer = this.tryAcquire(size);
      if (buffer) return buffer;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /**
   * A buffer of `size` bytes if the budget has room now.
   *
   * @param size bytes wanted
   * @returns the buffer, or undefined
   */
  tryAcquire(size: number): Uint8Array | undefined {
    const bytes = Math.min(Math.max(size, 1), CHUNK_SIZE);
    if (this.#used + bytes > this.budget) return undefined;
    this.#used += bytes;
    if (bytes === CHUNK_SIZE) return this.#free.pop() ?? new Uint8Array(CHUNK_SIZE);
    return new Uint8Array(bytes);
  }

  /** @param buffer a buffer from this pool, no longer in use */
  release(buffer: Uint8Array): void {
    this.#used -= buffer.length;
    // Keep a few chunks for the next transfers; the rest go back to the
    // system, so that a burst of transfers does not hold memory forever.
    if (buffer.length === CHUNK_SIZE && this.#free.length < _SPARE_CHUNKS) this.#free.push(buffer);
    this.#waiters.shift()?.();
  }
}

/** The pool a client uses: one transfer, two chunks. */
export const clientPool: ChunkPool = new ChunkPool(2 * CHUNK_SIZE);

/** Called with the bytes of the body moved so far. */
export type ProgressCallback = (bytes: number) => void;

/** What a body transfer needs besides its source and sink. */
export interface BodyOptions {
  /** The pool to take buffers from. */
  pool: ChunkPool;
  /** The running SHA-256, updated with every byte moved. */
  hash: Hash;
  /** Called as bytes move. */
  onProgress?: ProgressCallback;
}

/** A new SHA-256. */
export function newHash(): Hash {
  return createHash("sha256");
}

/**
 * Feeds the first `length` bytes of a file into a hash, leaving the file's
 * position at `length`. Used to verify and continue a partial file.
 *
 * @param file an open file, positioned at its start
 * @param length bytes to hash
 * @param hash the hash to feed
 * @param pool buffers
 * @throws {TruncatedError} when the file is shorter than `length`
 */
export async function hashPrefix(
  file: Deno.FsFile,
  length: number,
  hash: Hash,
  pool: ChunkPool,
): Promise<void> {
  if (length === 0) return;
  const buffer = await pool.acquire(length);
  try {
    let remaining = length;
    while (remaining > 0) {
      const chunk = buffer.subarray(0, Math.min(buffer.length, remaining));
      await _readFileFull(file, chunk);
      hash.update(chunk);
      remaining -= chunk.length;
    }
  } finally {
    pool.release(buffer);
  }
}

/**
 * Sends `length` bytes of `file`, from its current position, to `wire`.
 * The next chunk is read from disk while the previous one is on the wire.
 *
 * @param file the source, positioned where sending starts
 * @param wire the destination
 * @param length bytes to send
 * @param options pool, hash and progress
 * @throws {TruncatedError} when the file ends early (it shrank while sent)
 */
export async function sendBody(
  file: Deno.FsFile,
  wire: Wire,
  length: number,
  options: BodyOptions,
): Promise<void> {
  if (length === 0) return;
  const buffers = await _acquirePair(options.pool, length);
  let pending: Promise<void> | undefined;
  try {
    let done = 0;
    for (let i = 0; done < length; i++) {
      const buffer = buffers[i % buffers.length]!;
      if (buffers.length === 1 && pending) await pending;
      const chunk = buffer.subarray(0, Math.min(buffer.length, length - done));
      await _readFileFull(file, chunk);
      options.hash.update(chunk);
      if (pending) await pending;
      pending = _writeReporting(wire, chunk, done, options.onProgress);
      done += chunk.length;
      // Awaited on the next round; until then a failure must not count as unhandled.
      pending.catch(() => {});
    }
    await pending;
    pending = undefined;
  } finally {
    // A failed write must settle before its buffer goes back to the pool.
    await pending?.catch(() => {});
    for (const buffer of buffers) options.pool.release(buffer);
  }
}

/**
 * Receives a body from `wire` into `file`: exactly `length` bytes, or, when
 * `length` is undefined (the classic protocol), everything until end of
 * stream. The next chunk is read from the network while the previous one is
 * written to disk.
 *
 * @param wire the source
 * @param file the destination, positioned where writing starts
 * @param length bytes expected, or undefined for "until end of stream"
 * @param options pool, hash and progress
 * @returns the number of bytes received
 * @throws {TruncatedError} when the stream ends before `length` bytes
 */
export async function receiveBody(
  wire: Wire,
  file: Deno.FsFile,
  length: number | undefined,
  options: BodyOptions,
): Promise<number> {
  if (length === 0) return 0;
  const buffers = await _acquirePair(options.pool, length ?? CHUNK_SIZE);
  let pending: Promise<void> | undefined;
  let done = 0;
  try {
    let ended = false;
    for (let i = 0; !ended && (length === undefined || done < length); i++) {
      const buffer = buffers[i % buffers.length]!;
      if (buffers.length === 1 && pending) await pending;
      const want = length === undefined ? buffer.length : Math.min(buffer.length, length - done);
      let got = 0;
      try {
        while (got < want) {
          const n = await wire.readInto(buffer.subarray(got, want));
          if (n === 0) {
            if (length !== undefined) throw new TruncatedError();
            ended = true;
            break;
          }
          options.hash.update(buffer.subarray(got, got + n));
          got += n;
          options.onProgress?.(done + got);
        }
      } catch (error) {
        // Keep what did arrive, so that a resumed transfer loses nothing.
        if (got > 0) {
          await pending?.catch(() => {});
          pending = _writeFileFull(file, buffer.subarray(0, got)).catch(() => {});
        }
        throw error;
      }
      if (pending) await pending;
      if (got === 0) break;
      pending = _writeFileFull(file, buffer.subarray(0, got));
      done += got;
      // Awaited on the next round; until then a failure must not count as unhandled.
      pending.catch(() => {});
    }
    await pending;
    pending = undefined;
    return done;
  } finally {
    await pending?.catch(() => {});
    for (const buffer of buffers) options.pool.release(buffer);
  }
}

/** One buffer, and a second one for overlap when the body needs and the pool has it. */
async function _acquirePair(pool: ChunkPool, length: number): Promise<Uint8Array[]> {
  const first = await pool.acquire(length);
  if (length <= first.length) return [first];
  const second = pool.tryAcquire(length - first.length);
  return second ? [first, second] : [first];
}

/** Progress is reported at least this often while a chunk goes out. */
const _PROGRESS_STEP = 4 * 1024 * 1024;

/** Writes a chunk to the wire, reporting progress every few MiB on the way. */
async function _writeReporting(
  wire: Wire,
  chunk: Uint8Array,
  before: number,
  onProgress: ProgressCallback | undefined,
): Promise<void> {
  if (!onProgress) return await wire.write(chunk);
  for (let at = 0; at < chunk.length; at += _PROGRESS_STEP) {
    const piece = chunk.subarray(at, Math.min(at + _PROGRESS_STEP, chunk.length));
    await wire.write(piece);
    onProgress(before + at + piece.length);
  }
}

async function _readFileFull(file: Deno.FsFile, target: Uint8Array): Promise<void> {
  let got = 0;
  while (got < target.length) {
    const n = await file.read(target.subarray(got));
    if (n === null) throw new TruncatedError("The file ended before its expected size");
    got += n;
  }
}

async function _writeFileFull(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}
