// Hostile clients and a hostile served folder for the server's folders, in
// process with serveFolder() and raw bytes: manifests that climb out, name
// a drive or an absolute path, hide a backslash, have an empty segment, put
// a file under a file, repeat a path or do not match their counts are
// refused whole with nothing written (no working folder either); links
// planted in the served folder are never followed by nested get, put, list
// or a folder get; FIFOs are left out of a folder get and logged; the sweep
// removes only the server's own stale working folders. The last test runs
// the real server CLI with only the permissions README names.

import assert from "node:assert/strict";
import { join } from "node:path";
import { CancelError } from "../lib/protocol/errors.ts";
import { ManifestBuilder } from "../lib/protocol/folder.ts";
import { Store } from "../lib/server/store.ts";
import {
  jsonLine,
  readRawLine,
  serveFolder,
  startTestServer,
  tempDir,
  test,
  until,
  writeRaw,
} from "./helpers.ts";
import { command, getFolder, makePhotos, putFolder, snapshot } from "./support/folder_peer.ts";

const isRoot = Deno.uid() === 0;

/** Sends a put-folder of `name` with these totals and manifest lines; returns the reply after them. */
async function hostilePut(
  port: number,
  totals: { files: number; folders: number; size: number },
  lines: unknown[],
  name = "up",
): Promise<Record<string, unknown>> {
  using c = await command(port, { op: "put-folder", name, ...totals });
  const pass = await c.reply();
  assert.deepEqual(pass, { code: "pass" });
  await writeRaw(c.conn, lines.map((line) => jsonLine(line)).join(""));
  return JSON.parse((await readRawLine(c.conn))!);
}

test("hostile manifests are refused whole, with nothing written in the served folder", async () => {
  await using served = await tempDir();
  await Deno.mkdir(join(served.path, "a"));
  await Deno.writeTextFile(join(served.path, "a/keep.txt"), "keep");
  await using s = serveFolder(served.path);
  const before = await snapshot(served.path);
  const cases: [string, { files: number; folders: number; size: number }, unknown[], string][] = [
    ["parent", { files: 1, folders: 0, size: 1 }, [{ path: "../x", size: 1 }], "invalid-name"],
    ["climb", { files: 1, folders: 1, size: 1 }, [{ path: "a", type: "folder" }, {
      path: "a/../../x",
      size: 1,
    }], "invalid-name"],
    ["absolute", { files: 1, folders: 0, size: 1 }, [{ path: "/etc/x", size: 1 }], "invalid-name"],
    ["drive", { files: 1, folders: 0, size: 1 }, [{ path: "C:x", size: 1 }], "invalid-name"],
    ["backslash", { files: 1, folders: 0, size: 1 }, [{ path: "a\\x", size: 1 }], "invalid-name"],
    ["empty segment", { files: 1, folders: 1, size: 1 }, [{ path: "a", type: "folder" }, {
      path: "a//x",
      size: 1,
    }], "invalid-name"],
    ["reserved", { files: 1, folders: 0, size: 1 }, [{
      path: ".privateshare-partial-x",
      size: 1,
    }], "invalid-name"],
    ["file under a file", { files: 2, folders: 0, size: 2 }, [{ path: "f", size: 1 }, {
      path: "f/x",
      size: 1,
    }], "bad-request"],
    ["child before its folder", { files: 1, folders: 1, size: 1 }, [{ path: "d/x", size: 1 }, {
      path: "d",
      type: "folder",
    }], "bad-request"],
    ["duplicate", { files: 2, folders: 0, size: 2 }, [{ path: "x", size: 1 }, {
      path: "x",
      size: 1,
    }], "bad-request"],
    ["folder twice", { files: 0, folders: 2, size: 0 }, [{ path: "d", type: "folder" }, {
      path: "d",
      type: "folder",
    }], "bad-request"],
    ["counts", { files: 2, folders: 0, size: 2 }, [{ path: "d", type: "folder" }, {
      path: "d/x",
      size: 2,
    }], "bad-request"],
    ["size", { files: 1, folders: 0, size: 5 }, [{ path: "x", size: 4 }], "bad-request"],
    ["not json", { files: 1, folders: 0, size: 1 }, ["{nope"], "bad-request"],
  ];
  for (const [what, totals, lines, reason] of cases) {
    const reply = await hostilePut(s.port, totals, lines);
    assert.equal(reply.code, "cancel", what);
    assert.equal(reply.reason, reason, `${what}: ${reply.message}`);
    assert.ok(!String(reply.message).includes("\n"), "one line");
    assert.deepEqual(await snapshot(served.path), before, `${what}: nothing written`);
  }
  // Into a folder too: nothing written there either.
  const nested = await hostilePut(s.port, { files: 1, folders: 0, size: 1 }, [{
    path: "../../x",
    size: 1,
  }], "a/up");
  assert.equal(nested.reason, "invalid-name");
  assert.deepEqual(await snapshot(served.path), before);
});

