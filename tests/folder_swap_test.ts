// Folders swapped for links in the middle of a transfer, under the
// permissions README and the release build really use (not --allow-all,
// where /proc holds folders open): the server's folder get and folder put
// and the client's put of a folder never read or write a byte outside
// their folder, whatever is swapped while they run. The swaps are real
// renames and links, made at an exact point of a real transfer that the
// test holds (a client that stops reading, a relay that stops
// forwarding). The last tests run the swap as another user (root only):
// a folder that someone else could swap is refused up front, StrictModes-
// style, and the closest safe case (a sticky folder whose subfolder is
// ours) is still served.

import assert from "node:assert/strict";
import { join } from "node:path";
import { Wire } from "../lib/net/wire.ts";
import { encodeLine } from "../lib/protocol/ps2.ts";
import { ManifestBuilder } from "../lib/protocol/folder.ts";
import { readManifest, sendHave, sendManifest } from "../lib/exchange/folder.ts";
import { FOLDER_LIMITS } from "../lib/protocol/paths.ts";
import { PROGRAMS } from "../tools/build.ts";
import {
  ALL_PERMS,
  closeQuietly,
  randomBytes,
  readRawLine,
  ROOT,
  runClient,
  serveFolder,
  sha256Hex,
  startRelay,
  startTestServer,
  tempDir,
  test,
  TEST_DEADLINE_MS,
  until,
  within,
  writeRaw,
} from "./helpers.ts";
import { command, snapshot } from "./support/folder_peer.ts";

const isRoot = Deno.build.os !== "windows" && Deno.uid() === 0;
const SECRET = "SECRET!!";
const INSIDE = "inside-1";
const BIG = 32 * 1024 * 1024;

/** The server's permission sets: README's, and the released program's. */
const SERVER_PERMS: [string, string[]][] = [
  ["README's permissions", []],
  [
    "the release build's permissions",
    PROGRAMS[0]!.permissions.filter((p) => !ALL_PERMS.includes(p)),
  ],
];

