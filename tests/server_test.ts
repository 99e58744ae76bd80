// The server under load and misbehaviour: concurrent clients, silent and
// cut-off clients, idle shutdown, connection limits and the request log.
// Every test has a deadline of its own (`test` from helpers.ts), and every
// wait for something the server should do has a shorter one, so that a
// server that never does it fails the test instead of hanging it.

import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeCommand, encodeLine } from "../lib/protocol/ps2.ts";
import {
  namesIn,
  runClient,
  sameBytes,
  startTestServer,
  tempDir,
  test,
  until,
  within,
  writeRandomFile,
} from "./helpers.ts";

const MiB = 1024 * 1024;

test("the server shuts itself down after its idle timeout and says so", async () => {
  await using served = await tempDir();
  const server = await startTestServer({ root: served.path, args: ["--idle-timeout", "1"] });
  try {
    const announced = await server.waitFor((l) => l.event === "idle-timeout");
    assert.equal(announced.idleSeconds, 1);
    // Said as what will happen, not as if it were happening now.
    assert.equal(
      announced.message,
      "Will stop after 1 s without a connection (--idle-timeout 0 to keep running)",
    );
    // A request resets the idle clock.
    const run = await runClient(["localhost", String(server.port), "list"]);
    assert.equal(run.code, 0, run.stderr);
    // A timer that never fires must fail the test, not hang it.
    const code = await within(20_000, "The idle shutdown", server.exited);
    assert.equal(code, 0);
    const shutdown = server.lines.find((l) => l.event === "idle-shutdown");
    assert.ok(shutdown, "an idle-shutdown line is logged");
    assert.match(String(shutdown.message), /No connection for 1 s: shutting down/);
  } finally {
    await server.stop();
  }
});

test("idle shutdown never cuts an active transfer", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  const server = await startTestServer({ root: served.path, args: ["--idle-timeout", "0.3"] });
  try {
    await writeRandomFile(join(local.path, "slow.bin"), 2 * MiB);
    // A raw client that sends its body slowly, over several idle periods.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(encodeCommand({ op: "put", name: "slow.bin", size: 2 * MiB, resume: false }));
    const reply = new Uint8Array(256);
    await conn.read(reply);
    await conn.write(encodeLine({ offset: 0 }));
    const data = await Deno.readFile(join(local.path, "slow.bin"));
    for (let i = 0; i < 4; i++) {
      await conn.write(data.subarray(i * (data.length / 4), (i + 1) * (data.length / 4)));
      await new Promise((r) => setTimeout(r, 250));
    }
    const { createHash } = await import("node:crypto");
    await conn.write(encodeLine({ sha256: createHash("sha256").update(data).digest("hex") }));
    const n = await conn.read(reply);
    assert.match(new TextDecoder().decode(reply.subarray(0, n!)), /"code":"done"/);
    conn.close();
    const code = await within(20_000, "The idle shutdown after the transfer", server.exited);
    assert.equal(code, 0, "after the transfer, the idle timeout applies");
    assert.ok(await sameBytes(join(local.path, "slow.bin"), join(served.path, "slow.bin")));
  } finally {
    await server.stop();
  }
});

test("a client that connects and sends nothing is dropped; others are served meanwhile", async () => {
  await using served = await tempDir();
  await Deno.writeTextFile(join(served.path, "a.txt"), "a");
  const server = await startTestServer({
    root: served.path,
    args: ["--command-timeout", "0.5"],
  });
  try {
    const silent = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const started = performance.now();
    // Read while the other client is served, so that the moment of the drop
    // is measured rather than the end of that client's run.
    const dropped = silent.read(new Uint8Array(16)).then((n) => ({
      n,
      after: performance.now() - started,
    }));
    const list = await runClient(["localhost", String(server.port), "list", "--json"]);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout).map((f: { name: string }) => f.name), ["a.txt"]);
    // The server closes the silent connection: the read sees end of stream.
    const { n, after } = await within(10_000, "The drop of the silent connection", dropped);
    assert.equal(n, null);
    assert.ok(after >= 400, `dropped at its deadline, not before (${after.toFixed(0)} ms)`);
    // A generous bound, ten times the deadline: a server that waited for
    // another deadline (the data deadline, 30 s) is caught.
    assert.ok(after <= 5000, `dropped within 5 s of a 0.5 s deadline, not ${after.toFixed(0)} ms`);
    silent.close();
    const record = await server.waitFor((l) => l.event === "request" && l.outcome === "timeout");
    assert.equal(record.op, "-");
  } finally {
    await server.stop();
  }
});

test("a transfer that stalls is dropped after the data deadline and leaves no file", async () => {
  await using served = await tempDir();
  const server = await startTestServer({ root: served.path, args: ["--data-timeout", "0.5"] });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(encodeCommand({ op: "put", name: "stall.bin", size: 1000, resume: false }));
    await conn.read(new Uint8Array(256));
    await conn.write(encodeLine({ offset: 0 }));
    await conn.write(new Uint8Array(500));
    const record = await server.waitFor((l) => l.event === "request" && l.op === "put");
    assert.equal(record.outcome, "timeout");
    conn.close();
    assert.ok(!namesIn(served.path).includes("stall.bin"));
  } finally {
    await server.stop();
  }
});

