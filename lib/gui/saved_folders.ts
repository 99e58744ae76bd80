/**
 * "Show in folder" after a get: the program remembers where each get saved
 * its file, and opens the folder holding it with the system's opener when the
 * page asks by the transfer's id. The page never names a path: the opener is
 * given only a folder this program saved into.
 *
 * @module
 */

import { dirname } from "node:path";
import { canOpenFolders, openFolder } from "./system.ts";

/** The folders finished gets saved into, by transfer id. */
export class SavedFolders {
  #folders = new Map<string, string>();
  readonly #keep: number;

  /**
   * Creates SavedFolders.
   *
   * @param keep how many to remember (the oldest are forgotten)
   */
  constructor(keep: number) {
    this.#keep = keep;
  }

  /**
   * Notes where a get saved its file or folder.
   *
   * @param id the transfer's id
   * @param path the file or folder saved, absolute
   * @returns whether the page may offer "Show in folder" (the opener may run)
   */
  note(id: string, path: string): boolean {
    this.#folders.set(id, dirname(path));
    if (this.#folders.size > this.#keep) {
      this.#folders.delete(this.#folders.keys().next().value!);
    }
    return canOpenFolders();
  }

  /**
   * Opens the folder a finished get saved into.
   *
   * @param id the transfer's id, as the page sends it
   * @returns `{ ok: true }`, or the reason in words
   */
  show(id: unknown): { ok: true } | { error: string } {
    const folder = typeof id === "string" ? this.#folders.get(id) : undefined;
    if (folder === undefined) return { error: "No such finished get" };
    if (!canOpenFolders()) {
      return { error: "privateshare may not open folders here: open the folder yourself" };
    }
    if (!openFolder(folder)) {
      return { error: "Could not open the folder: the system has no program to open it" };
    }
    return { ok: true };
  }
}
