// Promises of README.md and docs/PROTOCOL.md that no other test would see
// broken: each test here fails when its promise is removed (the report of
// issue 9 lists the one-line mutation each was checked against).
//
// In process, against the library's server. Two tests spy on
// Deno.FsFile.prototype.syncData (fault injection's cousin: the flush cannot
// be observed from outside, so the test wraps it to record each call, and
// restores it in `finally`).

import assert from "node:assert/strict";
import { join } from "node:path";
import { ClientError, get, list, put } from "../lib/mod.ts";
import { CHUNK_SIZE } from "../lib/transfer/pool.ts";
import {
  assertBytes,
  fakeServer,
  handFedStream,
  jsonLine,
  namesIn,
  randomBytes,
  readRawLine,
  serveFolder,
  tempDir,
  test,
  until,
  writeRandomFile,
  writeRaw,
} from "./helpers.ts";

const MiB = 1024 * 1024;
const HOST = "127.0.0.1";

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function sizeOf(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return -1;
    throw error;
  }
}

/** A flush seen by the spy: how big the file was, whether `watched` existed then, when it ended. */
interface Flush {
  size: number;
  watchedExisted: boolean;
  finishedAt: number;
}

/**
 * Runs `work` with every `FsFile.syncData` recorded: the size of the file
 * flushed, whether `watched` existed when the flush began, and when it
 * ended. The original is restored afterwards, whatever happens.
 */
async function recordingFlushes<T>(
  watched: string,
  work: () => Promise<T>,
): Promise<{ result: T; flushes: Flush[]; resolvedAt: number }> {
  const original = Deno.FsFile.prototype.syncData;
  const flushes: Flush[] = [];
  Deno.FsFile.prototype.syncData = async function (this: Deno.FsFile): Promise<void> {
    const size = this.statSync().size;
    const watchedExisted = exists(watched);
    await original.call(this);
    flushes.push({ size, watchedExisted, finishedAt: performance.now() });
  };
  try {
    const result = await work();
    return { result, flushes, resolvedAt: performance.now() };
  } finally {
    Deno.FsFile.prototype.syncData = original;
  }
}

test("a foreign file placed under the name during an upload survives byte for byte; the put is refused as exists", async () => {
  // README: "an existing file is never replaced"; PROTOCOL.md: the server
  // makes the upload visible "without ever replacing a file".
  await using served = await tempDir();
  await using server = serveFolder(served.path);
  const target = join(served.path, "taken.bin");
  const upload = randomBytes(2 * CHUNK_SIZE + 10, 1);
  const fed = handFedStream();
  const putting = put({ name: "taken.bin", size: upload.length, stream: fed.stream }, {
    host: HOST,
    port: server.port,
  });
  putting.catch(() => {});
  fed.push(upload.subarray(0, CHUNK_SIZE));
  // The upload is in flight: its first chunk is in the server's partial file.
  await until(() =>
    namesIn(served.path).some((n) =>
      n.startsWith(".privateshare-partial-") && sizeOf(join(served.path, n)) === CHUNK_SIZE
    )
  );
  assert.ok(!exists(target), "nothing is visible under the name before the upload is complete");
  assert.deepEqual(await list({ host: HOST, port: server.port }), [], "nor listed");

  const foreign = randomBytes(12345, 2);
  await Deno.writeFile(target, foreign);
  fed.push(upload.subarray(CHUNK_SIZE));
  fed.end();
  const error = await putting.catch((e) => e);
  assert.ok(error instanceof ClientError, `refused, not ${error}`);
  assert.equal(error.kind, "refused");
  assert.equal(error.reason, "exists");
  assertBytes(await Deno.readFile(target), foreign, "the foreign file");
  // The server removes its partial once the client has its answer: wait for the request's end.
  await until(() => server.events.some((e) => e.type === "request-end" && e.record.op === "put"));
  assert.deepEqual(namesIn(served.path), ["taken.bin"], "the refused upload leaves no partial");
});

test("the server flushes an upload to disk before the name appears and before it answers done", async () => {
  // README: "A put is reported done only after the server has verified the
  // file, flushed it to disk and made it visible under its name."
  await using served = await tempDir();
  await using local = await tempDir();
  await using server = serveFolder(served.path);
  const size = 5 * MiB + 1;
  const src = join(local.path, "flushed.bin");
  await writeRandomFile(src, size, 3);
  const target = join(served.path, "flushed.bin");
  const { flushes, resolvedAt } = await recordingFlushes(
    target,
    () => put(src, { host: HOST, port: server.port }),
  );
  const flush = flushes.find((f) => f.size === size);
  assert.ok(flush, `the uploaded file was flushed (flushes seen: ${JSON.stringify(flushes)})`);
  assert.equal(flush.watchedExisted, false, "flushed before it became visible under its name");
  assert.ok(flush.finishedAt <= resolvedAt, "flushed before the client heard done");
  assert.ok(exists(target));
});

