// The body of a transfer in process: sendBody and receiveBody over a real
// loopback TCP connection, byte for byte and with the right SHA-256; early
// ends on either side; the buffer pool's budget; a stream as a source; and
// hashing a prefix for resume.

import assert from "node:assert/strict";
import { join } from "node:path";
import { TruncatedError, Wire } from "../lib/net/wire.ts";
import {
  type BodySink,
  type BodySource,
  hashPrefix,
  newHash,
  receiveBody,
  sendBody,
  SourceEndedError,
  streamSource,
  WRITE_PIECE,
} from "../lib/transfer/body.ts";
import { CHUNK_SIZE, ChunkPool } from "../lib/transfer/pool.ts";
import { assertBytes, connPair, randomBytes, sha256Hex, tempDir, test, within } from "./helpers.ts";

const MiB = 1024 * 1024;

/** A source over bytes in memory that hands them out in uneven pieces, as a socket or pipe may. */
function memorySource(bytes: Uint8Array, piece = 100_003): BodySource {
  let at = 0;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (at >= bytes.length) return Promise.resolve(null);
      const n = Math.min(p.length, piece, bytes.length - at);
      p.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
}

/** A sink that keeps what it is given, taking at most `piece` bytes a write. */
function memorySink(piece = 65_537): BodySink & { bytes(): Uint8Array } {
  const parts: Uint8Array[] = [];
  return {
    write(p: Uint8Array): Promise<number> {
      const n = Math.min(p.length, piece);
      parts.push(p.slice(0, n));
      return Promise.resolve(n);
    },
    bytes() {
      const all = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
      let at = 0;
      for (const part of parts) {
        all.set(part, at);
        at += part.length;
      }
      return all;
    },
  };
}

/** Sends `bytes` across a real TCP connection with sendBody and receives them with receiveBody. */
async function roundTrip(bytes: Uint8Array) {
  using pair = await connPair();
  const sender = new Wire(pair.client);
  const receiver = new Wire(pair.server);
  // Pools with room to spare: a transfer must still hold at most two chunks.
  const sendPool = new ChunkPool(16 * CHUNK_SIZE);
  const receivePool = new ChunkPool(16 * CHUNK_SIZE);
  let most = 0;
  const watch = () => most = Math.max(most, sendPool.used, receivePool.used);
  const sendHash = newHash();
  const receiveHash = newHash();
  const sent: number[] = [];
  const received: number[] = [];
  const sink = memorySink();
  const [, count] = await Promise.all([
    sendBody(memorySource(bytes), sender, bytes.length, {
      pool: sendPool,
      hash: sendHash,
      onProgress: (n) => {
        sent.push(n);
        watch();
      },
    }),
    receiveBody(receiver, sink, bytes.length, {
      pool: receivePool,
      hash: receiveHash,
      onProgress: (n) => {
        received.push(n);
        watch();
      },
    }),
  ]);
  return {
    count,
    got: sink.bytes(),
    sendSha: sendHash.digest("hex"),
    receiveSha: receiveHash.digest("hex"),
    sent,
    received,
    poolsInUse: sendPool.used + receivePool.used,
    most,
  };
}

function assertMonotonic(progress: number[], end: number, what: string): void {
  for (let i = 1; i < progress.length; i++) {
    assert.ok(progress[i]! >= progress[i - 1]!, `${what} progress went back: ${progress}`);
  }
  if (end > 0) assert.equal(progress.at(-1), end, `${what} progress ends at the size`);
}

const SIZES: [string, number][] = [
  ["0 B", 0],
  ["1 B", 1],
  ["one chunk less a byte", CHUNK_SIZE - 1],
  ["one chunk", CHUNK_SIZE],
  ["one chunk and a byte", CHUNK_SIZE + 1],
  ["9 MiB and 7 B", 9 * MiB + 7],
];

for (const [label, size] of SIZES) {
  test(`sendBody and receiveBody move ${label} over TCP byte for byte, with the right SHA-256`, async () => {
    const bytes = randomBytes(size, size + 1);
    const result = await roundTrip(bytes);
    assert.equal(result.count, size);
    assert.equal(result.got.length, size);
    assert.ok(result.got.every((b, i) => b === bytes[i]), "the bytes received are the bytes sent");
    const expected = sha256Hex(bytes);
    assert.equal(result.sendSha, expected, "the sender hashed every byte it sent");
    assert.equal(result.receiveSha, expected, "the receiver hashed every byte it received");
    assertMonotonic(result.sent, size, "send");
    assertMonotonic(result.received, size, "receive");
    assert.equal(result.poolsInUse, 0, "every buffer went back to its pool");
    // README: "A transfer moves its body through at most two 4 MiB buffers";
    // a file smaller than a chunk gets a buffer no larger than itself.
    assert.ok(result.most <= 2 * CHUNK_SIZE, `one side held ${result.most} bytes`);
    if (size < CHUNK_SIZE) assert.ok(result.most <= Math.max(size, 1), `held ${result.most}`);
  });
}

