// The library's folders against the real server in this process: put of a
// local folder (links skipped and reported, never followed), put into a
// folder with `to`, get of a folder (exists refused unless force, which
// replaces only once the new one is whole), list of a folder, a cancelled
// get resumed, and trailing slashes accepted.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ClientError, get, list, put } from "../lib/mod.ts";
import { randomBytes, serveFolder, tempDir, test, until } from "./helpers.ts";
import { contents, makeTree } from "./support/folders.ts";

test("put of a folder, then get of it: the same tree, links skipped and reported", async () => {
  await using local = await tempDir();
  await using served = await tempDir();
  await using back = await tempDir();
  await makeTree(join(local.path, "photos"));
  await Deno.writeTextFile(join(local.path, "secret"), "outside");
  await Deno.symlink(join(local.path, "secret"), join(local.path, "photos/link.txt"));
  await Deno.symlink(local.path, join(local.path, "photos/2024/up"));
  await using server = serveFolder(served.path);
  const options = { host: "127.0.0.1", port: server.port };
  const sent = await put(join(local.path, "photos/"), options);
  assert.equal(sent.type, "folder");
  assert.equal(sent.name, "photos");
  assert.deepEqual(sent.skipped?.map((s) => `${s.path}:${s.kind}`).sort(), [
    "2024/up:link",
    "link.txt:link",
  ]);
  const expected = await contents(join(local.path, "photos"));
  expected.delete("link.txt");
  expected.delete("2024/up");
  assert.deepEqual(await contents(join(served.path, "photos")), expected);
  assert.equal(sent.files, [...expected.values()].filter((v) => v !== null).length);

  const got = await get("photos/", { ...options, output: back.path });
  assert.equal(got.type, "folder");
  assert.equal(got.files, sent.files);
  assert.equal(got.size, sent.size);
  assert.deepEqual(await contents(join(back.path, "photos")), expected);
  assert.deepEqual([...Deno.readDirSync(back.path)].map((e) => e.name), ["photos"]);
});

test("put with `to` puts a file or a folder into a folder; list shows folders", async () => {
  await using local = await tempDir();
  await using served = await tempDir();
  await Deno.mkdir(join(served.path, "photos"));
  await Deno.writeFile(join(local.path, "apple.jpg"), randomBytes(1000, 5));
  await Deno.mkdir(join(local.path, "trip"));
  await Deno.writeFile(join(local.path, "trip/a.txt"), randomBytes(10, 6));
  await using server = serveFolder(served.path);
  const options = { host: "127.0.0.1", port: server.port };
  const file = await put(join(local.path, "apple.jpg"), { ...options, to: "photos/" });
  assert.equal(file.name, "photos/apple.jpg");
  const folder = await put(join(local.path, "trip"), { ...options, to: "photos" });
  assert.equal(folder.name, "photos/trip");
  const top = await list(options);
  assert.deepEqual(top.map((f) => [f.name, f.type, f.files, f.size]), [
    ["photos", "folder", 2, 1010],
  ]);
  const inside = await list({ ...options, folder: "photos/" });
  assert.deepEqual(inside.map((f) => [f.name, f.type, f.files, f.size]), [
    ["apple.jpg", undefined, undefined, 1000],
    ["trip", "folder", 1, 10],
  ]);
  // A file inside a folder comes back under its last name.
  await using back = await tempDir();
  const got = await get("photos/apple.jpg", { ...options, output: back.path });
  assert.equal(got.path, join(back.path, "apple.jpg"));
  assert.deepEqual(await Deno.readFile(got.path), randomBytes(1000, 5));
});

test("get of a folder that exists locally is refused, and force replaces it whole", async () => {
  await using served = await tempDir();
  await using back = await tempDir();
  await makeTree(join(served.path, "photos"));
  await Deno.mkdir(join(back.path, "photos"));
  await Deno.writeTextFile(join(back.path, "photos/mine.txt"), "mine");
  await using server = serveFolder(served.path);
  const options = { host: "127.0.0.1", port: server.port, output: back.path };
  await assert.rejects(
    () => get("photos", options),
    (e) => e instanceof ClientError && e.kind === "local" && e.code === "exists",
  );
  assert.deepEqual([...Deno.readDirSync(join(back.path, "photos"))].map((e) => e.name), [
    "mine.txt",
  ]);
  assert.deepEqual([...Deno.readDirSync(back.path)].map((e) => e.name), ["photos"]);
  await get("photos", { ...options, force: true });
  assert.deepEqual(
    await contents(join(back.path, "photos")),
    await contents(join(served.path, "photos")),
  );
  assert.deepEqual([...Deno.readDirSync(back.path)].map((e) => e.name), ["photos"]);
});

test("a put of a folder that exists on the server is refused `exists`", async () => {
  await using local = await tempDir();
  await using served = await tempDir();
  await makeTree(join(local.path, "photos"));
  await Deno.mkdir(join(served.path, "photos"));
  await using server = serveFolder(served.path);
  await assert.rejects(
    () => put(join(local.path, "photos"), { host: "127.0.0.1", port: server.port }),
    (e) => e instanceof ClientError && e.kind === "refused" && e.reason === "exists",
  );
  assert.deepEqual([...Deno.readDirSync(join(served.path, "photos"))], []);
});

