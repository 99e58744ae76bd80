// Faults that privateshare must survive: a client process killed mid-put and
// mid-get, the server process killed mid-put, a full disk, silent and stalled
// connections by the hundred, the connection limit, and SIGTERM/SIGINT with
// transfers in flight.
//
// Real faults: SIGKILL of the client and server processes, SIGTERM/SIGINT, a
// disk that really fills up (a small tmpfs), and real TCP connections that
// never finish their command. Fault injection: the relay from helpers.ts,
// which stops traffic at an exact byte count so that each kill lands at a
// known point of the transfer.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { CLASSIC_CHUNK_SIZE } from "../lib/protocol/classic.ts";
import { encodeCommand, encodeLine } from "../lib/protocol/ps2.ts";
import { CHUNK_SIZE } from "../lib/transfer/pool.ts";
import {
  CLIENT_TS,
  type Direction,
  namesIn,
  type Relay,
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
const PARTIAL_PREFIX = ".privateshare-partial-";
const _decoder = new TextDecoder();

/** A client CLI process that a test can kill. */
interface SpawnedClient {
  child: Deno.ChildProcess;
  output: Promise<{ code: number; signal: Deno.Signal | null; stdout: string; stderr: string }>;
  kill(): void;
}

/** Starts the real client CLI as a child process (not awaited, so it can be killed). */
function spawnClient(args: string[], cwd: string): SpawnedClient {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--no-prompt", CLIENT_TS, ...args],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output().then((o) => ({
    code: o.code,
    signal: o.signal,
    stdout: _decoder.decode(o.stdout),
    stderr: _decoder.decode(o.stderr),
  }));
  return {
    child,
    output,
    kill() {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    },
  };
}

/**
 * Waits until the relay has forwarded `bytes` in `direction`; fails with the
 * client's output if the client ends first, or after `ms`.
 */
async function reached(
  relay: Relay,
  direction: Direction,
  bytes: number,
  client: SpawnedClient,
  ms = 30_000,
): Promise<void> {
  const t = timeout(ms);
  try {
    const result = await Promise.race([
      relay.reached(direction, bytes).then(() => "reached" as const),
      client.output,
      t.promise,
    ]);
    if (result === "reached") return;
    if (result === "timeout") throw new Error(`The relay did not reach ${bytes} bytes in ${ms} ms`);
    throw new Error(`The client ended before ${bytes} bytes: ${result.code} ${result.stderr}`);
  } finally {
    t.clear();
  }
}

/** Size of a file, 0 when it does not exist. */
function sizeOf(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    throw error;
  }
}

/** The server's hidden partial uploads in a folder. */
function partialsIn(dir: string): string[] {
  return namesIn(dir).filter((n) => n.startsWith(PARTIAL_PREFIX));
}

/** SHA-256 of the first `length` bytes of a file (all of it by default). */
async function sha256Of(path: string, length = Infinity): Promise<string> {
  using file = await Deno.open(path);
  const hash = createHash("sha256");
  const buf = new Uint8Array(4 * MiB);
  let left = length;
  while (left > 0) {
    const n = await file.read(buf.subarray(0, Math.min(buf.length, left)));
    if (n === null) break;
    hash.update(buf.subarray(0, n));
    left -= n;
  }
  return hash.digest("hex");
}

/** The server's request log lines for one op, in order. */
function requests(server: TestServer, op: string): Record<string, unknown>[] {
  return server.lines.filter((l) => l.event === "request" && l.op === op);
}

/** Waits for the server's `count`-th request line for `op` and returns it. */
async function nthRequest(
  server: TestServer,
  op: string,
  count: number,
): Promise<Record<string, unknown>> {
  await until(() => requests(server, op).length >= count, 15_000);
  return requests(server, op)[count - 1]!;
}

/** A list through the real CLI; asserts it succeeds and returns the names. */
async function listNames(port: number): Promise<string[]> {
  const run = await runClient(["127.0.0.1", String(port), "list", "--json"]);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout).map((f: { name: string }) => f.name);
}

/** Resolves to "timeout" after `ms`, for bounding a wait. */
function timeout(ms: number): { promise: Promise<"timeout">; clear(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), ms));
  return { promise, clear: () => clearTimeout(timer) };
}

