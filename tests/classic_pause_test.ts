// The pause between a classic get's code and its data: a server setting,
// long enough that the original client's single 32-byte receive of the code
// gets the code alone, also while the CPUs are busy.

import assert from "node:assert/strict";
import { join } from "node:path";
import { startTestServer, tempDir, writeRandomFile } from "./helpers.ts";

const decoder = new TextDecoder();

/** The original client's get: the command in one write, the code from one receive of 32 bytes. */
async function originalGet(port: number, name: string) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(`get,${name}`));
    const first = new Uint8Array(32);
    const n = await conn.read(first) ?? 0;
    const codeAt = performance.now();
    let dataAt: number | undefined;
    let got = 0;
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      const m = await conn.read(buffer);
      if (m === null) break;
      dataAt ??= performance.now();
      got += m;
    }
    return { code: decoder.decode(first.subarray(0, n)), got, gapMs: (dataAt ?? codeAt) - codeAt };
  } finally {
    conn.close();
  }
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
  await writeRandomFile(join(served.path, "four.bin"), 4096, 7);
  const server = await startTestServer({
    root: served.path,
    write: false,
    args: ["--classic-pause", "0.3"],
  });
  try {
    const { code, got, gapMs } = await originalGet(server.port, "four.bin");
    assert.equal(code, "pass");
    assert.equal(got, 4096);
    assert.ok(gapMs >= 250, `data came ${Math.round(gapMs)} ms after the code`);
  } finally {
    await server.stop();
  }
});

Deno.test("classic gets with the original client's read pattern get the code alone while both CPUs are busy", async () => {
  await using served = await tempDir();
  await writeRandomFile(join(served.path, "four.bin"), 4096, 8);
  const server = await startTestServer({ root: served.path, write: false });
  const loops = busyLoops(2);
  try {
    for (let i = 0; i < 50; i++) {
      const { code, got } = await originalGet(server.port, "four.bin");
      assert.equal(code, "pass", `get ${i + 1}: the first receive held ${JSON.stringify(code)}`);
      assert.equal(got, 4096, `get ${i + 1}`);
    }
  } finally {
    for (const loop of loops) loop.kill("SIGKILL");
    await Promise.all(loops.map((loop) => loop.status));
    await server.stop();
  }
});
