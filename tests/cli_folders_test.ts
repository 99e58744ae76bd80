// Folders through the client's command line, a subprocess against the real
// server in this process: several PATHs and NAMEs in one command, `--to`,
// list of folders, an existing folder refused on both sides (`--force`
// replaces the local one), links skipped and named, and a folder put killed
// halfway (SIGKILL, held at an exact byte by the relay) that a rerun
// completes without sending the complete files again.

import assert from "node:assert/strict";
import { join } from "node:path";
import type { ServerEvent } from "../lib/mod.ts";
import {
  CLIENT_RUN_PERMS,
  CLIENT_TS,
  denoRunArgs,
  randomBytes,
  runClient,
  serveFolder,
  startRelay,
  tempDir,
  test,
  until,
} from "./helpers.ts";
import { contents, makeTree } from "./support/folders.ts";

const ends = (events: ServerEvent[]) => events.filter((e) => e.type === "request-end");

test("CLI: put and get of a folder and a file in one command, list, --to", async () => {
  await using local = await tempDir();
  await using served = await tempDir();
  await using back = await tempDir();
  await makeTree(join(local.path, "photos"));
  await Deno.writeFile(join(local.path, "notes.txt"), randomBytes(5000, 9));
  await Deno.writeFile(join(local.path, "apple.jpg"), randomBytes(700, 8));
  await using server = serveFolder(served.path);
  const at = ["127.0.0.1", String(server.port)];

  const put = await runClient([...at, "put", "photos/", "notes.txt"], { cwd: local.path });
  assert.equal(put.code, 0, put.stderr);
  assert.match(put.stdout, /^put 2 items: 36 files, [\d.]+ MiB verified \(SHA-256\) in /);
  assert.deepEqual(
    await contents(join(served.path, "photos")),
    await contents(join(local.path, "photos")),
  );

  const to = await runClient([...at, "put", "apple.jpg", "--to", "photos/2024/"], {
    cwd: local.path,
  });
  assert.equal(to.code, 0, to.stderr);
  assert.match(to.stdout, /^put 'photos\/2024\/apple\.jpg': 700 B/);

  const list = await runClient([...at, "list"]);
  assert.equal(list.code, 0, list.stderr);
  const lines = list.stdout.trim().split("\n");
  assert.match(lines[0]!, /notes\.txt$/);
  assert.match(lines[1]!, /photos\/ {2}\(36 files\)$/);
  const inside = await runClient([...at, "list", "photos/2024/", "--json"]);
  assert.equal(inside.code, 0, inside.stderr);
  const entries = JSON.parse(inside.stdout) as { name: string; type?: string; files?: number }[];
  assert.deepEqual(
    entries.filter((e) => e.type === "folder").map((e) => [e.name, e.files]),
    [["empty", 0]],
  );
  assert.ok(entries.some((e) => e.name === "apple.jpg"));

  const get = await runClient([...at, "get", "photos/", "notes.txt", "-o", back.path]);
  assert.equal(get.code, 0, get.stderr);
  assert.match(get.stdout, /^get 2 items: 37 files, /);
  assert.deepEqual(
    await contents(join(back.path, "photos")),
    await contents(join(served.path, "photos")),
  );
  assert.deepEqual(
    await Deno.readFile(join(back.path, "notes.txt")),
    await Deno.readFile(join(local.path, "notes.txt")),
  );
  assert.deepEqual([...Deno.readDirSync(back.path)].map((e) => e.name).sort(), [
    "notes.txt",
    "photos",
  ]);
});

