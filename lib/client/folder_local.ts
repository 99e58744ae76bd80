/**
 * The client's own folders on disk: a local folder to put, walked without
 * following a link, and where a folder download lands, with its hidden
 * working folder, checked before anything is written. Every file-system
 * operation of a folder transfer on the client lives here; names chosen by
 * the server are reached only through open folder handles.
 *
 * @module
 */

// Deferred: node:crypto costs a process about 15 ms to load, and only a
// folder get needs it here (issue 25).
import defer * as nodeCrypto from "node:crypto";
import { join } from "node:path";
import { CancelError } from "../protocol/errors.ts";
import type { Manifest } from "../protocol/folder.ts";
import { Dir } from "../transfer/dir.ts";
import { type Skipped, walkFolder } from "../transfer/tree_walk.ts";
import type { FolderReceiver } from "../exchange/folder_receive.ts";
import { openOwnFolder } from "../exchange/folder_work.ts";
import { ClientError } from "./errors.ts";
import { localError, q } from "./local.ts";

/** A local folder, open and walked, ready to put. */
export interface LocalFolder {
  /** The folder, open. */
  dir: Dir;
  /** What it holds. */
  manifest: Manifest;
  /** What the walk left out: links (never followed), FIFOs, devices, bad names. */
  skipped: Skipped[];
}

/**
 * Whether a path the user typed is a folder (a link to one is followed: the user named it).
 *
 * @param path the path
 */
export function isLocalFolder(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Opens and walks a local folder to put.
 *
 * @param path the folder
 * @returns the open folder, its manifest and what was left out
 * @throws {ClientError} `local` when it cannot be read; `refused` past a limit
 */
export async function openLocalFolder(path: string): Promise<LocalFolder> {
  let dir: Dir;
  try {
    dir = await Dir.open(path);
  } catch (error) {
    throw localError(error, path);
  }
  try {
    const { manifest, skipped } = await walkFolder(dir);
    return { dir, manifest, skipped };
  } catch (error) {
    await dir.close();
    if (error instanceof CancelError) {
      throw new ClientError("local", `${q(path)} cannot be sent: ${error.message}`, {
        path,
        cause: error,
      });
    }
    throw localError(error, path);
  }
}

/** Where a folder download goes: a name in a parent folder. */
export interface FolderPlace {
  /** The parent folder, as the user gave it (or `.`). */
  parent: string;
  /** The folder's name there: the last segment of its name on the server. */
  name: string;
  /** The hidden working folder's name beside it. */
  work: string;
  /** Continue an earlier run's working folder (else it is emptied first). */
  resume: boolean;
  /** The caller's output, if any. */
  output?: string;
}

/**
 * Where a folder download of a name would land: in the current folder, or
 * in `output` when that is an existing folder; undefined when `output` is
 * not a folder.
 *
 * @param last the last segment of the name on the server
 * @param output the caller's choice, if any
 * @param resume continue an earlier run's working folder
 * @returns the place, or undefined
 */
export function folderPlace(
  last: string,
  output: string | undefined,
  resume: boolean,
): FolderPlace | undefined {
  const parent = output ?? ".";
  if (output !== undefined && !isLocalFolder(output)) return undefined;
  return {
    parent,
    name: last,
    work: workName(last),
    resume,
    ...(output !== undefined ? { output } : {}),
  };
}

/** The hidden working folder of a folder download, within 255 bytes (as a partial file's). */
function workName(name: string): string {
  const stem = `.${name}.privateshare-partial`;
  if (new TextEncoder().encode(`${stem}.json`).length <= 255) return stem;
  const digest = nodeCrypto.createHash("sha256").update(name).digest("hex");
  return `.${digest.slice(0, 32)}.privateshare-partial`;
}

/**
 * Whether a download probably is a folder, before asking the server: a real
 * folder is at its place, or the working folder of an earlier folder download.
 *
 * @param place where it lands
 */
export function looksLikeFolder(place: FolderPlace): boolean {
  const real = (name: string) => {
    try {
      return Deno.lstatSync(join(place.parent, name)).isDirectory;
    } catch {
      return false;
    }
  };
  return real(place.name) || real(place.work);
}

/** The local side of a folder download, open: its parent folder and its working folder. */
export interface FolderTarget {
  /** The parent folder, open. */
  parent: Dir;
  /** The working folder from an earlier run, when there is one of ours. */
  existing?: Dir;
  /** Whether something is at the destination's name now. */
  taken: boolean;
}

/**
 * Opens the place of a folder download and checks it, writing nothing: the
 * destination must be free unless `force`, and the working folder's name
 * must be free or hold a working folder of this program's.
 *
 * @param place where it lands
 * @param force whether an existing folder there may be replaced
 * @returns the open parent, and the working folder to resume
 * @throws {ClientError} `local`: code `exists` when the destination is taken, `in-the-way` for
 *   a working folder that is not ours
 */
export async function openFolderTarget(place: FolderPlace, force: boolean): Promise<FolderTarget> {
  let parent: Dir;
  try {
    parent = await Dir.open(place.parent);
  } catch (error) {
    throw localError(error, join(place.parent, place.name), true);
  }
  try {
    const path = join(place.parent, place.name);
    const taken = await parent.lstat(place.name) !== undefined;
    if (taken && !force) throw existsError(path);
    let existing = await openOwnFolder(parent, place.work);
    if (existing && !place.resume) {
      await existing.close();
      await Deno.remove(parent.path(place.work), { recursive: true });
      existing = undefined;
    }
    if (!existing && await parent.lstat(place.work) !== undefined) {
      throw new ClientError(
        "local",
        `${q(join(place.parent, place.work))} is in the way: it is not a partial folder ` +
          "download of privateshare",
        { code: "in-the-way", path },
      );
    }
    return { parent, taken, ...(existing ? { existing } : {}) };
  } catch (error) {
    await parent.close();
    throw error;
  }
}

/**
 * The refusal when a download's destination exists.
 *
 * @param path the destination
 * @returns the error, code `exists`
 */
export function existsError(path: string): ClientError {
  return new ClientError("local", `${q(path)} exists`, { code: "exists", path });
}

/**
 * Makes a received folder visible under its name. With `force`, whatever is
 * at the name is moved aside to a hidden name first, put back when the
 * commit fails, and removed once the new folder is in place.
 *
 * @param receiver the received folder
 * @param target the open parent
 * @param place where it lands
 * @param force whether to replace what is there
 * @throws {ClientError} `local` code `exists` when the name is taken and not replaced
 */
export async function commitFolder(
  receiver: FolderReceiver,
  target: FolderTarget,
  place: FolderPlace,
  force: boolean,
): Promise<void> {
  const path = join(place.parent, place.name);
  const exists = new CancelError("exists", `${q(path)} exists`);
  const { parent } = target;
  let aside: string | undefined;
  if (force && await parent.lstat(place.name) !== undefined) {
    aside = `.${crypto.randomUUID()}.privateshare-old`;
    await parent.rename(place.name, parent, aside);
  }
  try {
    await receiver.commit(place.name, exists);
  } catch (error) {
    if (aside) await parent.rename(aside, parent, place.name).catch(() => {});
    if (error === exists) throw existsError(path);
    throw error;
  }
  // The new folder is in place: an old one that cannot be removed is left hidden, not an error.
  if (aside) await Deno.remove(parent.path(aside), { recursive: true }).catch(() => {});
}