test("data for a path the manifest does not list is refused, and the work kept for a resume", async () => {
  await using served = await tempDir();
  await using s = serveFolder(served.path);
  using c = await command(s.port, { op: "put-folder", name: "up", files: 1, folders: 0, size: 1 });
  await c.reply();
  await writeRaw(c.conn, jsonLine({ path: "x", size: 1 }));
  assert.equal(await readRawLine(c.conn), '{"end":true}');
  await writeRaw(c.conn, jsonLine({ path: "../y", offset: 0 }) + "z");
  const reply = JSON.parse((await readRawLine(c.conn))!);
  assert.equal(reply.reason, "invalid-name");
  c.conn.close();
  // Nothing outside the served folder, nothing visible in it.
  const names = [...(await snapshot(served.path)).keys()];
  assert.ok(names.every((n) => n.startsWith(".privateshare-folder-")), names.join(", "));
});

test("a link planted at a folder of a path makes nested get, put and list not-found, never followed", async () => {
  await using served = await tempDir();
  await using outside = await tempDir();
  await makePhotos(outside.path);
  // photos -> a folder outside; real/2024 -> the same outside folder's 2024.
  await Deno.symlink(join(outside.path, "photos"), join(served.path, "photos"));
  await Deno.mkdir(join(served.path, "real"));
  await Deno.symlink(join(outside.path, "photos/2024"), join(served.path, "real/2024"));
  const outsideBefore = await snapshot(outside.path);
  await using s = serveFolder(served.path);
  await using local = await tempDir();
  await makePhotos(local.path);
  for (const base of ["photos", "real"]) {
    const inLink = base === "photos" ? "photos/2024" : "real/2024";
    {
      using c = await command(s.port, { op: "get", name: `${inLink}/beach.jpg`, offset: 0 });
      const reply = await c.reply();
      assert.equal(reply.code === "cancel" && reply.reason, "not-found", `get through ${inLink}`);
    }
    {
      using c = await command(s.port, {
        op: "put",
        name: `${inLink}/new.jpg`,
        size: 1,
        resume: true,
      });
      const reply = await c.reply();
      assert.equal(reply.code === "cancel" && reply.reason, "not-found", `put through ${inLink}`);
    }
    {
      using c = await command(s.port, { op: "list", folder: inLink, folders: true });
      const reply = await c.reply();
      assert.equal(reply.code === "cancel" && reply.reason, "not-found", `list of ${inLink}`);
    }
    {
      await using into = await tempDir();
      const reply = await getFolder(s.port, inLink, into.path);
      assert.equal(reply.code === "cancel" && reply.reason, "not-found", `get of ${inLink}`);
    }
    const put = await putFolder(s.port, `${inLink}/new`, join(local.path, "photos"));
    assert.equal(put.first.code === "cancel" && put.first.reason, "not-found");
  }
  assert.deepEqual(await snapshot(outside.path), outsideBefore, "nothing written outside");
  assert.deepEqual([...(await snapshot(served.path)).keys()], ["photos", "real", "real/2024"]);
});

test("a folder get leaves links and FIFOs out, logs each once, and never follows them", async () => {
  await using served = await tempDir();
  await using outside = await tempDir();
  await Deno.writeTextFile(join(outside.path, "secret"), "outside");
  await Deno.mkdir(join(served.path, "photos/sub"), { recursive: true });
  await Deno.writeTextFile(join(served.path, "photos/ok.txt"), "ok");
  await Deno.symlink(join(outside.path, "secret"), join(served.path, "photos/link.txt"));
  await Deno.symlink(outside.path, join(served.path, "photos/sub/up"));
  const fifo = await new Deno.Command("mkfifo", { args: [join(served.path, "photos/fifo")] })
    .output();
  assert.ok(fifo.success);
  await using s = serveFolder(served.path);
  for (let round = 0; round < 2; round++) {
    await using into = await tempDir();
    const reply = await getFolder(s.port, "photos", into.path);
    assert.deepEqual(reply, { code: "pass", type: "folder", files: 1, folders: 1, size: 2 });
    assert.deepEqual([...(await snapshot(join(into.path, "photos"))).keys()], ["ok.txt", "sub"]);
  }
  const skipped = s.events.flatMap((e) =>
    e.type === "folder" && e.what === "skipped" ? [e.name] : []
  );
  assert.deepEqual(skipped.sort(), ["photos/fifo", "photos/link.txt", "photos/sub/up"]);
});

