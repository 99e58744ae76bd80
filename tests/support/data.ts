/**
 * Temporary folders, files and bytes of a deterministic pattern, byte
 * comparisons that never render megabytes, and a stream fed by hand.
 *
 * @module
 */

import { createHash } from "node:crypto";

/**
 * A temporary folder, removed by the returned disposer.
 *
 * @returns the path and `[Symbol.asyncDispose]`
 */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "privateshare-test-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Writes a file of pseudo-random bytes (a fast deterministic generator
 * seeded from `seed`), streaming, so large files cost little memory.
 *
 * @param path where to write
 * @param size bytes
 * @param seed varies the content
 */
export async function writeRandomFile(path: string, size: number, seed = 1): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const block = new Uint8Array(1024 * 1024);
  const words = new Uint32Array(block.buffer);
  let x = (seed * 2654435761) >>> 0 || 1;
  let left = size;
  while (left > 0) {
    for (let i = 0; i < words.length; i++) {
      // xorshift32
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      words[i] = x;
    }
    const part = block.subarray(0, Math.min(block.length, left));
    let written = 0;
    while (written < part.length) written += await file.write(part.subarray(written));
    left -= part.length;
  }
}

/**
 * Whether two files hold the same bytes.
 *
 * @param a one file
 * @param b the other
 * @returns true when equal byte for byte
 */
export async function sameBytes(a: string, b: string): Promise<boolean> {
  using fa = await Deno.open(a);
  using fb = await Deno.open(b);
  if ((await fa.stat()).size !== (await fb.stat()).size) return false;
  const ba = new Uint8Array(1 << 20);
  const bb = new Uint8Array(1 << 20);
  while (true) {
    const na = await fillFrom(fa, ba);
    const nb = await fillFrom(fb, bb);
    if (na !== nb) return false;
    if (na === 0) return true;
    for (let i = 0; i < na; i++) if (ba[i] !== bb[i]) return false;
  }
}

async function fillFrom(file: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return got;
}

/**
 * The names in a folder, sorted, hidden ones included.
 *
 * @param dir the folder
 * @returns file names
 */
export function namesIn(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

/** A stream that a test feeds by hand, so that it can pause a transfer at an exact byte. */
export interface HandFedStream {
  /** The stream to give to the code under test. */
  stream: ReadableStream<Uint8Array>;
  /** Makes `bytes` available to the reader. */
  push(bytes: Uint8Array): void;
  /** Ends the stream. */
  end(): void;
  /** Resolves once the reader has asked for more than it was given: it is waiting. */
  drained(): Promise<void>;
}

/**
 * A ReadableStream whose bytes the test pushes one piece at a time.
 *
 * @returns the stream and its controls
 */
export function handFedStream(): HandFedStream {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let waiting: (() => void) | undefined;
  let hungry = false;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    pull() {
      hungry = true;
      waiting?.();
      waiting = undefined;
    },
  }, { highWaterMark: 0 });
  return {
    stream,
    push(bytes) {
      hungry = false;
      controller.enqueue(bytes);
    },
    end() {
      controller.close();
    },
    drained() {
      if (hungry) return Promise.resolve();
      return new Promise((resolve) => waiting = resolve);
    },
  };
}

/**
 * The SHA-256 of some bytes.
 *
 * @param bytes the bytes
 * @returns the digest in hex
 */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Bytes of a deterministic pseudo-random pattern, for in-memory transfers.
 *
 * @param size how many
 * @param seed varies the content
 * @returns the bytes
 */
export function randomBytes(size: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/**
 * Fails unless two byte arrays are equal, naming the first difference.
 * Unlike `assert.deepEqual`, it never renders the arrays: a diff of
 * megabytes would block the event loop for minutes, deadlines included.
 *
 * @param actual the bytes got
 * @param expected the bytes wanted
 * @param what what they are, for the message
 */
export function assertBytes(actual: Uint8Array, expected: Uint8Array, what = "the bytes"): void {
  const n = Math.min(actual.length, expected.length);
  let at = 0;
  while (at < n && actual[at] === expected[at]) at++;
  if (at === n && actual.length === expected.length) return;
  throw new Error(
    `${what} differ: ${actual.length} bytes against ${expected.length} expected, ` +
      (at < n ? `first difference at offset ${at}` : `equal for the first ${n}`),
  );
}
