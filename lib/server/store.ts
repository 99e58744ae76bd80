/**
 * The served folder: every file-system operation the network can trigger on
 * the server lives here (and in the modules it uses: transfer/files.ts
 * opens files, store_listing.ts lists them). The folder is not trusted:
 * other people and programs may create files, links and FIFOs in it at any
 * moment. So a temporary file is always created new, under a random name;
 * nothing is opened through a link or waited on as a FIFO; every handle is
 * checked with `fstat`; and only files that match the server's own exact
 * name patterns, are regular, have one link and belong to the server's own
 * user count as its own, to continue or to delete.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { CancelError } from "../protocol/errors.ts";
import type { Manifest } from "../protocol/folder.ts";
import { quoteName, validateName } from "../protocol/names.ts";
import { FOLDER_LIMITS, type FolderLimits, segments, validatePath } from "../protocol/paths.ts";
import type { ListEntry } from "../protocol/ps2.ts";
import type { FolderTotals } from "../exchange/folder.ts";
import type { Dir } from "../transfer/dir.ts";
import {
  errorCode,
  type FileFacts,
  type FolderFile,
  lstatFacts,
  lstatFactsNow,
  openExisting,
  sameFile,
} from "../transfer/files.ts";
import { FilePlacer, freeBytes, removeIfSame, type Upload } from "./store_commit.ts";
export type { Upload };
import { type FolderUpload, StoreFolders } from "./store_folders.ts";
import { Listing } from "./store_listing.ts";
import { folderSafetyNotice } from "./folder_safety.ts";
import { UnsafeFolderError } from "../transfer/folder_guard.ts";
import { OwnFiles } from "./store_own.ts";

/** Something about the folder worth one log line. */
export interface FolderNotice {
  /**
   * `unreadable`: a file the server may not read; `no-hard-links`: the
   * commit's fallback is in use; `skipped`: a folder get left an entry out;
   * `unsafe`: folders in the served folder are refused (others could swap them).
   */
  what: "unreadable" | "no-hard-links" | "skipped" | "unsafe";
  /** The file concerned, if one. */
  name?: string;
  /** One sentence. */
  message: string;
}

/** How a {@link Store} behaves. */
export interface StoreOptions {
  /** Refuse uploads. */
  readOnly: boolean;
  /** What a client that tries to upload to a read-only store is told. */
  readOnlyMessage?: string;
  /** Told once about each problem of the folder. */
  onNotice?: (notice: FolderNotice) => void;
  /** What one folder put or get may hold (default {@link FOLDER_LIMITS}). */
  folderLimits?: Readonly<FolderLimits>;
  /**
   * Bytes free on the folder's disk, or undefined when unknown; default
   * `statfs` (which needs `--allow-sys=statfs`). Tests inject a full disk here.
   */
  freeSpace?: () => Promise<number | undefined>;
}

/** What a read-only server tells a client that tries to upload, unless told otherwise. */
export const READ_ONLY_MESSAGE = "This server is read-only: it does not accept uploads";

/** The folder a server serves. */
export class Store {
  /** Absolute path of the folder. */
  readonly root: string;
  /** Whether uploads are refused. */
  readonly readOnly: boolean;
  readonly #readOnlyMessage: string;
  readonly #notice: (notice: FolderNotice) => void;
  readonly #listing: Listing;
  /** Names being uploaded: one upload per name at a time. */
  #uploading = new Set<string>();
  /** Names whose commit is under way (briefly an empty placeholder without hard links). */
  #committing = new Set<string>();
  readonly #own: OwnFiles;
  readonly #folders: StoreFolders;
  readonly #place: FilePlacer;

