// Interoperability with the original Python privateshare ("classic" wire
// format, see DESIGN.md). Two stand-ins for the original are written here from
// that description, byte for byte: a classic client run against privateshare's
// real server (a subprocess on port 0), and a classic server (in-process, on
// 127.0.0.1 port 0) that privateshare's real client CLI talks to.

import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { join } from "node:path";
import {
  namesIn,
  runClient,
  sameBytes,
  startTestServer,
  tempDir,
  type TestServer,
  until,
  writeRandomFile,
} from "./helpers.ts";

const MiB = 1024 * 1024;
/** The original reads and writes files in chunks of this size. */
const CHUNK = 32 * MiB;
/** The original receives a command, and a code, with one receive of at most this many bytes. */
const RECEIVE = 32;
const SIZES = [["0 bytes", 0], ["1 byte", 1], ["64 MiB + 1", 64 * MiB + 1]] as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ---------------------------------------------------------------------------
// Helpers shared by both directions.

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let sent = 0;
  while (sent < bytes.length) sent += await conn.write(bytes.subarray(sent));
}

/** Closes a connection that may already be closed. */
function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}

/** Streams a file to a connection in 32 MiB chunks, as the original does. */
async function sendFile(conn: Deno.Conn, path: string, limit = Infinity): Promise<number> {
  using file = await Deno.open(path);
  const buffer = new Uint8Array(CHUNK);
  let sent = 0;
  while (sent < limit) {
    const n = await file.read(buffer.subarray(0, Math.min(buffer.length, limit - sent)));
    if (n === null) break;
    await writeAll(conn, buffer.subarray(0, n));
    sent += n;
  }
  return sent;
}

/** Writes everything a connection sends until end of stream into a file. */
async function receiveFile(conn: Deno.Conn, path: string): Promise<number> {
  using file = await Deno.open(path, { write: true, createNew: true });
  const buffer = new Uint8Array(MiB);
  let got = 0;
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) return got;
    let written = 0;
    while (written < n) written += await file.write(buffer.subarray(written, n));
    got += n;
  }
}

/** Reads until end of stream (or a reset, which it reports). */
async function readToEnd(conn: Deno.Conn): Promise<{ bytes: Uint8Array; reset: boolean }> {
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(64 * 1024);
  let reset = false;
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      parts.push(buffer.slice(0, n));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
    reset = true;
  }
  const bytes = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return { bytes, reset };
}

// ---------------------------------------------------------------------------
// A classic client, as the original behaves: one connection per request, the
// command in one write, the code from one receive of at most 32 bytes
// compared with "pass" exactly.

async function classicConnect(port: number): Promise<Deno.TcpConn> {
  return await Deno.connect({ hostname: "127.0.0.1", port });
}

async function sendCommand(conn: Deno.Conn, command: string): Promise<void> {
  // One write, UTF-8, no terminator.
  assert.equal(await conn.write(encoder.encode(command)), encoder.encode(command).length);
}

async function receiveCode(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(RECEIVE);
  const n = await conn.read(buffer);
  return n === null ? "" : decoder.decode(buffer.subarray(0, n));
}

/** A classic put: the code, then (after "pass") the bytes and a shutdown of the sending side. */
async function classicPut(port: number, name: string, source?: string): Promise<string> {
  const conn = await classicConnect(port);
  try {
    await sendCommand(conn, `put,${name}`);
    const code = await receiveCode(conn);
    if (code !== "pass") return code;
    if (source !== undefined) await sendFile(conn, source);
    await conn.closeWrite();
    return code;
  } finally {
    closeQuietly(conn);
  }
}

/** A classic get: the code, then (after "pass") the bytes until end of stream. */
async function classicGet(port: number, name: string, dest: string): Promise<string> {
  const conn = await classicConnect(port);
  try {
    await sendCommand(conn, `get,${name}`);
    const code = await receiveCode(conn);
    if (code !== "pass") return code;
    await receiveFile(conn, dest);
    return code;
  } finally {
    closeQuietly(conn);
  }
}

/** A classic list: everything until end of stream. */
async function classicList(port: number): Promise<string> {
  const conn = await classicConnect(port);
  try {
    await sendCommand(conn, "list");
    const { bytes, reset } = await readToEnd(conn);
    assert.equal(reset, false, "the listing ends with a clean end of stream");
    return decoder.decode(bytes);
  } finally {
    closeQuietly(conn);
  }
}

