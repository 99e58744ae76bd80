// A file or an empty folder that appears at a folder's name while that folder
// is being received makes the commit refuse as "exists", and what appeared is
// left as it was: its bytes, or an empty folder with nothing merged into it.
// Both receivers: the client's get of a folder, and the server's folder put.
// "While" is made exact by a relay that holds the transfer in the middle of
// its data (fault injection: a network hop that pauses); the thing is
// created at the destination before the relay lets the rest through.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ClientError, get, put } from "../lib/mod.ts";
import { randomBytes, serveFolder, startRelay, tempDir, test, until, within } from "./helpers.ts";
import { makeTree } from "./support/folders.ts";

const MiB = 1024 * 1024;
const HOLD = 1 * MiB; // the tree holds about 2.4 MiB of data; its big file is last

/** What may appear at the destination, how to make it, and how to see it is untouched. */
const APPEARS: Record<string, { make: (path: string) => void; same: (path: string) => void }> = {
  "a file": {
    make: (path) => Deno.writeFileSync(path, randomBytes(1000, 42)),
    same: (path) => assert.deepEqual(Deno.readFileSync(path), randomBytes(1000, 42)),
  },
  "an empty folder": {
    make: (path) => Deno.mkdirSync(path),
    same: (path) => {
      assert.ok(Deno.lstatSync(path).isDirectory);
      assert.deepEqual([...Deno.readDirSync(path)], [], "nothing merged into it");
    },
  },
};

for (const [what, { make, same }] of Object.entries(APPEARS)) {
  test(`client get of a folder: ${what} appearing at its name mid-transfer makes the commit refuse as exists, and is left as it was`, async () => {
    await using served = await tempDir();
    await using dl = await tempDir();
    await makeTree(join(served.path, "photos"));
    await using server = serveFolder(served.path);
    const relay = startRelay(server.port, { holdAt: { direction: "down", bytes: HOLD } });
    try {
      const getting = get("photos", {
        host: "127.0.0.1",
        port: relay.port,
        output: dl.path + "/",
        timeoutMs: 30_000,
      });
      getting.catch(() => {}); // awaited below
      await within(30_000, "the hold", relay.reached("down", HOLD));
      make(join(dl.path, "photos"));
      relay.release();
      await assert.rejects(
        within(30_000, "the get", getting),
        (e) =>
          e instanceof ClientError && e.kind === "local" && /'.*photos' exists/.test(e.message),
      );
    } finally {
      await relay.close();
    }
    same(join(dl.path, "photos"));
  });

  test(`server folder put: ${what} appearing at its name mid-transfer makes the commit refuse as exists, and is left as it was`, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    await makeTree(join(local.path, "photos"));
    await using server = serveFolder(served.path);
    const relay = startRelay(server.port, { holdAt: { direction: "up", bytes: HOLD } });
    try {
      const putting = put(join(local.path, "photos"), {
        host: "127.0.0.1",
        port: relay.port,
        timeoutMs: 30_000,
      });
      putting.catch(() => {}); // awaited below
      await within(30_000, "the hold", relay.reached("up", HOLD));
      make(join(served.path, "photos"));
      relay.release();
      await assert.rejects(
        within(30_000, "the put", putting),
        (e) => e instanceof ClientError && e.reason === "exists",
      );
    } finally {
      await relay.close();
    }
    // The server answers before it tidies up: its record of the request says it is over.
    await until(() => server.events.some((e) => e.type === "request-end"));
    same(join(served.path, "photos"));
    // The server's working folder is of no more use, and is gone.
    assert.deepEqual([...Deno.readDirSync(served.path)].map((e) => e.name), ["photos"]);
  });
}