/** Runs `args` as the user nobody (65534). */
async function asNobody(args: string[]): Promise<void> {
  const out = await new Deno.Command("setpriv", {
    args: ["--reuid=65534", "--regid=65534", "--clear-groups", "--", ...args],
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

function contains(haystack: Uint8Array, needle: string): boolean {
  return new TextDecoder("latin1").decode(haystack).includes(needle);
}

/** Reads everything until the peer closes (or fails), as bytes. */
async function drain(wire: Wire): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  try {
    while (true) {
      const chunk = new Uint8Array(1024 * 1024);
      const n = await wire.readInto(chunk);
      if (n === 0) break;
      parts.push(chunk.subarray(0, n));
    }
  } catch {
    // The server cut the connection: what came before counts.
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) all.set(p, (at += p.length) - p.length);
  return all;
}

for (const [what, perms] of SERVER_PERMS) {
  test(`server folder get: a folder swapped for a link mid-get sends nothing from outside (${what})`, async () => {
    await using served = await tempDir();
    await using outside = await tempDir();
    const sub = join(served.path, "photos/sub");
    await Deno.mkdir(sub, { recursive: true });
    await Deno.writeFile(join(sub, "a.bin"), randomBytes(BIG));
    await Deno.writeTextFile(join(sub, "key.txt"), INSIDE);
    await Deno.writeTextFile(join(outside.path, "key.txt"), SECRET);
    await Deno.writeFile(join(outside.path, "a.bin"), randomBytes(BIG, 2));
    const server = await startTestServer({ root: served.path, perms });
    try {
      using c = await command(server.port, { op: "get", name: "photos", offset: 0, folders: true });
      const first = await c.reply();
      assert.equal(first.code, "pass");
      await readManifest(c.wire, {
        files: first.files!,
        folders: first.folders!,
        size: first.size!,
      }, FOLDER_LIMITS);
      await sendHave(c.wire, (async function* () {})());
      // The first file's data has begun: the server holds photos/sub open.
      assert.equal(
        new TextDecoder().decode((await c.wire.readLine(1024))!),
        '{"path":"sub/a.bin","offset":0}',
      );
      await c.wire.readFull(new Uint8Array(1024 * 1024));
      await Deno.rename(sub, join(served.path, "photos/sub.moved"));
      await Deno.symlink(outside.path, sub);
      const rest = await drain(c.wire);
      assert.ok(!contains(rest, SECRET), "no byte of the outside file was sent");
      const line = await server.waitFor((l) => l.op === "get-folder" || l.op === "get");
      assert.notEqual(line.outcome, "ok", JSON.stringify(line));
    } finally {
      await server.stop();
    }
  });

  test(`server folder put: the working folder swapped for a link creates nothing outside (${what})`, async () => {
    await using served = await tempDir();
    await using outside = await tempDir();
    await Deno.writeTextFile(join(outside.path, "keep.txt"), "keep");
    const before = await snapshot(outside.path);
    const server = await startTestServer({ root: served.path, perms });
    try {
      const big = randomBytes(BIG);
      const key = new TextEncoder().encode("ssh-ed25519 AAAA attacker\n");
      const builder = new ManifestBuilder(FOLDER_LIMITS);
      builder.add({ path: "a.bin", size: big.length });
      builder.add({ path: "authorized_keys", size: key.length });
      const manifest = builder.manifest;
      using c = await command(server.port, {
        op: "put-folder",
        name: "up",
        files: 2,
        folders: 0,
        size: manifest.size,
      });
      assert.equal((await c.reply()).code, "pass");
      await sendManifest(c.wire, manifest);
      assert.equal(await readRawLine(c.conn), '{"end":true}');
      await writeRaw(c.conn, encodeLine({ path: "a.bin", offset: 0 }));
      await writeRaw(c.conn, big.subarray(0, 1024 * 1024));
      // The working folder exists and holds the first file's partial: swap it.
      let work = "";
      await until(async () => {
        for await (const e of Deno.readDir(served.path)) {
          if (e.name.startsWith(".privateshare-folder-")) work = e.name;
        }
        return work !== "" &&
          [...Deno.readDirSync(join(served.path, work))].length > 0;
      });
      await Deno.rename(join(served.path, work), join(served.path, "moved"));
      await Deno.symlink(outside.path, join(served.path, work));
      try {
        await writeRaw(c.conn, big.subarray(1024 * 1024));
        await writeRaw(c.conn, encodeLine({ sha256: sha256Hex(big) }));
        await writeRaw(c.conn, encodeLine({ path: "authorized_keys", offset: 0 }));
        await writeRaw(c.conn, key);
        await writeRaw(c.conn, encodeLine({ sha256: sha256Hex(key) }));
        await writeRaw(c.conn, encodeLine({ end: true }));
        const reply = await readRawLine(c.conn);
        assert.ok(!reply?.includes('"done"'), `the put did not succeed: ${reply}`);
      } catch {
        // The server cut the connection: that is a refusal too.
      }
      closeQuietly(c.conn);
      await server.waitFor((l) => l.op === "put-folder");
      assert.deepEqual(await snapshot(outside.path), before, "nothing written outside");
    } finally {
      await server.stop();
    }
  });
}

test("client put of a folder: a subfolder swapped for a link mid-put uploads nothing from outside (README's permissions)", async () => {
  await using local = await tempDir();
  await using outside = await tempDir();
  await using served = await tempDir();
  const sub = join(local.path, "photos/sub");
  await Deno.mkdir(sub, { recursive: true });
  await Deno.writeFile(join(sub, "a.bin"), randomBytes(BIG));
  await Deno.writeTextFile(join(sub, "key.txt"), INSIDE);
  await Deno.writeTextFile(join(outside.path, "key.txt"), SECRET);
  await using s = serveFolder(served.path);
  const relay = startRelay(s.port, { holdAt: { direction: "up", bytes: 2 * 1024 * 1024 } });
  try {
    const running = runClient(
      ["127.0.0.1", String(relay.port), "put", join(local.path, "photos")],
      { perms: ["--allow-net", "--allow-read", "--allow-env"] },
    );
    const early = await Promise.race([relay.reached("up", 2 * 1024 * 1024), running]);
    assert.equal(early, undefined, `the put stopped before its data: ${JSON.stringify(early)}`);
    await Deno.rename(sub, join(local.path, "photos/sub.moved"));
    await Deno.symlink(outside.path, sub);
    relay.release();
    const result = await running;
    assert.notEqual(result.code, 0, result.stdout + result.stderr);
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    for (const [path, bytes] of await snapshot(served.path)) {
      assert.ok(
        !(bytes instanceof Uint8Array && contains(bytes, SECRET)),
        `${path} holds no outside byte`,
      );
    }
  } finally {
    await relay.close();
  }
});

test("every call of an open folder whose path was swapped for a link stops before it touches anything outside (README's permissions)", async () => {
  await using root = await tempDir();
  await using outside = await tempDir();
  await Deno.mkdir(join(outside.path, "sub/deeper"), { recursive: true });
  await Deno.writeTextFile(join(outside.path, "sub/f.txt"), "SECRET");
  const before = await snapshot(outside.path);
  const probe = join(ROOT, "tests/support/dir_swap_probe.ts");
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-read", "--allow-write", probe, root.path, outside.path],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const results = JSON.parse(new TextDecoder().decode(out.stdout));
  for (const [operation, outcome] of Object.entries(results)) {
    assert.equal(outcome, "FolderChangedError", operation);
  }
  assert.equal(Object.keys(results).length, 10);
  assert.deepEqual(await snapshot(outside.path), before, "nothing created outside");
});

/** A test that needs root (to act as another user); CI runs as root. */
function rootTest(spec: { name: string; ignore: boolean; fn: () => Promise<void> }): void {
  Deno.test({
    name: spec.name,
    ignore: spec.ignore,
    fn: () => within(TEST_DEADLINE_MS, "The test", spec.fn),
  });
}

/** Makes `path` a folder owned by nobody, holding `file` with `text`, made by nobody. */
async function nobodysFolder(path: string, file: string, text: string): Promise<void> {
  await asNobody(["mkdir", path]);
  await asNobody(["sh", "-c", `printf %s "$1" > "$2"`, "sh", text, join(path, file)]);
}

rootTest({
  name:
    "as root: in a sticky served folder, another user's folder is not served (they could swap it), ours is",
  ignore: !isRoot,
  fn: async () => {
    await using served = await tempDir();
    await Deno.chmod(served.path, 0o1777);
    await Deno.mkdir(join(served.path, "mine"));
    await Deno.writeTextFile(join(served.path, "mine/a.txt"), "mine");
    await nobodysFolder(join(served.path, "theirs"), "b.txt", "theirs");
    const server = await startTestServer({ root: served.path });
    try {
      {
        using c = await command(server.port, { op: "get", name: "mine", offset: 0, folders: true });
        const reply = await c.reply();
        assert.equal(reply.code, "pass", JSON.stringify(reply));
      }
      {
        using c = await command(server.port, {
          op: "get",
          name: "theirs",
          offset: 0,
          folders: true,
        });
        const reply = await c.reply();
        assert.ok(reply.code === "cancel", JSON.stringify(reply));
        assert.equal(reply.reason, "not-found");
        assert.match(reply.message, /other users can change/);
        assert.ok(!reply.message.includes(served.path), "the client learns no server path");
      }
      {
        using c = await command(server.port, { op: "get", name: "theirs/b.txt", offset: 0 });
        const reply = await c.reply();
        assert.equal(reply.code === "cancel" && reply.reason, "not-found", JSON.stringify(reply));
      }
      const logged = await server.waitFor((l) =>
        l.outcome === "cancel" && /belongs to another user \(uid 65534\)/.test(String(l.message))
      );
      assert.ok(String(logged.message).includes("theirs"), JSON.stringify(logged));
    } finally {
      await server.stop();
    }
  },
});

rootTest({
  name:
    "as root: a served folder others may write to without the sticky bit takes files, and refuses folders",
  ignore: !isRoot,
  fn: async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    await Deno.chmod(served.path, 0o777);
    await Deno.mkdir(join(local.path, "up"));
    await Deno.writeTextFile(join(local.path, "up/a.txt"), "a");
    await Deno.writeTextFile(join(local.path, "x.txt"), "x");
    const server = await startTestServer({ root: served.path });
    try {
      const notice = await server.waitFor((l) => l.event === "folder-unsafe");
      assert.match(String(notice.message), /mode 777, no sticky bit/);
      assert.match(String(notice.message), /chmod \+t/);
      const file = await runClient([
        "127.0.0.1",
        String(server.port),
        "put",
        join(local.path, "x.txt"),
      ]);
      assert.equal(file.code, 0, file.stderr);
      const folder = await runClient([
        "127.0.0.1",
        String(server.port),
        "put",
        join(local.path, "up"),
      ]);
      assert.equal(folder.code, 3, folder.stderr);
      assert.match(folder.stderr, /other users can change/);
      assert.equal(folder.stderr.trim().split("\n").length, 1, folder.stderr);
      assert.deepEqual([...Deno.readDirSync(served.path)].map((e) => e.name), ["x.txt"]);
      // Closed to others again: the same folder put is taken.
      await Deno.chmod(served.path, 0o755);
      const again = await runClient([
        "127.0.0.1",
        String(server.port),
        "put",
        join(local.path, "up"),
      ]);
      assert.equal(again.code, 0, again.stderr);
    } finally {
      await server.stop();
    }
  },
});

rootTest({
  name:
    "as root: the client's put of a folder leaves out a folder another user could swap, and names it",
  ignore: !isRoot,
  fn: async () => {
    await using local = await tempDir();
    await using served = await tempDir();
    const photos = join(local.path, "photos");
    await Deno.chmod(local.path, 0o755);
    await Deno.mkdir(photos);
    await Deno.writeTextFile(join(photos, "a.txt"), "a");
    await Deno.chmod(photos, 0o777);
    await nobodysFolder(join(photos, "theirs"), "b.txt", "b");
    await using s = serveFolder(served.path);
    const result = await runClient(
      ["127.0.0.1", String(s.port), "put", photos],
      { perms: ["--allow-net", "--allow-read", "--allow-env"] },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /theirs/);
    assert.deepEqual([...(await snapshot(join(served.path, "photos"))).keys()], ["a.txt"]);
  },
});

test("the served folder removed and made again while the server runs: folders go to the new one (README's permissions)", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  await Deno.mkdir(join(local.path, "up"));
  await Deno.writeTextFile(join(local.path, "up/a.txt"), "a");
  const server = await startTestServer({ root: served.path });
  try {
    const at = ["127.0.0.1", String(server.port)];
    const first = await runClient([...at, "put", join(local.path, "up")]);
    assert.equal(first.code, 0, first.stderr);
    await Deno.remove(served.path, { recursive: true });
    await Deno.mkdir(served.path);
    const again = await runClient([...at, "put", join(local.path, "up")]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await Deno.readTextFile(join(served.path, "up/a.txt")), "a");
  } finally {
    await server.stop();
  }
});

