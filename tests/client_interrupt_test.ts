// Ctrl-C (SIGINT) and SIGTERM to the client mid-transfer: it writes what it
// received, prints one line saying how to resume, exits 130, and the same
// command then resumes to the same bytes.
//
// Real faults: the signals, sent to the real client process. Fault injection:
// the relay from helpers.ts holds the transfer at an exact byte, so that the
// signal lands mid-transfer at a known point.

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  namesIn,
  sameBytes,
  serveFolder,
  startRelay,
  tempDir,
  until,
  writeRandomFile,
} from "./helpers.ts";
import {
  fakeServer,
  linesOf,
  partialOf,
  readCommand,
  recordOf,
  runCli,
  sha256Of,
  spawnCli,
  within,
} from "./client_fakes.ts";

const MiB = 1024 * 1024;

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`${signal} mid-get keeps every byte received, says how to resume, exits 130, and the get resumes`, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    const source = join(served.path, "big.bin");
    await writeRandomFile(source, 20 * MiB + 7, 31);
    await using server = serveFolder(served.path);
    // Less than one 4 MiB chunk: a client that kept only whole chunks would keep nothing.
    const hold = MiB + 333;
    const relay = startRelay(server.port, { holdAt: { direction: "down", bytes: hold } });
    try {
      const client = spawnCli(["127.0.0.1", String(relay.port), "get", "big.bin"], {
        cwd: local.path,
        ms: 60_000,
      });
      await within(30_000, relay.reached("down", hold));
      // Let the client take in what was forwarded.
      await new Promise((r) => setTimeout(r, 500));
      client.signal(signal);
      const out = await client.output;
      assert.equal(out.signal, null, `ended by the signal itself: ${out.stderr}`);
      assert.equal(out.code, 130, out.stderr);
      assert.deepEqual(linesOf(out.stderr), [
        "privateshare: Interrupted: run the same command again to resume",
      ]);
    } finally {
      await relay.close();
    }
    const partial = partialOf(local.path, "big.bin");
    const have = Deno.statSync(partial).size;
    assert.ok(have > 0 && have < hold, `the partial holds what arrived: ${have} bytes`);
    assert.equal(await sha256Of(partial), await sha256Of(source, have), "a true prefix");
    assert.ok(Deno.statSync(recordOf(local.path, "big.bin")).isFile);

    const again = await runCli(["127.0.0.1", String(server.port), "get", "big.bin"], {
      cwd: local.path,
      ms: 60_000,
    });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /resumed at/);
    assert.ok(await sameBytes(source, join(local.path, "big.bin")));
    assert.deepEqual(namesIn(local.path), ["big.bin"]);
  });
}

Deno.test("SIGINT mid-put says how to resume, exits 130, and the put resumes", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  const source = join(local.path, "big.bin");
  await writeRandomFile(source, 40 * MiB + 9, 32);
  await using server = serveFolder(served.path);
  const hold = 20 * MiB;
  const relay = startRelay(server.port, { holdAt: { direction: "up", bytes: hold } });
  try {
    const client = spawnCli(["127.0.0.1", String(relay.port), "put", "big.bin"], {
      cwd: local.path,
      ms: 60_000,
    });
    await within(30_000, relay.reached("up", hold));
    await new Promise((r) => setTimeout(r, 500));
    client.signal("SIGINT");
    const out = await client.output;
    assert.equal(out.signal, null, `ended by the signal itself: ${out.stderr}`);
    assert.equal(out.code, 130, out.stderr);
    assert.deepEqual(linesOf(out.stderr), [
      "privateshare: Interrupted: run the same command again to resume",
    ]);
  } finally {
    await relay.close();
  }
  const again = await runCli(["127.0.0.1", String(server.port), "put", "big.bin"], {
    cwd: local.path,
    ms: 60_000,
  });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /resumed at/);
  assert.ok(await sameBytes(source, join(served.path, "big.bin")));
});

Deno.test("SIGINT while a server keeps the client waiting for its answer is an interruption, exit 130", async () => {
  await using local = await tempDir();
  let commands = 0;
  let answered = () => {};
  const waiting = new Promise<void>((r) => answered = r);
  await using server = fakeServer(async (conn) => {
    await readCommand(conn);
    commands++;
    await waiting;
  });
  try {
    for (const args of [["get", "x.bin"], ["list"]]) {
      const client = spawnCli(["127.0.0.1", String(server.port), ...args], {
        cwd: local.path,
        ms: 60_000,
      });
      const before = commands;
      await within(30_000, until(() => commands > before));
      client.signal("SIGINT");
      const out = await client.output;
      assert.equal(out.code, 130, `${args[0]}: ${out.stderr}`);
      assert.match(linesOf(out.stderr).join("\n"), /^privateshare: Interrupted/);
      assert.equal(linesOf(out.stderr).length, 1, out.stderr);
    }
  } finally {
    answered();
  }
  assert.deepEqual(namesIn(local.path), [], "a get that received nothing keeps nothing");
});