  /**
   * Creates a Store.
   *
   * @param root the folder to serve
   * @param options whether uploads are refused, and where notices go
   */
  constructor(root: string, options: StoreOptions) {
    this.root = resolve(root);
    this.readOnly = options.readOnly;
    this.#readOnlyMessage = options.readOnlyMessage ?? READ_ONLY_MESSAGE;
    this.#notice = options.onNotice ?? (() => {});
    // Said once, when someone listens: folders that cannot be served safely here.
    if (options.onNotice) folderSafetyNotice(this.root).then((n) => n && this.#notice(n));
    this.#own = new OwnFiles(this.root);
    this.#folders = new StoreFolders(this.root, {
      onSkipped: (name, message) => this.#notice({ what: "skipped", name, message }),
      limits: options.folderLimits ?? FOLDER_LIMITS,
      freeSpace: options.freeSpace ?? (() => freeBytes(this.root)),
    });
    this.#place = new FilePlacer((message) => this.#notice({ what: "no-hard-links", message }));
    this.#listing = new Listing(this.root, (name, why) =>
      this.#notice({
        what: "unreadable",
        name,
        message: `Cannot read ${quoteName(name)} (${why}): it is not listed or served`,
      }));
  }

  /**
   * The regular files of a folder that can be served, by name, without
   * privateshare's own hidden files; with `withFolders` its subfolders too,
   * with the files and bytes below each.
   *
   * @param folder a path from the network, or undefined for the top
   * @param withFolders whether to list subfolders (newer clients)
   * @returns the entries, sorted by name
   * @throws {CancelError} `invalid-name`, or `not-found` when there is no such folder
   */
  async list(folder?: string, withFolders = false): Promise<readonly ListEntry[]> {
    if (folder !== undefined) validatePath(folder);
    if (folder === undefined && !withFolders) return await this.#listing.entries();
    if (folder === undefined) {
      const files = await this.#listing.entries();
      // Where folders cannot be served safely (said at start), the top's files still are.
      return await this.#folders.list("", true, files).catch((error) => {
        if (error instanceof UnsafeFolderError) return files;
        throw error;
      });
    }
    return await this.#folders.list(folder, withFolders);
  }

  /**
   * Opens a regular file of the folder for reading. A link is never
   * followed, a FIFO never waited on: the name must be a regular file
   * itself, and the open handle must be that file. A path's folders are
   * opened one checked segment at a time, never through a link.
   *
   * @param name a path from the network
   * @param topLevel only a name of the top folder (classic)
   * @returns the open file and its size
   * @throws {CancelError} `invalid-name` or `not-found` (also for a file the server may not read)
   */
  async open(name: string, topLevel = false): Promise<{ file: FolderFile; size: number }> {
    if (topLevel) validateName(name);
    else validatePath(name);
    if (segments(name).length > 1) {
      const { parent, name: last } = await this.#folders.openParent(name).catch(() => {
        throw new CancelError("not-found", `No file named ${quoteName(name)} on the server`);
      });
      try {
        return await this.#openFile(name, parent.path(last));
      } finally {
        await parent.close();
      }
    }
    return await this.#openFile(name, join(this.root, name));
  }

  /**
   * Opens a folder of the served folder to send it, walked whole.
   *
   * @param name a path from the network, or null for the served folder itself (the web page's zip)
   * @returns the open folder and its manifest, or undefined when it is no folder
   * @throws {CancelError} `invalid-name`, or `too-large` past the folder limits
   */
  async openFolder(name: string | null): Promise<{ dir: Dir; manifest: Manifest } | undefined> {
    if (name !== null) validatePath(name);
    return await this.#folders.openToSend(name ?? "");
  }

  async #openFile(name: string, path: string): Promise<{ file: FolderFile; size: number }> {
    const notFound = new CancelError("not-found", `No file named ${quoteName(name)} on the server`);
    if (this.#committing.has(name)) throw notFound;
    const facts = lstatFactsNow(path);
    if (facts?.isFolder) {
      throw new CancelError(
        "not-found",
        `${quoteName(name)} is a folder, which this client cannot fetch: use a newer client`,
      );
    }
    if (!facts?.isFile) throw notFound;
    const unreadable = new CancelError(
      "not-found",
      `The server may not read ${quoteName(name)}: ask the server's owner to make it readable`,
    );
    const top = !name.includes("/");
    if (top && this.#listing.knownUnreadable(name, facts)) throw unreadable;
    let file: FolderFile;
    try {
      file = await openExisting(path);
    } catch (error) {
      const code = errorCode(error);
      if (code === "ENOENT" || code === "ELOOP") throw notFound;
      if (code === "EACCES" || code === "EPERM") {
        if (top) this.#listing.markUnreadable(name, facts, "permission denied");
        throw unreadable;
      }
      throw error;
    }
    const opened = await file.facts();
    // The name may have been swapped between the lstat and the open.
    if (!opened.isFile || !sameFile(opened, facts)) {
      await file.close();
      throw notFound;
    }
    return { file, size: opened.size };
  }

  /**
   * Starts an upload of `name`. With `size` the upload is resumable: its
   * hidden file is kept when the upload is cut off, and continued by the
   * next put of the same name and size. Without `size` (the classic
   * protocol) it is a one-off temporary file.
   *
   * The partial file stays in the top folder; a path's file is linked into
   * its folder, which must exist, opened one checked segment at a time.
   *
   * @param name a path from the network
   * @param size the announced size, or undefined when unknown
   * @param resume whether to continue an earlier partial upload
   * @param topLevel only a name of the top folder (classic)
   * @returns the upload
   * @throws {CancelError} `read-only`, `invalid-name`, `not-found`, `exists`, `busy` or `no-space`
   */
  async beginUpload(
    name: string,
    size: number | undefined,
    resume: boolean,
    topLevel = false,
  ): Promise<Upload> {
    this.checkWritable();
    if (topLevel) validateName(name);
    else validatePath(name);
    const at = segments(name).length > 1 ? await this.#folders.openParent(name) : undefined;
    try {
      const finalPath = at ? at.parent.path(at.name) : join(this.root, name);
      this.#reserve(name, await lstatFacts(finalPath) !== undefined);
      try {
        const upload = await this.#openUpload(name, size, resume, finalPath, at?.parent);
        return await this.#folders.space.admit(upload, size);
      } catch (error) {
        this.#uploading.delete(name);
        throw error;
      }
    } catch (error) {
      await at?.parent.close();
      throw error;
    }
  }

  /** Refuses a change when the folder is read-only, in the store's words (`read-only`). */
  checkWritable(): void {
    if (this.readOnly) throw new CancelError("read-only", this.#readOnlyMessage);
  }

  /**
   * Creates one empty folder (the web page's folder upload), exclusively, in its parent opened one
   * checked segment at a time: nothing is followed through a link, nothing replaced.
   *
   * @param path a path from the network
   * @throws {CancelError} `read-only`, `invalid-name`, `not-found` (no parent) or `exists`
   */
  async makeFolder(path: string): Promise<void> {
    this.checkWritable();
    validatePath(path);
    const { parent, name } = await this.#folders.openParent(path);
    try {
      await parent.mkdir(name);
    } catch (error) {
      if (errorCode(error) !== "EEXIST") throw error;
      throw new CancelError("exists", `${quoteName(path)} already exists on the server`);
    } finally {
      await parent.close();
    }
    this.#folders.changed();
  }

  /** Takes a name for one upload (of a file or folder), unless it is taken. */
  #reserve(name: string, exists: boolean): void {
    if (exists) throw new CancelError("exists", `${quoteName(name)} already exists on the server`);
    if (this.#uploading.has(name)) {
      throw new CancelError("busy", `Another upload of ${quoteName(name)} is in progress`);
    }
    this.#uploading.add(name);
  }

  async #openUpload(
    name: string,
    size: number | undefined,
    resume: boolean,
    finalPath: string,
    parent: Dir | undefined,
  ): Promise<Upload> {
    const { fileName, file, offset } = await this.#own.open(name, size, resume);
    const path = join(this.root, fileName);
    const facts = await file.facts();
    const release = (kept: boolean) => {
      this.#uploading.delete(name);
      this.#own.done(fileName, kept);
      parent?.close().catch(() => {});
    };
    return {
      file,
      offset,
      restart: () => file.truncate(0),
      commit: async () => {
        let committed = false;
        try {
          await file.syncData();
          const written = await file.facts();
          await file.close();
          await this.#commit(name, path, finalPath, written);
          committed = true;
        } finally {
          release(!committed && size !== undefined);
        }
      },
      abort: async (keep: boolean) => {
        await file.close();
        const kept = keep && size !== undefined;
        release(kept);
        if (!kept) await removeIfSame(path, facts);
      },
    };
  }

  /** Makes a flushed temporary file visible under `name`, never replacing a file. */
  async #commit(name: string, path: string, finalPath: string, facts: FileFacts): Promise<void> {
    this.#committing.add(name);
    try {
      const before = await this.#folderMtime();
      const placed = await this.#place.commit(name, path, finalPath, facts);
      if (!name.includes("/")) this.#listing.added(name, placed, before, await this.#folderMtime());
      this.#folders.changed();
    } finally {
      this.#committing.delete(name);
    }
  }

  /**
   * Removes the server's own temporary files older than `ttlMs` that no
   * upload is using; nothing that it cannot prove is its own.
   *
   * @param ttlMs age after which a partial upload is removed
   * @returns how many were removed
   */
  async removeStalePartials(ttlMs: number): Promise<number> {
    return await this.#own.sweep(ttlMs) + await this.#folders.sweep(ttlMs);
  }

  /**
   * Starts a folder put (docs/PROTOCOL.md#put-folder): checks everything
   * the command says before a byte of the folder moves.
   *
   * @param name the new folder's path, from the network
   * @param totals the files, folders and bytes announced
   * @returns the upload, which must be released
   * @throws {CancelError} `read-only`, `invalid-name`, `not-found`, `exists`, `busy`,
   *   `too-large` or `no-space`
   */
  async beginFolderUpload(name: string, totals: FolderTotals): Promise<FolderUpload> {
    this.checkWritable();
    validatePath(name);
    return await this.#folders.begin(
      name,
      totals,
      (exists) => this.#reserve(name, exists),
      () => this.#uploading.delete(name),
    );
  }

  /** The limits of one folder put or get. */
  get folderLimits(): Readonly<FolderLimits> {
    return this.#folders.limits;
  }

  /** Closes the handle on the served folder. */
  async close(): Promise<void> {
    await this.#folders.close();
  }

  async #folderMtime(): Promise<number> {
    return (await Deno.stat(this.root)).mtime?.getTime() ?? 0;
  }
}