rootTest({
  name:
    "as root: a group-writable folder counts as others' unless the group is its owner's own (root's group here), exactly",
  ignore: !isRoot,
  fn: async () => {
    await using served = await tempDir();
    await Deno.chmod(served.path, 0o755);
    for (const [name, gid] of [["own", 0], ["shared", 65534]] as const) {
      await Deno.mkdir(join(served.path, name, "inner"), { recursive: true });
      await Deno.writeTextFile(join(served.path, name, "inner/f.txt"), name);
      await Deno.chown(join(served.path, name), 0, gid);
      await Deno.chmod(join(served.path, name), 0o775);
    }
    const server = await startTestServer({ root: served.path });
    try {
      // nogroup is the primary group of several users: they could swap "inner".
      for (const [name, files] of [["own", 1], ["shared", 0]] as const) {
        using c = await command(server.port, { op: "get", name, offset: 0, folders: true });
        const reply = await c.reply();
        assert.ok(reply.code === "pass", JSON.stringify(reply));
        assert.equal(reply.files, files, name);
      }
      await server.waitFor((l) =>
        l.event === "folder-skipped" && /shared\/inner/.test(String(l.name ?? l.message))
      );
    } finally {
      await server.stop();
    }
  },
});

rootTest({
  name:
    "as root: a folder on the way to the served folder that others may change: the server says so at start and refuses folders",
  ignore: !isRoot,
  fn: async () => {
    await using outer = await tempDir();
    await Deno.chmod(outer.path, 0o777);
    const served = join(outer.path, "served");
    await Deno.mkdir(join(served, "photos"), { recursive: true });
    await Deno.writeTextFile(join(served, "photos/a.txt"), "a");
    await Deno.writeTextFile(join(served, "top.txt"), "top");
    const server = await startTestServer({ root: served });
    try {
      const notice = await server.waitFor((l) => l.event === "folder-unsafe");
      assert.ok(String(notice.message).includes(outer.path), String(notice.message));
      using c = await command(server.port, { op: "get", name: "photos", offset: 0, folders: true });
      const reply = await c.reply();
      assert.ok(reply.code === "cancel", JSON.stringify(reply));
      assert.equal(reply.reason, "not-found");
      // Files at the top are still served.
      const get = await runClient(["127.0.0.1", String(server.port), "list"]);
      assert.equal(get.code, 0, get.stderr);
      assert.match(get.stdout, /top\.txt/);
      // The same folder, once the way to it is closed to others, serves its folders.
      await Deno.chmod(outer.path, 0o755);
      using again = await command(server.port, {
        op: "get",
        name: "photos",
        offset: 0,
        folders: true,
      });
      assert.equal((await again.reply()).code, "pass");
    } finally {
      await server.stop();
    }
  },
});

rootTest({
  name:
    "as root: another user's folder in a folder of ours: its own files are served, not its subfolders (which they could swap)",
  ignore: !isRoot,
  fn: async () => {
    await using served = await tempDir();
    await Deno.chmod(served.path, 0o755);
    const theirs = join(served.path, "theirs");
    await Deno.mkdir(join(theirs, "sub"), { recursive: true });
    await Deno.writeTextFile(join(theirs, "f.txt"), "f");
    await Deno.writeTextFile(join(theirs, "sub/g.txt"), "g");
    for (
      const path of [theirs, join(theirs, "sub"), join(theirs, "f.txt"), join(theirs, "sub/g.txt")]
    ) {
      await Deno.chown(path, 65534, 65534);
    }
    const server = await startTestServer({ root: served.path });
    try {
      using c = await command(server.port, { op: "get", name: "theirs", offset: 0, folders: true });
      const reply = await c.reply();
      assert.ok(reply.code === "pass", JSON.stringify(reply));
      assert.deepEqual([reply.files, reply.folders], [1, 0], "f.txt alone");
    } finally {
      await server.stop();
    }
  },
});
