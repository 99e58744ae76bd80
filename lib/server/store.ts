/**
 * The served folder: every file-system operation the network can trigger on
 * the server lives here. The listing, opening a file for reading, uploads
 * written to a hidden file and committed under their name only when
 * complete, and the sweep of stale partial uploads.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import { CancelError } from "../protocol/errors.ts";
import { quoteName, RESERVED_PREFIX, validateName } from "../protocol/names.ts";
import type { ListEntry } from "../protocol/ps2.ts";

const PARTIAL_PREFIX = RESERVED_PREFIX + "partial-";
const TEMP_PREFIX = RESERVED_PREFIX + "tmp-";
const LISTING_TTL_MS = 1000;

/** An upload in progress: a hidden file that becomes the named file on commit. */
export interface Upload {
  /** The hidden file, open for writing at {@link offset}. */
  readonly file: Deno.FsFile;
  /** Bytes already in the hidden file from an earlier, interrupted upload. */
  readonly offset: number;
  /** Empties the hidden file to start over. */
  restart(): Promise<void>;
  /**
   * Flushes the file to disk and makes it visible under its name, never
   * replacing an existing file.
   *
   * @throws {CancelError} `exists` when the name was taken meanwhile
   */
  commit(): Promise<void>;
  /**
   * Gives up: closes the hidden file and, unless `keep`, removes it.
   *
   * @param keep keep the partial file so that a later put can resume it
   */
  abort(keep: boolean): Promise<void>;
}

/** How a {@link Store} behaves. */
export interface StoreOptions {
  /** Refuse uploads. */
  readOnly: boolean;
  /** What a client that tries to upload to a read-only store is told. */
  readOnlyMessage?: string;
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
  #uploading = new Set<string>();
  #listing?: { entries: ListEntry[]; folderMtime: number; at: number };
  #open = new Set<string>();

  /**
   * Creates a Store.
   *
   * @param root the folder to serve
   * @param options whether uploads are refused, and what to say then
   */
  constructor(root: string, options: StoreOptions) {
    this.root = resolve(root);
    this.readOnly = options.readOnly;
    this.#readOnlyMessage = options.readOnlyMessage ?? READ_ONLY_MESSAGE;
  }

  /**
   * The regular files of the folder, by name, without privateshare's own
   * hidden files.
   *
   * @returns the entries, sorted by name
   */
  list(): ListEntry[] {
    // Listing costs a stat per file; a listing is reused while the folder is
    // unchanged (its mtime, which every create, link, rename and remove
    // moves) and for at most a second, which bounds how stale the size of a
    // file that another program rewrites in place can be.
    const now = performance.now();
    const folderMtime = Deno.statSync(this.root).mtime?.getTime() ?? 0;
    const cached = this.#listing;
    if (cached && cached.folderMtime === folderMtime && now - cached.at < LISTING_TTL_MS) {
      return cached.entries;
    }
    const entries = this.#readListing();
    this.#listing = { entries, folderMtime, at: now };
    return entries;
  }

  #readListing(): ListEntry[] {
    const entries: ListEntry[] = [];
    for (const entry of Deno.readDirSync(this.root)) {
      if (!entry.isFile || entry.name.startsWith(RESERVED_PREFIX)) continue;
      try {
        const info = Deno.statSync(join(this.root, entry.name));
        entries.push({ name: entry.name, size: info.size, mtime: info.mtime?.getTime() ?? 0 });
      } catch (error) {
        // Removed between the listing and the stat: it is simply not there.
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    return entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  }

  /**
   * Opens a regular file of the folder for reading. A link is never
   * followed: the name must be a regular file itself.
   *
   * @param name a name from the network
   * @returns the open file and its size
   * @throws {CancelError} `invalid-name` or `not-found`
   */
  async open(name: string): Promise<{ file: Deno.FsFile; size: number }> {
    validateName(name);
    const path = join(this.root, name);
    const notFound = new CancelError("not-found", `No file named ${quoteName(name)} on the server`);
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw notFound;
      throw error;
    }
    if (!info.isFile) throw notFound;
    const file = await Deno.open(path, { read: true });
    const opened = await file.stat();
    // The name may have been swapped for a link between lstat and open.
    if (opened.ino !== info.ino || opened.dev !== info.dev || !opened.isFile) {
      file.close();
      throw notFound;
    }
    return { file, size: opened.size };
  }

