// The client library in process: put, get and list against the library's
// server (serveFolder), progress, cancelling with an AbortSignal, and the
// kind of every failure against fake servers written here that speak raw
// bytes (garbage, a cancel, a corrupt trailer, a connection closed halfway,
// silence).

import assert from "node:assert/strict";
import { join } from "node:path";
import { ClientError, get, list, type Progress, put } from "../lib/mod.ts";
import { CHUNK_SIZE } from "../lib/transfer/pool.ts";
import {
  assertBytes,
  fakeServer,
  handFedStream,
  namesIn,
  randomBytes,
  readRawBytes,
  readRawLine,
  sameBytes,
  serveFolder,
  sha256Hex,
  tempDir,
  test,
  until,
  within,
  writeRandomFile,
  writeRaw,
} from "./helpers.ts";

const MiB = 1024 * 1024;
const HOST = "127.0.0.1";

/** Asserts that `promise` fails with a ClientError of `kind`, and returns it. */
async function failsWith(
  promise: Promise<unknown>,
  kind: ClientError["kind"],
): Promise<ClientError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ClientError, `a ClientError, not ${error}`);
    assert.equal(error.kind, kind, `kind of: ${error.message}`);
    assert.ok(!error.message.includes("\n"), "one line");
    return error;
  }
  assert.fail(`expected a ClientError of kind ${kind}`);
}

/** Checks progress events: monotonic, of one size and resume point, ending at the size. */
function assertProgress(events: Progress[], size: number, resumedFrom: number): void {
  assert.ok(events.length > 0, "progress was reported");
  assert.equal(events[0]!.done, resumedFrom, "progress starts where the transfer starts");
  for (const [i, event] of events.entries()) {
    assert.equal(event.total, size);
    assert.equal(event.resumedFrom, resumedFrom);
    if (i > 0) assert.ok(event.done >= events[i - 1]!.done, "progress never goes back");
  }
  assert.equal(events.at(-1)!.done, size, "progress ends at the size");
}

/** The JSON of a PS/2 command line read by a fake server. */
async function readCommand(conn: Deno.Conn): Promise<Record<string, unknown>> {
  const line = await readRawLine(conn);
  if (!line?.startsWith("PS/2 ")) throw new Error(`Not a PS/2 command: ${line}`);
  return JSON.parse(line.slice(5));
}

const json = (value: unknown) => JSON.stringify(value) + "\n";

// --- against the library's server --------------------------------------------------

test("put stores a file under its name, list shows it, and get brings it back byte for byte", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  await using server = serveFolder(served.path);
  const options = { host: HOST, port: server.port };
  const src = join(local.path, "apple.bin");
  await writeRandomFile(src, 5 * MiB + 3, 1);
  const sent = await put(src, options);
  assert.equal(sent.name, "apple.bin");
  assert.equal(sent.path, src);
  assert.equal(sent.size, 5 * MiB + 3);
  assert.equal(sent.moved, sent.size);
  assert.equal(sent.resumedFrom, 0);
  assert.equal(sent.sha256, sha256Hex(await Deno.readFile(src)));
  assert.ok(await sameBytes(src, join(served.path, "apple.bin")));

  const files = await list(options);
  assert.equal(files.length, 1);
  assert.equal(files[0]!.name, "apple.bin");
  assert.equal(files[0]!.size, 5 * MiB + 3);
  assert.equal(typeof files[0]!.mtime, "number");

  const down = join(local.path, "down");
  await Deno.mkdir(down);
  const got = await get("apple.bin", { ...options, output: down });
  assert.equal(got.path, join(down, "apple.bin"), "output as a folder saves into it");
  assert.equal(got.sha256, sent.sha256);
  assert.ok(await sameBytes(src, got.path));
  assert.deepEqual(namesIn(down), ["apple.bin"], "no partial download is left");
});

test("put of a PutStream stores exactly the stream's bytes under its name", async () => {
  await using served = await tempDir();
  await using server = serveFolder(served.path);
  const bytes = randomBytes(3 * MiB + 17, 4);
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < bytes.length; at += 100_000) {
        controller.enqueue(bytes.slice(at, at + 100_000));
      }
      controller.close();
    },
  });
  const result = await put(
    { name: "upload.bin", size: bytes.length, stream },
    { host: HOST, port: server.port },
  );
  assert.equal(result.name, "upload.bin");
  assert.equal(result.path, "", "a stream has no local path");
  assert.equal(result.sha256, sha256Hex(bytes));
  assertBytes(await Deno.readFile(join(served.path, "upload.bin")), bytes);
});