/** Resolves with the server's exit code, or rejects when it takes longer than `ms`. */
async function exitWithin(server: TestServer, ms: number): Promise<number> {
  const t = timeout(ms);
  try {
    const result = await Promise.race([server.exited, t.promise]);
    if (result === "timeout") throw new Error(`The server did not exit within ${ms} ms`);
    return result;
  } finally {
    t.clear();
  }
}

// --- 1. The client process killed mid-transfer --------------------------------------------

const PUT_SIZE = 64 * MiB + 333_333;

Deno.test("a put whose client is killed at 12 points resumes each time and ends byte for byte", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  const source = join(local.path, "big.bin");
  await writeRandomFile(source, PUT_SIZE, 11);
  const server = await startTestServer({ root: served.path });
  const commandBytes =
    encodeCommand({ op: "put", name: "big.bin", size: PUT_SIZE, resume: true }).length;
  // File offsets at which the upload stops and the client is killed: spread over the
  // file, around the original's 32 MiB chunk boundary, and at the very end (every byte of the
  // body sent, the checksum not).
  const points = [
    1,
    5 * MiB + 17,
    11 * MiB + 4099,
    19 * MiB,
    26 * MiB + 3,
    CLASSIC_CHUNK_SIZE - 1,
    CLASSIC_CHUNK_SIZE,
    CLASSIC_CHUNK_SIZE + 1,
    41 * MiB + 12_345,
    52 * MiB + 1,
    PUT_SIZE - 1,
    PUT_SIZE,
  ];
  try {
    let resumePoint = 0;
    for (const [i, point] of points.entries()) {
      // Up-stream bytes: the command line, the start line, then the body from resumePoint.
      const hold = commandBytes + encodeLine({ offset: resumePoint }).length +
        (point - resumePoint);
      const relay = startRelay(server.port, { holdAt: { direction: "up", bytes: hold } });
      const client = spawnClient(["127.0.0.1", String(relay.port), "put", "big.bin"], local.path);
      try {
        await reached(relay, "up", hold, client);
        client.kill();
        const out = await client.output;
        assert.equal(out.signal, "SIGKILL", `attempt ${i} ended before the kill: ${out.stderr}`);
      } finally {
        client.kill();
        relay.cut();
        await relay.close();
      }
      const record = await nthRequest(server, "put", i + 1);
      assert.equal(record.outcome, "closed", JSON.stringify(record));
      assert.equal(record.resumedFrom, resumePoint || undefined, "resumed where the last stopped");
      // The server kept every byte it received, and nothing is under the final name.
      const names = namesIn(served.path);
      assert.equal(names.length, 1, `only a hidden partial: ${names}`);
      assert.ok(names[0]!.startsWith(PARTIAL_PREFIX), `only a hidden partial: ${names}`);
      assert.equal(sizeOf(join(served.path, names[0]!)), point, `partial after attempt ${i}`);
      assert.equal(
        await sha256Of(join(served.path, names[0]!)),
        await sha256Of(source, point),
        "the partial holds the file's first bytes",
      );
      // The server is alive and serves others.
      assert.deepEqual(await listNames(server.port), []);
      resumePoint = point;
    }

    const again = await runClient(["127.0.0.1", String(server.port), "put", "big.bin"], {
      cwd: local.path,
    });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /resumed at 64\.3 MiB/);
    assert.ok(await sameBytes(source, join(served.path, "big.bin")));
    assert.deepEqual(namesIn(served.path), ["big.bin"], "the partial upload is gone");
    const ok = await server.waitFor((l) => l.op === "put" && l.outcome === "ok");
    assert.equal(ok.resumedFrom, PUT_SIZE);
    assert.ok((ok.resumedFrom as number) > 0);
  } finally {
    await server.stop();
  }
});

const GET_SIZE = 64 * MiB + 333_333;

