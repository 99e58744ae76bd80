/**
 * The served folder's folders (docs/PROTOCOL.md#folders): nested paths opened one checked
 * segment at a time from an open handle on the served folder (never through a link), folder
 * listings with recursive counts, a folder walked to be sent, and a folder received whole into a
 * hidden working folder beside its destination. Working folders are the server's own only when
 * their name matches its exact pattern and they are real folders of mode 0700 owned by its user
 * (`openOwnFolder`); only those are resumed or swept.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { CancelError } from "../protocol/errors.ts";
import type { Manifest } from "../protocol/folder.ts";
import { quoteName, RESERVED_PREFIX } from "../protocol/names.ts";
import { type FolderLimits, joinPath, lastName, segments } from "../protocol/paths.ts";
import type { ListEntry } from "../protocol/ps2.ts";
import type { FolderTotals } from "../exchange/folder.ts";
import { FolderReceiver, type ReceiveOptions } from "../exchange/folder_receive.ts";
import { openOwnFolder } from "../exchange/folder_work.ts";
import { Dir } from "../transfer/dir.ts";
import { notThere } from "../transfer/folder_guard.ts";
import { FreeSpace, type SpacePromise } from "./store_commit.ts";
import { walkFolder } from "../transfer/tree_walk.ts";

/** Working folders of a folder put: the key (of the path), then 128 random bits. */
export const WORK_NAME = /^\.privateshare-folder-([0-9a-f]{32})-[0-9a-f]{32}$/;
const WORK_PREFIX = RESERVED_PREFIX + "folder-";
/** A folder listing is reused for at most this long. */
const FOLDER_LISTING_TTL_MS = 1000;
/** Folder listings kept at once. */
const FOLDER_LISTINGS = 64;
/** Skipped entries remembered, so that each is logged once. */
const NOTICED = 10_000;

/** No limits: for counting what a folder holds. */
const UNLIMITED: FolderLimits = {
  maxFiles: Infinity,
  maxFolders: Infinity,
  maxDepth: Infinity,
  maxPathBytes: Infinity,
  maxNamesBytes: Infinity,
};

/** A folder put that passed its checks: its parent held open, its name reserved. */
export interface FolderUpload {
  /** The new folder's name in its parent. */
  readonly name: string;
  /**
   * Opens the working folder (this path's own from an earlier, cut-off
   * attempt, or a new one) and starts receiving into it.
   *
   * @param manifest the checked manifest
   * @param options buffers and progress
   * @returns the receiver, whose `commit` makes the folder visible
   */
  start(manifest: Manifest, options: ReceiveOptions): Promise<FolderReceiver>;
  /** Makes the folder visible under its name, never replacing anything. */
  commit(receiver: FolderReceiver): Promise<void>;
  /** Ends the put: the parent closed, the name free again. */
  release(): Promise<void>;
}

/** How the store's folders behave. */
export interface StoreFoldersOptions {
  /** Told once about each entry a folder get leaves out. */
  onSkipped: (path: string, message: string) => void;
  /** What one folder put or get may hold. */
  limits: Readonly<FolderLimits>;
  /** Bytes free on the folder's disk, or undefined when unknown. */
  freeSpace: () => Promise<number | undefined>;
}

/** The folders below the served folder. */
export class StoreFolders {
  readonly #root: string;
  #rootDir: Promise<Dir> | undefined;
  readonly #onSkipped: StoreFoldersOptions["onSkipped"];
  /** The free space that puts are checked against. */
  readonly space: FreeSpace;
  /** What one folder put or get may hold. */
  readonly limits: Readonly<FolderLimits>;
  /** Parents where this run made working folders (swept with the top). */
  readonly #parents = new Set<string>();
  /** Working folders receiving now (never swept). */
  readonly #inUse = new Set<string>();
  readonly #listings = new Map<string, { at: number; entries: readonly ListEntry[] }>();
  readonly #building = new Map<string, Promise<readonly ListEntry[]>>();
  readonly #noticed = new Set<string>();

  /**
   * Creates a StoreFolders.
   *
   * @param root the served folder, absolute
   * @param options notices, limits and the free-space probe
   */
  constructor(root: string, options: StoreFoldersOptions) {
    this.#root = root;
    this.#onSkipped = options.onSkipped;
    this.space = new FreeSpace(options.freeSpace);
    this.limits = options.limits;
  }