  /**
   * Whether a name is taken by anything in the folder (a link included).
   *
   * @param name a valid name
   */
  async exists(name: string): Promise<boolean> {
    try {
      await Deno.lstat(join(this.root, name));
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  }

  /**
   * Starts an upload of `name`. With `size` the upload is resumable: its
   * hidden file is named after the name and size, kept when the upload is
   * cut off, and continued by the next put of the same name and size.
   * Without `size` (the classic protocol) it is a one-off temporary file.
   *
   * @param name a name from the network
   * @param size the announced size, or undefined when unknown
   * @param resume whether to continue an earlier partial upload
   * @returns the upload
   * @throws {CancelError} `read-only`, `invalid-name`, `exists` or `busy`
   */
  async beginUpload(name: string, size: number | undefined, resume: boolean): Promise<Upload> {
    if (this.readOnly) throw new CancelError("read-only", this.#readOnlyMessage);
    validateName(name);
    if (await this.exists(name)) {
      throw new CancelError("exists", `${quoteName(name)} already exists on the server`);
    }
    if (this.#uploading.has(name)) {
      throw new CancelError("busy", `Another upload of ${quoteName(name)} is in progress`);
    }
    this.#uploading.add(name);
    try {
      return await this.#openUpload(name, size, resume);
    } catch (error) {
      this.#uploading.delete(name);
      throw error;
    }
  }

  async #openUpload(name: string, size: number | undefined, resume: boolean): Promise<Upload> {
    const path = size === undefined
      ? join(this.root, TEMP_PREFIX + crypto.randomUUID())
      : join(this.root, PARTIAL_PREFIX + partialKey(name, size));
    const file = await Deno.open(path, { read: true, write: true, create: true });
    this.#open.add(path);
    let offset = 0;
    if (resume && size !== undefined) {
      offset = (await file.stat()).size;
      if (offset > size) {
        await file.truncate(0);
        offset = 0;
      }
    } else {
      await file.truncate(0);
    }
    const finalPath = join(this.root, name);
    const invalidate = () => this.#listing = undefined;
    const release = () => {
      this.#uploading.delete(name);
      this.#open.delete(path);
    };
    let closed = false;
    const close = () => {
      if (!closed) file.close();
      closed = true;
    };
    return {
      file,
      offset,
      async restart() {
        await file.truncate(0);
        await file.seek(0, Deno.SeekMode.Start);
      },
      async commit() {
        try {
          await file.syncData();
          close();
          try {
            await Deno.link(path, finalPath);
          } catch (error) {
            if (error instanceof Deno.errors.AlreadyExists) {
              throw new CancelError("exists", `${quoteName(name)} already exists on the server`);
            }
            throw error;
          }
          await Deno.remove(path);
        } finally {
          release();
          invalidate();
        }
      },
      async abort(keep: boolean) {
        close();
        release();
        if (!keep || size === undefined) await Deno.remove(path).catch(() => {});
      },
    };
  }

  /**
   * Removes partial uploads older than `ttlMs` that no upload is using.
   *
   * @param ttlMs age after which a partial upload is removed
   * @returns how many were removed
   */
  async removeStalePartials(ttlMs: number): Promise<number> {
    const cutoff = Date.now() - ttlMs;
    let removed = 0;
    for await (const entry of Deno.readDir(this.root)) {
      if (!entry.isFile || !entry.name.startsWith(RESERVED_PREFIX)) continue;
      const path = join(this.root, entry.name);
      if (this.#open.has(path)) continue;
      try {
        const info = await Deno.stat(path);
        if ((info.mtime?.getTime() ?? 0) > cutoff) continue;
        await Deno.remove(path);
        removed++;
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    return removed;
  }
}

function partialKey(name: string, size: number): string {
  return createHash("sha256").update(`${name}\0${size}`).digest("hex").slice(0, 32);
}
