/**
 * Run by tests/folder_swap_test.ts under the permissions README uses (not
 * --allow-all, so that folders are held as paths): for each operation of an
 * open folder, makes `ROOT/a/sub` (with `f.txt`), opens it through `ROOT`,
 * then swaps `ROOT/a` for a link to `OUTSIDE` (which holds `sub/f.txt` too)
 * and calls the operation on the open `sub`. Prints, as JSON, what each
 * call did: the name of the error it threw, or `"returned"`.
 *
 * Usage: deno run --allow-read --allow-write dir_swap_probe.ts ROOT OUTSIDE
 *
 * @module
 */

import { join } from "node:path";
import { Dir } from "../../lib/transfer/dir.ts";

const [root, outside] = Deno.args as [string, string];

const operations: Record<string, (sub: Dir) => Promise<unknown> | unknown> = {
  entries: (sub) => sub.entries(),
  openFile: (sub) => sub.openFile("f.txt"),
  readSmallNow: (sub) => sub.readSmallNow("f.txt", 6),
  lstat: (sub) => sub.lstat("f.txt"),
  createFile: (sub) => sub.createFile("new.txt"),
  createSmallNow: (sub) => sub.createSmallNow("new.txt", new TextEncoder().encode("new")),
  mkdir: (sub) => sub.mkdir("newdir"),
  openDir: (sub) => sub.openDir("deeper"),
  reopen: (sub) => sub.reopen(),
  facts: (sub) => sub.facts(),
};

const results: Record<string, string> = {};
for (const [name, operation] of Object.entries(operations)) {
  const a = join(root, "a");
  await Deno.remove(a, { recursive: true }).catch(() => {});
  await Deno.remove(join(root, "a.moved"), { recursive: true }).catch(() => {});
  await Deno.mkdir(join(a, "sub", "deeper"), { recursive: true });
  await Deno.writeTextFile(join(a, "sub", "f.txt"), "inside");
  await using top = await Dir.open(root);
  const sub = await top.openPath(["a", "sub"]);
  if (!sub) throw new Error("no sub");
  await Deno.rename(a, join(root, "a.moved"));
  await Deno.symlink(outside, a);
  try {
    const value = await operation(sub);
    results[name] = "returned";
    if (value && typeof value === "object" && "close" in value) {
      await (value as { close(): unknown }).close();
    }
  } catch (error) {
    results[name] = error instanceof Error ? error.name : String(error);
  } finally {
    await sub.close();
    await Deno.remove(a);
    await Deno.rename(join(root, "a.moved"), a);
  }
}
console.log(JSON.stringify(results));
