// The server library in process: the events a request produces, the
// server's own events, read-only with its message, `await using`, close with
// and without grace, idle shutdown, the connection limit, and the errors for
// a folder or a port that cannot be served.

import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import {
  checkRoot,
  ClientError,
  get,
  list,
  ListenError,
  put,
  READ_ONLY_MESSAGE,
  type RequestRecord,
  RootError,
  type ServerEvent,
  startServer,
} from "../lib/mod.ts";
import { CHUNK_SIZE } from "../lib/transfer/pool.ts";
import {
  assertBytes,
  closeQuietly,
  handFedStream,
  namesIn,
  randomBytes,
  readRawLine,
  serveFolder,
  tempDir,
  test,
  until,
  within,
  writeRandomFile,
  writeRaw,
} from "./helpers.ts";

const MiB = 1024 * 1024;
const HOST = "127.0.0.1";

type Ended = Extract<ServerEvent, { type: "request-end" }>;

/** Every event as it was when sent (the server updates a request's record in place). */
function snapshots(): { events: ServerEvent[]; onEvent: (event: ServerEvent) => void } {
  const events: ServerEvent[] = [];
  return { events, onEvent: (event) => events.push(structuredClone(event)) };
}

function ends(events: ServerEvent[]): Ended[] {
  return events.filter((e): e is Ended => e.type === "request-end");
}

/** The hidden partial uploads in a folder. */
function partials(dir: string): string[] {
  return namesIn(dir).filter((n) => n.startsWith(".privateshare-partial-"));
}

test("a put produces request-start, request-progress and request-end, with the record's fields", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  const seen = snapshots();
  await using server = serveFolder(served.path, { onEvent: seen.onEvent });
  const size = 9 * MiB + 5;
  const src = join(local.path, "e.bin");
  await writeRandomFile(src, size, 1);
  await put(src, { host: HOST, port: server.port });
  await until(() => ends(seen.events).length === 1);

  const mine = seen.events.filter((e) => "record" in e);
  const start = mine[0]!;
  assert.equal(start.type, "request-start");
  const begun = (start as { record: RequestRecord }).record;
  assert.equal(begun.op, "-", "the command is not read yet");
  assert.equal(begun.protocol, "unknown");
  assert.equal(begun.bytes, 0);
  assert.match(begun.peer, /^127\.0\.0\.1:\d+$/);

  const progress = mine.filter((e) => e.type === "request-progress").map((e) =>
    (e as { record: RequestRecord }).record
  );
  assert.ok(progress.length >= 1, "progress is reported");
  for (const [i, record] of progress.entries()) {
    assert.equal(record.id, begun.id);
    assert.equal(record.op, "put");
    assert.equal(record.name, "e.bin");
    assert.equal(record.size, size);
    if (i > 0) assert.ok(record.bytes >= progress[i - 1]!.bytes, "progress never goes back");
  }
  assert.equal(progress.at(-1)!.bytes, size, "the last progress is the whole body");

  const end = mine.at(-1) as Ended;
  assert.equal(end.type, "request-end");
  assert.deepEqual(
    { ...end.record, peer: "" },
    {
      id: begun.id,
      peer: "",
      protocol: "ps2",
      op: "put",
      name: "e.bin",
      size,
      bytes: size,
      outcome: "ok",
    },
  );
  assert.equal(end.record.peer, begun.peer);
  assert.ok(end.ms >= 0);
});

test("a refused request ends with outcome cancel, its reason and message; ids go up", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  const seen = snapshots();
  await using server = serveFolder(served.path, { onEvent: seen.onEvent });
  const options = { host: HOST, port: server.port, output: local.path };
  await assert.rejects(get("missing.txt", options), ClientError);
  await list(options);
  await until(() => ends(seen.events).length === 2);
  const [refused, listed] = ends(seen.events);
  assert.equal(refused!.record.op, "get");
  assert.equal(refused!.record.name, "missing.txt");
  assert.equal(refused!.record.outcome, "cancel");
  assert.equal(refused!.record.reason, "not-found");
  assert.match(refused!.record.message!, /No file named "missing\.txt"/);
  assert.equal(listed!.record.op, "list");
  assert.equal(listed!.record.outcome, "ok");
  assert.ok(listed!.record.id > refused!.record.id);
});

test("the server says started, then stopping and stopped when closed", async () => {
  await using served = await tempDir();
  const server = serveFolder(served.path);
  const started = server.events[0];
  assert.deepEqual(started, {
    type: "started",
    port: server.port,
    host: HOST,
    root: resolve(served.path),
    readOnly: false,
    idleTimeoutMs: 0,
    password: false,
  });
  await server.server.close();
  const types = server.events.map((e) => e.type);
  assert.deepEqual(types, ["started", "stopping", "stopped"]);
  assert.deepEqual(server.events[1], { type: "stopping", active: 0, graceMs: 0 });
  await within(5000, "finished", server.server.finished);
});