test("a cancelled folder get keeps its work, and the next get resumes it", async () => {
  await using served = await tempDir();
  await using back = await tempDir();
  await makeTree(join(served.path, "photos"));
  await using server = serveFolder(served.path);
  const controller = new AbortController();
  const options = { host: "127.0.0.1", port: server.port, output: back.path };
  let files = 0;
  await assert.rejects(
    () =>
      get("photos", {
        ...options,
        signal: controller.signal,
        onProgress: (p) => {
          if ((p.files ?? 0) >= 10 && !controller.signal.aborted) {
            files = p.files!;
            controller.abort();
          }
        },
      }),
    (e) => e instanceof ClientError && e.code === "cancelled",
  );
  assert.ok(files >= 10);
  assert.deepEqual([...Deno.readDirSync(back.path)].map((e) => e.name), [
    ".photos.privateshare-partial",
  ]);
  const got = await get("photos", options);
  assert.ok(got.kept! >= 10, `${got.kept} files kept`);
  assert.deepEqual(
    await contents(join(back.path, "photos")),
    await contents(join(served.path, "photos")),
  );
  assert.deepEqual([...Deno.readDirSync(back.path)].map((e) => e.name), ["photos"]);
});

test("a working folder that is not the client's own is refused, and left as it was", async () => {
  await using served = await tempDir();
  await using back = await tempDir();
  await makeTree(join(served.path, "photos"));
  const work = join(back.path, ".photos.privateshare-partial");
  await Deno.mkdir(work, { mode: 0o755 });
  await Deno.chmod(work, 0o755);
  await Deno.writeTextFile(join(work, "theirs.txt"), "theirs");
  await using server = serveFolder(served.path);
  await assert.rejects(
    () => get("photos", { host: "127.0.0.1", port: server.port, output: back.path }),
    (e) => e instanceof ClientError && e.code === "in-the-way" && /is in the way/.test(e.message),
  );
  assert.deepEqual([...await contents(back.path)].map(([p]) => p), [
    ".photos.privateshare-partial",
    ".photos.privateshare-partial/theirs.txt",
  ]);
});

test("a folder is not saved over a file path, nor a local folder over a remote file", async () => {
  await using served = await tempDir();
  await using back = await tempDir();
  await makeTree(join(served.path, "photos"));
  await Deno.writeTextFile(join(served.path, "notes"), "a file");
  await Deno.mkdir(join(back.path, "notes"));
  await using server = serveFolder(served.path);
  const options = { host: "127.0.0.1", port: server.port };
  await assert.rejects(
    () => get("photos", { ...options, output: join(back.path, "pics") }),
    (e) =>
      e instanceof ClientError && e.kind === "local" && /save it into a folder/.test(e.message),
  );
  await assert.rejects(
    () => get("notes", { ...options, output: back.path, force: true }),
    (e) =>
      e instanceof ClientError && e.kind === "local" && /is a folder, not a file/.test(e.message),
  );
  assert.deepEqual([...await contents(back.path)].map(([p]) => p), ["notes"]);
});

test("a folder get without resume starts its working folder over", async () => {
  await using served = await tempDir();
  await using back = await tempDir();
  await makeTree(join(served.path, "photos"));
  await using server = serveFolder(served.path);
  const controller = new AbortController();
  const options = { host: "127.0.0.1", port: server.port, output: back.path };
  await assert.rejects(() =>
    get("photos", {
      ...options,
      signal: controller.signal,
      onProgress: (p) => (p.files ?? 0) >= 5 && controller.abort(),
    })
  );
  const got = await get("photos", { ...options, resume: false });
  assert.equal(got.kept, 0);
  assert.deepEqual(
    await contents(join(back.path, "photos")),
    await contents(join(served.path, "photos")),
  );
});

test("a folder put without resume sends every file again, over what the server held", async () => {
  await using local = await tempDir();
  await using served = await tempDir();
  await makeTree(join(local.path, "photos"));
  await using server = serveFolder(served.path);
  const options = { host: "127.0.0.1", port: server.port };
  const controller = new AbortController();
  // Cut inside the large file, which comes last: the server holds every small one.
  await assert.rejects(() =>
    put(join(local.path, "photos"), {
      ...options,
      signal: controller.signal,
      onProgress: (p) => p.done > (p.total ?? Infinity) - 1024 * 1024 && controller.abort(),
    })
  );
  // The client has given up before the server saw the connection end: wait for its record, or the
  // next put meets "Another upload of photos is in progress" (seen on a busy machine).
  await until(() =>
    server.events.some((e) => e.type === "request-end" && e.record.op === "put-folder")
  );
  const work = [...Deno.readDirSync(served.path)].map((e) => e.name);
  assert.equal(work.length, 1);
  assert.match(work[0]!, /^\.privateshare-folder-/);
  const sent = await put(join(local.path, "photos"), { ...options, resume: false });
  assert.equal(sent.kept, 0, "nothing the server held is kept");
  assert.equal(sent.resumedFrom, 0);
  assert.deepEqual(
    await contents(join(served.path, "photos")),
    await contents(join(local.path, "photos")),
  );
});
