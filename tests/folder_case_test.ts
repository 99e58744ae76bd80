// Two names of a folder that the receiving file system holds as one (letter
// case on Windows and macOS, Unicode normalisation on macOS) are refused as
// `exists` before anything is written: two folders would otherwise merge
// silently, since an existing folder is reused for a resume. The file
// system decides: on Linux nothing folds, and such names travel apart. In
// process with manifests; the folding of a case-insensitive file system is
// injected (fault injection: this machine's file systems keep names apart),
// and the probe that learns it is checked on the real one.

import assert from "node:assert/strict";
import { join } from "node:path";
import { CancelError } from "../lib/protocol/errors.ts";
import { type Manifest, ManifestBuilder, type ManifestEntry } from "../lib/protocol/folder.ts";
import { FOLDER_LIMITS } from "../lib/protocol/paths.ts";
import { FolderReceiver } from "../lib/exchange/folder_receive.ts";
import { foldClash, type Folding, NO_FOLDING, probeFolding } from "../lib/exchange/folder_work.ts";
import { Dir } from "../lib/transfer/dir.ts";
import { ChunkPool } from "../lib/transfer/pool.ts";
import { tempDir, test } from "./helpers.ts";

const pool = new ChunkPool(1024 * 1024);
const CASE: Folding = { case: true, normalisation: false };
const NORMALISATION: Folding = { case: false, normalisation: true };
const MAC: Folding = { case: true, normalisation: true };
const NFC = "caf\u00e9";
const NFD = "cafe\u0301";

/** A manifest of `photos`'s content: "name/" is a folder, anything else a file of 1 byte. */
function manifestOf(...paths: string[]): Manifest {
  const builder = new ManifestBuilder(FOLDER_LIMITS);
  for (const path of paths) {
    const entry: ManifestEntry = path.endsWith("/")
      ? { path: path.slice(0, -1), type: "folder" }
      : { path, size: 1 };
    builder.add(entry);
  }
  return builder.manifest;
}

const CASES: [string, string[], Folding, string | undefined][] = [
  ["two folders differing only in case", ["Trip/", "trip/"], CASE, "trip"],
  ["a folder, then a file differing only in case", ["Trip/", "trip"], CASE, "trip"],
  ["a file, then a folder differing only in case", ["trip", "Trip/"], CASE, "Trip"],
  ["two files differing only in case", ["a.txt", "A.txt"], CASE, "A.txt"],
  ["two folders differing in one letter beyond case", ["Trip/", "trap/"], CASE, undefined],
  ["two folders differing only in case, nothing folded", ["Trip/", "trip/"], NO_FOLDING, undefined],
  ["folders in NFC and NFD, normalisation folded", [`${NFC}/`, `${NFD}/`], NORMALISATION, NFD],
  ["folders in NFC and NFD, only case folded", [`${NFC}/`, `${NFD}/`], CASE, undefined],
  [
    "folders differing in case and normalisation, both folded",
    [`${NFC}/`, "CAFE\u0301/"],
    MAC,
    "CAFE\u0301",
  ],
  ["nested: a folder and a file differing only in case", ["a/", "a/b/", "a/B"], CASE, "a/B"],
  ["the same names in two folders", ["a/", "a/b/", "c/", "c/B/"], CASE, undefined],
  ["inside folders that fold together", ["x/", "x/y", "X/", "X/Y"], CASE, "X"],
];

for (const [what, paths, folding, clash] of CASES) {
  test(`manifest check: ${what} ${clash ? `clash at '${clash}'` : "do not clash"}`, () => {
    assert.equal(foldClash(manifestOf(...paths), folding), clash);
    return Promise.resolve();
  });
}

/** Receives a manifest's folders into a new working folder and returns the refusal, if any. */
async function receive(
  parent: string,
  manifest: Manifest,
  folding?: Folding,
): Promise<unknown> {
  await using dir = await Dir.open(parent);
  const receiver = await FolderReceiver.start(dir, ".work", manifest, {
    pool,
    ...(folding ? { folding } : {}),
  });
  try {
    for await (const _ of receiver.have()) {
      // Nothing is held in a new working folder.
    }
  } catch (error) {
    await receiver.abort(true);
    return error;
  }
  await receiver.abort(true);
  return undefined;
}

test("receiving two folders differing only in case onto a file system that folds case (injected) is refused as exists before anything is written", async () => {
  await using at = await tempDir();
  const error = await receive(at.path, manifestOf("Trip/", "Trip/a/", "trip/"), CASE);
  assert.ok(error instanceof CancelError, String(error));
  assert.equal(error.reason, "exists");
  assert.match(error.message, /"trip" is the same name on this file system as another name/);
  assert.deepEqual([...Deno.readDirSync(join(at.path, ".work"))], [], "no folder was created");
});

test("receiving a file and a folder differing only in case onto a file system that folds case (injected) is refused as exists", async () => {
  await using at = await tempDir();
  const error = await receive(at.path, manifestOf("notes/", "Notes"), CASE);
  assert.ok(error instanceof CancelError && error.reason === "exists", String(error));
});

test("on this machine's file system the probe finds no folding, and both folders are created", async () => {
  await using at = await tempDir();
  await using dir = await Dir.open(at.path);
  assert.deepEqual(await probeFolding(dir), NO_FOLDING);
  assert.deepEqual([...Deno.readDirSync(at.path)], [], "the probe is gone");
  const error = await receive(at.path, manifestOf("Trip/", "trip/"));
  assert.equal(error, undefined);
  const made = [...Deno.readDirSync(join(at.path, ".work"))].map((e) => e.name).sort();
  assert.deepEqual(made, ["Trip", "trip"]);
});
