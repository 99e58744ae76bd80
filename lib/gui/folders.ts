/**
 * Folders on the pages: a listing as both pages show it (folders first, each
 * with its file count and size, every name also made safe to show), and the
 * folder on the server a page asks for.
 *
 * @module
 */

import { printable } from "../mod.ts";

/** A listing's entry as a page gets it. */
export interface ShownEntry {
  /** The name as listed, to ask for it again. */
  name: string;
  /** The name made safe to show. */
  shown: string;
  size?: number;
  mtime?: number;
  type?: "folder";
  /** Of a folder: its regular files, at any depth. */
  files?: number;
}

/**
 * A listing for a page: folders first, then files, each in the listing's order.
 *
 * @param entries the entries as the library lists them
 * @returns the entries for the page
 */
export function shownEntries(
  entries: readonly {
    name: string;
    size?: number;
    mtime?: number;
    type?: "folder";
    files?: number;
  }[],
): ShownEntry[] {
  const folders = entries.filter((entry) => entry.type === "folder");
  const files = entries.filter((entry) => entry.type !== "folder");
  return [...folders, ...files].map((entry) => ({
    name: entry.name,
    shown: printable(entry.name),
    ...(entry.size !== undefined ? { size: entry.size } : {}),
    ...(entry.mtime !== undefined ? { mtime: entry.mtime } : {}),
    ...(entry.type === "folder" ? { type: "folder" as const, files: entry.files ?? 0 } : {}),
  }));
}

/**
 * The folder on the server a page names: the top for none or "", else the
 * path without its surrounding slashes (the library checks it).
 *
 * @param value the page's field
 * @returns the folder, or undefined for the top
 */
export function remoteFolder(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const folder = value.replace(/^\/+|\/+$/g, "");
  return folder === "" ? undefined : folder;
}
