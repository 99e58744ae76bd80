// The client library against fake servers written here that speak raw
// bytes: the kind of every failure (garbage, a cancel, a corrupt trailer, a
// connection closed halfway, silence, no server), a file that appears
// during a get, and puts of a stream that stalls while the exchange ends.

import assert from "node:assert/strict";
import { join } from "node:path";
import { get, list, put } from "../lib/mod.ts";
import { CHUNK_SIZE } from "../lib/transfer/pool.ts";
import {
  assertBytes,
  failsWith,
  fakeServer,
  handFedStream,
  jsonLine as json,
  namesIn,
  randomBytes,
  readPs2Command as readCommand,
  readRawBytes,
  readRawLine,
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
  // Only a SHA-256 mismatch discards a download: what arrived before the
  // malformed trailer is kept for a resume; a get that received nothing keeps nothing.
  assert.deepEqual(namesIn(local.path), [
    ".bad-trailer.txt.privateshare-partial",
    ".bad-trailer.txt.privateshare-partial.json",
  ]);
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
  assert.deepEqual(namesIn(local.path), [
    ".cut.bin.privateshare-partial",
    ".cut.bin.privateshare-partial.json",
  ]);
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
    // Without force the finished download is kept, so that --force completes it at once.
    assert.deepEqual(
      namesIn(local.path),
      force ? ["late.bin"] : [
        ".late.bin.privateshare-partial",
        ".late.bin.privateshare-partial.json",
        "late.bin",
      ],
    );
  }
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
