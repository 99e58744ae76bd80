// End-to-end: the real server CLI on port 0 in a temporary folder, the real
// client CLI as a subprocess, files compared byte for byte.

import assert from "node:assert/strict";
import { join } from "node:path";
import { CLASSIC_CHUNK_SIZE } from "../lib/protocol/classic.ts";
import { CHUNK_SIZE } from "../lib/transfer/pool.ts";
import {
  namesIn,
  runClient,
  sameBytes,
  startTestServer,
  tempDir,
  writeRandomFile,
} from "./helpers.ts";

const MiB = 1024 * 1024;
// Around the chunk privateshare reads and writes in, and the original's.
const CHUNK = CHUNK_SIZE;
const CLASSIC = CLASSIC_CHUNK_SIZE;

for (
  const [label, size] of [
    ["0 bytes", 0],
    ["1 byte", 1],
    ["4 MiB - 1", CHUNK - 1],
    ["4 MiB + 1", CHUNK + 1],
    ["32 MiB - 1", CLASSIC - 1],
    ["32 MiB", CLASSIC],
    ["32 MiB + 1", CLASSIC + 1],
    ["100 MiB", 100 * MiB],
  ] as const
) {
  Deno.test(`put, list and get round-trip a file of ${label} byte for byte`, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    await using down = await tempDir();
    const server = await startTestServer({ root: served.path });
    try {
      const name = `file ${label}, ünïcode 文件.bin`;
      const source = join(local.path, name);
      await writeRandomFile(source, size, size + 7);
      const port = String(server.port);

      const putRun = await runClient(["localhost", port, "put", name], { cwd: local.path });
      assert.equal(putRun.code, 0, putRun.stderr);
      assert.match(putRun.stdout, /verified sha256/);
      assert.ok(await sameBytes(source, join(served.path, name)));

      const listRun = await runClient(["localhost", port, "list", "--json"]);
      assert.equal(listRun.code, 0, listRun.stderr);
      assert.deepEqual(
        JSON.parse(listRun.stdout).map((f: { name: string; size: number }) => [f.name, f.size]),
        [[name, size]],
      );

      const getRun = await runClient(["localhost", port, "get", name], { cwd: down.path });
      assert.equal(getRun.code, 0, getRun.stderr);
      assert.match(getRun.stdout, /verified sha256/);
      assert.ok(await sameBytes(source, join(down.path, name)));
      assert.deepEqual(namesIn(down.path), [name], "no partial file is left behind");
      assert.deepEqual(namesIn(served.path), [name], "no temporary file is left behind");
    } finally {
      await server.stop();
    }
  });
}

Deno.test("list prints size, time and name per line for a person", async () => {
  await using served = await tempDir();
  await Deno.writeTextFile(join(served.path, "a.txt"), "hello");
  await Deno.mkdir(join(served.path, "folder"));
  await Deno.writeTextFile(join(served.path, ".privateshare-partial-x"), "hidden");
  const server = await startTestServer({ root: served.path, write: false });
  try {
    const run = await runClient(["localhost", String(server.port), "list"], {
      perms: ["--allow-net", "--allow-env", "--allow-read"],
    });
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split("\n");
    assert.equal(lines.length, 2, "privateshare's own files are not listed");
    assert.match(lines[0]!, /^\s*5 B\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+a\.txt$/);
    assert.match(lines[1]!, /^\s*0 B\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+folder\/ {2}\(0 files\)$/);
  } finally {
    await server.stop();
  }
});
