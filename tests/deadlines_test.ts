// Every message of every step has a total budget that trickling cannot
// extend, on both ends (docs/PROTOCOL.md#deadlines): fake clients trickle a
// server's command, the start line of a put, its checksum, a folder
// manifest and a have-list; fake servers trickle a client's reply, a
// checksum, a manifest, a have-list and a verdict. Each trickle is a space a
// few tens of milliseconds apart, forever: only a total budget ends it (the
// no-progress deadlines are set far out). The tests wait for the connection
// to close or the call to fail, and read why.

import assert from "node:assert/strict";
import net from "node:net";
import { join } from "node:path";
import { get, list, put, type ServerEvent } from "../lib/mod.ts";
import { TimeoutError } from "../lib/net/wire.ts";
import { encodeCommand, encodeLine } from "../lib/protocol/ps2.ts";
import {
  failsWith,
  fakeServer,
  jsonLine,
  readPs2Command,
  readRawLine,
  serveFolder,
  tempDir,
  test,
  until,
  writeRaw,
} from "./helpers.ts";

const TRICKLE_MS = 40;
/** The server's budget for a message: its command timeout. */
const FLOOR_MS = 400;
const SERVER_OPTIONS = {
  commandTimeoutMs: FLOOR_MS,
  // Far out: only the total budget can end a trickle.
  dataTimeoutMs: 120_000,
  minRate: 1024 * 1024,
};

/**
 * Writes `head`, then a space every {@link TRICKLE_MS} until the peer
 * closes; resolves when it has.
 */
async function trickle(conn: Deno.Conn, head: Uint8Array | string = ""): Promise<void> {
  try {
    await writeRaw(conn, head);
    while (true) {
      await new Promise((resolve) => setTimeout(resolve, TRICKLE_MS));
      await writeRaw(conn, " ");
    }
  } catch {
    // Closed by the peer: what the test waits for.
  }
}

/** Reads a connection until the server closes it; returns the lines it sent. */
async function readUntilClosed(conn: Deno.Conn): Promise<string[]> {
  const lines: string[] = [];
  try {
    while (true) {
      const line = await readRawLine(conn, 1024 * 1024);
      if (line === null) return lines;
      lines.push(line);
    }
  } catch {
    return lines;
  }
}

/** The request-end event of the one request a test made. */
function ended(events: ServerEvent[]) {
  const end = events.find((e) => e.type === "request-end");
  assert.ok(end?.type === "request-end", "the request ended");
  return end.record;
}

/**
 * Sends a command, then `then(conn)` (reading what the server sends
 * meanwhile), and waits until the server closes the connection.
 */
async function hostileClient(
  port: number,
  command: Parameters<typeof encodeCommand>[0],
  then: (conn: Deno.Conn) => Promise<void>,
): Promise<string[]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeRaw(conn, encodeCommand(command));
    const reading = readUntilClosed(conn);
    await then(conn);
    return await reading;
  } finally {
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  }
}

test("server: the start line of a put, trickled, is cut at its budget", async () => {
  await using served = await tempDir();
  await using server = serveFolder(served.path, SERVER_OPTIONS);
  const lines = await hostileClient(
    server.port,
    { op: "put", name: "p.txt", size: 5, resume: false },
    (conn) => trickle(conn),
  );
  assert.match(lines[0] ?? "", /"code":"pass"/);
  await until(() => server.events.some((e) => e.type === "request-end"));
  const record = ended(server.events);
  assert.equal(record.outcome, "timeout");
  assert.match(record.message ?? "", /The start line did not arrive whole within 0\.4 s/);
  assert.deepEqual([...Deno.readDirSync(served.path)].filter((e) => !e.name.startsWith(".")), []);
});

test("server: the checksum after a put's data, trickled, is cut at its budget", async () => {
  await using served = await tempDir();
  await using server = serveFolder(served.path, SERVER_OPTIONS);
  await hostileClient(
    server.port,
    { op: "put", name: "p.txt", size: 5, resume: false },
    (conn) => trickle(conn, new TextDecoder().decode(encodeLine({ offset: 0 })) + "hello"),
  );
  await until(() => server.events.some((e) => e.type === "request-end"));
  const record = ended(server.events);
  assert.equal(record.outcome, "timeout");
  assert.match(record.message ?? "", /The checksum did not arrive whole within 0\.4 s/);
});

test("server: a folder manifest, trickled, is cut at its budget", async () => {
  await using served = await tempDir();
  await using server = serveFolder(served.path, SERVER_OPTIONS);
  const lines = await hostileClient(
    server.port,
    { op: "put-folder", name: "up", files: 1, folders: 0, size: 5 },
    (conn) => trickle(conn),
  );
  assert.match(lines[0] ?? "", /"code":"pass"/);
  await until(() => server.events.some((e) => e.type === "request-end"));
  const record = ended(server.events);
  assert.equal(record.outcome, "timeout");
  assert.match(record.message ?? "", /The manifest did not arrive whole within 0\.4\d* s/);
});

test("server: a have-list, trickled, is cut at its budget", async () => {
  await using served = await tempDir();
  await Deno.mkdir(join(served.path, "d"));
  await Deno.writeTextFile(join(served.path, "d", "f.txt"), "hello");
  await using server = serveFolder(served.path, SERVER_OPTIONS);
  const lines = await hostileClient(
    server.port,
    { op: "get", name: "d", offset: 0, folders: true },
    (conn) => trickle(conn),
  );
  assert.match(lines[0] ?? "", /"type":"folder"/);
  assert.match(lines[1] ?? "", /"path":"f.txt"/);
  await until(() => server.events.some((e) => e.type === "request-end"));
  const record = ended(server.events);
  assert.equal(record.outcome, "timeout");
  assert.match(record.message ?? "", /The have-list did not arrive whole within 0\.4\d* s/);
});

