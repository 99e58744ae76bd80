// Resume: a put or get cut off at an exact point (a relay holds the traffic
// there, then cuts the connection) continues from where it stopped when the
// same command runs again, and is verified over all its bytes.

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  namesIn,
  runClient,
  sameBytes,
  startRelay,
  startTestServer,
  tempDir,
  type TestServer,
  until,
  writeRandomFile,
} from "./helpers.ts";

const MiB = 1024 * 1024;

async function withServer(
  body: (server: TestServer, served: string, local: string) => Promise<void>,
): Promise<void> {
  await using served = await tempDir();
  await using local = await tempDir();
  const server = await startTestServer({ root: served.path });
  try {
    await body(server, served.path, local.path);
  } finally {
    await server.stop();
  }
}

/** Runs the client through a relay that holds traffic at `bytes`, then cuts it. */
async function cutAt(
  server: TestServer,
  direction: "up" | "down",
  bytes: number,
  args: string[],
  cwd: string,
): Promise<{ code: number; stderr: string }> {
  const relay = startRelay(server.port, { holdAt: { direction, bytes } });
  const requests = () => server.lines.filter((l) => l.event === "request").length;
  const before = requests();
  try {
    const run = runClient(["127.0.0.1", String(relay.port), ...args], { cwd });
    await relay.reached(direction, bytes);
    // Let the receiver take in what was forwarded before the cut (how much it keeps varies; any
    // amount resumes).
    await new Promise((r) => setTimeout(r, 200));
    relay.cut();
    const result = await run;
    // The server has closed that request (and its upload) before the test goes on: the next put
    // of the name would otherwise meet "another upload is in progress" on a busy machine.
    await until(() => requests() > before);
    return result;
  } finally {
    await relay.close();
  }
}

Deno.test("a put cut off at 40 MiB resumes from there and is verified whole", async () => {
  await withServer(async (server, served, local) => {
    await writeRandomFile(join(local, "big.bin"), 96 * MiB);
    const cut = await cutAt(server, "up", 40 * MiB, ["put", "big.bin"], local);
    assert.equal(cut.code, 4, cut.stderr);
    assert.match(cut.stderr, /connection to .* was lost: run the same command again to resume/);
    assert.ok(!namesIn(served).includes("big.bin"), "nothing under the final name");

    const again = await runClient(["localhost", String(server.port), "put", "big.bin"], {
      cwd: local,
    });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /resumed at (39\.\d+|40\.0) MiB/);
    assert.match(again.stdout, /verified sha256/);
    assert.ok(await sameBytes(join(local, "big.bin"), join(served, "big.bin")));
    assert.deepEqual(namesIn(served), ["big.bin"], "the partial upload is gone");
    const record = await server.waitFor((l) => l.op === "put" && l.outcome === "ok");
    assert.ok((record.resumedFrom as number) > 32 * MiB, `resumed from ${record.resumedFrom}`);
    assert.ok((record.bytes as number) < 64 * MiB, "only the rest was sent");
  });
});

Deno.test("a get cut off resumes from the client's partial download", async () => {
  await withServer(async (server, served, local) => {
    await writeRandomFile(join(served, "big.bin"), 80 * MiB);
    const cut = await cutAt(server, "down", 40 * MiB, ["get", "big.bin"], local);
    assert.equal(cut.code, 4, cut.stderr);
    assert.deepEqual(namesIn(local), [
      ".big.bin.privateshare-partial",
      ".big.bin.privateshare-partial.json",
    ]);

    const again = await runClient(["localhost", String(server.port), "get", "big.bin"], {
      cwd: local,
    });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /resumed at/);
    assert.ok(await sameBytes(join(served, "big.bin"), join(local, "big.bin")));
    assert.deepEqual(namesIn(local), ["big.bin"]);
  });
});

Deno.test("a different file put under the same name is never spliced onto an old partial", async () => {
  await withServer(async (server, served, local) => {
    await writeRandomFile(join(local, "first.bin"), 48 * MiB, 1);
    await writeRandomFile(join(local, "second.bin"), 48 * MiB, 2);
    const cut = await cutAt(server, "up", 20 * MiB, ["put", "first.bin", "--as", "x.bin"], local);
    assert.equal(cut.code, 4, cut.stderr);
    const run = await runClient(
      ["localhost", String(server.port), "put", "second.bin", "--as", "x.bin"],
      { cwd: local },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /resumed/);
    assert.ok(await sameBytes(join(local, "second.bin"), join(served, "x.bin")));
  });
});

Deno.test("get starts over when the server's file changed since the partial download", async () => {
  await withServer(async (server, served, local) => {
    await writeRandomFile(join(served, "doc.bin"), 48 * MiB, 1);
    const cut = await cutAt(server, "down", 40 * MiB, ["get", "doc.bin"], local);
    assert.equal(cut.code, 4, cut.stderr);
    await writeRandomFile(join(served, "doc.bin"), 48 * MiB, 2);
    const run = await runClient(["localhost", String(server.port), "get", "doc.bin"], {
      cwd: local,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /resumed/);
    assert.ok(await sameBytes(join(served, "doc.bin"), join(local, "doc.bin")));
  });
});

Deno.test("--no-resume starts a cut-off put over", async () => {
  await withServer(async (server, served, local) => {
    await writeRandomFile(join(local, "big.bin"), 48 * MiB);
    await cutAt(server, "up", 20 * MiB, ["put", "big.bin"], local);
    const run = await runClient(
      ["localhost", String(server.port), "put", "big.bin", "--no-resume"],
      { cwd: local },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /resumed/);
    assert.ok(await sameBytes(join(local, "big.bin"), join(served, "big.bin")));
    const record = await server.waitFor((l) => l.op === "put" && l.outcome === "ok");
    assert.equal(record.bytes, 48 * MiB);
  });
});

Deno.test("a byte flipped in flight is caught: put exits 5 and keeps nothing", async () => {
  await withServer(async (server, served, local) => {
    await writeRandomFile(join(local, "f.bin"), 10 * MiB);
    const relay = startRelay(server.port, { flip: { direction: "up", offset: 5 * MiB } });
    try {
      const run = await runClient(["127.0.0.1", String(relay.port), "put", "f.bin"], {
        cwd: local,
      });
      assert.equal(run.code, 5, run.stderr);
      assert.match(run.stderr, /does not match the sender's SHA-256: nothing was kept/);
    } finally {
      await relay.close();
    }
    // The server removes its partial after it answers: its record says the request is over.
    const record = await server.waitFor((l) => l.op === "put" && l.event === "request");
    assert.equal(record.reason, "corrupt");
    assert.deepEqual(namesIn(served), [], "no final file and no partial");
  });
});

Deno.test("a byte flipped in flight is caught: get exits 5 and keeps nothing", async () => {
  await withServer(async (server, served, local) => {
    await writeRandomFile(join(served, "f.bin"), 10 * MiB);
    const relay = startRelay(server.port, { flip: { direction: "down", offset: 3 * MiB } });
    try {
      const run = await runClient(["127.0.0.1", String(relay.port), "get", "f.bin"], {
        cwd: local,
      });
      assert.equal(run.code, 5, run.stderr);
      assert.match(run.stderr, /does not match the server's SHA-256: nothing was kept/);
    } finally {
      await relay.close();
    }
    assert.deepEqual(namesIn(local), [], "no final file and no partial");
  });
});
