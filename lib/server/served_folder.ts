/**
 * A served folder's listing for a program beside the server (its GUI),
 * exactly as the server lists it to a client: regular files and folders,
 * each folder with the files and bytes below it, never a link followed, never
 * privateshare's own hidden files.
 *
 * @module
 */

import type { ListEntry } from "../protocol/ps2.ts";
import { Store } from "./store.ts";

/**
 * Lists a served folder the way a server of it does.
 *
 * @param root the served folder
 * @param folder a folder inside it (a path as a client sends it), or undefined for the top
 * @returns the entries, sorted by name; folders carry `type: "folder"` and their `files`
 * @throws {CancelError} `invalid-name` for a bad path, `not-found` when there is no such folder
 */
export async function listServedFolder(root: string, folder?: string): Promise<ListEntry[]> {
  const store = new Store(root, { readOnly: true });
  try {
    return [...await store.list(folder, true)];
  } finally {
    await store.close();
  }
}
