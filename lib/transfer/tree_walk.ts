/**
 * Walking a folder to send it: every regular file and folder below it, in
 * the order a receiver can create them (a folder before what it holds),
 * without following a link. Links, FIFOs, devices, sockets, names that
 * break the name rules and privateshare's own hidden files are left out,
 * each reported with why, as rsync leaves links out without `-l`.
 *
 * @module
 */

import { CancelError } from "../protocol/errors.ts";
import { type Manifest, ManifestBuilder } from "../protocol/folder.ts";
import { nameProblem, RESERVED_PREFIX } from "../protocol/names.ts";
import { FOLDER_LIMITS, type FolderLimits, joinPath } from "../protocol/paths.ts";
import { Dir } from "./dir.ts";
import { FolderChangedError, NotAFolderError, UnsafeFolderError } from "./folder_guard.ts";

/** Something the walk left out. */
export interface Skipped {
  /** Its path below the walked folder. */
  path: string;
  /**
   * `link`, `special` (FIFO, device, socket), `name` (breaks the name rules), `unreadable`, or
   * `unsafe` (a folder others could swap for a link, see {@link UnsafeFolderError}).
   */
  kind: "link" | "special" | "name" | "unreadable" | "unsafe";
  /** A phrase for a person: why it was left out. */
  why: string;
}

/** What a walk found. */
export interface Walk {
  /** Every folder and file to send. */
  manifest: Manifest;
  /** What was left out, in the order met. */
  skipped: Skipped[];
}

/** Options of {@link walkFolder}. */
export interface WalkOptions {
  /** Limits on files, folders, depth and bytes of names (default {@link FOLDER_LIMITS}). */
  limits?: Readonly<FolderLimits>;
  /** How many `lstat` calls run at once (default 32). */
  parallel?: number;
}

/**
 * Walks an open folder.
 *
 * @param top the folder to walk
 * @param options limits
 * @returns the manifest of what to send and what was left out
 * @throws {CancelError} `too-large` past a limit
 */
export async function walkFolder(top: Dir, options: WalkOptions = {}): Promise<Walk> {
  const limits = options.limits ?? FOLDER_LIMITS;
  const parallel = options.parallel ?? 32;
  const builder = new ManifestBuilder(limits);
  const skipped: Skipped[] = [];
  const visit = async (dir: Dir, prefix: string, depth: number): Promise<void> => {
    const names = (await dir.entries()).map((entry) => entry.name).sort(byCodePoint);
    const facts = await dir.lstatAll(names, parallel);
    const folders: string[] = [];
    names.forEach((name, i) => {
      const fact = facts[i];
      if (!fact || name.startsWith(RESERVED_PREFIX)) return; // gone, or privateshare's own
      const path = joinPath(prefix, name);
      const problem = nameProblem(name);
      const isFolder = fact.isFolder;
      if (fact.isLink) {
        skipped.push({ path, kind: "link", why: "it is a link, and links are not followed" });
      } else if (!fact.isFile && !isFolder) {
        skipped.push({ path, kind: "special", why: "it is not a regular file or folder" });
      } else if (problem) {
        skipped.push({ path, kind: "name", why: `its name is refused: ${problem}` });
      } else if (isFolder) {
        if (depth + 1 > limits.maxDepth) {
          throw new CancelError(
            "too-large",
            `${JSON.stringify(path)} is more than ${limits.maxDepth} folders deep`,
          );
        }
        folders.push(name);
      } else {
        builder.add({ path, size: fact.size });
      }
    });
    for (const name of folders) {
      let sub: Dir | undefined;
      try {
        sub = await dir.openDir(name);
      } catch (error) {
        // The folder being walked moved: nothing more of it can be trusted.
        if (error instanceof FolderChangedError) throw error;
        if (error instanceof UnsafeFolderError) {
          skipped.push({ path: joinPath(prefix, name), kind: "unsafe", why: error.why });
          continue;
        }
        if (!(error instanceof NotAFolderError) && !isDenied(error)) throw error;
        skipped.push({
          path: joinPath(prefix, name),
          kind: "unreadable",
          why: error instanceof NotAFolderError
            ? "it changed while the folder was read"
            : "permission denied",
        });
        continue;
      }
      if (!sub) continue;
      try {
        // Listed only once it is open: a folder left out is not sent empty either.
        builder.add({ path: joinPath(prefix, name), type: "folder" });
        await visit(sub, joinPath(prefix, name), depth + 1);
      } finally {
        await sub.close();
      }
    }
  };
  await visit(top, "", 1);
  return { manifest: builder.manifest, skipped };
}

/** Orders names by code point, the same on every system. */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isDenied(error: unknown): boolean {
  const code = (error as { code?: string })?.code;
  return code === "EACCES" || code === "EPERM";
}

/**
 * Keeps the folders of one path open while a transfer moves through a
 * folder in manifest order, so that consecutive files of one folder open it
 * once, and every folder is reached one checked segment at a time.
 */
export class DirCursor {
  readonly #top: Dir;
  /** The open folders below the top, outermost first, and their names. */
  #chain: { name: string; dir: Dir }[] = [];

  /**
   * Creates a DirCursor.
   *
   * @param top the folder that paths are relative to (not closed here)
   */
  constructor(top: Dir) {
    this.#top = top;
  }

  /**
   * The open folder that a path's last name is in.
   *
   * @param path a valid path below the top
   * @returns the folder and the last name
   * @throws {NotAFolderError} when a folder on the way is not one
   */
  async parentOf(path: string): Promise<{ dir: Dir; name: string }> {
    const names = path.split("/");
    const name = names.pop()!;
    let keep = 0;
    while (
      keep < this.#chain.length && keep < names.length && this.#chain[keep]!.name === names[keep]
    ) keep++;
    while (this.#chain.length > keep) await this.#chain.pop()!.dir.close();
    for (let at = keep; at < names.length; at++) {
      const here = at === 0 ? this.#top : this.#chain[at - 1]!.dir;
      const dir = await here.openDir(names[at]!);
      if (!dir) throw new NotAFolderError(`${names.slice(0, at + 1).join("/")} is missing`);
      this.#chain.push({ name: names[at]!, dir });
    }
    return { dir: names.length === 0 ? this.#top : this.#chain.at(-1)!.dir, name };
  }

  /** Closes every folder it holds open (not the top). */
  async close(): Promise<void> {
    while (this.#chain.length > 0) await this.#chain.pop()!.dir.close();
  }
}
