// What a request holds while it waits counts against the server's buffer
// pool: a folder put's manifest is counted whole, before it is read, at its
// largest possible cost; past the pool's room it is refused busy, past the
// whole pool too-large, and what a request held is given back when it ends.
// bench/held.ts measures the server's memory under 128 held manifests.

import assert from "node:assert/strict";
import { CancelError } from "../lib/protocol/errors.ts";
import { FOLDER_LIMITS } from "../lib/protocol/paths.ts";
import { CHUNK_SIZE, ChunkPool } from "../lib/transfer/pool.ts";
import { HeldBytes, manifestCost, OWN_BYTES } from "../lib/server/held.ts";
import { serveFolder, tempDir, test, until } from "./helpers.ts";
import { command } from "./support/folder_peer.ts";

function refusal(step: () => void): string | undefined {
  try {
    step();
  } catch (error) {
    if (error instanceof CancelError) return error.reason;
    throw error;
  }
  return undefined;
}

Deno.test("a request holds 64 KiB of its own, then takes from the pool: busy past its room, too-large past all of it", () => {
  const pool = new ChunkPool(CHUNK_SIZE);
  const a = new HeldBytes(pool);
  a.add(OWN_BYTES);
  assert.equal(pool.used, 0, "its own bytes are not taken from the pool");
  a.add(1);
  assert.equal(pool.used, 1);
  const b = new HeldBytes(pool);
  b.add(OWN_BYTES + pool.budget - 1);
  assert.equal(pool.used, pool.budget, "at the limit");
  assert.equal(refusal(() => new HeldBytes(pool).add(OWN_BYTES + 1)), "busy", "one past it");
  assert.equal(refusal(() => new HeldBytes(pool).add(OWN_BYTES)), undefined, "its own still");
  assert.equal(
    refusal(() => new HeldBytes(new ChunkPool(CHUNK_SIZE)).add(OWN_BYTES + CHUNK_SIZE + 1)),
    "too-large",
  );
  assert.equal(
    refusal(() => new HeldBytes(new ChunkPool(CHUNK_SIZE)).add(OWN_BYTES + CHUNK_SIZE)),
    undefined,
  );
  a.release();
  a.release();
  assert.equal(pool.used, pool.budget - 1, "released once, however often asked");
  b.release();
  assert.equal(pool.used, 0);
});

/** Folder puts of `files` files (no folders) that fit a pool of one chunk exactly. */
function filesFitting(): number {
  let files = 1;
  while (manifestCost(files + 1, FOLDER_LIMITS) <= OWN_BYTES + CHUNK_SIZE) files++;
  return files;
}

test("a folder put is counted whole before its manifest: at the pool's size it passes, one file more is too-large, and while one is held others are busy", async () => {
  await using served = await tempDir();
  await using server = serveFolder(served.path, { bufferBytes: CHUNK_SIZE });
  const most = filesFitting();
  const put = (name: string, files: number) =>
    command(server.port, { op: "put-folder", name, files, folders: 0, size: files });

  using over = await put("over", most + 1);
  const tooLarge = await over.reply();
  assert.equal(
    tooLarge.code === "cancel" && tooLarge.reason,
    "too-large",
    JSON.stringify(tooLarge),
  );

  using holder = await put("held", most);
  assert.equal((await holder.reply()).code, "pass", "at the limit");
  // Held: what is left of the pool is less than what one more needs beyond its own.
  const small = Math.ceil((OWN_BYTES + 1) / manifestCost(1, FOLDER_LIMITS));
  {
    using busy = await put("busy", small);
    const reply = await busy.reply();
    assert.equal(reply.code === "cancel" && reply.reason, "busy", JSON.stringify(reply));
  }
  {
    using own = await put("own", 1);
    assert.equal((await own.reply()).code, "pass", "a small folder needs nothing of the pool");
  }
  holder.conn.close();
  await until(() =>
    server.events.some((e) => e.type === "request-end" && e.record.name === "held")
  );
  using after = await put("after", small);
  assert.equal((await after.reply()).code, "pass", "the pool was given back");
});