test("receiveBody writes a chunk to its sink in pieces of at most 128 KiB, in order", async () => {
  // Large writes fill large page-cache folios, which cost a host fault each on a VM with free
  // page reporting (bench/RESULTS.md, issue 25): a received chunk goes to the file in pieces.
  assert.equal(WRITE_PIECE, 128 * 1024);
  const bytes = randomBytes(CHUNK_SIZE + 3 * WRITE_PIECE + 5, 25);
  using pair = await connPair();
  const sender = new Wire(pair.client);
  const receiver = new Wire(pair.server);
  const sizes: number[] = [];
  const sink = memorySink(Infinity);
  const recording: BodySink = {
    write(p: Uint8Array): Promise<number> {
      sizes.push(p.length);
      return sink.write(p);
    },
  };
  const pool = new ChunkPool(4 * CHUNK_SIZE);
  const [, count] = await Promise.all([
    sendBody(memorySource(bytes, CHUNK_SIZE), sender, bytes.length, { pool, hash: newHash() }),
    receiveBody(receiver, recording, bytes.length, { pool, hash: newHash() }),
  ]);
  assert.equal(count, bytes.length);
  assertBytes(sink.bytes(), bytes);
  assert.ok(sizes.every((n) => n > 0 && n <= WRITE_PIECE), `writes of ${Math.max(...sizes)} bytes`);
  assert.ok(sizes.length >= Math.ceil(bytes.length / WRITE_PIECE));
});

test("receiveBody without a length reads until the end of stream (the classic protocol)", async () => {
  using pair = await connPair();
  const bytes = randomBytes(CHUNK_SIZE + 12_345, 5);
  const sink = memorySink();
  const hash = newHash();
  const sending = (async () => {
    const wire = new Wire(pair.client);
    await wire.write(bytes);
    await wire.closeWrite();
  })();
  const count = await receiveBody(new Wire(pair.server), sink, undefined, {
    pool: new ChunkPool(2 * CHUNK_SIZE),
    hash,
  });
  await sending;
  assert.equal(count, bytes.length);
  assertBytes(sink.bytes(), bytes);
  assert.equal(hash.digest("hex"), sha256Hex(bytes));
});

test("sendBody of a source that ends early throws SourceEndedError", async () => {
  using pair = await connPair();
  const pool = new ChunkPool(2 * CHUNK_SIZE);
  // A file that shrank between its size being announced and being read.
  await assert.rejects(
    sendBody(memorySource(randomBytes(1000)), new Wire(pair.client), 5000, {
      pool,
      hash: newHash(),
    }),
    SourceEndedError,
  );
  assert.equal(pool.used, 0, "the buffers went back to the pool");
});

for (const arrived of [1000, CHUNK_SIZE + 1000]) {
  test(`receiveBody of a stream cut after ${arrived} bytes throws TruncatedError and keeps what arrived`, async () => {
    using pair = await connPair();
    const bytes = randomBytes(arrived, 9);
    const sending = (async () => {
      const wire = new Wire(pair.client);
      await wire.write(bytes);
      wire.close();
    })();
    const sink = memorySink();
    const pool = new ChunkPool(2 * CHUNK_SIZE);
    await assert.rejects(
      receiveBody(new Wire(pair.server), sink, arrived + 5000, { pool, hash: newHash() }),
      TruncatedError,
    );
    await sending;
    // What did arrive is kept, so that a resumed get loses nothing.
    assertBytes(sink.bytes(), bytes, "the bytes kept");
    assert.equal(pool.used, 0, "the buffers went back to the pool");
  });
}

test("a transfer through a pool of one chunk completes without ever holding more", async () => {
  using pair = await connPair();
  const bytes = randomBytes(3 * CHUNK_SIZE + 5, 3);
  const pool = new ChunkPool(CHUNK_SIZE);
  let most = 0;
  const sink = memorySink();
  await Promise.all([
    sendBody(memorySource(bytes), new Wire(pair.client), bytes.length, {
      pool,
      hash: newHash(),
      onProgress: () => most = Math.max(most, pool.used),
    }),
    receiveBody(new Wire(pair.server), sink, bytes.length, {
      pool: new ChunkPool(CHUNK_SIZE),
      hash: newHash(),
    }),
  ]);
  assertBytes(sink.bytes(), bytes);
  assert.ok(most <= CHUNK_SIZE, `the pool held ${most} bytes, over its budget`);
  assert.equal(pool.used, 0);
});