test("put with `as` stores the file under another name", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  await using server = serveFolder(served.path);
  const src = join(local.path, "original.txt");
  await Deno.writeTextFile(src, "content");
  const result = await put(src, { host: HOST, port: server.port, as: "renamed.txt" });
  assert.equal(result.name, "renamed.txt");
  assert.deepEqual(namesIn(served.path), ["renamed.txt"]);
  assert.equal(await Deno.readTextFile(join(served.path, "renamed.txt")), "content");
});

test("get with `output` as a path saves there; without `force` it never replaces a file", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  await using server = serveFolder(served.path);
  await Deno.writeTextFile(join(served.path, "note.txt"), "from the server");
  const options = { host: HOST, port: server.port };
  const target = join(local.path, "saved-as.txt");
  const first = await get("note.txt", { ...options, output: target });
  assert.equal(first.path, target);
  assert.equal(await Deno.readTextFile(target), "from the server");

  await Deno.writeTextFile(target, "mine");
  const refused = await failsWith(get("note.txt", { ...options, output: target }), "local");
  assert.equal(refused.code, "exists");
  assert.equal(refused.path, target);
  assert.equal(await Deno.readTextFile(target), "mine", "the local file is untouched");
  assert.deepEqual(namesIn(local.path), ["saved-as.txt"], "no partial download is left");

  await get("note.txt", { ...options, output: target, force: true });
  assert.equal(await Deno.readTextFile(target), "from the server", "force replaces it");
  assert.deepEqual(namesIn(local.path), ["saved-as.txt"]);
});

test("progress is monotonic, of the right size, and ends at the size, for put and get", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  await using server = serveFolder(served.path);
  const options = { host: HOST, port: server.port };
  const size = 9 * MiB + 1;
  const src = join(local.path, "p.bin");
  await writeRandomFile(src, size, 2);
  const putEvents: Progress[] = [];
  await put(src, { ...options, onProgress: (p) => putEvents.push({ ...p }) });
  assertProgress(putEvents, size, 0);
  const getEvents: Progress[] = [];
  await get("p.bin", {
    ...options,
    output: join(local.path, "copy.bin"),
    onProgress: (p) => getEvents.push({ ...p }),
  });
  assertProgress(getEvents, size, 0);
});

test("an AbortSignal cancels a get mid-transfer: kind aborted, the partial is kept, and the next get resumes", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  await using server = serveFolder(served.path);
  const options = { host: HOST, port: server.port };
  const size = 32 * MiB;
  await writeRandomFile(join(served.path, "big.bin"), size, 3);
  const abort = new AbortController();
  const error = await failsWith(
    get("big.bin", {
      ...options,
      output: local.path,
      signal: abort.signal,
      onProgress: (p) => {
        if (p.done >= 8 * MiB) abort.abort();
      },
    }),
    "aborted",
  );
  assert.match(error.message, /Cancelled/);
  const partial = join(local.path, ".big.bin.privateshare-partial");
  assert.deepEqual(namesIn(local.path), [".big.bin.privateshare-partial"], "no file by the name");
  const kept = Deno.statSync(partial).size;
  assert.ok(kept > 0 && kept < size, `the partial keeps what arrived (${kept} bytes)`);

  const events: Progress[] = [];
  const resumed = await get("big.bin", {
    ...options,
    output: local.path,
    onProgress: (p) => events.push({ ...p }),
  });
  assert.equal(resumed.resumedFrom, kept, "the next get continues from the partial");
  assert.equal(resumed.moved, size - kept);
  assertProgress(events, size, kept);
  assert.ok(await sameBytes(join(served.path, "big.bin"), join(local.path, "big.bin")));
  assert.deepEqual(namesIn(local.path), ["big.bin"]);
});

