// The server's folders, in process with serveFolder() and a client written
// here on the exchange functions (tests/support/folder_peer.ts): put-folder
// and a get of a folder round trip byte for byte, nested paths for get and
// put, a folder's listing with recursive counts, the refusals a put-folder
// can meet (exists, busy, read-only, too-large, no-space), a resume after a
// real cut connection, and the request's log record. Free space: one test
// uses the real `statfs` probe (a size no disk has), one injects a full disk
// through the server's `freeSpace` option (fault injection).

import assert from "node:assert/strict";
import { join } from "node:path";
import type { ServerEvent } from "../lib/mod.ts";
import { Logger } from "../lib/server/log.ts";
import { readRawLine, serveFolder, tempDir, test, until, writeRaw } from "./helpers.ts";
import { command, getFolder, makePhotos, putFolder, snapshot } from "./support/folder_peer.ts";

const HOST = "127.0.0.1";

type Ended = Extract<ServerEvent, { type: "request-end" }>;

function ends(events: ServerEvent[]): Ended[] {
  return events.filter((e): e is Ended => e.type === "request-end");
}

/** Working folders of a folder put anywhere below a folder. */
async function workingFolders(dir: string): Promise<string[]> {
  return [...(await snapshot(dir)).keys()].filter((p) =>
    /(^|\/)\.privateshare-folder-[^/]*$/.test(p)
  );
}

test("a folder put lands whole and a folder get brings it back byte for byte", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  await using back = await tempDir();
  await makePhotos(local.path);
  await using s = serveFolder(served.path);
  const put = await putFolder(s.port, "photos", join(local.path, "photos"));
  assert.deepEqual(put.first, { code: "pass" });
  const expected = await snapshot(join(local.path, "photos"));
  const files = [...expected.values()].filter((v) => v instanceof Uint8Array).length;
  const size = [...expected.values()].reduce(
    (n, v) => n + (v instanceof Uint8Array ? v.length : 0),
    0,
  );
  assert.deepEqual(put.last, { code: "done", files, size });
  assert.deepEqual(await snapshot(join(served.path, "photos")), expected);
  assert.deepEqual(await workingFolders(served.path), [], "no working folder is left");

  const got = await getFolder(s.port, "photos", back.path);
  assert.equal(got.code, "pass");
  assert.equal(got.type, "folder");
  assert.equal(got.files, files);
  assert.equal(got.size, size);
  assert.equal(got.folders, 3);
  assert.deepEqual(await snapshot(join(back.path, "photos")), expected);

  // A folder inside a folder, by its path.
  await using deeper = await tempDir();
  await getFolder(s.port, "photos/2024", deeper.path);
  assert.deepEqual(
    await snapshot(join(deeper.path, "2024")),
    await snapshot(join(local.path, "photos/2024")),
  );
  // The server records a request after its last reply: wait for the record.
  await until(() => ends(s.events).some((e) => e.record.op === "put-folder"));
  const records = ends(s.events).map((e) => e.record);
  const putRecord = records.find((r) => r.op === "put-folder")!;
  assert.equal(putRecord.outcome, "ok");
  assert.equal(putRecord.files, files);
  assert.equal(putRecord.size, size);
  assert.equal(putRecord.bytes, size);
  const lines: string[] = [];
  new Logger("text", (line) => lines.push(line)).request(putRecord, 10);
  assert.match(
    lines[0]!,
    new RegExp(`put-folder "photos" ${size} B .* files=${files} size=${size} ok`),
  );
});