test(
  "with --max-connections 4 held by 4 trickling puts, a list from another address is served " +
    "once their budget runs out",
  async () => {
    await using served = await tempDir();
    await Deno.writeTextFile(join(served.path, "a.txt"), "a");
    await using server = serveFolder(served.path, {
      ...SERVER_OPTIONS,
      commandTimeoutMs: 1500,
      maxConnections: 4,
    });
    const holders = await Promise.all([1, 2, 3, 4].map(async (i) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      await writeRaw(conn, encodeCommand({ op: "put", name: `h${i}`, size: 5, resume: false }));
      assert.match(await readRawLine(conn) ?? "", /"code":"pass"/);
      return { conn, done: trickle(conn) };
    }));
    try {
      // All four slots are held: a list from 127.0.0.2 is refused now...
      assert.match(await rawList(server.port, "127.0.0.2"), /"reason":"busy"/);
      // ...and served once the trickles have used up their budget.
      for (const holder of holders) await holder.done;
      await until(() =>
        server.events.filter((e) => e.type === "request-end" && e.record.op === "put").length ===
          4
      );
      assert.match(await rawList(server.port, "127.0.0.2"), /"code":"pass","count":1/);
    } finally {
      for (const { conn } of holders) {
        try {
          conn.close();
        } catch {
          // Closed by the server.
        }
      }
    }
  },
);

/** A list command from `from`, and the server's whole answer. */
function rawList(port: number, from: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress: from });
    let answer = "";
    socket.on("data", (chunk) => answer += chunk.toString());
    socket.on("error", reject);
    socket.on("close", () => resolve(answer));
    socket.on("connect", () => socket.write(encodeCommand({ op: "list" })));
  });
}

// The client: --timeout is the budget of each message from the server.

const CLIENT_TIMEOUT_MS = 400;

/** The budget the client's failure came from. */
function budgetCause(error: Error, what: RegExp): void {
  assert.ok(error.cause instanceof TimeoutError, `a timeout, not ${error.cause}`);
  assert.match(error.cause.message, what);
}

test("client: a reply, trickled, is cut at --timeout", async () => {
  await using fake = fakeServer(async (conn) => {
    await readPs2Command(conn);
    await trickle(conn);
  });
  const error = await failsWith(
    list({ host: "127.0.0.1", port: fake.port, timeoutMs: CLIENT_TIMEOUT_MS }),
    "connection",
  );
  assert.match(error.message, /stopped responding/);
  assert.ok(error.cause instanceof TimeoutError);
});

test("client: the checksum after a get's data, trickled, is cut at --timeout", async () => {
  await using local = await tempDir();
  await using fake = fakeServer(async (conn) => {
    await readPs2Command(conn);
    await trickle(conn, jsonLine({ code: "pass", size: 5, offset: 0 }) + "hello");
  });
  const error = await failsWith(
    get("f.txt", {
      host: "127.0.0.1",
      port: fake.port,
      timeoutMs: CLIENT_TIMEOUT_MS,
      output: join(local.path, "f.txt"),
    }),
    "connection",
  );
  budgetCause(error, /The server's checksum did not arrive whole within 0\.4 s/);
});

test("client: a folder manifest, trickled, is cut at its budget", async () => {
  await using local = await tempDir();
  await using fake = fakeServer(async (conn) => {
    await readPs2Command(conn);
    await trickle(conn, jsonLine({ code: "pass", type: "folder", files: 1, folders: 0, size: 5 }));
  });
  const error = await failsWith(
    get("d", {
      host: "127.0.0.1",
      port: fake.port,
      timeoutMs: CLIENT_TIMEOUT_MS,
      output: local.path,
    }),
    "connection",
  );
  budgetCause(
    error,
    /The server.s manifest did not arrive whole within \d+(\.\d+)? s|moved less than/,
  );
  assert.deepEqual([...Deno.readDirSync(local.path)], [], "nothing was written");
});

test("client: a have-list, trickled, is cut at its budget", async () => {
  await using local = await tempDir();
  await Deno.mkdir(join(local.path, "d"));
  await Deno.writeTextFile(join(local.path, "d", "f.txt"), "hello");
  await using fake = fakeServer(async (conn) => {
    await readPs2Command(conn);
    await writeRaw(conn, jsonLine({ code: "pass" }));
    await readRawLine(conn);
    await trickle(conn);
  });
  const error = await failsWith(
    put(join(local.path, "d"), {
      host: "127.0.0.1",
      port: fake.port,
      timeoutMs: CLIENT_TIMEOUT_MS,
    }),
    "connection",
  );
  budgetCause(error, /The server's have-list did not arrive whole within \d+(\.\d+)? s/);
});

test("client: the verdict after a folder's data, trickled, is cut at --timeout", async () => {
  await using local = await tempDir();
  await Deno.mkdir(join(local.path, "d"));
  await Deno.writeTextFile(join(local.path, "d", "f.txt"), "hello");
  await using fake = fakeServer(async (conn) => {
    await readPs2Command(conn);
    await writeRaw(conn, jsonLine({ code: "pass" }));
    await readRawLine(conn);
    await writeRaw(conn, jsonLine({ end: true }));
    // The data: a header, five bytes, a checksum, the end line.
    while ((await readRawLine(conn))?.includes('"end"') === false) { /* read on */ }
    await trickle(conn);
  });
  const error = await failsWith(
    put(join(local.path, "d"), {
      host: "127.0.0.1",
      port: fake.port,
      timeoutMs: CLIENT_TIMEOUT_MS,
    }),
    "connection",
  );
  assert.match(error.message, /stopped responding/);
  assert.ok(error.cause instanceof TimeoutError);
});
