// SHA-256 for bodies (lib/transfer/hash.ts): a large body's hash runs in a
// worker and must give node:crypto's digest whatever the updates look like
// (split, larger than the ring, interleaved with another hash, copied half
// way), must not depend on the caller's buffer after an update returns, and
// must let a process end once every hash is digested.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { hashesInWorker, newHash, OFFLOAD_BYTES } from "../lib/transfer/hash.ts";
import { randomBytes, ROOT, sha256Hex, tempDir, test } from "./helpers.ts";

const MiB = 1024 * 1024;

/** Feeds `bytes` to `hash` in pieces of the sizes `sizes` gives in turn. */
function feed(hash: ReturnType<typeof newHash>, bytes: Uint8Array, sizes: number[]): void {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, bytes.length - at);
    hash.update(bytes.subarray(at, at + n));
    at += n;
  }
}

test("a large body's hash runs in the worker and matches node:crypto, in any pieces", async () => {
  const bytes = randomBytes(40 * MiB, 7);
  const expected = sha256Hex(bytes);
  // Tiny, odd, a whole ring and more (16 MiB), empty: each way of feeding it.
  for (const sizes of [[1, 4095, 65_537], [20 * MiB], [0, 3 * MiB + 1], [MiB - 1, MiB + 1]]) {
    const hash = newHash(OFFLOAD_BYTES);
    assert.equal(hashesInWorker(), 1, "the hash is held by the worker");
    feed(hash, bytes, sizes);
    assert.equal(hash.digest("hex"), expected, `pieces of ${sizes.join(", ")}`);
    assert.equal(hashesInWorker(), 0, "the worker stops with its last hash");
  }
  // One byte short of the threshold stays on this thread.
  newHash(OFFLOAD_BYTES - 1).update(bytes);
  assert.equal(hashesInWorker(), 0);
  await Promise.resolve();
});

test("a buffer may be reused once update returns; copies and interleaved hashes stay apart", async () => {
  const a = randomBytes(24 * MiB, 1);
  const b = randomBytes(24 * MiB, 2);
  const hashA = newHash(OFFLOAD_BYTES);
  const hashB = newHash(OFFLOAD_BYTES);
  const scratch = new Uint8Array(MiB);
  let half: string | undefined;
  for (let at = 0; at < a.length; at += MiB) {
    scratch.set(a.subarray(at, at + MiB));
    hashA.update(scratch);
    // Overwritten at once, as a pool's buffer is when it goes back: the hash has its own copy.
    scratch.fill(0xaa);
    hashB.update(b.subarray(at, at + MiB));
    if (at + MiB === a.length / 2) half = hashA.copy().digest("hex");
  }
  assert.equal(hashesInWorker(), 2);
  assert.equal(half, createHash("sha256").update(a.subarray(0, a.length / 2)).digest("hex"));
  assert.equal(hashA.digest("hex"), sha256Hex(a));
  assert.throws(() => hashA.update(a), /Digest already called/);
  assert.equal(hashB.digest("hex"), sha256Hex(b));
  assert.equal(hashesInWorker(), 0);
  await Promise.resolve();
});

test("a program that hashed a large body in the worker ends by itself, under no permissions", async () => {
  await using dir = await tempDir();
  const script = join(dir.path, "hash_then_end.ts");
  const module = new URL(`file://${join(ROOT, "lib/transfer/hash.ts")}`).href;
  await Deno.writeTextFile(
    script,
    `import { hashesInWorker, newHash, OFFLOAD_BYTES } from ${JSON.stringify(module)};
const hash = newHash(OFFLOAD_BYTES);
const inWorker = hashesInWorker();
hash.update(new Uint8Array(${8 * MiB}).fill(1));
console.log(inWorker, hash.digest("hex"));
`,
  );
  // No Deno.exit: the process ends only when nothing, the worker included, holds it open.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--no-lock", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.equal(
    new TextDecoder().decode(out.stdout).trim(),
    `1 ${sha256Hex(new Uint8Array(8 * MiB).fill(1))}`,
  );
});