test("a put-folder into a folder, and nested get and put of files", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  await makePhotos(local.path);
  await Deno.mkdir(join(served.path, "albums"));
  await using s = serveFolder(served.path);
  const put = await putFolder(s.port, "albums/photos", join(local.path, "photos"));
  assert.equal(put.last?.code, "done");
  assert.deepEqual(
    await snapshot(join(served.path, "albums/photos")),
    await snapshot(join(local.path, "photos")),
  );

  // get of a nested file.
  {
    using c = await command(s.port, { op: "get", name: "albums/photos/2024/Beach.jpg", offset: 0 });
    const pass = await c.reply();
    assert.deepEqual(pass, { code: "pass", size: 1000, offset: 0 });
    const body = new Uint8Array(1000);
    await c.wire.readFull(body);
    assert.deepEqual(body, await Deno.readFile(join(local.path, "photos/2024/Beach.jpg")));
  }
  // put of a file into a folder that exists.
  {
    using c = await command(s.port, { op: "put", name: "albums/new.txt", size: 5, resume: true });
    assert.deepEqual(await c.reply(), { code: "pass", offset: 0 });
    await writeRaw(
      c.conn,
      '{"offset":0}\nhello{"sha256":"' +
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" + '"}\n',
    );
    assert.equal((await c.reply()).code, "done");
    assert.equal(await Deno.readTextFile(join(served.path, "albums/new.txt")), "hello");
    assert.ok(
      ![...Deno.readDirSync(join(served.path, "albums"))].some((e) => e.name.startsWith(".")),
      "the partial stays in the top folder, and is gone",
    );
  }
  // put into a folder that does not exist, or is a file: not-found, nothing written.
  const before = await snapshot(served.path);
  for (const name of ["nowhere/new.txt", "albums/new.txt/x", "albums/photos/zero/x"]) {
    using c = await command(s.port, { op: "put", name, size: 5, resume: true });
    const reply = await c.reply();
    assert.equal(reply.code, "cancel", name);
    assert.equal(reply.code === "cancel" && reply.reason, "not-found", name);
  }
  {
    using c = await command(s.port, { op: "put", name: "nowhere/new.txt", size: 5, resume: true });
    const reply = await c.reply();
    assert.equal(
      reply.code === "cancel" && reply.message,
      'No folder "nowhere" on the server: create it first',
    );
  }
  // put of a name that exists in a folder.
  {
    using c = await command(s.port, { op: "put", name: "albums/new.txt", size: 5, resume: true });
    const reply = await c.reply();
    assert.equal(reply.code === "cancel" && reply.reason, "exists");
  }
  assert.deepEqual(await snapshot(served.path), before);
});

test("a classic request stays in the top folder: a name with a slash is refused", async () => {
  await using served = await tempDir();
  await Deno.mkdir(join(served.path, "photos"));
  await Deno.writeTextFile(join(served.path, "photos/a.txt"), "nested");
  await using s = serveFolder(served.path, { classicPauseMs: 0 });
  for (const message of ["get,photos/a.txt", "put,photos/b.txt"]) {
    const conn = await Deno.connect({ hostname: HOST, port: s.port });
    try {
      await writeRaw(conn, message);
      const reply = new Uint8Array(32);
      const n = await conn.read(reply);
      assert.equal(new TextDecoder().decode(reply.subarray(0, n ?? 0)), "cancel", message);
    } finally {
      conn.close();
    }
  }
  assert.deepEqual([...(await snapshot(served.path)).keys()], ["photos", "photos/a.txt"]);
});

test("a get of a folder without folders:true is refused as a folder this client cannot fetch", async () => {
  await using served = await tempDir();
  await Deno.mkdir(join(served.path, "photos"));
  await using s = serveFolder(served.path);
  using c = await command(s.port, { op: "get", name: "photos", offset: 0 });
  const reply = await c.reply();
  assert.equal(reply.code, "cancel");
  assert.equal(reply.code === "cancel" && reply.reason, "not-found");
  assert.match(
    reply.code === "cancel" ? reply.message : "",
    /"photos" is a folder, which this client cannot fetch/,
  );
});

