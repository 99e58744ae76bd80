/**
 * What the server's page is shown of the server: request records with
 * everything from the network made printable, and the served folder's top.
 *
 * @module
 */

import { listServedFolder, printable, type RequestRecord } from "../mod.ts";
import { shownEntries } from "./folders.ts";

/** Files of the served folder the page is shown at the most. */
const MAX_FILES = 2000;

/**
 * A request record with everything that came from the network made safe to show.
 *
 * @param record the server's record
 * @returns a copy with printable peer, command, name and message
 */
export function shown(record: Readonly<RequestRecord>): RequestRecord {
  return {
    ...record,
    peer: printable(record.peer),
    op: printable(record.op),
    ...(record.name !== undefined ? { name: printable(record.name) } : {}),
    ...(record.message !== undefined ? { message: printable(record.message) } : {}),
  };
}

/**
 * The served folder's top level as the server lists it, for the page.
 *
 * @param root the served folder
 * @returns the page's `files` event
 */
export async function readFiles(
  root: string,
): Promise<{ type: "files"; files: unknown[]; more: number }> {
  const files = shownEntries(await listServedFolder(root));
  const more = Math.max(0, files.length - MAX_FILES);
  return { type: "files", files: files.slice(0, MAX_FILES), more };
}
