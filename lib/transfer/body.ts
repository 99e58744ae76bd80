/**
 * Sending and receiving a file body: chunks from a reader-shaped source (a
 * file, a stream of known size) to a connection and back, SHA-256 on the
 * way, and two buffers so that disk and network overlap.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { TruncatedError, type Wire } from "../net/wire.ts";
import { CHUNK_SIZE, type ChunkPool } from "./pool.ts";

/** Where a body's bytes come from: a `Deno.FsFile`, or a stream through {@link streamSource}. */
export interface BodySource {
  /**
   * Reads up to `p.length` bytes.
   *
   * @param p where the bytes go
   * @returns how many were read, or null at the end
   */
  read(p: Uint8Array): Promise<number | null>;
  /**
   * Stops a source that may wait for its data (a stream): a read in progress
   * ends as at the end of the data. A file has none and needs none.
   */
  cancel?(): Promise<void>;
}

/** Where a received body's bytes go: a `Deno.FsFile`, say. */
export interface BodySink {
  /**
   * Writes some of `p`.
   *
   * @param p the bytes
   * @returns how many were written
   */
  write(p: Uint8Array): Promise<number>;
}

/** A source ended before the size it announced: a file shrank while it was sent. */
export class SourceEndedError extends Error {
  /**
   * Creates a SourceEndedError.
   *
   * @param message what ended early
   */
  constructor(message = "The file ended before its expected size") {
    super(message);
    this.name = "SourceEndedError";
  }
}

/**
 * A {@link BodySource} over a stream, such as a browser upload.
 *
 * @param stream the bytes
 * @returns a source that reads the stream in order
 */
export function streamSource(
  stream: ReadableStream<Uint8Array>,
): Required<BodySource> & Disposable {
  const reader = stream.getReader();
  let rest: Uint8Array | undefined;
  return {
    async read(p: Uint8Array): Promise<number | null> {
      if (!rest || rest.length === 0) {
        const next = await reader.read();
        if (next.done) return null;
        rest = next.value;
      }
      const n = Math.min(p.length, rest.length);
      p.set(rest.subarray(0, n));
      rest = rest.subarray(n);
      return n;
    },
    async cancel() {
      // A stream that failed is stopped already; its error reaches the read.
      await reader.cancel().catch(() => {});
    },
    [Symbol.dispose]() {
      reader.releaseLock();
    },
  };
}

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
 * Feeds the next `length` bytes of a source into a hash, leaving a file's
 * position at `length`. Used to verify and continue a partial file.
 *
 * @param source an open file positioned at its start, or any source
 * @param length bytes to hash
 * @param hash the hash to feed
 * @param pool buffers
 * @throws {SourceEndedError} when the source is shorter than `length`
 */
export async function hashPrefix(
  source: BodySource,
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
      await readFull(source, chunk);
      hash.update(chunk);
      remaining -= chunk.length;
    }
  } finally {
    pool.release(buffer);
  }
}

/**
 * Sends `length` bytes of `source`, from its current position, to `wire`.
 * The next chunk is read from disk while the previous one is on the wire.
 *
 * @param source the source, positioned where sending starts
 * @param wire the destination
 * @param length bytes to send
 * @param options pool, hash and progress
 * @throws {SourceEndedError} when the source ends early (a file shrank while sent)
 */
export async function sendBody(
  source: BodySource,
  wire: Wire,
  length: number,
  options: BodyOptions,
): Promise<void> {
  if (length === 0) return;
  const buffers = await acquirePair(options.pool, length);
  let pending: Promise<void> | undefined;
  try {
    let done = 0;
    for (let i = 0; done < length; i++) {
      const buffer = buffers[i % buffers.length]!;
      if (buffers.length === 1 && pending) await pending;
      const chunk = buffer.subarray(0, Math.min(buffer.length, length - done));
      await readFull(source, chunk);
      options.hash.update(chunk);
      if (pending) await pending;
      pending = writeReporting(wire, chunk, done, options.onProgress);
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
 * Receives a body from `wire` into `sink`: exactly `length` bytes, or, when
 * `length` is undefined (the classic protocol), everything until end of
 * stream. The next chunk is read from the network while the previous one is
 * written to disk.
 *
 * @param wire the source
 * @param sink the destination, positioned where writing starts
 * @param length bytes expected, or undefined for "until end of stream"
 * @param options pool, hash and progress
 * @returns the number of bytes received
 * @throws {TruncatedError} when the stream ends before `length` bytes
 */
export async function receiveBody(
  wire: Wire,
  sink: BodySink,
  length: number | undefined,
  options: BodyOptions,
): Promise<number> {
  if (length === 0) return 0;
  const buffers = await acquirePair(options.pool, length ?? CHUNK_SIZE);
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
          pending = writeAll(sink, buffer.subarray(0, got)).catch(() => {});
        }
        throw error;
      }
      if (pending) await pending;
      if (got === 0) break;
      pending = writeAll(sink, buffer.subarray(0, got));
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
async function acquirePair(pool: ChunkPool, length: number): Promise<Uint8Array[]> {
  const first = await pool.acquire(length);
  if (length <= first.length) return [first];
  const second = pool.tryAcquire(length - first.length);
  return second ? [first, second] : [first];
}

/** Progress is reported at least this often while a chunk goes out. */
const PROGRESS_STEP = 4 * 1024 * 1024;

/** Writes a chunk to the wire, reporting progress every few MiB on the way. */
async function writeReporting(
  wire: Wire,
  chunk: Uint8Array,
  before: number,
  onProgress: ProgressCallback | undefined,
): Promise<void> {
  if (!onProgress) return await wire.write(chunk);
  for (let at = 0; at < chunk.length; at += PROGRESS_STEP) {
    const piece = chunk.subarray(at, Math.min(at + PROGRESS_STEP, chunk.length));
    await wire.write(piece);
    onProgress(before + at + piece.length);
  }
}

async function readFull(source: BodySource, target: Uint8Array): Promise<void> {
  let got = 0;
  while (got < target.length) {
    const n = await source.read(target.subarray(got));
    if (n === null) throw new SourceEndedError();
    got += n;
  }
}

async function writeAll(sink: BodySink, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await sink.write(bytes.subarray(written));
}