test("two simultaneous puts of one name: exactly one wins and the file is intact", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  const server = await startTestServer({ root: served.path });
  try {
    await writeRandomFile(join(local.path, "one.bin"), 48 * MiB, 1);
    await writeRandomFile(join(local.path, "two.bin"), 48 * MiB, 2);
    const port = String(server.port);
    const runs = await Promise.all(
      ["one.bin", "two.bin"].map((f) =>
        runClient(["localhost", port, "put", f, "--as", "same.bin"], { cwd: local.path })
      ),
    );
    const codes = runs.map((r) => r.code).sort();
    assert.deepEqual(codes, [0, 3], runs.map((r) => r.stderr).join("\n"));
    const loser = runs.find((r) => r.code === 3)!;
    assert.match(loser.stderr, /already exists|Another upload of "same\.bin" is in progress/);
    const winner = runs[0]!.code === 0 ? "one.bin" : "two.bin";
    assert.ok(await sameBytes(join(local.path, winner), join(served.path, "same.bin")));
    const list = await runClient(["localhost", port, "list", "--json"]);
    assert.deepEqual(JSON.parse(list.stdout).map((f: { name: string }) => f.name), ["same.bin"]);
  } finally {
    await server.stop();
  }
});

test("a put cut off halfway leaves nothing under its name, and its partial is never listed or served", async () => {
  await using served = await tempDir();
  await using down = await tempDir();
  const server = await startTestServer({ root: served.path });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(encodeCommand({ op: "put", name: "half.bin", size: 4 * MiB, resume: true }));
    await conn.read(new Uint8Array(256));
    await conn.write(encodeLine({ offset: 0 }));
    await conn.write(new Uint8Array(2 * MiB).fill(7));
    conn.close();
    const record = await server.waitFor((l) => l.event === "request" && l.op === "put");
    assert.equal(record.outcome, "closed");
    // Not an OS error: the server cannot tell a cancel from a cut, and says so.
    assert.equal(record.message, "the client stopped: cancelled or cut off");
    const names = namesIn(served.path);
    assert.ok(!names.includes("half.bin"));
    assert.ok(names.every((n) => n.startsWith(".privateshare-")), `only hidden partials: ${names}`);
    const port = String(server.port);
    const list = await runClient(["localhost", port, "list", "--json"]);
    assert.deepEqual(JSON.parse(list.stdout), []);
    for (const hidden of names) {
      const get = await runClient(["localhost", port, "get", hidden], { cwd: down.path });
      assert.equal(get.code, 3, "a partial upload is never served");
    }
  } finally {
    await server.stop();
  }
});

test("a put whose client process is killed mid-transfer leaves no file", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  const server = await startTestServer({ root: served.path });
  try {
    await writeRandomFile(join(local.path, "big.bin"), 200 * MiB);
    const { CLIENT_TS } = await import("./helpers.ts");
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        CLIENT_TS,
        "localhost",
        String(server.port),
        "put",
        "big.bin",
      ],
      cwd: local.path,
      stdout: "null",
      stderr: "null",
    }).spawn();
    // Kill it once the server has started receiving data.
    await until(() =>
      namesIn(served.path).some((n) =>
        n.startsWith(".privateshare-") && Deno.statSync(join(served.path, n)).size > 0
      )
    );
    child.kill("SIGKILL");
    await child.status;
    const record = await server.waitFor((l) => l.event === "request" && l.op === "put");
    assert.notEqual(record.outcome, "ok");
    assert.ok(!namesIn(served.path).includes("big.bin"));
  } finally {
    await server.stop();
  }
});

test("--max-connections answers busy rather than hanging", async () => {
  await using served = await tempDir();
  await Deno.writeTextFile(join(served.path, "a.txt"), "a");
  const server = await startTestServer({
    root: served.path,
    args: ["--max-connections", "2", "--command-timeout", "5"],
  });
  try {
    // Two uploads that have begun (their command was accepted) hold both slots.
    const holders = await Promise.all(
      ["h1", "h2"].map(async (name) => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
        await conn.write(encodeCommand({ op: "put", name, size: 10, resume: false }));
        await conn.read(new Uint8Array(256));
        return conn;
      }),
    );
    const run = await runClient(["localhost", String(server.port), "list"]);
    assert.equal(run.code, 3);
    assert.match(run.stderr, /maximum of connections/);
    for (const c of holders) c.close();
    await until(async () =>
      (await runClient(["localhost", String(server.port), "list"])).code === 0
    );
  } finally {
    await server.stop();
  }
});

test("each request gets one log line with peer, op, name, bytes, duration and outcome", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  const server = await startTestServer({ root: served.path });
  try {
    await writeRandomFile(join(local.path, "log.bin"), 12345);
    const port = String(server.port);
    await runClient(["localhost", port, "put", "log.bin"], { cwd: local.path });
    await runClient(["localhost", port, "put", "log.bin"], { cwd: local.path });
    const ok = await server.waitFor((l) => l.op === "put" && l.outcome === "ok");
    assert.equal(ok.name, "log.bin");
    assert.equal(ok.bytes, 12345);
    assert.equal(ok.protocol, "ps2");
    assert.match(String(ok.peer), /^127\.0\.0\.1:\d+$|^\[::1\]:\d+$/);
    assert.equal(typeof ok.ms, "number");
    assert.equal(typeof ok.mibps, "number");
    assert.equal(typeof ok.time, "string");
    const refused = await server.waitFor((l) => l.op === "put" && l.outcome === "cancel");
    assert.equal(refused.reason, "exists");
  } finally {
    await server.stop();
  }
});