test("a read-only server refuses put with its default message, serves get and list, and writes nothing", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  await Deno.writeTextFile(join(served.path, "r.txt"), "read me");
  await using server = serveFolder(served.path, { readOnly: true });
  assert.equal(server.server.readOnly, true);
  assert.equal((server.events[0] as { readOnly: boolean }).readOnly, true);
  const options = { host: HOST, port: server.port };
  const src = join(local.path, "w.txt");
  await Deno.writeTextFile(src, "write me");
  const error = await put(src, options).catch((e) => e);
  assert.ok(error instanceof ClientError);
  assert.equal(error.kind, "refused");
  assert.equal(error.reason, "read-only");
  assert.equal(error.message, `The server refused: ${READ_ONLY_MESSAGE}`);
  assert.deepEqual((await list(options)).map((f) => f.name), ["r.txt"]);
  await get("r.txt", { ...options, output: local.path });
  assert.equal(await Deno.readTextFile(join(local.path, "r.txt")), "read me");
  assert.deepEqual(namesIn(served.path), ["r.txt"], "nothing written, not even a partial");
});

test("a read-only server's custom message reaches the client as it was given", async () => {
  await using served = await tempDir();
  await using server = serveFolder(served.path, {
    readOnly: true,
    readOnlyMessage: "Uploads are closed for the weekend",
  });
  const stream = ReadableStream.from([new Uint8Array(3)]);
  const error = await put({ name: "x", size: 3, stream }, { host: HOST, port: server.port })
    .catch((e) => e);
  assert.ok(error instanceof ClientError);
  assert.equal(error.reason, "read-only");
  assert.equal(error.message, "The server refused: Uploads are closed for the weekend");
});

test("`await using` stops the server at the end of its scope", async () => {
  await using served = await tempDir();
  let port: number;
  let finished: Promise<void>;
  {
    await using server = startServer({ root: served.path, port: 0, host: HOST, idleTimeoutMs: 0 });
    port = server.addr.port;
    finished = server.finished;
    await list({ host: HOST, port });
  }
  await within(5000, "finished", finished);
  await assert.rejects(Deno.connect({ hostname: HOST, port }), Deno.errors.ConnectionRefused);
});

test("close(grace) stops accepting at once and lets a transfer in flight finish", async () => {
  await using served = await tempDir();
  await using server = serveFolder(served.path);
  const bytes = randomBytes(2 * CHUNK_SIZE + 10, 2);
  const fed = handFedStream();
  const putting = put({ name: "late.bin", size: bytes.length, stream: fed.stream }, {
    host: HOST,
    port: server.port,
  });
  putting.catch(() => {});
  fed.push(bytes.subarray(0, CHUNK_SIZE));
  // In flight: the server holds the first chunk in its partial upload.
  await until(() => partials(served.path).some((n) => sizeOf(served.path, n) === CHUNK_SIZE));
  const closing = server.server.close(30_000);
  const stopping = server.events.find((e) => e.type === "stopping");
  assert.deepEqual(stopping, { type: "stopping", active: 1, graceMs: 30_000 });
  assert.ok(await notServed(server.port), "a new connection is not served");
  fed.push(bytes.subarray(CHUNK_SIZE));
  fed.end();
  const result = await putting;
  assert.equal(result.size, bytes.length);
  await within(10_000, "close", closing);
  assertBytes(await Deno.readFile(join(served.path, "late.bin")), bytes);
  assert.equal(server.events.at(-1)!.type, "stopped");
});

test("close(grace) cuts a transfer still running when the grace ends, keeping its partial upload", async () => {
  await using served = await tempDir();
  await using server = serveFolder(served.path);
  const fed = handFedStream();
  const putting = put({ name: "cut.bin", size: 3 * CHUNK_SIZE, stream: fed.stream }, {
    host: HOST,
    port: server.port,
  });
  putting.catch(() => {});
  fed.push(randomBytes(CHUNK_SIZE, 3));
  await until(() => partials(served.path).some((n) => sizeOf(served.path, n) === CHUNK_SIZE));
  await within(10_000, "close with a grace of 0.2 s", server.server.close(200));
  const error = await putting.catch((e) => e);
  assert.ok(error instanceof ClientError);
  assert.equal(error.kind, "connection");
  assert.ok(!namesIn(served.path).includes("cut.bin"));
  const kept = partials(served.path);
  assert.equal(kept.length, 1, "the partial upload is kept for a resume");
  assert.equal(sizeOf(served.path, kept[0]!), CHUNK_SIZE);
  const end = ends(server.events)[0]!;
  assert.notEqual(end.record.outcome, "ok");
});