test("an AbortSignal cancels a put mid-transfer; the next put resumes from the server's partial", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  await using server = serveFolder(served.path);
  const options = { host: HOST, port: server.port };
  const size = 48 * MiB;
  const src = join(local.path, "up.bin");
  await writeRandomFile(src, size, 5);
  const abort = new AbortController();
  await failsWith(
    put(src, {
      ...options,
      signal: abort.signal,
      onProgress: (p) => {
        if (p.done >= 16 * MiB) abort.abort();
      },
    }),
    "aborted",
  );
  await until(() => server.events.some((e) => e.type === "request-end" && e.record.op === "put"));
  assert.ok(!namesIn(served.path).includes("up.bin"), "nothing under the name");
  const partials = namesIn(served.path).filter((n) => n.startsWith(".privateshare-partial-"));
  assert.equal(partials.length, 1, "the server keeps the partial upload");
  const kept = Deno.statSync(join(served.path, partials[0]!)).size;
  assert.ok(kept > 0, "the partial holds what arrived");

  const events: Progress[] = [];
  const resumed = await put(src, { ...options, onProgress: (p) => events.push({ ...p }) });
  assert.equal(resumed.resumedFrom, kept);
  assertProgress(events, size, kept);
  assert.ok(await sameBytes(src, join(served.path, "up.bin")));
  assert.deepEqual(namesIn(served.path), ["up.bin"]);
});

test("an AbortSignal aborted before the start makes no connection and leaves no file", async () => {
  await using local = await tempDir();
  await using fake = fakeServer(async () => {});
  const signal = AbortSignal.abort();
  const options = { host: HOST, port: fake.port, signal };
  await failsWith(get("x.bin", { ...options, output: local.path }), "aborted");
  await failsWith(list(options), "aborted");
  assert.equal(fake.accepted, 0);
  assert.deepEqual(namesIn(local.path), []);
});

test("local mistakes fail before any connection: a missing file to put, an invalid name to get", async () => {
  await using local = await tempDir();
  await using fake = fakeServer(async () => {});
  const options = { host: HOST, port: fake.port };
  const missing = await failsWith(put(join(local.path, "nope.bin"), options), "local");
  assert.match(missing.message, /No such file: '.*nope\.bin'/);
  const invalid = await failsWith(get("../escape", { ...options, output: local.path }), "refused");
  assert.equal(invalid.reason, "invalid-name");
  assert.equal(fake.accepted, 0, "no connection was made");
  assert.deepEqual(namesIn(local.path), []);
});

// --- against fake servers ---------------------------------------------------------

