// The pause between a classic get's code and its data: a server setting,
// long enough that the original client's single 32-byte receive of the code
// gets the code alone, also while the CPUs are busy.
//
// What the client sees depends on when it gets to read, and on a busy machine
// it may get its turn only after the pause (docs/PROTOCOL.md: no pause is a
// guarantee). So each assertion is one that holds whenever the client reads:
// the server cannot send the code before it has the command, so a receive
// that returns within the pause after the command was sent cannot hold data
// from a server that pauses; and data read after the code, when the code was
// read soon after the command, came at least the pause after the code.

import assert from "node:assert/strict";
import { join } from "node:path";
import { startTestServer, tempDir, writeRandomFile } from "./helpers.ts";

const decoder = new TextDecoder();

/** What the original client's get saw, and when. */
interface Seen {
  /** The first receive (of at most 32 bytes), as text. */
  code: string;
  /** Everything received, the first receive included. */
  bytes: Uint8Array;
  /** When the first receive returned, in ms after the command was sent. */
  codeMs: number;
  /** When the first data after the first receive came, in ms after the command was sent. */
  dataMs: number | undefined;
}

/** The original client's get: the command in one write, the code from one receive of 32 bytes. */
async function originalGet(port: number, name: string): Promise<Seen> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    // Before the write: the server cannot have sent anything yet.
    const sent = performance.now();
    await conn.write(new TextEncoder().encode(`get,${name}`));
    const first = new Uint8Array(32);
    const n = await conn.read(first) ?? 0;
    const codeMs = performance.now() - sent;
    let dataMs: number | undefined;
    const chunks = [first.slice(0, n)];
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      const m = await conn.read(buffer);
      if (m === null) break;
      dataMs ??= performance.now() - sent;
      chunks.push(buffer.slice(0, m));
    }
    const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    return { code: decoder.decode(first.subarray(0, n)), bytes, codeMs, dataMs };
  } finally {
    conn.close();
  }
}

/** The code and then the file, whatever the receives they came in. */
function assertWhole(seen: Seen, file: Uint8Array, what: string): void {
  const expected = new Uint8Array(4 + file.length);
  expected.set(new TextEncoder().encode("pass"));
  expected.set(file, 4);
  assert.ok(
    seen.code.startsWith("pass"),
    `${what}: the first receive held ${JSON.stringify(seen.code)}`,
  );
  assert.deepEqual(seen.bytes, expected, `${what}: "pass", then the file`);
}

/** Processes that keep the CPUs busy until killed. */
function busyLoops(count: number): Deno.ChildProcess[] {
  return Array.from({ length: count }, () =>
    new Deno.Command(Deno.execPath(), {
      args: ["eval", "for (;;) {}"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn());
}

Deno.test("the classic pause is a server setting: data follows the code no sooner than --classic-pause", async () => {
  await using served = await tempDir();
  const path = join(served.path, "four.bin");
  await writeRandomFile(path, 4096, 7);
  const file = await Deno.readFile(path);
  const pauseMs = 300;
  const server = await startTestServer({
    root: served.path,
    write: false,
    args: ["--classic-pause", String(pauseMs / 1000)],
  });
  try {
    // Every get's data comes the pause after the command at the soonest. A get whose code was
    // read within 0.2 of the pause after the command read it at most that long after it was
    // sent (not before the command), so its data, sent the pause after the code, is read at
    // least 0.8 of the pause after the code. The first such get measures the gap.
    let measured = false;
    for (let i = 1; i <= 20 && !measured; i++) {
      const seen = await originalGet(server.port, "four.bin");
      assertWhole(seen, file, `get ${i}`);
      const dataMs = seen.dataMs ?? seen.codeMs;
      assert.ok(
        dataMs >= pauseMs * 0.8,
        `get ${i}: data came ${Math.round(dataMs)} ms after the command`,
      );
      if (seen.codeMs > pauseMs * 0.2) continue;
      measured = true;
      assert.equal(seen.code, "pass", `get ${i}: the code alone`);
      const gapMs = dataMs - seen.codeMs;
      assert.ok(
        gapMs >= pauseMs * 0.8,
        `get ${i}: data came ${Math.round(gapMs)} ms after the code`,
      );
    }
    assert.ok(measured, "no code of 20 gets was read within 60 ms of its command");
  } finally {
    await server.stop();
  }
});

Deno.test("classic gets with the original client's read pattern get the code alone while both CPUs are busy", async () => {
  await using served = await tempDir();
  const path = join(served.path, "four.bin");
  await writeRandomFile(path, 4096, 8);
  const file = await Deno.readFile(path);
  // The default pause (30 ms): a receive within 0.8 of it after the command holds no data.
  const soonMs = 30 * 0.8;
  const server = await startTestServer({ root: served.path, write: false });
  const loops = busyLoops(2);
  try {
    // 50 gets whose client read the code in time; those read later show the order alone.
    let inTime = 0;
    let gets = 0;
    while (inTime < 50 && gets < 1000) {
      gets++;
      const seen = await originalGet(server.port, "four.bin");
      assertWhole(seen, file, `get ${gets}`);
      if (seen.code !== "pass") {
        assert.ok(
          seen.codeMs >= soonMs,
          `get ${gets}: data in the first receive, ${seen.codeMs.toFixed(1)} ms after the command`,
        );
      }
      if (seen.codeMs < soonMs) inTime++;
    }
    assert.equal(inTime, 50, `only ${inTime} of ${gets} gets read their code in time`);
  } finally {
    for (const loop of loops) loop.kill("SIGKILL");
    await Promise.all(loops.map((loop) => loop.status));
    await server.stop();
  }
});
