// The folder exchange both ends share (lib/exchange/folder*.ts), in process
// over a real TCP connection: a walked folder travels whole (nested and
// empty folders, Unicode, names differing only in case), links and FIFOs
// are left out and reported, an interrupted transfer resumes without
// resending complete files, and the commit never replaces an existing
// folder. No fault injection: the interruption is a real closed connection.

import assert from "node:assert/strict";
import { join } from "node:path";
import { Wire } from "../lib/net/wire.ts";
import { FOLDER_LIMITS } from "../lib/protocol/paths.ts";
import { CancelError } from "../lib/protocol/errors.ts";
import { Dir } from "../lib/transfer/dir.ts";
import { ChunkPool } from "../lib/transfer/pool.ts";
import { walkFolder } from "../lib/transfer/tree_walk.ts";
import {
  readHave,
  readManifest,
  receiveFolderData,
  sendFolderData,
  sendHave,
  sendManifest,
} from "../lib/exchange/folder.ts";
import { FolderReceiver } from "../lib/exchange/folder_receive.ts";
import { openOwnFolder } from "../lib/exchange/folder_work.ts";
import { connPair, tempDir, test } from "./helpers.ts";
import { contents, makeTree } from "./support/folders.ts";

const pool = new ChunkPool(16 * 1024 * 1024);

/** The tree these tests move: `photos` in `root`, its large file last in the manifest's order. */
async function makePhotos(root: string): Promise<void> {
  await makeTree(join(root, "photos"), 5 * 1024 * 1024 + 7, 50);
}

/** Sends `photos` from one folder to another over a real connection; returns the receiver's end. */
async function transfer(
  from: string,
  to: string,
  options: { cutAfterFiles?: number; workName?: string } = {},
): Promise<{ kept: string[]; sent: string[]; arrived: number; error?: unknown }> {
  using pair = await connPair();
  const sendWire = new Wire(pair.client);
  const receiveWire = new Wire(pair.server);
  const kept: string[] = [];
  const sent: string[] = [];
  const workName = options.workName ?? ".photos.work";
  await using source = await Dir.open(join(from, "photos"));
  const { manifest } = await walkFolder(source);
  const sender = (async () => {
    await sendManifest(sendWire, manifest);
    const have = await readHave(sendWire, manifest);
    await sendFolderData(sendWire, source, manifest, have, {
      pool,
      onFile: (path, _size, wasKept) => (wasKept ? kept : sent).push(path),
    });
  })();
  sender.catch(() => {}); // awaited below; its failure after a cut is expected
  await using parent = await Dir.open(to);
  const received = await readManifest(receiveWire, {
    files: manifest.files.size,
    folders: manifest.folders.size,
    size: manifest.size,
  }, FOLDER_LIMITS);
  const existing = await openOwnFolder(parent, workName);
  let arrived = 0;
  const receiver = await FolderReceiver.start(parent, workName, received, {
    pool,
    onFile: () => {
      if (++arrived === options.cutAfterFiles) receiveWire.close();
    },
  }, existing);
  try {
    await sendHave(receiveWire, receiver.have());
    await receiveFolderData(receiveWire, receiver);
    await receiver.commit("photos", new CancelError("exists", "photos exists"));
  } catch (error) {
    await receiver.abort(true);
    await sender.catch(() => {});
    return { kept, sent, arrived, error };
  }
  await sender;
  return { kept, sent, arrived };
}

test("a folder travels whole: nested and empty folders, Unicode, names differing in case", async () => {
  await using a = await tempDir();
  await using b = await tempDir();
  await makePhotos(a.path);
  const result = await transfer(a.path, b.path);
  assert.equal(result.error, undefined);
  assert.deepEqual(await contents(join(b.path, "photos")), await contents(join(a.path, "photos")));
  assert.deepEqual(
    [...Deno.readDirSync(b.path)].map((e) => e.name),
    ["photos"],
    "no working folder is left",
  );
  // The private working folder's 0700 does not stay: a new folder's usual mode.
  await Deno.mkdir(join(b.path, "usual"));
  assert.equal(
    (await Deno.stat(join(b.path, "photos"))).mode! & 0o777,
    (await Deno.stat(join(b.path, "usual"))).mode! & 0o777,
  );
});

test("links and FIFOs in the folder are left out and reported, never followed", async () => {
  await using a = await tempDir();
  await Deno.mkdir(join(a.path, "photos/sub"), { recursive: true });
  await Deno.writeTextFile(join(a.path, "secret"), "outside");
  await Deno.writeTextFile(join(a.path, "photos/ok.txt"), "ok");
  await Deno.symlink(join(a.path, "secret"), join(a.path, "photos/link.txt"));
  await Deno.symlink(a.path, join(a.path, "photos/sub/up"));
  await new Deno.Command("mkfifo", { args: [join(a.path, "photos/fifo")] }).output();
  await using source = await Dir.open(join(a.path, "photos"));
  const { manifest, skipped } = await walkFolder(source);
  assert.deepEqual([...manifest.files.keys()], ["ok.txt"]);
  assert.deepEqual([...manifest.folders], ["sub"]);
  assert.deepEqual(
    skipped.map((s) => `${s.path}:${s.kind}`).sort(),
    ["fifo:special", "link.txt:link", "sub/up:link"],
  );
});

test("an interrupted folder resumes: complete files are not sent again", async () => {
  await using a = await tempDir();
  await using b = await tempDir();
  await makePhotos(a.path);
  const first = await transfer(a.path, b.path, { cutAfterFiles: 20 });
  assert.ok(first.error, "the cut transfer fails");
  assert.equal(await Deno.lstat(join(b.path, "photos")).catch(() => null), null);
  const second = await transfer(a.path, b.path);
  assert.equal(second.error, undefined);
  assert.ok(first.arrived >= 20 && first.arrived < 55, `${first.arrived} files arrived`);
  assert.equal(second.kept.length, first.arrived, "the files that arrived are not sent again");
  assert.deepEqual(await contents(join(b.path, "photos")), await contents(join(a.path, "photos")));
});

test("the commit never replaces a folder that appeared meanwhile, and keeps the work", async () => {
  await using a = await tempDir();
  await using b = await tempDir();
  await makePhotos(a.path);
  await Deno.mkdir(join(b.path, "photos"));
  await Deno.writeTextFile(join(b.path, "photos/mine.txt"), "mine");
  const result = await transfer(a.path, b.path);
  assert.ok(result.error instanceof CancelError && result.error.reason === "exists");
  assert.deepEqual([...Deno.readDirSync(join(b.path, "photos"))].map((e) => e.name), ["mine.txt"]);
});
