/**
 * Folders for the client's folder tests: a tree with nested and empty
 * folders, Unicode names and names differing only in case, and its
 * contents read back for comparison.
 *
 * @module
 */

import { join } from "node:path";
import { randomBytes } from "./data.ts";

/**
 * Every file below a folder, by path, with its bytes; folders as null.
 *
 * @param dir the folder
 * @param prefix the path of `dir` in the result
 * @returns the contents
 */
export async function contents(
  dir: string,
  prefix = "",
): Promise<Map<string, Uint8Array | null>> {
  const found = new Map<string, Uint8Array | null>();
  const entries = [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1);
  for (const entry of entries) {
    const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory) {
      found.set(path, null);
      for (const [p, v] of await contents(join(dir, entry.name), path)) found.set(p, v);
    } else if (entry.isFile) {
      found.set(path, await Deno.readFile(join(dir, entry.name)));
    }
  }
  return found;
}

/**
 * Makes a tree at `root`: nested and empty folders, a Unicode name, two
 * names differing only in case, an empty file, `small` small files and
 * one of `big` bytes last in the manifest's order.
 *
 * @param root the folder to create
 * @param big the size of the last file
 * @param small how many small files
 */
export async function makeTree(
  root: string,
  big = 2 * 1024 * 1024 + 7,
  small = 30,
): Promise<void> {
  await Deno.mkdir(join(root, "2024/empty"), { recursive: true });
  await Deno.mkdir(join(root, "blank"), { recursive: true });
  await Deno.writeFile(join(root, "2024/beach.jpg"), randomBytes(300_000, 1));
  await Deno.writeFile(join(root, "2024/Beach.jpg"), randomBytes(1_000, 2));
  await Deno.writeFile(join(root, "café ☕.txt"), new TextEncoder().encode("ünïcode"));
  await Deno.writeFile(join(root, "zero"), new Uint8Array(0));
  await Deno.mkdir(join(root, "zz"));
  await Deno.writeFile(join(root, "zz/big.bin"), randomBytes(big, 3));
  for (let i = 0; i < small; i++) {
    await Deno.writeFile(join(root, `2024/small-${i}.txt`), randomBytes(100 + i, 10 + i));
  }
}