Deno.test("a get whose client is killed at 11 points keeps its verified chunks and ends byte for byte", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  const source = join(served.path, "big.bin");
  await writeRandomFile(source, GET_SIZE, 12);
  const partial = join(local.path, ".big.bin.privateshare-partial");
  const server = await startTestServer({ root: served.path });
  // The client writes its download to disk a chunk at a time; a killed client
  // loses the chunk it was filling. So the partial grows only by whole chunks
  // past where the attempt started, or to the full size once every byte but
  // the checksum arrived.
  const points = [
    1,
    6 * MiB,
    13 * MiB + 5,
    20 * MiB,
    27 * MiB + 99,
    CLASSIC_CHUNK_SIZE + 1,
    40 * MiB,
    48 * MiB + 7,
    2 * CLASSIC_CHUNK_SIZE - 1,
    GET_SIZE - 1,
    GET_SIZE,
  ];
  const observed: number[] = [];
  try {
    let start = 0;
    for (const [i, point] of points.entries()) {
      const hold = encodeLine({ code: "pass", size: GET_SIZE, offset: start }).length +
        (point - start);
      // What the client has on disk once it took in `point` bytes.
      const expected = point === GET_SIZE
        ? GET_SIZE
        : start + Math.floor((point - start) / CHUNK_SIZE) * CHUNK_SIZE;
      const relay = startRelay(server.port, { holdAt: { direction: "down", bytes: hold } });
      const client = spawnClient(["127.0.0.1", String(relay.port), "get", "big.bin"], local.path);
      try {
        await reached(relay, "down", hold, client);
        // Let the client write the chunks it completed before it dies.
        await until(() => sizeOf(partial) >= expected);
        await new Promise((r) => setTimeout(r, 100));
        client.kill();
        const out = await client.output;
        assert.equal(out.signal, "SIGKILL", `attempt ${i} ended before the kill: ${out.stderr}`);
      } finally {
        client.kill();
        relay.cut();
        await relay.close();
      }
      // (The server may log this get as ok: near the end, the rest of the body fits in
      // the socket buffers, so the server cannot know that the client never read it.)
      const record = await nthRequest(server, "get", i + 1);
      assert.equal(record.resumedFrom, start || undefined, "resumed where the partial ended");
      // Nothing under the final name; the partial is a true prefix that never shrank.
      assert.deepEqual(namesIn(local.path), [
        ".big.bin.privateshare-partial",
        ".big.bin.privateshare-partial.json",
      ]);
      const have = sizeOf(partial);
      observed.push(have);
      assert.ok(have >= start && have <= point, `partial ${have} after attempt ${i}`);
      assert.equal(have, expected, `partial after attempt ${i}`);
      assert.equal(await sha256Of(partial), await sha256Of(source, have), "a true prefix");
      assert.ok((await listNames(server.port)).includes("big.bin"), "the server serves others");
      start = have;
    }
    assert.ok(
      observed.some((n) => n > 0 && n < GET_SIZE),
      `some attempt kept a partial download to resume from: ${observed}`,
    );

    const again = await runClient(["127.0.0.1", String(server.port), "get", "big.bin"], {
      cwd: local.path,
    });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /resumed at 64\.3 MiB/);
    assert.ok(await sameBytes(source, join(local.path, "big.bin")));
    assert.deepEqual(namesIn(local.path), ["big.bin"], "the partial download is gone");
    const ok = await nthRequest(server, "get", points.length + 1);
    assert.equal(ok.outcome, "ok");
    assert.equal(ok.resumedFrom, GET_SIZE);
  } finally {
    await server.stop();
  }
});

// --- 2. The server process killed mid-put -------------------------------------------------