type Line = Record<string, unknown>;

/** Waits for the server's log line of a finished request. */
function requestLine(server: TestServer, op: string, name?: string): Promise<Line> {
  return server.waitFor((l) =>
    l.event === "request" && l.op === op && (name === undefined || l.name === name)
  );
}

// ---------------------------------------------------------------------------
// The classic client against privateshare's real server.

for (const [label, size] of SIZES) {
  Deno.test(
    `classic put, list and get against privateshare's server round-trip ${label} byte for byte`,
    async () => {
      await using served = await tempDir();
      await using local = await tempDir();
      const server = await startTestServer({ root: served.path });
      try {
        const name = `grüße ${size}.bin`;
        const source = join(local.path, "source");
        await writeRandomFile(source, size, size + 3);

        assert.equal(await classicPut(server.port, name, source), "pass");
        const putLine = await requestLine(server, "put", name);
        assert.equal(putLine.protocol, "classic");
        assert.equal(putLine.outcome, "ok", JSON.stringify(putLine));
        assert.equal(putLine.bytes, size);
        assert.ok(await sameBytes(source, join(served.path, name)));
        assert.deepEqual(namesIn(served.path), [name], "no temporary file is left behind");

        assert.equal(await classicList(server.port), `${name}, `);
        const listLine = await requestLine(server, "list");
        assert.equal(listLine.protocol, "classic");
        assert.equal(listLine.outcome, "ok");

        const dest = join(local.path, "downloaded");
        assert.equal(await classicGet(server.port, name, dest), "pass");
        assert.ok(await sameBytes(source, dest));
        const getLine = await requestLine(server, "get", name);
        assert.equal(getLine.protocol, "classic");
        assert.equal(getLine.outcome, "ok");
        assert.equal(getLine.bytes, size);
      } finally {
        await server.stop();
      }
    },
  );
}

Deno.test("classic get sends 'pass' in a receive of its own, before any data", async () => {
  // The original client compares its first receive of up to 32 bytes with
  // "pass": data that arrives with the code breaks it. Try many small files,
  // where the race is tightest.
  await using served = await tempDir();
  await using local = await tempDir();
  await writeRandomFile(join(served.path, "small.bin"), 100, 5);
  const server = await startTestServer({ root: served.path, write: false });
  try {
    for (let i = 0; i < 30; i++) {
      const dest = join(local.path, `copy-${i}`);
      assert.equal(await classicGet(server.port, "small.bin", dest), "pass", `attempt ${i}`);
      assert.ok(await sameBytes(join(served.path, "small.bin"), dest));
    }
  } finally {
    await server.stop();
  }
});

Deno.test("classic put refuses a name that already exists", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  await Deno.writeTextFile(join(served.path, "taken.txt"), "original");
  const source = join(local.path, "source");
  await writeRandomFile(source, 1000);
  const server = await startTestServer({ root: served.path });
  try {
    assert.equal(await classicPut(server.port, "taken.txt", source), "cancel");
    const line = await requestLine(server, "put", "taken.txt");
    assert.equal(line.protocol, "classic");
    assert.equal(line.outcome, "cancel");
    assert.equal(line.reason, "exists");
    assert.equal(await Deno.readTextFile(join(served.path, "taken.txt")), "original");
    assert.deepEqual(namesIn(served.path), ["taken.txt"]);
  } finally {
    await server.stop();
  }
});

Deno.test("classic get of a missing file is refused with cancel", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  const server = await startTestServer({ root: served.path });
  try {
    assert.equal(await classicGet(server.port, "missing.txt", join(local.path, "x")), "cancel");
    const line = await requestLine(server, "get", "missing.txt");
    assert.equal(line.protocol, "classic");
    assert.equal(line.outcome, "cancel");
    assert.equal(line.reason, "not-found");
    assert.deepEqual(namesIn(local.path), []);
  } finally {
    await server.stop();
  }
});

Deno.test("classic put to a read-only server is refused with cancel", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  const source = join(local.path, "source");
  await writeRandomFile(source, 1000);
  const server = await startTestServer({ root: served.path, write: false });
  try {
    assert.equal(await classicPut(server.port, "new.bin", source), "cancel");
    const line = await requestLine(server, "put", "new.bin");
    assert.equal(line.protocol, "classic");
    assert.equal(line.outcome, "cancel");
    assert.equal(line.reason, "read-only");
    assert.deepEqual(namesIn(served.path), []);
  } finally {
    await server.stop();
  }
});

