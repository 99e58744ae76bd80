/**
 * A folder's working folder, the part both ends share besides receiving
 * into it: proving one left by an earlier run is this program's own,
 * tidying it to a new manifest, and creating its files.
 *
 * @module
 */

import { CancelError } from "../protocol/errors.ts";
import type { Manifest } from "../protocol/folder.ts";
import { quoteName } from "../protocol/names.ts";
import type { Dir } from "../transfer/dir.ts";
import { processUid } from "../transfer/folder_trust.ts";
import { errorCode, type FolderFile, sameFile } from "../transfer/files.ts";
import { DirCursor, walkFolder } from "../transfer/tree_walk.ts";

/**
 * A file up to this size is sent inside a batch of writes, read whole, and
 * received whole before it is written at once.
 */
export const SMALL_FILE = 64 * 1024;

/**
 * Whether a folder's facts make it this program's own working folder: a
 * real folder (not a link), mode 0700, owned by this user.
 *
 * @param parent the folder it is in (where this process may learn its user id)
 * @param info the folder's facts
 */
export async function ownFolder(parent: Dir, info: Deno.FileInfo): Promise<boolean> {
  if (!info.isDirectory || info.isSymlink || (info.mode ?? 0) === 0) return false;
  if (((info.mode ?? 0) & 0o077) !== 0) return false;
  const uid = await processUid(parent);
  return uid === null || info.uid === uid;
}

/**
 * Opens a working folder left by an earlier run, if it is provably this
 * program's own: a real folder (not a link), mode 0700, owned by this user.
 *
 * @param parent the folder it is in
 * @param name its name
 * @returns the open folder, or undefined when there is none or it is not ours
 */
export async function openOwnFolder(parent: Dir, name: string): Promise<Dir | undefined> {
  const facts = await Deno.lstat(parent.path(name)).catch(() => undefined);
  if (!facts || !await ownFolder(parent, facts)) return undefined;
  const dir = await parent.openDir(name).catch(() => undefined);
  if (dir && !await ownFolder(parent, await dir.facts())) {
    await dir.close();
    return undefined;
  }
  return dir;
}

/**
 * Tidies a working folder to a manifest: removes whatever the manifest does
 * not hold (left by an earlier run of another folder, or not a plain file
 * or folder), creates every folder of the manifest, and says which files
 * it may already hold.
 *
 * @param work the working folder
 * @param manifest the manifest
 * @returns the paths of files present that are no longer than the manifest says, in manifest order
 * @throws {CancelError} `exists` when two names of the manifest are one name on this file system
 */
export async function tidyWork(work: Dir, manifest: Manifest): Promise<string[]> {
  const unlimited = {
    maxFiles: Infinity,
    maxFolders: Infinity,
    maxDepth: Infinity,
    maxPathBytes: Infinity,
    maxNamesBytes: Infinity,
  };
  const found = await walkFolder(work, { limits: unlimited });
  const { files, folders } = manifest;
  const stale = new Set(found.skipped.map((skip) => skip.path));
  for (const entry of found.manifest.entries) {
    const keep = "type" in entry
      ? folders.has(entry.path)
      : (files.get(entry.path) ?? -1) >= entry.size;
    if (!keep) stale.add(entry.path);
  }
  const cursor = new DirCursor(work);
  try {
    // Deepest first, so that a folder's contents go before it.
    for (const path of [...stale].sort().reverse()) {
      const at = await cursor.parentOf(path).catch(() => undefined);
      if (at) await Deno.remove(at.dir.path(at.name), { recursive: true }).catch(() => {});
    }
    await cursor.close();
    for (const entry of manifest.entries) {
      if (!("type" in entry)) continue;
      const { dir, name } = await cursor.parentOf(entry.path);
      try {
        await dir.mkdir(name);
      } catch (error) {
        if (errorCode(error) !== "EEXIST" && !(error instanceof Deno.errors.AlreadyExists)) {
          throw error;
        }
        if (!(await dir.lstat(name))?.isFolder) throw caseClash(entry.path);
      }
    }
  } finally {
    await cursor.close();
  }
  const present = new Set(
    found.manifest.entries.filter((entry) => !("type" in entry) && !stale.has(entry.path))
      .map((entry) => entry.path),
  );
  return [...files.keys()].filter((path) => present.has(path));
}

/**
 * Creates a file of the working folder; a name taken already is one the
 * file system folds onto another name of the folder.
 *
 * @param dir the folder it is in
 * @param name its name
 * @param path its path in the manifest, for the message
 * @returns the new file
 * @throws {CancelError} `exists` for a name the file system folds onto another
 */
export async function createFile(dir: Dir, name: string, path: string): Promise<FolderFile> {
  try {
    return await dir.createFile(name);
  } catch (error) {
    if (errorCode(error) === "EEXIST" || error instanceof Deno.errors.AlreadyExists) {
      throw caseClash(path);
    }
    throw error;
  }
}

