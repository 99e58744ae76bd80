// A hostile server answering a folder get, as a fake speaking raw bytes: a
// manifest with a path that climbs out (`../x`, `a/../../x`), is absolute
// (`/etc/x`, `C:x`), uses a backslash or an empty segment, or puts a file
// under a file is refused before anything is written: the destination and
// its parent are as they were. Data for a path that the manifest does not
// list is refused too, and never written.

import assert from "node:assert/strict";
import { join } from "node:path";
import { get, put } from "../lib/mod.ts";
import {
  failsWith,
  fakeServer,
  jsonLine,
  readPs2Command,
  readRawLine,
  sha256Hex,
  tempDir,
  test,
  writeRaw,
} from "./helpers.ts";
import { contents } from "./support/folders.ts";

type Entry = { path: string; type: "folder" } | { path: string; size: number };

/** A server that answers any get with a folder of these entries, then data for `data`. */
function hostile(entries: Entry[], data: string[]) {
  const files = entries.filter((e) => "size" in e);
  return fakeServer(async (conn) => {
    const command = await readPs2Command(conn);
    assert.equal(command.folders, true);
    await writeRaw(
      conn,
      jsonLine({
        code: "pass",
        type: "folder",
        files: files.length,
        folders: entries.length - files.length,
        size: files.reduce((n, e) => n + ("size" in e ? e.size : 0), 0),
      }) + entries.map(jsonLine).join(""),
    );
    // Should the client go on, it gets the data of every file, one byte each.
    while (true) {
      const line = await readRawLine(conn);
      if (line === null || line.includes('"end"')) break;
    }
    const x = new TextEncoder().encode("x");
    for (const path of data) {
      await writeRaw(
        conn,
        jsonLine({ path, offset: 0 }) + "x" + jsonLine({ sha256: sha256Hex(x) }),
      );
    }
    await writeRaw(conn, jsonLine({ end: true }));
    await readRawLine(conn);
  });
}

/** Every name below a folder, hidden ones too, with what each holds. */
async function snapshot(dir: string): Promise<[string, string][]> {
  return [...(await contents(dir))].map(([p, v]) => [p, v === null ? "/" : String(v)]);
}

const BAD: [string, Entry[]][] = [
  ["../x", [{ path: "../x", size: 1 }]],
  ["a/../../x", [{ path: "a", type: "folder" }, { path: "a/../../x", size: 1 }]],
  ["/etc/x", [{ path: "/etc/x", size: 1 }]],
  ["C:x", [{ path: "C:x", size: 1 }]],
  ["a\\x", [{ path: "a", type: "folder" }, { path: "a\\x", size: 1 }]],
  ["an empty segment", [{ path: "a", type: "folder" }, { path: "a//x", size: 1 }]],
  ["a file under a file", [{ path: "a", size: 1 }, { path: "a/x", size: 1 }]],
  ["a parent not listed first", [{ path: "a/x", size: 1 }, { path: "a", type: "folder" }]],
];

for (const [what, entries] of BAD) {
  test(`a folder whose manifest has ${what} is refused, with nothing written`, async () => {
    await using top = await tempDir();
    const dest = join(top.path, "dl");
    await Deno.mkdir(dest);
    await Deno.writeTextFile(join(dest, "mine.txt"), "mine");
    const before = await snapshot(top.path);
    await using fake = hostile(entries, entries.filter((e) => "size" in e).map((e) => e.path));
    const error = await failsWith(
      get("photos", { host: "127.0.0.1", port: fake.port, output: dest }),
      "protocol",
    );
    assert.match(error.message, /described the folder 'photos' wrongly .*nothing was written/);
    assert.deepEqual(await snapshot(top.path), before);
  });
}

test("data for a path the manifest does not list is refused and never written", async () => {
  await using top = await tempDir();
  const dest = join(top.path, "dl");
  await Deno.mkdir(dest);
  await using fake = hostile([{ path: "a", size: 1 }], ["b"]);
  await failsWith(get("photos", { host: "127.0.0.1", port: fake.port, output: dest }), "protocol");
  const after = (await snapshot(top.path)).map(([p]) => p);
  assert.ok(!after.includes("dl/photos"), after.join(", "));
  assert.ok(!after.some((p) => p.endsWith("/b") || p === "b"), after.join(", "));
});

test("a refusal where the have-list or the data belongs reads as the refusal it is", async () => {
  await using local = await tempDir();
  await Deno.mkdir(join(local.path, "photos"));
  await Deno.writeTextFile(join(local.path, "photos/a.txt"), "a");
  await using refusing = fakeServer(async (conn) => {
    const command = await readPs2Command(conn);
    await writeRaw(conn, jsonLine({ code: "pass" }));
    // The manifest: one line per folder and file.
    for (let i = 0; i < (command.files as number) + (command.folders as number); i++) {
      await readRawLine(conn);
    }
    await writeRaw(conn, jsonLine({ code: "cancel", reason: "too-large", message: "Too big" }));
  });
  const refused = await failsWith(
    put(join(local.path, "photos"), { host: "127.0.0.1", port: refusing.port }),
    "refused",
  );
  assert.equal(refused.reason, "too-large");
  assert.match(refused.message, /Too big/);

  await using top = await tempDir();
  await using giving = fakeServer(async (conn) => {
    await readPs2Command(conn);
    await writeRaw(conn, jsonLine({ code: "pass", type: "folder", files: 1, folders: 0, size: 1 }));
    await writeRaw(conn, jsonLine({ path: "a", size: 1 }));
    while (true) {
      const line = await readRawLine(conn);
      if (line === null || line.includes('"end"')) break;
    }
    await writeRaw(conn, jsonLine({ code: "cancel", reason: "internal", message: "Gave up" }));
  });
  const gaveUp = await failsWith(
    get("photos", { host: "127.0.0.1", port: giving.port, output: top.path }),
    "refused",
  );
  assert.match(gaveUp.message, /Gave up/);
});