test("list: files only for older clients, folders with recursive counts with folders:true", async () => {
  await using served = await tempDir();
  await using outside = await tempDir();
  await makePhotos(served.path);
  await Deno.writeTextFile(join(served.path, "top.txt"), "top");
  await Deno.writeTextFile(join(outside.path, "secret"), "outside");
  await Deno.mkdir(join(outside.path, "many"));
  await Deno.writeTextFile(join(outside.path, "many/x"), "x");
  // Links are neither listed nor followed nor counted; own hidden entries neither.
  await Deno.symlink(join(outside.path, "many"), join(served.path, "photos/2024/linked"));
  await Deno.symlink(join(outside.path, "secret"), join(served.path, "photos/secret"));
  await Deno.mkdir(
    join(served.path, "photos/.privateshare-folder-" + "a".repeat(32) + "-" + "b".repeat(32)),
    { mode: 0o700 },
  );
  await Deno.writeTextFile(join(served.path, "photos/2024/.privateshare-tmp-x"), "hidden");
  await using s = serveFolder(served.path);
  const listing = async (cmd: Record<string, unknown>) => {
    const conn = await Deno.connect({ hostname: HOST, port: s.port });
    try {
      await writeRaw(conn, "PS/2 " + JSON.stringify({ op: "list", ...cmd }) + "\n");
      const first = JSON.parse((await readRawLine(conn))!);
      if (first.code !== "pass") return first;
      const entries = [];
      for (let i = 0; i < first.count; i++) entries.push(JSON.parse((await readRawLine(conn))!));
      return entries;
    } finally {
      conn.close();
    }
  };
  const top = await listing({});
  assert.deepEqual(top.map((e: { name: string }) => e.name), ["top.txt"]);
  const topWithFolders = await listing({ folders: true });
  const photos = topWithFolders.find((e: { name: string }) => e.name === "photos");
  assert.deepEqual(Object.keys(photos), ["name", "type", "files", "size", "mtime"]);
  assert.equal(photos.type, "folder");
  assert.equal(photos.files, 35);
  assert.equal(photos.size, 200_000 + 1_000 + 9 + 3 * 1024 * 1024 + 7 + (30 * 100 + 435));
  assert.deepEqual(topWithFolders.map((e: { name: string }) => e.name), ["photos", "top.txt"]);

  const inside = await listing({ folder: "photos", folders: true });
  assert.deepEqual(inside.map((e: { name: string }) => e.name), [
    "2024",
    "café ☕.txt",
    "zero",
    "zz",
  ]);
  const year = inside.find((e: { name: string }) => e.name === "2024");
  assert.equal(year.files, 32);
  const filesOnly = await listing({ folder: "photos/2024" });
  assert.equal(filesOnly.length, 32);
  assert.ok(filesOnly.every((e: { type?: string }) => e.type === undefined));
  const emptyFolder = await listing({ folder: "photos/2024", folders: true });
  assert.deepEqual(emptyFolder.find((e: { name: string }) => e.name === "empty"), {
    name: "empty",
    type: "folder",
    files: 0,
    size: 0,
    mtime: emptyFolder.find((e: { name: string }) => e.name === "empty").mtime,
  });
  for (const folder of ["nowhere", "top.txt", "photos/2024/linked", "photos/secret"]) {
    const refused = await listing({ folder, folders: true });
    assert.equal(refused.reason, "not-found", folder);
  }
  const invalid = await listing({ folder: "../x" });
  assert.equal(invalid.reason, "invalid-name");
});

test("put-folder refusals: exists, busy, read-only, too-large, parent missing", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  await makePhotos(local.path);
  await Deno.mkdir(join(served.path, "taken"));
  await using s = serveFolder(served.path, {
    folderLimits: {
      maxFiles: 40,
      maxFolders: 100,
      maxDepth: 32,
      maxPathBytes: 4096,
      maxNamesBytes: 1 << 20,
    },
  });
  const reason = async (cmd: Record<string, unknown>) => {
    using c = await command(
      s.port,
      { op: "put-folder", files: 1, folders: 0, size: 1, ...cmd } as never,
    );
    const reply = await c.reply();
    return reply.code === "cancel" ? reply.reason : reply.code;
  };
  assert.equal(await reason({ name: "taken" }), "exists");
  assert.equal(await reason({ name: "nowhere/new" }), "not-found");
  assert.equal(await reason({ name: "new", files: 41 }), "too-large");
  assert.equal(await reason({ name: "new", folders: 101 }), "too-large");
  assert.equal(await reason({ name: "../new" }), "invalid-name");
  // One put-folder of a name at a time: the first holds its name after pass.
  using first = await command(s.port, {
    op: "put-folder",
    name: "new",
    files: 1,
    folders: 0,
    size: 1,
  });
  assert.deepEqual(await first.reply(), { code: "pass" });
  assert.equal(await reason({ name: "new" }), "busy");
  using file = await command(s.port, { op: "put", name: "new", size: 1, resume: true });
  const fileReply = await file.reply();
  assert.equal(
    fileReply.code === "cancel" && fileReply.reason,
    "busy",
    "a file put of the name too",
  );
  first.conn.close();
  await using readOnly = serveFolder(served.path, { readOnly: true });
  using c = await command(readOnly.port, {
    op: "put-folder",
    name: "new",
    files: 1,
    folders: 0,
    size: 1,
  });
  const refused = await c.reply();
  assert.equal(refused.code === "cancel" && refused.reason, "read-only");
});

