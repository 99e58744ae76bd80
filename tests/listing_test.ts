// The listing of a big folder is built without stopping the server: other
// work goes on while it is read, and it stays right as files come and go.

import assert from "node:assert/strict";
import { join } from "node:path";
import { list, put } from "../lib/mod.ts";
import { encodeCommand } from "../lib/protocol/ps2.ts";
import { serveFolder, tempDir, until } from "./helpers.ts";

/** One raw PS/2 list: the bytes of the answer are counted, not decoded. */
async function rawList(port: number): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encodeCommand({ op: "list" }));
    const buffer = new Uint8Array(256 * 1024);
    let total = 0;
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) return total;
      total += n;
    }
  } finally {
    conn.close();
  }
}

Deno.test("the event loop keeps turning while the listing of 20,000 files is built", async () => {
  await using served = await tempDir();
  const count = 20_000;
  for (let i = 0; i < count; i++) {
    Deno.writeFileSync(join(served.path, `file-${i}.txt`), new Uint8Array(0));
  }
  await using server = serveFolder(served.path);
  // A timer that should fire every 2 ms: the longest gap between two of its
  // turns is the longest time the event loop was held.
  let last = performance.now();
  let longest = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 2);
  try {
    const started = performance.now();
    const bytes = await rawList(server.port);
    const took = performance.now() - started;
    assert.ok(bytes > count * 30, `a listing of ${bytes} bytes`);
    // Held for the whole listing, the loop's longest gap would be about
    // the listing's whole time; built asynchronously, a small part of it.
    assert.ok(
      longest < took / 2,
      `the event loop was held for ${Math.round(longest)} ms of a ${Math.round(took)} ms listing`,
    );
  } finally {
    clearInterval(ticker);
  }
});

Deno.test("the listing follows uploads, other programs' new, changed and removed files", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  await Deno.writeTextFile(join(served.path, "a.txt"), "a");
  await using server = serveFolder(served.path);
  const options = { host: "127.0.0.1", port: server.port };
  const names = async () => (await list(options)).map((f) => `${f.name}:${f.size}`);
  assert.deepEqual(await names(), ["a.txt:1"]);
  await Deno.writeTextFile(join(local.path, "up.txt"), "uploaded");
  await put(join(local.path, "up.txt"), options);
  assert.deepEqual(await names(), ["a.txt:1", "up.txt:8"]);
  // Another program's changes show within the second README promises (at
  // once where the folder's time moves, but two changes within one tick of
  // the file system's clock leave it where it was).
  const shows = async (expected: string[]) => {
    await until(async () => JSON.stringify(await names()) === JSON.stringify(expected), 5000);
  };
  await Deno.writeTextFile(join(served.path, "b.txt"), "bb");
  await shows(["a.txt:1", "b.txt:2", "up.txt:8"]);
  await Deno.remove(join(served.path, "a.txt"));
  await shows(["b.txt:2", "up.txt:8"]);
  // Rewritten in place: the folder does not change, the listing catches up
  // within about a second.
  await Deno.writeTextFile(join(served.path, "b.txt"), "bbbb");
  await until(async () => (await names()).includes("b.txt:4"), 5000);
});
