/**
 * Sending and receiving a file body: chunks from a reader-shaped source (a
 * file, a stream of known size) to a connection and back, SHA-256 on the
 * way, and two buffers so that disk and network overlap. Buffers are taken
 * from the pool only when data is ready and never waited for, and a peer
 * that dawdles does not keep one: a trickle of bytes holds no chunk.
 *
 * @module
 */

// Deferred: node:crypto costs a process a few tens of milliseconds to start, which a
// list, and a client's start-up, need not pay (issue 16).
import defer * as nodeCrypto from "node:crypto";
import type { Hash } from "node:crypto";
import { TruncatedError, type Wire } from "../net/wire.ts";
import { CHUNK_SIZE, type ChunkPool, SPENT_BUFFER_SIZE } from "./pool.ts";

/**
 * A chunk is held at most about this long while its peer is slow to fill
 * or drain it; then what it holds is passed on and the buffer given back.
 */
const HOLD_MS = 1000;

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
  return nodeCrypto.createHash("sha256");
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
  const buffer = pool.take(length);
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

/** A chunk on its way out, and the buffer it lives in until then. */
interface InFlight {
  done: Promise<void>;
  buffer: Uint8Array;
}

/** Waits for a chunk to be written, then gives its buffer back, failure or not. */
async function land(pool: ChunkPool, flight: InFlight | undefined): Promise<void> {
  if (!flight) return;
  try {
    await flight.done;
  } finally {
    pool.release(flight.buffer);
  }
}

/**
 * Sends `length` bytes of `source`, from its current position, to `wire`.
 * The next chunk is read from disk while the previous one is on the wire.
 * While the peer reads slowly, chunks are small buffers of the transfer's
 * own rather than the pool's.
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
  const { pool } = options;
  let flight: InFlight | undefined;
  let slow = false;
  try {
    for (let done = 0; done < length;) {
      const want = length - done;
      const buffer = slow ? new Uint8Array(Math.min(want, SPENT_BUFFER_SIZE)) : pool.take(want);
      const chunk = buffer.subarray(0, Math.min(buffer.length, want));
      try {
        await readFull(source, chunk);
      } catch (error) {
        pool.release(buffer);
        throw error;
      }
      options.hash.update(chunk);
      const previous = flight;
      flight = undefined;
      await land(pool, previous);
      const started = performance.now();
      const sent = writeReporting(wire, chunk, done, options.onProgress).then(() => {
        slow = performance.now() - started > HOLD_MS;
      });
      // Awaited on the next round; until then a failure must not count as unhandled.
      sent.catch(() => {});
      flight = { done: sent, buffer };
      done += chunk.length;
    }
    const last = flight;
    flight = undefined;
    await land(pool, last);
  } finally {
    // A failed write must settle before its buffer goes back to the pool.
    await land(pool, flight).catch(() => {});
  }
}

/**
 * Receives a body from `wire` into `sink`: exactly `length` bytes, or, when
 * `length` is undefined (the classic protocol), everything until end of
 * stream. The next chunk is read from the network while the previous one is
 * written to disk. A buffer is taken only once bytes have arrived, and a
 * chunk that fills slowly is written as it is, so that a peer that trickles
 * holds no buffer while it waits.
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
  const { pool } = options;
  let flight: InFlight | undefined;
  let done = 0;
  try {
    let ended = false;
    while (!ended && (length === undefined || done < length)) {
      // Wait for data in the connection's own small buffer, holding none of the pool's.
      if (wire.buffered.length === 0 && !await wire.fill()) {
        if (length !== undefined) throw new TruncatedError();
        break;
      }
      const want = length === undefined ? CHUNK_SIZE : Math.min(CHUNK_SIZE, length - done);
      const buffer = pool.take(want);
      const target = buffer.subarray(0, Math.min(buffer.length, want));
      const taken = performance.now();
      let got = 0;
      try {
        while (got < target.length) {
          const n = await wire.readInto(target.subarray(got));
          if (n === 0) {
            if (length !== undefined) throw new TruncatedError();
            ended = true;
            break;
          }
          options.hash.update(target.subarray(got, got + n));
          got += n;
          options.onProgress?.(done + got);
          if (performance.now() - taken > HOLD_MS) break;
        }
      } catch (error) {
        // Keep what did arrive, so that a resumed transfer loses nothing.
        const previous = flight;
        flight = undefined;
        await land(pool, previous).catch(() => {});
        if (got > 0) {
          flight = { done: writeAll(sink, target.subarray(0, got)), buffer };
        } else {
          pool.release(buffer);
        }
        throw error;
      }
      const previous = flight;
      flight = undefined;
      if (got === 0) pool.release(buffer);
      await land(pool, previous);
      if (got === 0) break;
      const written = writeAll(sink, target.subarray(0, got));
      // Awaited on the next round; until then a failure must not count as unhandled.
      written.catch(() => {});
      flight = { done: written, buffer };
      done += got;
    }
    const last = flight;
    flight = undefined;
    await land(pool, last);
    return done;
  } finally {
    await land(pool, flight).catch(() => {});
  }
}

/**
 * The largest single write of a received body to its sink. A chunk still
 * arrives and is hashed whole; it only goes to the file in pieces. Linux
 * sizes a new file's page-cache folios by the write: a 4 MiB write fills
 * 2 MiB folios, taken from the large free blocks that a VM's free page
 * reporting (a Firecracker or QEMU balloon) gives back to the host, and the
 * first touch of each is then a fault served by the host. Measured on such
 * a VM (bench/RESULTS.md, issue 25), receiving 1 GiB into a new file with
 * fdatasync, memory free for 6 s: 3.41 s (kernel 2.88 s) in 4 MiB writes,
 * 2.28 s in 256 KiB, 2.08 s (kernel 0.79 s) in 128 KiB; on memory used a
 * moment ago, 2.13 s against 2.23 s.
 */
export const WRITE_PIECE = 128 * 1024;

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
  while (written < bytes.length) {
    const end = Math.min(bytes.length, written + WRITE_PIECE);
    written += await sink.write(bytes.subarray(written, end));
  }
}
