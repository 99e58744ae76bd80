// The client library in process against the library's server
// (serveFolder): put, get and list, `as`, `output`, `force`, progress,
// cancelling with an AbortSignal, and starting over with `resume: false`.
// Failures against fake servers are in client_failures_test.ts.

import assert from "node:assert/strict";
import { join } from "node:path";
import { get, list, type Progress, put } from "../lib/mod.ts";
import { CHUNK_SIZE } from "../lib/transfer/pool.ts";
import {
  assertBytes,
  failsWith,
  fakeServer,
  handFedStream,
  namesIn,
  randomBytes,
  sameBytes,
  serveFolder,
  sha256Hex,
  tempDir,
  test,
  until,
  within,
  writeRandomFile,
} from "./helpers.ts";

const MiB = 1024 * 1024;
const HOST = "127.0.0.1";

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
  assert.deepEqual(
    namesIn(local.path),
    [".big.bin.privateshare-partial", ".big.bin.privateshare-partial.json"],
    "no file by the name",
  );
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

  // A partial download that would resume: a get cancelled after 5 MiB.
  const down = join(local.path, "down");
  await Deno.mkdir(down);
  const cancel = new AbortController();
  await failsWith(
    get("again.bin", {
      ...options,
      output: down,
      signal: cancel.signal,
      onProgress: (p) => p.done >= 5 * MiB && cancel.abort(),
    }),
    "aborted",
  );
  const get2 = await get("again.bin", { ...options, output: down, resume: false });
  assert.equal(get2.resumedFrom, 0);
  assert.equal(get2.moved, size);
  assert.ok(await sameBytes(src, get2.path));
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