test("the client flushes a download before it is moved into place", async () => {
  // PROTOCOL.md: a download is "verified, flushed, and then linked into place".
  await using served = await tempDir();
  await using local = await tempDir();
  await using server = serveFolder(served.path);
  const size = 3 * MiB + 7;
  await writeRandomFile(join(served.path, "down.bin"), size, 4);
  const dest = join(local.path, "down.bin");
  const { flushes, resolvedAt } = await recordingFlushes(
    dest,
    () => get("down.bin", { host: HOST, port: server.port, output: local.path }),
  );
  const flush = flushes.find((f) => f.size === size);
  assert.ok(flush, `the download was flushed (flushes seen: ${JSON.stringify(flushes)})`);
  assert.equal(flush.watchedExisted, false, "flushed before it was moved into place");
  assert.ok(flush.finishedAt <= resolvedAt);
  assert.equal(sizeOf(dest), size);
});

test("a listing shows a new file at once, and a file rewritten in place within a second", async () => {
  // PROTOCOL.md: "The server reuses a listing while the folder is unchanged,
  // for at most a second."
  await using served = await tempDir();
  await using server = serveFolder(served.path);
  // The listing of files only: a listing with folders is reused for a second at most.
  const options = { host: HOST, port: server.port, folders: false };
  const names = async () => (await list(options)).map((f) => `${f.name}:${f.size}`);
  await Deno.writeTextFile(join(served.path, "a.txt"), "abc");
  assert.deepEqual(await names(), ["a.txt:3"]);
  // The folder's time has the kernel's coarse clock: let it tick before the change.
  await new Promise((r) => setTimeout(r, 50));
  await Deno.writeTextFile(join(served.path, "b.txt"), "b");
  assert.deepEqual(await names(), ["a.txt:3", "b.txt:1"], "a changed folder is listed anew");
  // Rewriting a file in place leaves the folder unchanged: a second at most.
  await Deno.writeTextFile(join(served.path, "a.txt"), "abcdefghij");
  await new Promise((r) => setTimeout(r, 1200));
  assert.deepEqual(await names(), ["a.txt:10", "b.txt:1"], "not older than a second");
});

test("a listing holds regular files only: no folders, links, or privateshare's hidden files", async () => {
  // PROTOCOL.md: "Folders, links, and privateshare's own hidden files are not listed."
  await using served = await tempDir();
  await using server = serveFolder(served.path);
  await Deno.writeTextFile(join(served.path, "file.txt"), "f");
  await Deno.mkdir(join(served.path, "folder"));
  await Deno.symlink(join(served.path, "file.txt"), join(served.path, "link.txt"));
  await Deno.writeTextFile(join(served.path, ".privateshare-partial-abc"), "p");
  await Deno.writeTextFile(join(served.path, ".hidden-but-ours-not"), "h");
  const listed = (await list({ host: HOST, port: server.port, folders: false })).map((f) => f.name);
  assert.deepEqual(listed, [".hidden-but-ours-not", "file.txt"]);
  // Asked for folders, the folder too, as a folder.
  const all = await list({ host: HOST, port: server.port });
  assert.deepEqual(all.map((f) => `${f.name}:${f.type}`), [
    ".hidden-but-ours-not:undefined",
    "file.txt:undefined",
    "folder:folder",
  ]);
});

test("a listing is sorted by name", async () => {
  // PROTOCOL.md: "one per regular file, sorted by name".
  await using served = await tempDir();
  await using server = serveFolder(served.path);
  const names = ["b.txt", "Z.txt", "a b.txt", "é.txt", "a.txt", "10.txt", "9.txt"];
  for (const name of names) await Deno.writeTextFile(join(served.path, name), name);
  const listed = (await list({ host: HOST, port: server.port })).map((f) => f.name);
  assert.deepEqual(listed, ["10.txt", "9.txt", "Z.txt", "a b.txt", "a.txt", "b.txt", "é.txt"]);
});

test("the client ignores fields it does not know in the server's answers", async () => {
  // PROTOCOL.md: "Unknown JSON fields must be ignored, so that later
  // versions can add fields."
  await using local = await tempDir();
  await using fake = fakeServer(async (conn) => {
    const command = await readRawLine(conn);
    if (command?.includes('"list"')) {
      await writeRaw(conn, jsonLine({ code: "pass", count: 1, future: [1, 2] }));
      await writeRaw(conn, jsonLine({ name: "a.txt", size: 1, mtime: 5, owner: "x" }));
    } else {
      await writeRaw(conn, jsonLine({ code: "pass", size: 5, offset: 0, compression: "none" }));
      await writeRaw(conn, "hello");
      await writeRaw(
        conn,
        jsonLine({
          sha256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
          signature: "later",
        }),
      );
    }
  });
  const options = { host: HOST, port: fake.port };
  assert.deepEqual(await list(options), [{ name: "a.txt", size: 1, mtime: 5 }]);
  await get("hello.txt", { ...options, output: local.path });
  assert.equal(await Deno.readTextFile(join(local.path, "hello.txt")), "hello");
});