/** Every path under a folder with its size and modification time. */
function snapshot(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    const info = Deno.lstatSync(path);
    out.push(`${prefix}${entry.name} ${info.size} ${info.mtime?.getTime()}`);
    if (entry.isDirectory) out.push(...snapshot(path, `${prefix}${entry.name}/`));
  }
  return out.sort();
}

Deno.test(
  "classic requests with hostile names are refused with cancel and touch nothing outside the folder",
  async () => {
    await using parent = await tempDir();
    await using local = await tempDir();
    const served = join(parent.path, "served");
    await Deno.mkdir(served);
    await Deno.mkdir(join(served, "a"));
    await Deno.writeTextFile(join(parent.path, "secret.txt"), "outside");
    await Deno.writeTextFile(join(served, "inside.txt"), "inside");
    const source = join(local.path, "source");
    await writeRandomFile(source, 1000);
    const before = snapshot(parent.path);
    const server = await startTestServer({ root: served });
    try {
      const hostile: [op: "put" | "get", name: string][] = [
        ["put", "../x"],
        ["put", "a/b"],
        ["put", "../secret.txt"],
        ["put", "/tmp/x"],
        ["put", ""],
        ["put", "..\\x"],
        ["get", "/etc/passwd"],
        ["get", ".."],
        ["get", "."],
        ["get", "../secret.txt"],
        ["get", "a/../inside.txt"],
        ["get", "%2e%2e%2fsecret.txt"],
      ];
      for (const [op, name] of hostile) {
        const dest = join(local.path, "got");
        const code = op === "put"
          ? await classicPut(server.port, name, source)
          : await classicGet(server.port, name, dest);
        assert.equal(code, "cancel", `${op},${name}`);
        const line = await requestLine(server, op, name);
        assert.equal(line.protocol, "classic");
        assert.equal(line.outcome, "cancel", `${op},${name}: ${JSON.stringify(line)}`);
        assert.equal(line.reason, "invalid-name", `${op},${name}`);
      }
      assert.deepEqual(snapshot(parent.path), before, "the folder and its parent are unchanged");
      assert.equal(await classicList(server.port), "inside.txt, ", "the server still serves");
    } finally {
      await server.stop();
    }
  },
);

Deno.test("classic list never shows privateshare's hidden files", async () => {
  await using served = await tempDir();
  await Deno.writeTextFile(join(served.path, "b.jpg"), "b");
  await Deno.writeTextFile(join(served.path, "a.txt"), "a");
  await Deno.writeTextFile(join(served.path, ".privateshare-partial-0123abcd"), "partial");
  await Deno.writeTextFile(join(served.path, ".privateshare-tmp-5678"), "temporary");
  await Deno.mkdir(join(served.path, "folder"));
  const server = await startTestServer({ root: served.path });
  try {
    assert.equal(await classicList(server.port), "a.txt, b.jpg, ");
    // And while a classic upload is in flight, its temporary file stays hidden.
    const conn = await classicConnect(server.port);
    try {
      await sendCommand(conn, "put,c.bin");
      assert.equal(await receiveCode(conn), "pass");
      await until(() => namesIn(served.path).length === 6);
      assert.equal(await classicList(server.port), "a.txt, b.jpg, ");
      await conn.closeWrite();
      await requestLine(server, "put", "c.bin");
    } finally {
      closeQuietly(conn);
    }
    assert.equal(await classicList(server.port), "a.txt, b.jpg, c.bin, ");
  } finally {
    await server.stop();
  }
});