/** How a file system compares names: whether it folds letter case, and Unicode normalisation. */
export interface Folding {
  /** `Apple` and `apple` are one name (Windows, macOS by default). */
  case: boolean;
  /** `café` in NFC and in NFD are one name (macOS). */
  normalisation: boolean;
}

/** A file system that keeps every name apart (Linux's). */
export const NO_FOLDING: Folding = { case: false, normalisation: false };

/**
 * Finds two paths of a manifest that a file system folding names as
 * `folding` says would hold as one: two folders (which would silently
 * merge, since creating a folder that exists is not an error for a
 * resume), a file and a folder, or two files. The file system where the
 * folder lands decides (docs/PROTOCOL.md#letter-case-and-unicode-normalisation):
 * with no folding, nothing clashes.
 *
 * @param manifest the checked manifest (parents before their children)
 * @param folding how the file system here compares names
 * @returns the second path of the first clash, in the manifest's order, or undefined
 */
export function foldClash(manifest: Manifest, folding: Folding): string | undefined {
  if (!folding.case && !folding.normalisation) return undefined;
  const fold = (name: string) => {
    const normal = folding.normalisation ? name.normalize("NFD") : name;
    return folding.case ? normal.toLowerCase() : normal;
  };
  // Each path's folded form: a parent's folded path, then its last name folded.
  const folded = new Map<string, string>();
  const seen = new Set<string>();
  for (const entry of manifest.entries) {
    const cut = entry.path.lastIndexOf("/");
    const parent = cut < 0 ? "" : folded.get(entry.path.slice(0, cut)) ?? "";
    const key = `${parent}/${fold(entry.path.slice(cut + 1))}`;
    if (seen.has(key)) return entry.path;
    seen.add(key);
    folded.set(entry.path, key);
  }
  return undefined;
}

/**
 * Learns how the file system of a working folder compares names: creates a
 * probe named with an upper-case letter and a precomposed `é`, and looks it
 * up in lower case and decomposed. The working folder is this program's
 * own, and names from the network never start with `.privateshare-`.
 *
 * @param work the working folder
 * @returns how it folds names
 */
export async function probeFolding(work: Dir): Promise<Folding> {
  const probe = ".privateshare-case-A\u00e9";
  // One left by a run that stopped here is this program's own, in its own folder.
  await work.remove(probe).catch(() => {});
  const file = await work.createFile(probe);
  try {
    await file.close();
    return {
      case: (await work.lstat(".privateshare-case-a\u00e9")) !== undefined,
      normalisation: (await work.lstat(".privateshare-case-Ae\u0301")) !== undefined,
    };
  } finally {
    await work.remove(probe).catch(() => {});
  }
}

/**
 * The refusal for two names of a folder that the file system here holds as one.
 *
 * @param path the second name
 * @returns the refusal
 */
export function caseClash(path: string): CancelError {
  return new CancelError(
    "exists",
    `${quoteName(path)} is the same name on this file system as another name of the folder ` +
      "(letter case or Unicode normalisation): rename one of them",
  );
}

/**
 * Makes a filled working folder visible under `name` in `parent`: claims the
 * name with an exclusive `mkdir`, then renames the working folder onto the
 * claim, which replaces only that empty folder of its own. Whatever else
 * appears at the name meanwhile is left as it is, and the work is kept,
 * private again, for the next run.
 *
 * @param parent the folder that holds both
 * @param workName the working folder's name
 * @param work the working folder, open
 * @param name the destination's name
 * @param exists the refusal when the name is taken
 * @throws {CancelError} `exists` when the name is taken
 */
export async function placeWork(
  parent: Dir,
  workName: string,
  work: Dir,
  name: string,
  exists: CancelError,
): Promise<void> {
  try {
    await parent.mkdir(name);
  } catch (error) {
    if (errorCode(error) === "EEXIST" || error instanceof Deno.errors.AlreadyExists) throw exists;
    throw error;
  }
  // The working folder is private (0700) while it fills; the folder it
  // becomes gets the permissions any new folder gets here (the claim's).
  const claim = await parent.lstat(name);
  try {
    // The claim replaced by something else (an empty folder of someone else's included,
    // which a rename would replace): that is theirs, and left as it is.
    if (!claim?.isFolder) throw exists;
    await work.chmod(claim.mode & 0o777);
    const still = await parent.lstat(name);
    if (!still?.isFolder || !sameFile(still, claim)) throw exists;
    await parent.rename(workName, parent, name);
  } catch (error) {
    // Remove the claim only while it is still the empty folder made above.
    await work.chmod(0o700).catch(() => {});
    const now = await parent.lstat(name).catch(() => undefined);
    if (claim?.isFolder && now?.isFolder && sameFile(now, claim)) {
      await parent.remove(name).catch(() => {});
    }
    if (error === exists) throw exists;
    const code = errorCode(error);
    if (code === "ENOTEMPTY" || code === "EEXIST" || code === "ENOTDIR") throw exists;
    throw error;
  }
}