test("put-folder checks free space: a real statfs refuses a size no disk has", async () => {
  await using served = await tempDir();
  await using s = serveFolder(served.path);
  using c = await command(s.port, {
    op: "put-folder",
    name: "huge",
    files: 1,
    folders: 0,
    size: 2 ** 52,
  });
  const reply = await c.reply();
  assert.equal(reply.code === "cancel" && reply.reason, "no-space");
  assert.match(reply.code === "cancel" ? reply.message : "", /free some space/);
  assert.deepEqual([...(await snapshot(served.path)).keys()], []);
});

test("put-folder checks free space: an injected full disk refuses before anything is written", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  await makePhotos(local.path);
  let free = 1024 * 1024; // fault injection: the server's free-space probe says 1 MiB
  await using s = serveFolder(served.path, { freeSpace: () => Promise.resolve(free) });
  const refused = await putFolder(s.port, "photos", join(local.path, "photos"));
  assert.equal(refused.first.code === "cancel" && refused.first.reason, "no-space");
  assert.deepEqual([...(await snapshot(served.path)).keys()], []);
  free = 1024 ** 3;
  const put = await putFolder(s.port, "photos", join(local.path, "photos"));
  assert.equal(put.last?.code, "done");
});

/** Announces a folder put of `size` bytes in one file; the reply, and the connection. */
async function announce(port: number, name: string, size: number) {
  const c = await command(port, { op: "put-folder", name, files: 1, folders: 0, size });
  return { c, reply: await c.reply() };
}

const MARGIN = 1024 * 1024; // FREE_SPACE_MARGIN
const S = 10 * 1024 * 1024;

test("free space is promised to folder puts under way (fault injection: free space injected): two that each fit alone but not together, the second is refused no-space; once the first ends, another is accepted", async () => {
  await using served = await tempDir();
  // One byte short of room for both.
  await using s = serveFolder(served.path, {
    freeSpace: () => Promise.resolve(2 * S + MARGIN - 1),
  });
  const first = await announce(s.port, "a", S);
  using _first = first.c;
  assert.deepEqual(first.reply, { code: "pass" });
  const second = await announce(s.port, "b", S);
  using _second = second.c;
  assert.equal(second.reply.code === "cancel" && second.reply.reason, "no-space");
  assert.match(
    second.reply.code === "cancel" ? second.reply.message : "",
    /promised to folder puts under way.*try again when they end/,
  );
  // The first ends (its client goes away): its promise is released with it.
  first.c.conn.close();
  await until(() =>
    ends(s.events).some((e) => e.record.op === "put-folder" && e.record.name === "a")
  );
  const third = await announce(s.port, "c", S);
  using _third = third.c;
  assert.deepEqual(third.reply, { code: "pass" });
});

test("free space is promised to folder puts under way (fault injection: free space injected): at exactly room for both, both are accepted", async () => {
  await using served = await tempDir();
  await using s = serveFolder(served.path, { freeSpace: () => Promise.resolve(2 * S + MARGIN) });
  const first = await announce(s.port, "a", S);
  using _first = first.c;
  assert.deepEqual(first.reply, { code: "pass" });
  const second = await announce(s.port, "b", S);
  using _second = second.c;
  assert.deepEqual(second.reply, { code: "pass" });
});