test("the server shuts down after its idle timeout, and a request resets the clock", async () => {
  await using served = await tempDir();
  const at = new Map<string, number>();
  await using server = serveFolder(served.path, {
    idleTimeoutMs: 600,
    onEvent: (event) => at.set(event.type, performance.now()),
  });
  await new Promise((r) => setTimeout(r, 300));
  await list({ host: HOST, port: server.port });
  await within(10_000, "idle shutdown", server.server.finished);
  const types = server.events.map((e) => e.type);
  assert.deepEqual(types.slice(-3), ["idle-shutdown", "stopping", "stopped"]);
  assert.deepEqual(server.events.find((e) => e.type === "idle-shutdown"), {
    type: "idle-shutdown",
    idleTimeoutMs: 600,
  });
  // A timer never fires early: measured from the request's end, the whole
  // idle timeout passed (the clock was reset, not left running from the start).
  const quiet = at.get("idle-shutdown")! - at.get("request-end")!;
  assert.ok(quiet >= 590, `shut down ${quiet.toFixed(0)} ms after the last request`);
});

test("a connection over the limit is refused as busy while the others are served", async () => {
  await using served = await tempDir();
  await using server = serveFolder(served.path, { maxConnections: 1 });
  // A connection holds a serving slot once its command has arrived (one that
  // has sent none waits in a pool of its own): a started put holds the one slot.
  const holder = await Deno.connect({ hostname: HOST, port: server.port });
  try {
    await writeRaw(holder, 'PS/2 {"op":"put","name":"hold.bin","size":10,"resume":false}\n');
    assert.match(String(await readRawLine(holder)), /"code":"pass"/);
    const error = await list({ host: HOST, port: server.port }).catch((e) => e);
    assert.ok(error instanceof ClientError);
    assert.equal(error.reason, "busy");
  } finally {
    closeQuietly(holder);
  }
  await until(() => server.server.activeConnections === 0);
  assert.deepEqual(await list({ host: HOST, port: server.port }), []);
});

test("checkRoot and startServer refuse a folder that is missing or not a folder, with RootError", async () => {
  await using dir = await tempDir();
  const missing = join(dir.path, "nope");
  const file = join(dir.path, "file.txt");
  await Deno.writeTextFile(file, "x");
  for (
    const [root, code, message] of [
      [missing, "missing", /^The folder '.*nope' does not exist$/],
      [file, "not-folder", /^'.*file\.txt' is not a folder$/],
    ] as const
  ) {
    assert.throws(() => checkRoot(root), (error: unknown) => {
      assert.ok(error instanceof RootError);
      assert.equal(error.code, code);
      assert.match(error.message, message);
      return true;
    });
    assert.throws(() => startServer({ root, port: 0, host: HOST }), RootError);
  }
  checkRoot(dir.path);
});

test("startServer on a port in use throws ListenError in-use, saying what to do", async () => {
  await using dir = await tempDir();
  using taken = Deno.listen({ hostname: HOST, port: 0 });
  assert.throws(
    () => startServer({ root: dir.path, port: taken.addr.port, host: HOST }),
    (error: unknown) => {
      assert.ok(error instanceof ListenError);
      assert.equal(error.code, "in-use");
      assert.equal(
        error.message,
        `Port ${taken.addr.port} is already in use: choose another port or stop the program using it`,
      );
      assert.ok(error.cause instanceof Deno.errors.AddrInUse, "the system's error is kept");
      return true;
    },
  );
});

test("startServer on an address that is not this computer's throws ListenError address", async () => {
  await using dir = await tempDir();
  // 192.0.2.1 is reserved for documentation (RFC 5737): no computer has it.
  assert.throws(
    () => startServer({ root: dir.path, port: 0, host: "192.0.2.1" }),
    (error: unknown) => error instanceof ListenError && error.code === "address",
  );
});

/**
 * Whether a new connection to `port` goes unserved: refused, or (in the
 * instant while a closed listener's backlog drains) closed without an answer.
 */
async function notServed(port: number): Promise<boolean> {
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ hostname: HOST, port });
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) return true;
    if (error instanceof Deno.errors.ConnectionReset) return true;
    throw error;
  }
  try {
    await conn.write(new TextEncoder().encode('PS/2 {"op":"list"}\n'));
    return await conn.read(new Uint8Array(64)) === null;
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionReset) return true;
    if (error instanceof Deno.errors.BrokenPipe) return true;
    throw error;
  } finally {
    closeQuietly(conn);
  }
}

function sizeOf(dir: string, name: string): number {
  try {
    return Deno.statSync(join(dir, name)).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return -1;
    throw error;
  }
}