Deno.test("a put survives the server being killed: the restarted server resumes it from the partial on disk", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  const source = join(local.path, "big.bin");
  await writeRandomFile(source, 96 * MiB, 21);
  const first = await startTestServer({ root: served.path });
  let second: TestServer | undefined;
  const relay = startRelay(first.port, { holdAt: { direction: "up", bytes: 40 * MiB } });
  const client = spawnClient(["127.0.0.1", String(relay.port), "put", "big.bin"], local.path);
  try {
    await reached(relay, "up", 40 * MiB, client);
    // The server writes each chunk once it is full: everything up to the last
    // whole chunk of the body before the hold is on disk.
    const header = encodeCommand({ op: "put", name: "big.bin", size: 96 * MiB, resume: true })
      .length + encodeLine({ offset: 0 }).length;
    const flushed = Math.floor((40 * MiB - header) / CHUNK_SIZE) * CHUNK_SIZE;
    await until(() => partialsIn(served.path).some((n) => sizeOf(join(served.path, n)) >= flushed));
    first.process.kill("SIGKILL");
    await exitWithin(first, 10_000);
    const names = namesIn(served.path);
    assert.ok(!names.includes("big.bin"), "no final file after the kill");
    assert.equal(names.length, 1, `only the hidden partial: ${names}`);
    assert.equal(sizeOf(join(served.path, names[0]!)), flushed, "the flushed chunks are kept");

    relay.cut();
    const cut = await client.output;
    assert.equal(cut.code, 4, cut.stderr);
    assert.match(cut.stderr, /was lost: run the same command again to resume/);

    second = await startTestServer({ root: served.path });
    assert.deepEqual(await listNames(second.port), [], "nothing visible before the retry");
    const again = await runClient(["127.0.0.1", String(second.port), "put", "big.bin"], {
      cwd: local.path,
    });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`resumed at ${(flushed / MiB).toFixed(1)} MiB`));
    assert.ok(await sameBytes(source, join(served.path, "big.bin")));
    assert.deepEqual(namesIn(served.path), ["big.bin"]);
    const ok = await second.waitFor((l) => l.op === "put" && l.outcome === "ok");
    assert.equal(ok.resumedFrom, flushed);
  } finally {
    client.kill();
    await client.output;
    await relay.close();
    await first.stop();
    await second?.stop();
  }
});

// --- 3. The disk fills up -----------------------------------------------------------------

function isRoot(): boolean {
  try {
    return Deno.uid() === 0;
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  return { code: out.code, stderr: _decoder.decode(out.stderr).trim() };
}

Deno.test({
  name:
    "a put that fills the server's disk is refused as no-space, leaves nothing, and the server goes on",
  // Needs root for mount.
  ignore: !isRoot(),
  async fn() {
    await using mount = await tempDir();
    await using local = await tempDir();
    let mounted;
    try {
      mounted = await run("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", mount.path]);
    } catch (error) {
      mounted = { code: -1, stderr: String(error) };
    }
    if (mounted.code !== 0) {
      console.log(`SKIPPED: cannot mount a 16 MiB tmpfs (${mounted.stderr})`);
      return;
    }
    let server: TestServer | undefined;
    try {
      server = await startTestServer({ root: mount.path });
      await writeRandomFile(join(local.path, "huge.bin"), 40 * MiB, 31);
      const port = String(server.port);
      const full = await runClient(["127.0.0.1", port, "put", "huge.bin"], { cwd: local.path });
      assert.equal(full.code, 3, full.stderr);
      assert.match(full.stderr, /disk is full/);
      const record = await server.waitFor((l) => l.op === "put" && l.event === "request");
      assert.equal(record.outcome, "cancel");
      assert.equal(record.reason, "no-space");
      assert.deepEqual(namesIn(mount.path), [], "the partial upload is removed");

      await writeRandomFile(join(local.path, "small.bin"), 1024, 32);
      const small = await runClient(["127.0.0.1", port, "put", "small.bin"], { cwd: local.path });
      assert.equal(small.code, 0, small.stderr);
      assert.ok(await sameBytes(join(local.path, "small.bin"), join(mount.path, "small.bin")));
      assert.deepEqual(await listNames(server.port), ["small.bin"]);
    } finally {
      await server?.stop();
      const unmounted = await run("umount", [mount.path]);
      assert.equal(unmounted.code, 0, `umount: ${unmounted.stderr}`);
    }
  },
});

// --- 4. Silent and stalled connections; the connection limit ------------------------------