test("free space promised to a folder put is released when it commits and when it fails (fault injection: free space injected)", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  await makePhotos(local.path);
  const tree = await snapshot(join(local.path, "photos"));
  const size = [...tree.values()].reduce((n, v) => n + (v instanceof Uint8Array ? v.length : 0), 0);
  // Room for one photos at a time, one byte short of two.
  await using s = serveFolder(served.path, {
    freeSpace: () => Promise.resolve(2 * size + MARGIN - 1),
  });
  for (const name of ["p1", "p2", "p3"]) {
    const put = await putFolder(s.port, name, join(local.path, "photos"));
    assert.equal(put.last?.code, "done", `${name}: ${JSON.stringify(put)}`);
  }
  // A put that fails its SHA-256 ends, and its promise with it.
  {
    using c = await command(s.port, {
      op: "put-folder",
      name: "bad",
      files: 1,
      folders: 0,
      size: size,
    });
    assert.deepEqual(await c.reply(), { code: "pass" });
    await writeRaw(c.conn, `{"path":"a","size":${size}}\n`);
    assert.equal(await readRawLine(c.conn), '{"end":true}');
    await writeRaw(c.conn, `{"path":"a","offset":0}\n`);
    await writeRaw(c.conn, new Uint8Array(size));
    await writeRaw(c.conn, `{"sha256":"${"0".repeat(64)}"}\n`);
    const reply = await c.reply();
    assert.equal(reply.code === "cancel" && reply.reason, "corrupt");
  }
  await until(() =>
    ends(s.events).some((e) => e.record.op === "put-folder" && e.record.name === "bad")
  );
  const last = await putFolder(s.port, "p4", join(local.path, "photos"));
  assert.equal(last.last?.code, "done", JSON.stringify(last));
});

test("a cut put-folder resumes: complete files are not sent again, the result is whole", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  await makePhotos(local.path);
  await using s = serveFolder(served.path);
  const cut = await putFolder(s.port, "photos", join(local.path, "photos"), 12);
  assert.equal(cut.sent.length, 12);
  await until(() => ends(s.events).some((e) => e.record.op === "put-folder"));
  assert.equal(ends(s.events)[0]!.record.outcome, "closed");
  assert.equal(await Deno.lstat(join(served.path, "photos")).catch(() => null), null);
  const work = [...Deno.readDirSync(served.path)].map((e) => e.name);
  assert.equal(work.length, 1);
  assert.match(work[0]!, /^\.privateshare-folder-[0-9a-f]{32}-[0-9a-f]{32}$/);
  assert.equal(Deno.lstatSync(join(served.path, work[0]!)).mode! & 0o777, 0o700);

  // Hidden from every listing while it waits.
  {
    using c = await command(s.port, { op: "list", folders: true });
    assert.deepEqual(await c.reply(), { code: "pass", count: 0 });
  }
  const resumed = await putFolder(s.port, "photos", join(local.path, "photos"));
  assert.equal(resumed.last?.code, "done");
  assert.deepEqual(resumed.held.sort(), cut.sent.sort(), "the files that arrived are held");
  for (const path of resumed.held) assert.ok(!resumed.sent.includes(path), `${path} not resent`);
  assert.deepEqual(
    await snapshot(join(served.path, "photos")),
    await snapshot(join(local.path, "photos")),
  );
  assert.deepEqual([...Deno.readDirSync(served.path)].map((e) => e.name), ["photos"]);
});

test("a put-folder whose file fails its SHA-256 is refused corrupt and keeps the other files", async () => {
  await using served = await tempDir();
  await using s = serveFolder(served.path);
  using c = await command(s.port, { op: "put-folder", name: "f", files: 2, folders: 0, size: 6 });
  assert.deepEqual(await c.reply(), { code: "pass" });
  await writeRaw(c.conn, '{"path":"a","size":3}\n{"path":"b","size":3}\n');
  assert.equal(await readRawLine(c.conn), '{"end":true}');
  const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  await writeRaw(c.conn, `{"path":"a","offset":0}\nabc{"sha256":"${abc}"}\n`);
  await writeRaw(c.conn, `{"path":"b","offset":0}\nxyz{"sha256":"${abc}"}\n`);
  const reply = await c.reply();
  assert.equal(reply.code === "cancel" && reply.reason, "corrupt");
  await until(() => ends(s.events).length === 1);
  const tree = await snapshot(served.path);
  const paths = [...tree.keys()];
  assert.equal(paths.length, 2, paths.join(", "));
  assert.match(paths[1]!, /^\.privateshare-folder-[0-9a-f]{32}-[0-9a-f]{32}\/a$/);
});