test("the sweep removes an old working folder of its own, and no look-alike", async () => {
  await using served = await tempDir();
  const hex = (c: string) => c.repeat(32);
  const old = new Date(Date.now() - 3 * 3600_000);
  const make = async (name: string, mode: number) => {
    const path = join(served.path, name);
    await Deno.mkdir(join(path, "inner"), { recursive: true });
    await Deno.writeTextFile(join(path, "inner/file"), "x");
    await Deno.chmod(path, mode);
    await Deno.utime(path, old, old);
    return path;
  };
  const own = `.privateshare-folder-${hex("a")}-${hex("b")}`;
  const fresh = `.privateshare-folder-${hex("c")}-${hex("d")}`;
  const openMode = `.privateshare-folder-${hex("e")}-${hex("f")}`;
  const otherName = `.privateshare-folder-${hex("a")}-short`;
  const notOwned = `.privateshare-folder-${hex("1")}-${hex("2")}`;
  await make(own, 0o700);
  await make(openMode, 0o755);
  await make(otherName, 0o700);
  await Deno.mkdir(join(served.path, fresh), { mode: 0o700 });
  await Deno.chmod(join(served.path, fresh), 0o700);
  if (isRoot) await Deno.chown(await make(notOwned, 0o700), 65534, 65534);
  // A link with the pattern's name to an old folder of ours: never followed.
  await using elsewhere = await tempDir();
  const target = join(elsewhere.path, "target");
  await Deno.mkdir(join(target, "inner"), { recursive: true });
  await Deno.writeTextFile(join(target, "inner/file"), "x");
  await Deno.chmod(target, 0o700);
  await Deno.utime(target, old, old);
  await Deno.symlink(target, join(served.path, `.privateshare-folder-${hex("9")}-${hex("8")}`));
  const store = new Store(served.path, { readOnly: false });
  try {
    assert.equal(await store.removeStalePartials(3600_000), 1);
    const left = [...Deno.readDirSync(served.path)].map((e) => e.name).sort();
    assert.ok(!left.includes(own), "the old own working folder is gone");
    for (const kept of [fresh, openMode, otherName, ...(isRoot ? [notOwned] : [])]) {
      assert.ok(left.includes(kept), `${kept} is kept`);
    }
    assert.ok(Deno.statSync(join(target, "inner/file")).isFile, "a link's target is untouched");
  } finally {
    await store.close();
  }
});

test("the real server, with only the permissions README names, takes and serves a folder", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  await using back = await tempDir();
  await makePhotos(local.path);
  // No --allow-sys: the user id is learnt from a file, free space is not checked.
  const server = await startTestServer({ root: served.path });
  try {
    const cut = await putFolder(server.port, "photos", join(local.path, "photos"), 5);
    assert.equal(cut.sent.length, 5);
    await server.waitFor((line) => line.op === "put-folder");
    const put = await putFolder(server.port, "photos", join(local.path, "photos"));
    assert.equal(put.last?.code, "done", JSON.stringify(put));
    assert.equal(put.held.length, 5, "the working folder was recognised as the server's own");
    await getFolder(server.port, "photos", back.path);
    assert.deepEqual(
      await snapshot(join(back.path, "photos")),
      await snapshot(join(local.path, "photos")),
    );
    const logged = await server.waitFor((line) =>
      line.op === "put-folder" && line.outcome === "ok"
    );
    assert.equal(logged.files, 35);
  } finally {
    await server.stop();
  }
});

test("the names limit of a folder counts bytes of UTF-8, not characters", () => {
  const limits = { maxFiles: 10, maxFolders: 10, maxNamesBytes: 10 };
  const builder = new ManifestBuilder(limits);
  builder.add({ path: "éééé", size: 1 }); // 4 characters, 8 bytes
  assert.throws(
    () => builder.add({ path: "éé", size: 1 }), // 2 characters, 4 bytes: 12 bytes in all
    (error) => error instanceof CancelError && error.reason === "too-large",
  );
  return Promise.resolve();
});

test("a put-folder's working folder in a subfolder is swept once stale", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  await makePhotos(local.path);
  await Deno.mkdir(join(served.path, "albums"));
  // Every working folder not in use is stale at once; the sweep runs every second.
  await using s = serveFolder(served.path, { partialTtlMs: 1 });
  const cut = await putFolder(s.port, "albums/photos", join(local.path, "photos"), 3);
  assert.equal(cut.sent.length, 3);
  await until(() => s.events.some((e) => e.type === "request-end"));
  await until(() => s.events.some((e) => e.type === "partials-removed"));
  assert.deepEqual([...(await snapshot(served.path)).keys()], ["albums"]);
});