Deno.test("250 silent or half-sent connections do not block others: beyond the pool of 128 the oldest are closed at once, the rest at the command deadline", async () => {
  await using served = await tempDir();
  await Deno.writeTextFile(join(served.path, "a.txt"), "a");
  const server = await startTestServer({
    root: served.path,
    args: ["--command-timeout", "1", "--max-connections", "400", "--idle-timeout", "0"],
  });
  const conns: Deno.Conn[] = [];
  try {
    const half = new TextEncoder().encode('PS/2 {"op":"li');
    const opened = await Promise.all(
      Array.from({ length: 250 }, async (_, i) => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
        conns.push(conn);
        if (i >= 200) await conn.write(half);
        return { conn, at: performance.now() };
      }),
    );
    let closedCount = 0;
    const ends = opened.map(({ conn, at }) =>
      conn.read(new Uint8Array(64)).then(
        (n) => ({ how: n === null ? "end" : `read ${n} bytes`, after: performance.now() - at }),
        (error) => ({
          how: error instanceof Deno.errors.ConnectionReset ? "reset" : String(error),
          after: performance.now() - at,
        }),
      ).finally(() => closedCount++)
    );

    // While they are open (those beyond the pool closed already), a normal client is served.
    assert.deepEqual(await listNames(server.port), ["a.txt"]);

    const bound = timeout(10_000);
    try {
      const results = await Promise.race([Promise.all(ends), bound.promise]);
      assert.notEqual(results, "timeout", `only ${closedCount} of 250 closed within 10 s`);
      let atDeadline = 0;
      for (const [i, r] of (results as { how: string; after: number }[]).entries()) {
        assert.ok(r.how === "end" || r.how === "reset", `connection ${i}: ${r.how}`);
        if (r.after >= 950) atDeadline++;
      }
      // The pool holds 128 connections without a command (the list's own took one place).
      assert.ok(atDeadline >= 100 && atDeadline <= 128, `${atDeadline} lasted to the deadline`);
    } finally {
      bound.clear();
    }
    // Closed to make room, they are counted in one line, not logged one by one.
    const evicted = () =>
      server.lines.filter((l) => l.event === "flood").reduce(
        (n, l) => n + (l.evicted as number),
        0,
      );
    await until(() => evicted() >= 122, 15_000);
    assert.ok(server.lines.filter((l) => l.event === "flood").length <= 2);
    assert.deepEqual(await listNames(server.port), ["a.txt"], "still serving afterwards");
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
    }
    await server.stop();
  }
});

Deno.test("a connection over --max-connections is refused as busy at once, not after the command deadline", async () => {
  await using served = await tempDir();
  const server = await startTestServer({
    root: served.path,
    args: ["--max-connections", "5", "--command-timeout", "10", "--idle-timeout", "0"],
  });
  const idle: Deno.Conn[] = [];
  try {
    // Five uploads that have begun (their command was accepted) hold every slot.
    for (let i = 0; i < 5; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      idle.push(conn);
      await conn.write(encodeCommand({ op: "put", name: `h${i}`, size: 10, resume: false }));
      await conn.read(new Uint8Array(256));
    }
    const started = performance.now();
    const refused = await runClient(["127.0.0.1", String(server.port), "list"]);
    const ms = performance.now() - started;
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /maximum of connections/);
    assert.ok(ms < 5000, `refused after ${Math.round(ms)} ms`);
    const record = await server.waitFor((l) => l.op === "list" && l.event === "request");
    assert.equal(record.reason, "busy");

    for (const conn of idle.splice(0)) conn.close();
    await until(() => server.lines.filter((l) => l.event === "request").length >= 6);
    assert.deepEqual(await listNames(server.port), [], "served again once below the limit");
  } finally {
    for (const conn of idle) conn.close();
    await server.stop();
  }
});

// --- 5. SIGTERM and SIGINT with a transfer in flight --------------------------------------

/**
 * Asserts that a stopping server takes no new connection: connecting is
 * refused within a moment of the "stopping" line (the listening socket closes
 * asynchronously, so a connection made in that moment may still complete its
 * handshake), and any connection that does complete is never served.
 */
