/**
 * The served folder: every file-system operation the network can trigger on
 * the server lives here (and in the two modules it uses: store_files.ts
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
import { quoteName, validateName } from "../protocol/names.ts";
import type { ListEntry } from "../protocol/ps2.ts";
import {
  createExclusive,
  errorCode,
  type FileFacts,
  type FolderFile,
  lstatFacts,
  lstatFactsNow,
  openExisting,
  sameFile,
} from "./store_files.ts";
import { Listing } from "./store_listing.ts";
import { OwnFiles, removeQuietly } from "./store_own.ts";

/** An upload in progress: a hidden file that becomes the named file on commit. */
export interface Upload {
  /** The hidden file, open for writing at {@link offset}. */
  readonly file: FolderFile;
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

/** Something about the folder worth one log line. */
export interface FolderNotice {
  /** `unreadable`: a file the server may not read; `no-hard-links`: the commit's fallback is in use. */
  what: "unreadable" | "no-hard-links";
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
  #linkWorks = true;

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
    this.#own = new OwnFiles(this.root);
    this.#listing = new Listing(this.root, (name, why) =>
      this.#notice({
        what: "unreadable",
        name,
        message: `Cannot read ${quoteName(name)} (${why}): it is not listed or served`,
      }));
  }

  /**
   * The regular files of the folder that can be served, by name, without
   * privateshare's own hidden files.
   *
   * @returns the entries, sorted by name
   */
  async list(): Promise<readonly ListEntry[]> {
    return await this.#listing.entries();
  }

  /**
   * Opens a regular file of the folder for reading. A link is never
   * followed, a FIFO never waited on: the name must be a regular file
   * itself, and the open handle must be that file.
   *
   * @param name a name from the network
   * @returns the open file and its size
   * @throws {CancelError} `invalid-name` or `not-found` (also for a file the server may not read)
   */
  async open(name: string): Promise<{ file: FolderFile; size: number }> {
    validateName(name);
    const notFound = new CancelError("not-found", `No file named ${quoteName(name)} on the server`);
    if (this.#committing.has(name)) throw notFound;
    const path = join(this.root, name);
    const facts = lstatFactsNow(path);
    if (!facts?.isFile) throw notFound;
    const unreadable = new CancelError(
      "not-found",
      `The server may not read ${quoteName(name)}: ask the server's owner to make it readable`,
    );
    if (this.#listing.knownUnreadable(name, facts)) throw unreadable;
    let file: FolderFile;
    try {
      file = await openExisting(path);
    } catch (error) {
      const code = errorCode(error);
      if (code === "ENOENT" || code === "ELOOP") throw notFound;
      if (code === "EACCES" || code === "EPERM") {
        this.#listing.markUnreadable(name, facts, "permission denied");
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
   * Whether a name is taken by anything in the folder (a link included).
   *
   * @param name a valid name
   */
  async exists(name: string): Promise<boolean> {
    return await lstatFacts(join(this.root, name)) !== undefined;
  }

  /**
   * Starts an upload of `name`. With `size` the upload is resumable: its
   * hidden file is kept when the upload is cut off, and continued by the
   * next put of the same name and size. Without `size` (the classic
   * protocol) it is a one-off temporary file.
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
    const { fileName, file, offset } = await this.#own.open(name, size, resume);
    const path = join(this.root, fileName);
    const facts = await file.facts();
    const release = (kept: boolean) => {
      this.#uploading.delete(name);
      this.#own.done(fileName, kept);
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
          await this.#commit(name, path, written);
          committed = true;
        } finally {
          release(!committed && size !== undefined);
        }
      },
      abort: async (keep: boolean) => {
        await file.close();
        const kept = keep && size !== undefined;
        release(kept);
        if (!kept) await this.#removeIfSame(path, facts);
      },
    };
  }

  /** Makes a flushed temporary file visible under `name`, never replacing a file. */
  async #commit(name: string, path: string, facts: FileFacts): Promise<void> {
    const finalPath = join(this.root, name);
    const exists = () =>
      new CancelError("exists", `${quoteName(name)} already exists on the server`);
    this.#committing.add(name);
    try {
      const before = await this.#folderMtime();
      let linked = false;
      if (this.#linkWorks) {
        try {
          await Deno.link(path, finalPath);
          linked = true;
        } catch (error) {
          if (error instanceof Deno.errors.AlreadyExists) throw exists();
          if (!linkUnsupported(error)) throw error;
          this.#linkWorks = false;
          this.#notice({
            what: "no-hard-links",
            message: `The folder does not support hard links (${
              errorCode(error) ?? (error as Error).name
            }): uploads are committed by an exclusive create and a rename (see README)`,
          });
        }
      }
      if (!linked) {
        // Claim the name exclusively, then move the file over the claim. A
        // program that writes the name without checking, in between, can
        // lose its file; an exclusive create (another privateshare) cannot.
        let placeholder: FolderFile;
        try {
          placeholder = await createExclusive(finalPath);
        } catch (error) {
          if (errorCode(error) === "EEXIST") throw exists();
          throw error;
        }
        const claim = await placeholder.facts();
        await placeholder.close();
        try {
          await Deno.rename(path, finalPath);
        } catch (error) {
          await this.#removeIfSame(finalPath, claim);
          throw error;
        }
      }
      const placed = await lstatFacts(finalPath);
      if (!placed || !sameFile(placed, facts)) {
        throw new Error(
          `The upload's temporary file for ${quoteName(name)} was replaced meanwhile`,
        );
      }
      if (linked) await removeQuietly(path);
      this.#listing.added(name, placed, before, await this.#folderMtime());
    } finally {
      this.#committing.delete(name);
    }
  }

  /** Removes a file this run created, unless its name now holds something else. */
  async #removeIfSame(path: string, facts: FileFacts): Promise<void> {
    const now = await lstatFacts(path);
    if (now && sameFile(now, facts)) await removeQuietly(path);
  }

  /**
   * Removes the server's own temporary files older than `ttlMs` that no
   * upload is using; nothing that it cannot prove is its own.
   *
   * @param ttlMs age after which a partial upload is removed
   * @returns how many were removed
   */
  async removeStalePartials(ttlMs: number): Promise<number> {
    return await this.#own.sweep(ttlMs);
  }

  async #folderMtime(): Promise<number> {
    return (await Deno.stat(this.root)).mtime?.getTime() ?? 0;
  }
}

/** Whether `link()` failed because the file system has no hard links. */
function linkUnsupported(error: unknown): boolean {
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotSupported) {
    return true;
  }
  const code = errorCode(error);
  return code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "ENOSYS";
}