  /** The served folder, held open; opened again once its path names another folder. */
  async rootDir(): Promise<Dir> {
    const held = await this.#rootDir?.catch(() => undefined);
    if (!held || !await stillNamed(held, this.#root)) {
      held?.close().catch(() => {});
      this.#rootDir = Dir.open(this.#root);
      this.#rootDir.catch(() => this.#rootDir = undefined);
    }
    return await this.#rootDir!;
  }

  /**
   * Opens a folder by its path, one checked segment at a time.
   *
   * @param path a valid path, or "" for the served folder
   * @returns the open folder, or undefined when it is missing or not a folder (a link included)
   */
  async openFolder(path: string): Promise<Dir | undefined> {
    const root = await this.rootDir();
    return await root.openPath(path === "" ? [] : segments(path)).catch((error) => {
      if (notThere(error)) return undefined;
      throw error;
    });
  }

  /**
   * Opens the folder a path's last name is in.
   * @param path a valid path
   * @returns the open parent and the last name
   * @throws {CancelError} `not-found` when the parent is missing or not a folder
   */
  async openParent(path: string): Promise<{ parent: Dir; name: string }> {
    const names = segments(path);
    const name = names.pop()!;
    const parent = await this.openFolder(names.join("/"));
    if (!parent) {
      throw new CancelError(
        "not-found",
        `No folder ${quoteName(names.join("/"))} on the server: create it first`,
      );
    }
    return { parent, name };
  }

  /**
   * Lists a folder: its regular files and, with `withFolders`, its
   * subfolders with what they hold at any depth. Links, FIFOs and the
   * server's own hidden files are left out and never followed.
   *
   * @param path the folder's path, or "" for the top
   * @param withFolders whether to list subfolders
   * @param topFiles the top's files, from its cached listing (only for the top)
   * @returns the entries, sorted by name
   * @throws {CancelError} `not-found` when there is no such folder
   */
  async list(
    path: string,
    withFolders: boolean,
    topFiles?: readonly ListEntry[],
  ): Promise<readonly ListEntry[]> {
    const key = `${withFolders}\0${path}`;
    const cached = this.#listings.get(key);
    if (cached && performance.now() - cached.at < FOLDER_LISTING_TTL_MS) return cached.entries;
    // Requests that arrive while a listing is built wait for that one build.
    let building = this.#building.get(key);
    if (!building) {
      building = this.#build(key, path, withFolders, topFiles);
      this.#building.set(key, building);
      building.finally(() => this.#building.delete(key)).catch(() => {});
    }
    return await building;
  }

  async #build(
    key: string,
    path: string,
    withFolders: boolean,
    topFiles: readonly ListEntry[] | undefined,
  ): Promise<readonly ListEntry[]> {
    const dir = await this.openFolder(path);
    if (!dir) throw new CancelError("not-found", `No folder ${quoteName(path)} on the server`);
    const found: ListEntry[] = topFiles ? [...topFiles] : [];
    try {
      for (const entry of await dir.entries()) {
        if (entry.name.startsWith(RESERVED_PREFIX)) continue;
        if (topFiles && !entry.isDirectory) continue;
        const facts = await dir.lstat(entry.name);
        if (facts?.isFile) {
          found.push({ name: entry.name, size: facts.size, mtime: facts.mtimeMs });
        } else if (facts?.isFolder && withFolders) {
          const sub = await dir.openDir(entry.name).catch(() => undefined);
          if (!sub) continue;
          try {
            const { manifest } = await walkFolder(sub, { limits: UNLIMITED });
            found.push({
              name: entry.name,
              type: "folder",
              files: manifest.files.size,
              size: manifest.size,
              mtime: facts.mtimeMs,
            });
          } finally {
            await sub.close();
          }
        }
      }
    } finally {
      await dir.close();
    }
    // Sorted by UTF-16 code units, as the top's listing.
    found.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    if (this.#listings.size >= FOLDER_LISTINGS) this.#listings.clear();
    this.#listings.set(key, { at: performance.now(), entries: found });
    return found;
  }

  /** Forgets cached folder listings: the server changed a folder. */
  changed(): void {
    this.#listings.clear();
  }

  /**
   * Opens a folder to send and walks it; entries left out (links, FIFOs, names that break the
   * rules, folders that others could swap) are reported once each.
   *
   * @param path a valid path, or "" for the served folder
   * @returns the open folder and its manifest, or undefined when the path is not a folder
   * @throws {CancelError} `too-large` past a limit
   */
  async openToSend(path: string): Promise<{ dir: Dir; manifest: Manifest } | undefined> {
    const dir = await this.openFolder(path);
    if (!dir) return undefined;
    try {
      const { manifest, skipped } = await walkFolder(dir, { limits: this.limits });
      for (const skip of skipped) {
        const full = joinPath(path, skip.path);
        if (this.#noticed.has(full)) continue;
        if (this.#noticed.size >= NOTICED) this.#noticed.clear();
        this.#noticed.add(full);
        this.#onSkipped(full, `Left ${quoteName(full)} out of a folder get: ${skip.why}`);
      }
      return { dir, manifest };
    } catch (error) {
      await dir.close();
      throw error;
    }
  }

  /**
   * Starts a folder put: checks the limits, the parent, the name and the free space (less what
   * other folder puts under way were promised) before a byte of the folder moves. Its bytes are
   * promised in turn, and the parent stays open, until {@link FolderUpload.release}.
   *
   * @param path the new folder's path, valid
   * @param totals what the command announced
   * @param reserve takes the name for this put (throws `exists` when told it exists, or `busy`)
   * @param release frees the name again
   * @returns the upload
   * @throws {CancelError} `too-large`, `not-found`, `exists`, `busy` or `no-space`
   */
  async begin(
    path: string,
    totals: FolderTotals,
    reserve: (exists: boolean) => void,
    release: () => void,
  ): Promise<FolderUpload> {
    const limits = this.limits;
    if (totals.files > limits.maxFiles || totals.folders > limits.maxFolders) {
      throw new CancelError(
        "too-large",
        `The folder holds more than ${limits.maxFiles} files or ${limits.maxFolders} folders, ` +
          "this server's limit: send it in parts",
      );
    }
    const { parent, name } = await this.openParent(path);
    let space: SpacePromise | undefined;
    try {
      // A name that exists is refused first, with no need to ask the disk.
      if (await parent.lstat(name) !== undefined) reserve(true);
      space = await this.space.promise(totals.size);
      reserve(false);
    } catch (error) {
      space?.release();
      await parent.close();
      throw error;
    }
    return this.#upload(path, parent, space, release);
  }

  #upload(path: string, parent: Dir, space: SpacePromise, release: () => void): FolderUpload {
    const name = lastName(path);
    const key = createHash("sha256").update(path).digest("hex").slice(0, 32);
    const parentPath = segments(path).slice(0, -1).join("/");
    let workName: string | undefined;
    return {
      name,
      start: async (manifest, options) => {
        this.#parents.add(parentPath);
        let existing: Dir | undefined;
        for (const entry of await parent.entries()) {
          if (WORK_NAME.exec(entry.name)?.[1] !== key || this.#inUse.has(entry.name)) continue;
          existing = await openOwnFolder(parent, entry.name);
          if (existing) {
            workName = entry.name;
            break;
          }
        }
        workName ??= `${WORK_PREFIX}${key}-${randomHex()}`;
        this.#inUse.add(workName);
        // What is written is on the disk, seen by the next check: no longer promised.
        const receiving: ReceiveOptions = {
          ...options,
          onProgress: (bytes) => {
            space.bytes = Math.max(0, manifest.size - bytes);
            options.onProgress?.(bytes);
          },
        };
        try {
          return await FolderReceiver.start(parent, workName, manifest, receiving, existing);
        } catch (error) {
          await existing?.close();
          throw error;
        }
      },
      commit: async (receiver) => {
        await receiver.commit(
          name,
          new CancelError("exists", `${quoteName(path)} already exists on the server`),
        );
        this.changed();
      },
      release: async () => {
        if (workName !== undefined) this.#inUse.delete(workName);
        space.release();
        release();
        await parent.close();
      },
    };
  }

  /**
   * Removes the server's own working folders older than `ttlMs` that no put
   * is using, in the served folder and in every folder this run received a
   * folder into; nothing that {@link openOwnFolder} does not accept.
   *
   * @param ttlMs age after which a working folder is removed
   * @returns how many were removed
   */
  async sweep(ttlMs: number): Promise<number> {
    const cutoff = Date.now() - ttlMs;
    let removed = 0;
    for (const parentPath of ["", ...this.#parents]) {
      const parent = await this.openFolder(parentPath).catch(() => undefined);
      if (!parent) continue;
      try {
        for (const entry of await parent.entries()) {
          if (!WORK_NAME.test(entry.name) || this.#inUse.has(entry.name)) continue;
          const own = await openOwnFolder(parent, entry.name);
          if (!own) continue;
          const mtime = (await own.facts()).mtime?.getTime() ?? Infinity;
          await own.close();
          if (mtime > cutoff) continue;
          await Deno.remove(parent.path(entry.name), { recursive: true });
          removed++;
        }
      } finally {
        await parent.close();
      }
    }
    return removed;
  }

  /** Closes the served folder's handle. */
  async close(): Promise<void> {
    const root = this.#rootDir;
    this.#rootDir = undefined;
    await (await root?.catch(() => undefined))?.close();
  }
}

function randomHex(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Whether a path (links followed: the user's choice) still names a folder held open. */
async function stillNamed(dir: Dir, path: string): Promise<boolean> {
  const [held, named] = await Promise.all([dir.facts(), Deno.stat(path)]).catch(() => []);
  return held !== undefined && held.dev === named?.dev && held.ino === named.ino;
}