async function assertNotAccepting(port: number): Promise<void> {
  const end = Date.now() + 3000;
  while (true) {
    let conn: Deno.Conn;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionRefused) return;
      throw error;
    }
    const t = timeout(2000);
    try {
      await conn.write(encodeCommand({ op: "list" }));
      const answer = await Promise.race([conn.read(new Uint8Array(64)), t.promise]);
      assert.equal(answer, null, "a stopping server serves no new connection");
    } catch (error) {
      if (
        !(error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BrokenPipe)
      ) throw error;
    } finally {
      t.clear();
      conn.close();
    }
    assert.ok(Date.now() < end, "connections are still accepted 3 s after stopping");
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("SIGTERM: the server stops accepting, lets the transfer in flight finish, then exits 0", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  const source = join(local.path, "big.bin");
  await writeRandomFile(source, 48 * MiB, 41);
  const server = await startTestServer({ root: served.path, args: ["--idle-timeout", "0"] });
  const relay = startRelay(server.port, { holdAt: { direction: "up", bytes: 20 * MiB } });
  const client = spawnClient(["127.0.0.1", String(relay.port), "put", "big.bin"], local.path);
  try {
    await reached(relay, "up", 20 * MiB, client);
    server.process.kill("SIGTERM");
    const stopping = await server.waitFor((l) => l.event === "stopping");
    assert.equal(stopping.signal, "SIGTERM");
    assert.equal(stopping.active, 1);
    assert.equal(stopping.graceSeconds, 30);
    await assertNotAccepting(server.port);
    const early = timeout(300);
    assert.equal(await Promise.race([server.exited, early.promise]), "timeout", "still running");
    early.clear();

    relay.release();
    const out = await client.output;
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /verified sha256/);
    assert.equal(await exitWithin(server, 10_000), 0);
    assert.ok(await sameBytes(source, join(served.path, "big.bin")));
    assert.deepEqual(namesIn(served.path), ["big.bin"]);
    assert.ok(server.lines.some((l) => l.event === "stopped"));
  } finally {
    client.kill();
    await client.output;
    await relay.close();
    await server.stop();
  }
});

Deno.test({
  name:
    "SIGINT with --grace 0.5: the held transfer is cut after the grace, kept as a partial, and resumed by a restarted server",
  async fn() {
    await using served = await tempDir();
    await using local = await tempDir();
    const source = join(local.path, "big.bin");
    const size = 48 * MiB;
    await writeRandomFile(source, size, 51);
    const first = await startTestServer({
      root: served.path,
      args: ["--grace", "0.5", "--idle-timeout", "0"],
    });
    let second: TestServer | undefined;
    const hold = 20 * MiB;
    const relay = startRelay(first.port, { holdAt: { direction: "up", bytes: hold } });
    const client = spawnClient(["127.0.0.1", String(relay.port), "put", "big.bin"], local.path);
    try {
      await reached(relay, "up", hold, client);
      // Let the server take in what was forwarded.
      await new Promise((r) => setTimeout(r, 200));
      const signalled = performance.now();
      first.process.kill("SIGINT");
      const stopping = await first.waitFor((l) => l.event === "stopping");
      assert.equal(stopping.signal, "SIGINT");
      assert.equal(stopping.graceSeconds, 0.5);
      await assertNotAccepting(first.port);
      assert.equal(await exitWithin(first, 10_000), 0);
      const ms = performance.now() - signalled;
      assert.ok(ms >= 450, `exited ${Math.round(ms)} ms after SIGINT, before the grace ended`);
      const record = await first.waitFor((l) => l.op === "put" && l.event === "request");
      assert.notEqual(record.outcome, "ok");

      // Every byte the server received is kept in its hidden partial file.
      const body = hold - encodeCommand({ op: "put", name: "big.bin", size, resume: true }).length -
        encodeLine({ offset: 0 }).length;
      const names = namesIn(served.path);
      assert.equal(names.length, 1, `only the hidden partial: ${names}`);
      assert.ok(names[0]!.startsWith(PARTIAL_PREFIX), `only the hidden partial: ${names}`);
      assert.equal(sizeOf(join(served.path, names[0]!)), body);

      relay.cut();
      const cut = await client.output;
      assert.equal(cut.code, 4, cut.stderr);

      second = await startTestServer({ root: served.path });
      const again = await runClient(["127.0.0.1", String(second.port), "put", "big.bin"], {
        cwd: local.path,
      });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /resumed at/);
      assert.ok(await sameBytes(source, join(served.path, "big.bin")));
      assert.deepEqual(namesIn(served.path), ["big.bin"]);
      const ok = await second.waitFor((l) => l.op === "put" && l.outcome === "ok");
      assert.equal(ok.resumedFrom, body);
    } finally {
      client.kill();
      await client.output;
      await relay.close();
      await first.stop();
      await second?.stop();
    }
  },
});
