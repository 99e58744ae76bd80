/**
 * Folders on the pages: a listing as both pages show it (folders first, each
 * with its file count and size, every name also made safe to show), and the
 * folder on the server a page asks for, and a free name for "Keep both"
 * (the naming rule itself is protocol/names.ts's `freeName`).
 *
 * @module
 */

import { join } from "node:path";
import { freeName, list, type ListOptions, nameProblem, printable } from "../mod.ts";

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
  /** Why the name cannot travel (the name rules every get checks), when it cannot. */
  problem?: string;
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
    ...cannotTravel(entry.name),
  }));
}

/** A name the server lists but no get may ask for: why, in words (made safe to show). */
function cannotTravel(name: string): { problem?: string } {
  const problem = nameProblem(name);
  return problem ? { problem: printable(`This name cannot travel: ${problem}`) } : {};
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

/**
 * Whether a name is taken in a local folder (a link, even a dangling one, counts).
 *
 * @param folder the folder
 * @returns the test, for {@link freeName}
 */
export function takenIn(folder: string): (name: string) => Promise<boolean> {
  return (name) => Deno.lstat(join(folder, name)).then(() => true, () => false);
}

/**
 * A free name on the server for "Keep both": the first `name (2).ext` its
 * folder does not hold.
 *
 * @param name the name the server holds
 * @param options the server, and the folder there (`to`)
 * @returns the free name
 */
export async function freeOnServer(
  name: string,
  options: ListOptions & { to?: string },
): Promise<string> {
  const { to, ...rest } = options;
  const there = new Set(
    (await list({ ...rest, ...(to ? { folder: to } : {}) })).map((e) => e.name),
  );
  return await freeName(name, (n) => there.has(n));
}