test("CLI: an existing folder is refused on both sides; --force replaces the local one", async () => {
  await using local = await tempDir();
  await using served = await tempDir();
  await makeTree(join(local.path, "photos"));
  await using server = serveFolder(served.path);
  const at = ["127.0.0.1", String(server.port)];
  assert.equal((await runClient([...at, "put", "photos"], { cwd: local.path })).code, 0);
  const again = await runClient([...at, "put", "photos"], { cwd: local.path });
  assert.equal(again.code, 3, again.stderr);
  assert.match(again.stderr, /exists/);

  await Deno.writeTextFile(join(local.path, "photos/mine.txt"), "mine");
  const before = await contents(join(local.path, "photos"));
  const get = await runClient([...at, "get", "photos"], { cwd: local.path });
  assert.equal(get.code, 6, get.stderr);
  assert.match(get.stderr, /'photos' exists: add --force/);
  assert.deepEqual(await contents(join(local.path, "photos")), before);
  assert.deepEqual([...Deno.readDirSync(local.path)].map((e) => e.name), ["photos"]);

  const forced = await runClient([...at, "get", "photos", "--force"], { cwd: local.path });
  assert.equal(forced.code, 0, forced.stderr);
  assert.deepEqual(
    await contents(join(local.path, "photos")),
    await contents(join(served.path, "photos")),
  );
  assert.deepEqual([...Deno.readDirSync(local.path)].map((e) => e.name), ["photos"]);
});

test("CLI: links in a local folder are skipped, each named on stderr, and counted", async () => {
  await using local = await tempDir();
  await using served = await tempDir();
  await Deno.mkdir(join(local.path, "photos/sub"), { recursive: true });
  await Deno.writeTextFile(join(local.path, "photos/ok.txt"), "ok");
  await Deno.writeTextFile(join(local.path, "secret"), "outside");
  await Deno.symlink(join(local.path, "secret"), join(local.path, "photos/link\u001b.txt"));
  await Deno.symlink(local.path, join(local.path, "photos/sub/up"));
  await using server = serveFolder(served.path);
  const result = await runClient(["127.0.0.1", String(server.port), "put", "photos"], {
    cwd: local.path,
  });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /1 file, 2 B verified \(SHA-256\).*; skipped 2 links\n$/);
  const skipped = result.stderr.trim().split("\n").sort();
  assert.equal(skipped.length, 2);
  assert.match(skipped[0]!, /^privateshare: skipped 'photos\/link\\x1b\.txt': it is a link/);
  assert.match(skipped[1]!, /^privateshare: skipped 'photos\/sub\/up': it is a link/);
  assert.deepEqual([...(await contents(join(served.path, "photos"))).keys()], ["ok.txt", "sub"]);
});

test("CLI: a folder put killed halfway resumes: identical, complete files not sent again", async () => {
  await using local = await tempDir();
  await using served = await tempDir();
  const big = 4 * 1024 * 1024;
  await makeTree(join(local.path, "photos"), big);
  await using server = serveFolder(served.path);
  // Held inside the last file, big.bin: every other file has arrived whole.
  const relay = startRelay(server.port, { holdAt: { direction: "up", bytes: 600_000 } });
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: denoRunArgs(
        CLIENT_TS,
        ["127.0.0.1", String(relay.port), "put", "photos"],
        CLIENT_RUN_PERMS,
      ),
      cwd: local.path,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await relay.reached("up", 600_000);
    child.kill("SIGKILL");
    await child.status;
    relay.cut();
    await until(() => ends(server.events).some((e) => e.record.op === "put-folder"));
  } finally {
    await relay.close();
  }
  assert.equal(await Deno.lstat(join(served.path, "photos")).catch(() => null), null);
  const rerun = await runClient(["127.0.0.1", String(server.port), "put", "photos"], {
    cwd: local.path,
  });
  assert.equal(rerun.code, 0, rerun.stderr);
  const kept = Number(/, (\d+) files? already there/.exec(rerun.stdout)?.[1]);
  assert.ok(kept >= 30, rerun.stdout);
  assert.deepEqual(
    await contents(join(served.path, "photos")),
    await contents(join(local.path, "photos")),
  );
  assert.deepEqual([...Deno.readDirSync(served.path)].map((e) => e.name), ["photos"]);
});