test("ChunkPool never lends past its budget and wakes a waiter when a buffer comes back", async () => {
  assert.equal(new ChunkPool(0).budget, CHUNK_SIZE, "a budget is at least one chunk");
  const pool = new ChunkPool(2 * CHUNK_SIZE);
  const small = await pool.acquire(10);
  assert.equal(small.length, 10, "a small file gets a buffer no larger than itself");
  assert.equal((await pool.acquire(0)).length, 1, "an empty body still gets a usable buffer");
  pool.release(small);
  assert.equal(pool.used, 1);
  const a = await pool.acquire(100 * MiB);
  assert.equal(a.length, CHUNK_SIZE, "no buffer is larger than a chunk");
  assert.ok(pool.tryAcquire(CHUNK_SIZE) === undefined, "a chunk more would pass the budget");
  let woken = false;
  const waiting = pool.acquire(CHUNK_SIZE).then((buffer) => {
    woken = true;
    return buffer;
  });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(woken, false, "the waiter waits while the budget is spent");
  assert.ok(pool.used <= pool.budget);
  pool.release(a);
  const c = await within(10_000, "The waiter", waiting);
  assert.equal(c.length, CHUNK_SIZE);
  assert.ok(pool.used <= pool.budget);
});

test("ChunkPool serves many concurrent borrowers, each in turn, never past its budget", async () => {
  const pool = new ChunkPool(3 * CHUNK_SIZE);
  let most = 0;
  const sizes = Array.from({ length: 40 }, (_, i) => i % 3 === 0 ? 1000 * i : CHUNK_SIZE);
  await Promise.all(sizes.map(async (size, i) => {
    const buffer = await pool.acquire(size);
    most = Math.max(most, pool.used);
    await new Promise((r) => setTimeout(r, i % 5));
    pool.release(buffer);
  }));
  assert.ok(most <= pool.budget, `${most} bytes lent at once, budget ${pool.budget}`);
  assert.equal(pool.used, 0);
});

test("streamSource reads a ReadableStream of uneven chunks in order, then reports its end", async () => {
  const bytes = randomBytes(100_000, 11);
  const cuts = [0, 1, 7, 4096, 4097, 60_000, 100_000];
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 1; i < cuts.length; i++) controller.enqueue(bytes.slice(cuts[i - 1], cuts[i]));
      controller.close();
    },
  });
  const got: number[] = [];
  {
    using source = streamSource(stream);
    const buffer = new Uint8Array(3000);
    while (true) {
      const n = await source.read(buffer);
      if (n === null) break;
      assert.ok(n > 0 && n <= buffer.length);
      got.push(...buffer.subarray(0, n));
    }
  }
  assertBytes(new Uint8Array(got), bytes);
  assert.equal(stream.locked, false, "disposing the source releases the stream");
});

test("cancelling a streamSource ends a read that waits for data, as at the end of the data", async () => {
  const stream = new ReadableStream<Uint8Array>({ start() {} });
  const source = streamSource(stream);
  const reading = source.read(new Uint8Array(10));
  await source.cancel();
  assert.equal(await within(5000, "the read", reading), null);
});

test("hashPrefix hashes the first bytes of a file and leaves it positioned after them", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "prefix.bin");
  const bytes = randomBytes(CHUNK_SIZE + 500, 13);
  await Deno.writeFile(path, bytes);
  const pool = new ChunkPool(2 * CHUNK_SIZE);
  for (const length of [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1]) {
    using file = await Deno.open(path, { read: true });
    const hash = newHash();
    await hashPrefix(file, length, hash, pool);
    assert.equal(hash.digest("hex"), sha256Hex(bytes.subarray(0, length)), `prefix ${length}`);
    const next = new Uint8Array(4);
    await file.read(next);
    assertBytes(next, bytes.subarray(length, length + 4), `the bytes after ${length}`);
  }
  {
    using file = await Deno.open(path, { read: true });
    await assert.rejects(
      hashPrefix(file, bytes.length + 1, newHash(), pool),
      SourceEndedError,
      "a partial file shorter than claimed is caught",
    );
  }
  assert.equal(pool.used, 0);
});