Deno.test("classic put whose connection is reset halfway leaves no file", async () => {
  // A real reset, made on demand: node:net's resetAndDestroy() closes the
  // socket with SO_LINGER 0, so the kernel sends RST and no FIN. Closing a
  // Deno.Conn with unread data would not do: Deno shuts down the sending
  // side (FIN) before it closes, so the server reads a clean end of stream
  // first. Nor would killing a client process: with nothing unread, its
  // kernel sends FIN. The classic format cannot tell a FIN from a finished
  // upload; only a reset (or a stall, below) shows that the upload broke.
  await using served = await tempDir();
  await using local = await tempDir();
  const source = join(local.path, "source");
  await writeRandomFile(source, 64 * MiB, 9);
  const half = new Uint8Array(CHUNK + 8 * MiB);
  {
    using file = await Deno.open(source);
    let got = 0;
    while (got < half.length) got += (await file.read(half.subarray(got))) ?? 0;
  }
  const server = await startTestServer({ root: served.path });
  const socket = net.connect(server.port, "127.0.0.1");
  socket.on("error", () => {});
  try {
    await once(socket, "connect");
    socket.write("put,cut.bin");
    const [code] = await once(socket, "data");
    assert.equal(String(code), "pass");
    await new Promise<void>((resolve, reject) => {
      socket.write(half, (error) => error ? reject(error) : resolve());
    });
    // The server has stored a whole chunk in its hidden file: halfway.
    await until(() => {
      const temp = namesIn(served.path).find((n) => n.startsWith(".privateshare-tmp-"));
      return temp !== undefined && Deno.statSync(join(served.path, temp)).size >= CHUNK;
    }, 20_000);
    socket.resetAndDestroy();
    const line = await requestLine(server, "put", "cut.bin");
    assert.equal(line.protocol, "classic");
    assert.equal(line.outcome, "closed", JSON.stringify(line));
    assert.equal(line.message, "the client stopped: cancelled or cut off");
    assert.deepEqual(namesIn(served.path), [], "neither the file nor its temporary file is left");
  } finally {
    socket.destroy();
    await server.stop();
  }
});

Deno.test("classic put cut by the data deadline leaves no file", async () => {
  await using served = await tempDir();
  const server = await startTestServer({ root: served.path, args: ["--data-timeout", "1"] });
  try {
    const conn = await classicConnect(server.port);
    try {
      await sendCommand(conn, "put,stalled.bin");
      assert.equal(await receiveCode(conn), "pass");
      await writeAll(conn, new Uint8Array(MiB).fill(7));
      // Then the client stalls, neither sending nor closing, until the server gives up.
      const { bytes } = await readToEnd(conn);
      assert.equal(bytes.length, 0);
    } finally {
      closeQuietly(conn);
    }
    const line = await requestLine(server, "put", "stalled.bin");
    assert.equal(line.protocol, "classic");
    assert.equal(line.outcome, "timeout", JSON.stringify(line));
    assert.deepEqual(namesIn(served.path), [], "neither the file nor its temporary file is left");
  } finally {
    await server.stop();
  }
});

Deno.test("privateshare's server closes the connection on anything that is not a command, and logs it", async () => {
  await using served = await tempDir();
  const server = await startTestServer({ root: served.path });
  try {
    const random = new Uint8Array(200);
    crypto.getRandomValues(random);
    random[0] = 0xff; // never "PS/2 ", "put,", "get," or "list"
    const inputs: [label: string, bytes: Uint8Array][] = [
      ["hello", encoder.encode("hello")],
      ["random bytes", random],
      ["a bare op", encoder.encode("put")],
      ["an unknown op", encoder.encode("del,a.txt")],
    ];
    for (const [label, bytes] of inputs) {
      const seen = server.lines.length;
      const conn = await classicConnect(server.port);
      try {
        await writeAll(conn, bytes);
        const answer = await readToEnd(conn);
        assert.equal(answer.bytes.length, 0, `${label}: no answer, just a closed connection`);
      } finally {
        closeQuietly(conn);
      }
      const line = await server.waitFor((l) =>
        l.event === "request" && server.lines.indexOf(l) >= seen
      );
      assert.equal(line.outcome, "closed", `${label}: ${JSON.stringify(line)}`);
      assert.equal(line.op, "-");
    }
    assert.equal(await classicList(server.port), "", "the server still serves");
  } finally {
    await server.stop();
  }
});

// ---------------------------------------------------------------------------
// A classic server, as the original behaves: one receive of at most 32
// bytes for the command, split on ","; bare codes; data until end of stream.

interface ClassicServer {
  port: number;
  /** Connections accepted so far. */
  connections: number;
  stop(): Promise<void>;
}