test("a server that answers garbage is a protocol failure, not a refusal", async () => {
  await using local = await tempDir();
  await using fake = fakeServer(async (conn) => {
    await readRawLine(conn);
    await writeRaw(conn, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  });
  const options = { host: HOST, port: fake.port };
  for (
    const attempt of [
      () => list(options),
      () => get("a.txt", { ...options, output: local.path }),
      () =>
        put({ name: "a.txt", size: 1, stream: ReadableStream.from([new Uint8Array(1)]) }, options),
    ]
  ) {
    const error = await failsWith(attempt(), "protocol");
    assert.equal(error.code, "not-privateshare");
  }
  assert.deepEqual(namesIn(local.path), [], "a failed get leaves nothing");
});

test("a server that sends garbage after its pass is a protocol failure", async () => {
  await using local = await tempDir();
  await using fake = fakeServer(async (conn) => {
    const command = await readCommand(conn);
    if (command.op === "list") {
      await writeRaw(conn, json({ code: "pass", count: 2 }) + json({ name: "a" }) + "{oops\n");
    } else if (command.name === "no-size.txt") {
      await writeRaw(conn, json({ code: "pass", offset: 0 }));
    } else {
      await writeRaw(
        conn,
        json({ code: "pass", size: 5, offset: 0 }) + "hello" + "not a trailer\n",
      );
    }
  });
  const options = { host: HOST, port: fake.port, output: local.path };
  const listing = await failsWith(list(options), "protocol");
  assert.match(listing.message, /listing .* was incomplete or malformed/);
  for (const name of ["no-size.txt", "bad-trailer.txt"]) {
    const error = await failsWith(get(name, options), "protocol");
    assert.match(
      error.message,
      /sent a malformed or unexpected answer .*: is it a privateshare server\?$/,
    );
  }
  assert.deepEqual(namesIn(local.path), [], "a failed get leaves nothing");
});

test("a cancel is a refusal with the server's reason and message, for every operation", async () => {
  await using local = await tempDir();
  await using fake = fakeServer(async (conn) => {
    await readCommand(conn);
    await writeRaw(conn, json({ code: "cancel", reason: "busy", message: "Too many clients" }));
  });
  const options = { host: HOST, port: fake.port };
  const src = join(local.path, "s.txt");
  await Deno.writeTextFile(src, "s");
  for (
    const attempt of [
      () => list(options),
      () => get("a.txt", { ...options, output: join(local.path, "a.txt") }),
      () => put(src, options),
    ]
  ) {
    const error = await failsWith(attempt(), "refused");
    assert.equal(error.reason, "busy");
    assert.match(error.message, /The server refused: Too many clients/);
  }
  assert.deepEqual(namesIn(local.path), ["s.txt"], "a refused get leaves nothing");
});

test("a cancel that arrives while a put is sending stops the put, and its sending, with the server's reason", async () => {
  // PROTOCOL.md: the server may cancel at any moment after pass (a full
  // disk, say); a client reads replies while it sends, and stops sending.
  await using local = await tempDir();
  const size = 64 * MiB;
  let received = 0;
  let counted!: () => void;
  const allCounted = new Promise<void>((resolve) => counted = resolve);
  await using fake = fakeServer(async (conn) => {
    const command = await readCommand(conn);
    assert.equal(command.op, "put");
    await writeRaw(conn, json({ code: "pass", offset: 0 }));
    await readRawLine(conn);
    received = (await readRawBytes(conn, 1 * MiB)).length;
    await writeRaw(conn, json({ code: "cancel", reason: "no-space", message: "Disk full" }));
    await conn.closeWrite();
    // Take whatever else comes, as privateshare's server does, so that the client reads the cancel.
    const sink = new Uint8Array(64 * 1024);
    while (true) {
      const n = await conn.read(sink).catch(() => null);
      if (n === null) break;
      received += n;
    }
    counted();
  });
  const src = join(local.path, "big.bin");
  await writeRandomFile(src, size, 6);
  const error = await failsWith(put(src, { host: HOST, port: fake.port }), "refused");
  assert.equal(error.reason, "no-space");
  assert.match(error.message, /Disk full/);
  await within(10_000, "the end of the connection", allCounted);
  assert.ok(received < size, `the client stopped sending (${received} of ${size} bytes sent)`);
});

test("a put whose server closes after the data without a verdict is not done", async () => {
  // PROTOCOL.md: "A put is done only when the client has read done."
  await using fake = fakeServer(async (conn) => {
    const command = await readCommand(conn);
    await writeRaw(conn, json({ code: "pass", offset: 0 }));
    await readRawLine(conn);
    await readRawBytes(conn, command.size as number);
    await readRawLine(conn);
  });
  const stream = ReadableStream.from([new TextEncoder().encode("abc")]);
  const error = await failsWith(
    put({ name: "c.txt", size: 3, stream }, { host: HOST, port: fake.port }),
    "connection",
  );
  assert.match(error.message, /was lost/);
});

test("resume: false starts a put and a get over from the first byte", async () => {
  // README: "--no-resume starts either over from the first byte."
  await using served = await tempDir();
  await using local = await tempDir();
  await using server = serveFolder(served.path);
  const options = { host: HOST, port: server.port };
  const size = 24 * MiB;
  const src = join(local.path, "again.bin");
  await writeRandomFile(src, size, 14);
  const abort = new AbortController();
  await failsWith(
    put(src, {
      ...options,
      signal: abort.signal,
      onProgress: (p) => p.done >= 12 * MiB && abort.abort(),
    }),
    "aborted",
  );
  await until(() => server.events.some((e) => e.type === "request-end"));
  assert.equal(
    namesIn(served.path).filter((n) => n.startsWith(".privateshare-partial-")).length,
    1,
    "a partial upload to resume from is there",
  );
  const put2 = await put(src, { ...options, resume: false });
  assert.equal(put2.resumedFrom, 0);
  assert.equal(put2.moved, size);
  assert.ok(await sameBytes(src, join(served.path, "again.bin")));

  // A partial download that would resume: the file's own first 5 MiB.
  const down = join(local.path, "down");
  await Deno.mkdir(down);
  await Deno.writeFile(
    join(down, ".again.bin.privateshare-partial"),
    (await Deno.readFile(src)).subarray(0, 5 * MiB),
  );
  const get2 = await get("again.bin", { ...options, output: down, resume: false });
  assert.equal(get2.resumedFrom, 0);
  assert.equal(get2.moved, size);
  assert.ok(await sameBytes(src, get2.path));
});

test("a get whose trailer does not match the data is corrupt and keeps nothing", async () => {
  await using local = await tempDir();
  await using fake = fakeServer(async (conn) => {
    await readCommand(conn);
    const data = new TextEncoder().encode("hello");
    await writeRaw(conn, json({ code: "pass", size: 5, offset: 0 }));
    await writeRaw(conn, data);
    await writeRaw(conn, json({ sha256: sha256Hex(new TextEncoder().encode("hellx")) }));
  });
  const error = await failsWith(
    get("hello.txt", { host: HOST, port: fake.port, output: local.path }),
    "corrupt",
  );
  assert.equal(error.reason, "corrupt");
  assert.match(error.message, /does not match the server's SHA-256: nothing was kept/);
  assert.deepEqual(namesIn(local.path), [], "no file and no partial download");
});

test("a put the server finds corrupt is reported corrupt", async () => {
  await using fake = fakeServer(async (conn) => {
    const command = await readCommand(conn);
    await writeRaw(conn, json({ code: "pass", offset: 0 }));
    await readRawLine(conn);
    await readRawBytes(conn, command.size as number);
    await readRawLine(conn);
    await writeRaw(conn, json({ code: "cancel", reason: "corrupt", message: "Mismatch" }));
  });
  const stream = ReadableStream.from([new TextEncoder().encode("abc")]);
  const error = await failsWith(
    put({ name: "c.txt", size: 3, stream }, { host: HOST, port: fake.port }),
    "corrupt",
  );
  assert.equal(error.reason, "corrupt");
});

test("a connection closed halfway through a get is a connection failure that keeps the bytes for a resume", async () => {
  await using local = await tempDir();
  const data = randomBytes(100, 7);
  await using fake = fakeServer(async (conn) => {
    await readCommand(conn);
    await writeRaw(conn, json({ code: "pass", size: 1000, offset: 0 }));
    await writeRaw(conn, data);
  });
  const error = await failsWith(
    get("cut.bin", { host: HOST, port: fake.port, output: local.path }),
    "connection",
  );
  assert.match(error.message, /connection to .* was lost: run the same command again to resume/);
  assert.deepEqual(namesIn(local.path), [".cut.bin.privateshare-partial"]);
  assertBytes(await Deno.readFile(join(local.path, ".cut.bin.privateshare-partial")), data);
});

test("a connection closed halfway through a put is a connection failure", async () => {
  await using fake = fakeServer(async (conn) => {
    await readCommand(conn);
    await writeRaw(conn, json({ code: "pass", offset: 0 }));
    await readRawLine(conn);
    await readRawBytes(conn, 1000);
  });
  const stream = ReadableStream.from([randomBytes(4 * MiB, 8)]);
  await failsWith(
    put({ name: "cut.bin", size: 4 * MiB, stream }, { host: HOST, port: fake.port }),
    "connection",
  );
});

test("a server that accepts and then says nothing is given up on at the timeout", async () => {
  await using fake = fakeServer(async (conn) => {
    await readRawLine(conn);
    // Silent until the client gives up and closes.
    await conn.read(new Uint8Array(1)).catch(() => null);
  });
  const error = await failsWith(
    list({ host: HOST, port: fake.port, timeoutMs: 300 }),
    "connection",
  );
  assert.match(error.message, /stopped responding/);
});

test("no server at the address is a connection failure", async () => {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const port = listener.addr.port;
  listener.close();
  const error = await failsWith(list({ host: HOST, port }), "connection");
  assert.match(error.message, /Cannot connect to 127\.0\.0\.1:\d+ \(connection refused\)/);
});

test("a file that appears under the name during a get is left alone (appeared), unless force", async () => {
  await using local = await tempDir();
  const data = randomBytes(2000, 9);
  const dest = join(local.path, "late.bin");
  let paused: (() => void) | undefined;
  await using fake = fakeServer(async (conn) => {
    await readCommand(conn);
    await writeRaw(conn, json({ code: "pass", size: data.length, offset: 0 }));
    await writeRaw(conn, data.subarray(0, 1000));
    await new Promise<void>((resolve) => paused = resolve);
    await writeRaw(conn, data.subarray(1000));
    await writeRaw(conn, json({ sha256: sha256Hex(data) }));
  });
  const options = { host: HOST, port: fake.port, output: dest };
  for (const force of [false, true]) {
    await Deno.remove(dest).catch(() => {});
    const getting = get("late.bin", { ...options, force });
    // Awaited below; a failed assertion meanwhile must not make it an unhandled rejection.
    getting.catch(() => {});
    await until(() => paused !== undefined);
    // Nothing half-written is visible under the name while the get runs.
    assert.ok(!namesIn(local.path).includes("late.bin"));
    await Deno.writeTextFile(dest, "someone else's");
    paused!();
    paused = undefined;
    if (force) {
      await getting;
      assertBytes(await Deno.readFile(dest), data, "the file that force put in place");
    } else {
      const error = await failsWith(getting, "local");
      assert.equal(error.code, "appeared");
      assert.equal(await Deno.readTextFile(dest), "someone else's", "left alone");
    }
    assert.deepEqual(namesIn(local.path), ["late.bin"], "no partial download is left");
  }
});

test("an AbortSignal cancels a put whose stream is waiting for data", async () => {
  // A browser upload may stall; cancelling must not wait for its next bytes.
  await using served = await tempDir();
  await using server = serveFolder(served.path);
  const fed = handFedStream();
  const abort = new AbortController();
  const putting = put({ name: "stalled.bin", size: 2 * CHUNK_SIZE, stream: fed.stream }, {
    host: HOST,
    port: server.port,
    signal: abort.signal,
  });
  putting.catch(() => {});
  fed.push(randomBytes(CHUNK_SIZE, 10));
  await fed.drained();
  abort.abort();
  await within(10_000, "the cancelled put", failsWith(putting, "aborted"));
});

test("a cancel from the server ends a put whose stream is waiting for data", async () => {
  await using fake = fakeServer(async (conn) => {
    await readCommand(conn);
    await writeRaw(conn, json({ code: "pass", offset: 0 }));
    await readRawLine(conn);
    await readRawBytes(conn, CHUNK_SIZE);
    await writeRaw(conn, json({ code: "cancel", reason: "no-space", message: "Disk full" }));
  });
  const fed = handFedStream();
  const putting = put({ name: "stalled.bin", size: 2 * CHUNK_SIZE, stream: fed.stream }, {
    host: HOST,
    port: fake.port,
  });
  putting.catch(() => {});
  fed.push(randomBytes(CHUNK_SIZE, 11));
  const error = await within(10_000, "the refused put", failsWith(putting, "refused"));
  assert.equal(error.reason, "no-space");
});

test("a put whose stream is waiting for data fails as a connection failure when the server goes away", async () => {
  await using fake = fakeServer(async (conn) => {
    await readCommand(conn);
    await writeRaw(conn, json({ code: "pass", offset: 0 }));
    await readRawLine(conn);
    await readRawBytes(conn, CHUNK_SIZE);
  });
  const fed = handFedStream();
  const putting = put({ name: "stalled.bin", size: 2 * CHUNK_SIZE, stream: fed.stream }, {
    host: HOST,
    port: fake.port,
  });
  putting.catch(() => {});
  fed.push(randomBytes(CHUNK_SIZE, 12));
  const error = await within(10_000, "the cut put", failsWith(putting, "connection"));
  assert.match(error.message, /connection to .* was lost/);
});

test("an AbortSignal cancels a classic put whose stream is waiting for data", async () => {
  await using fake = fakeServer(async (conn) => {
    await conn.read(new Uint8Array(32));
    await writeRaw(conn, "pass");
    while (await conn.read(new Uint8Array(64 * 1024)) !== null) { /* take everything */ }
  });
  const fed = handFedStream();
  const abort = new AbortController();
  const putting = put({ name: "stalled.bin", size: 2 * CHUNK_SIZE, stream: fed.stream }, {
    host: HOST,
    port: fake.port,
    classic: true,
    signal: abort.signal,
  });
  putting.catch(() => {});
  fed.push(randomBytes(CHUNK_SIZE, 13));
  await fed.drained();
  abort.abort();
  await within(10_000, "the cancelled put", failsWith(putting, "aborted"));
});
