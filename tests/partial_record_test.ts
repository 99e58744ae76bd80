// The record beside a partial download is what proves the partial the
// client's own and says what it holds. Each comparison is tested with the
// input closest to the right one: another file put in place of the partial
// (same owner, one link, same device, another inode), and each field of the
// record changed by the smallest amount. Which file (device, inode) decides
// whether the partial is touched at all: anything else is "in the way" and
// left byte for byte. What it holds (name, destination, bytes held, their
// SHA-256) decides whether it is resumed: anything else starts over.
// In process with the library's server; the CLI once, for exit 6.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ClientError, get } from "../lib/mod.ts";
import { linesOf, makePartial, partialOf, recordOf, runCli } from "./client_fakes.ts";
import { sameBytes, serveFolder, tempDir, test, writeRandomFile } from "./helpers.ts";

const MiB = 1024 * 1024;

/** A served folder with `x.bin`, a download folder holding a real partial of it, the server. */
async function withPartial(
  body: (paths: { served: string; dl: string; port: number; have: number }) => Promise<void>,
): Promise<void> {
  await using served = await tempDir();
  await using dl = await tempDir();
  await writeRandomFile(join(served.path, "x.bin"), 12 * MiB, 7);
  await using server = serveFolder(served.path);
  const have = await makePartial(server.port, "x.bin", dl.path, 3 * MiB);
  await body({ served: served.path, dl: dl.path, port: server.port, have });
}

function readRecord(dl: string): Record<string, unknown> {
  return JSON.parse(Deno.readTextFileSync(recordOf(dl, "x.bin")));
}

/** Rewrites the record in place (same file, same owner, one link), padded as the client pads it. */
function editRecord(dl: string, edit: (record: Record<string, unknown>) => void): void {
  const record = readRecord(dl);
  edit(record);
  const json = JSON.stringify(record);
  Deno.writeTextFileSync(recordOf(dl, "x.bin"), json.padEnd(4095, " ") + "\n");
}

/** Changes the last character of a hex digest or a name to the next one. */
function lastCharOff(text: string): string {
  const last = text.at(-1)!;
  const next = last === "f"
    ? "e"
    : last === "9"
    ? "a"
    : String.fromCharCode(last.charCodeAt(0) + 1);
  return text.slice(0, -1) + next;
}

async function getAgain(dl: string, port: number) {
  return await get("x.bin", { host: "127.0.0.1", port, output: dl + "/", timeoutMs: 30_000 });
}

test("a partial download whose record is untouched is resumed (the control for the cases below)", async () => {
  await withPartial(async ({ served, dl, port, have }) => {
    const result = await getAgain(dl, port);
    assert.equal(result.resumedFrom, have);
    assert.ok(await sameBytes(join(served, "x.bin"), join(dl, "x.bin")));
  });
});

test("someone else's file put in place of a partial download (same owner, one link, same device, another inode) is neither resumed nor emptied", async () => {
  await withPartial(async ({ dl, port, have }) => {
    const partial = partialOf(dl, "x.bin");
    const before = Deno.statSync(partial);
    // Another file of the same user, in the same folder (same device), moved over the partial.
    const planted = new Uint8Array(have).fill(0x41);
    const other = join(dl, "other.bin");
    Deno.writeFileSync(other, planted);
    Deno.renameSync(other, partial);
    const after = Deno.statSync(partial);
    assert.equal(after.dev, before.dev, "the same device");
    assert.notEqual(after.ino, before.ino, "another inode");
    assert.equal(after.nlink, 1, "one link");
    assert.equal(after.uid, before.uid, "the same owner");
    const record = Deno.readFileSync(recordOf(dl, "x.bin"));

    await assert.rejects(
      getAgain(dl, port),
      (e) => e instanceof ClientError && e.code === "in-the-way" && /is in the way/.test(e.message),
    );
    assert.deepEqual(Deno.readFileSync(partial), planted, "the planted file, byte for byte");
    assert.equal(Deno.statSync(partial).ino, after.ino, "still that file");
    assert.deepEqual(Deno.readFileSync(recordOf(dl, "x.bin")), record, "the record as it was");
    assert.throws(() => Deno.statSync(join(dl, "x.bin")), Deno.errors.NotFound);
  });
});

for (const [field, delta] of [["ino", 1], ["ino", -1], ["dev", 1], ["dev", -1]] as const) {
  test(`a record whose ${field} is ${delta > 0 ? "one more" : "one less"} than the partial's is not trusted: the partial is left as it was`, async () => {
    await withPartial(async ({ dl, port }) => {
      editRecord(dl, (record) => record[field] = (record[field] as number) + delta);
      const partial = partialOf(dl, "x.bin");
      const bytes = Deno.readFileSync(partial);
      await assert.rejects(
        getAgain(dl, port),
        (e) => e instanceof ClientError && e.code === "in-the-way",
      );
      assert.deepEqual(Deno.readFileSync(partial), bytes, "not emptied, not written");
    });
  });
}

/** Fields that say what the partial holds: changed, the partial is started over, never resumed. */
const HOLDS: Record<string, (record: Record<string, unknown>) => void> = {
  "bytes held one more": (r) => r.have = (r.have as number) + 1,
  "bytes held one less": (r) => r.have = (r.have as number) - 1,
  "SHA-256 of the bytes held off in its last character": (r) =>
    r.prefixSha256 = lastCharOff(r.prefixSha256 as string),
  "name on the server off in its last character": (r) => r.name = "x.bim",
  "name on the server with another letter case": (r) => r.name = "X.bin",
  "destination off in its last character": (r) => r.dest = "x.bim",
};

for (const [what, edit] of Object.entries(HOLDS)) {
  test(`a record whose ${what} is not trusted: the download starts over and is whole`, async () => {
    await withPartial(async ({ served, dl, port }) => {
      editRecord(dl, edit);
      const result = await getAgain(dl, port);
      assert.equal(result.resumedFrom, 0, "nothing resumed");
      assert.ok(await sameBytes(join(served, "x.bin"), join(dl, "x.bin")));
    });
  });
}

test("the CLI: another file in place of a partial download stops the get with 'in the way', exit 6, the file unchanged", async () => {
  await withPartial(async ({ dl, port, have }) => {
    const partial = partialOf(dl, "x.bin");
    const planted = new Uint8Array(have).fill(0x42);
    Deno.writeFileSync(join(dl, "other.bin"), planted);
    Deno.renameSync(join(dl, "other.bin"), partial);
    const run = await runCli(["127.0.0.1", String(port), "get", "x.bin"], { cwd: dl, ms: 30_000 });
    assert.equal(run.code, 6, run.stderr);
    assert.equal(linesOf(run.stderr).length, 1, run.stderr);
    assert.match(run.stderr, /'\.x\.bin\.privateshare-partial' is in the way/);
    assert.deepEqual(Deno.readFileSync(partial), planted, "byte for byte");
  });
});