function startClassicServer(root: string): ClassicServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const handlers = new Set<Promise<void>>();
  const server: ClassicServer = {
    port: (listener.addr as Deno.NetAddr).port,
    connections: 0,
    async stop() {
      listener.close();
      await accepting;
      for (const conn of open) closeQuietly(conn);
      await Promise.allSettled([...handlers]);
    },
  };
  const exists = (name: string) => {
    try {
      Deno.lstatSync(join(root, name));
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  };
  const serve = async (conn: Deno.Conn) => {
    const buffer = new Uint8Array(RECEIVE);
    const n = await conn.read(buffer);
    if (n === null) return;
    const [op, name = ""] = decoder.decode(buffer.subarray(0, n)).split(",");
    if (op === "put") {
      if (exists(name)) return await writeAll(conn, encoder.encode("cancel"));
      await writeAll(conn, encoder.encode("pass"));
      await receiveFile(conn, join(root, name));
    } else if (op === "get") {
      if (!exists(name)) return await writeAll(conn, encoder.encode("cancel"));
      await writeAll(conn, encoder.encode("pass"));
      await sendFile(conn, join(root, name));
    } else if (op === "list") {
      const names = [...Deno.readDirSync(root)].filter((e) => e.isFile).map((e) => e.name);
      await writeAll(conn, encoder.encode(names.map((n) => n + ", ").join("")));
    }
    // Anything else: the connection is just closed.
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      server.connections++;
      open.add(conn);
      const handler = serve(conn).catch(() => {}).finally(() => {
        open.delete(conn);
        closeQuietly(conn);
      });
      handlers.add(handler);
      handler.finally(() => handlers.delete(handler));
    }
  })().catch((error) => {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  });
  return server;
}

function oneLine(text: string): string {
  const lines = text.trim().split("\n");
  assert.equal(lines.length, 1, `one line expected, got: ${text}`);
  return lines[0]!;
}

for (const [label, size] of SIZES) {
  Deno.test(
    `privateshare's client with --classic puts, lists and gets ${label} on an original server byte for byte`,
    async () => {
      await using root = await tempDir();
      await using local = await tempDir();
      await using down = await tempDir();
      const server = startClassicServer(root.path);
      try {
        const port = String(server.port);
        const name = `f${size}.bin`;
        const source = join(local.path, name);
        await writeRandomFile(source, size, size + 11);

        const putRun = await runClient(["127.0.0.1", port, "put", name, "--classic"], {
          cwd: local.path,
        });
        assert.equal(putRun.code, 0, putRun.stderr);
        assert.match(oneLine(putRun.stdout), /^put 'f\d+\.bin': .*not verified: classic protocol$/);
        assert.ok(await sameBytes(source, join(root.path, name)));

        const listRun = await runClient(["127.0.0.1", port, "list", "--classic", "--json"]);
        assert.equal(listRun.code, 0, listRun.stderr);
        assert.deepEqual(JSON.parse(listRun.stdout), [{ name }]);

        const getRun = await runClient(["127.0.0.1", port, "get", name, "--classic"], {
          cwd: down.path,
        });
        assert.equal(getRun.code, 0, getRun.stderr);
        assert.match(oneLine(getRun.stdout), /^get .*not verified: classic protocol$/);
        assert.ok(await sameBytes(source, join(down.path, name)));
        assert.deepEqual(namesIn(down.path), [name], "no partial file is left behind");
      } finally {
        await server.stop();
      }
    },
  );
}

Deno.test("privateshare's client with --classic lists several names from an original server", async () => {
  await using root = await tempDir();
  for (const name of ["b.jpg", "a.txt", "c d.bin"]) {
    await Deno.writeTextFile(join(root.path, name), name);
  }
  const server = startClassicServer(root.path);
  try {
    const run = await runClient(["127.0.0.1", String(server.port), "list", "--classic"]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split("\n").sort(), ["a.txt", "b.jpg", "c d.bin"]);
  } finally {
    await server.stop();
  }
});

Deno.test("privateshare's client with --classic reports a refused put with exit code 3", async () => {
  await using root = await tempDir();
  await using local = await tempDir();
  await Deno.writeTextFile(join(root.path, "taken.txt"), "original");
  await Deno.writeTextFile(join(local.path, "taken.txt"), "replacement");
  const server = startClassicServer(root.path);
  try {
    const run = await runClient(
      ["127.0.0.1", String(server.port), "put", "taken.txt", "--classic"],
      { cwd: local.path },
    );
    assert.equal(run.code, 3, run.stderr);
    assert.match(oneLine(run.stderr), /refused/);
    assert.equal(await Deno.readTextFile(join(root.path, "taken.txt")), "original");
  } finally {
    await server.stop();
  }
});

Deno.test("privateshare's client with --classic reports a refused get with exit code 3 and keeps no file", async () => {
  await using root = await tempDir();
  await using down = await tempDir();
  const server = startClassicServer(root.path);
  try {
    const run = await runClient(
      ["127.0.0.1", String(server.port), "get", "missing.txt", "--classic"],
      { cwd: down.path },
    );
    assert.equal(run.code, 3, run.stderr);
    assert.match(oneLine(run.stderr), /missing\.txt/);
    assert.deepEqual(namesIn(down.path), []);
  } finally {
    await server.stop();
  }
});

Deno.test("classic get refuses to replace a local file without --force, without contacting the server", async () => {
  await using root = await tempDir();
  await using down = await tempDir();
  await Deno.writeTextFile(join(root.path, "a.txt"), "server copy");
  await Deno.writeTextFile(join(down.path, "a.txt"), "local copy");
  const server = startClassicServer(root.path);
  try {
    const run = await runClient(
      ["127.0.0.1", String(server.port), "get", "a.txt", "--classic"],
      { cwd: down.path },
    );
    assert.equal(run.code, 6, run.stderr);
    assert.match(oneLine(run.stderr), /--force/);
    assert.equal(server.connections, 0, "the server was not contacted");
    assert.equal(await Deno.readTextFile(join(down.path, "a.txt")), "local copy");
    assert.deepEqual(namesIn(down.path), ["a.txt"]);

    const forced = await runClient(
      ["127.0.0.1", String(server.port), "get", "a.txt", "--classic", "--force"],
      { cwd: down.path },
    );
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(await Deno.readTextFile(join(down.path, "a.txt")), "server copy");
  } finally {
    await server.stop();
  }
});

/**
 * An original server whose get breaks after `half` bytes: by a reset (the
 * socket is aborted with SO_LINGER 0, so its kernel sends RST, as when a
 * server's host or a middlebox drops the connection) or by a stall. A server
 * process that is killed does neither: its kernel ends the stream with FIN,
 * which the classic format cannot tell from the end of the file.
 */
function startBreakingServer(
  source: string,
  half: number,
  how: "reset" | "stall",
): { port: Promise<number>; stop(): Promise<void> } {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("data", async () => {
      socket.write("pass");
      using file = await Deno.open(source);
      const bytes = new Uint8Array(half);
      let got = 0;
      while (got < half) got += (await file.read(bytes.subarray(got))) ?? 0;
      socket.write(bytes, () => {
        if (how === "reset") socket.resetAndDestroy();
      });
    });
  });
  const port = new Promise<number>((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
  });
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

for (const how of ["reset", "stall"] as const) {
  Deno.test(`a classic get whose connection breaks mid-stream (${how}) fails and leaves no file`, async () => {
    await using local = await tempDir();
    await using down = await tempDir();
    const source = join(local.path, "source");
    await writeRandomFile(source, 8 * MiB, 4);
    const server = startBreakingServer(source, 4 * MiB, how);
    try {
      const run = await runClient(
        ["127.0.0.1", String(await server.port), "get", "big.bin", "--classic", "--timeout", "1"],
        { cwd: down.path },
      );
      assert.equal(run.code, 4, run.stderr);
      assert.match(oneLine(run.stderr), /connection|responding/);
      assert.deepEqual(namesIn(down.path), [], "neither big.bin nor its partial file is left");
    } finally {
      await server.stop();
    }
  });
}

// An original server closes the connection on a PS/2 command without a word. So does a
// privateshare server that was stopped or dropped the connection, so the client reports a lost
// connection (exit 4, "run the same command again") and never blames the protocol for it: only an
// answer that is not PS/2 at all suggests --classic (tests/client_server_test.ts).
Deno.test("privateshare's client without --classic reports an original server's silent close as a lost connection, exit 4, changing nothing", async () => {
  await using root = await tempDir();
  await using local = await tempDir();
  await Deno.writeTextFile(join(root.path, "a.txt"), "on the server");
  await Deno.writeTextFile(join(local.path, "b.txt"), "to upload");
  const server = startClassicServer(root.path);
  try {
    const port = String(server.port);
    for (const args of [["put", "b.txt"], ["get", "a.txt"], ["list"]]) {
      const run = await runClient(["127.0.0.1", port, ...args], { cwd: local.path });
      assert.equal(run.code, 4, `${args[0]}: ${run.stderr}`);
      assert.match(oneLine(run.stderr), /closed the connection without answering/);
      assert.doesNotMatch(run.stderr, /--classic/);
    }
    assert.deepEqual(namesIn(local.path), ["b.txt"], "get left no file behind");
    assert.deepEqual(namesIn(root.path), ["a.txt"], "put stored nothing");
  } finally {
    await server.stop();
  }
});
