/**
 * The server's own temporary files in the served folder: upload
 * temporaries created new under names nobody can foresee, the partial
 * uploads that a later put may continue, and the proof that a file is the
 * server's own before it is continued or deleted: one of its exact name
 * patterns (with 128 random bits), a regular file, one link, owned by the
 * user the server runs as. Anything else, however much it looks like one
 * (`.privateshare-settings.json`), is someone else's and left alone.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { RESERVED_PREFIX } from "../protocol/names.ts";
import {
  createExclusive,
  errorCode,
  type FileFacts,
  type FolderFile,
  lstatFacts,
  openExisting,
  reopenForWriting,
  sameFile,
} from "../transfer/files.ts";

const PARTIAL_PREFIX = RESERVED_PREFIX + "partial-";
const TEMP_PREFIX = RESERVED_PREFIX + "tmp-";
/** A resumable upload: key (of name and size), then 128 random bits. */
const PARTIAL_NAME = /^\.privateshare-partial-([0-9a-f]{32})-[0-9a-f]{32}$/;
/** A one-off upload (classic) or the server's probe: 128 random bits. */
const TEMP_NAME = /^\.privateshare-tmp-[0-9a-f]{32}$/;

/** A temporary file this server opened. */
export interface OwnFile {
  /** Its name in the folder. */
  fileName: string;
  /** The open file. */
  file: FolderFile;
  /** Bytes it holds already (a partial upload continued), else 0. */
  offset: number;
}

/** The server's own temporary files in one folder. */
export class OwnFiles {
  readonly #root: string;
  /** Temporary files open now (never swept). */
  #inUse = new Set<string>();
  /** Partial uploads by key, as found in the folder or made. */
  #partials = new Map<string, Set<string>>();
  #indexed: Promise<void> | undefined;
  #uid: Promise<number> | undefined;

  /**
   * Creates an OwnFiles.
   *
   * @param root the folder, absolute
   */
  constructor(root: string) {
    this.#root = root;
  }

  /**
   * Opens the file an upload writes to: with a size, the largest partial
   * upload of that name and size when `resume` (earlier ones are removed),
   * else a new one; without a size (classic), a new one-off file.
   *
   * @param name the upload's name
   * @param size its size, or undefined
   * @param resume whether to continue an earlier partial upload
   * @returns the open file, in use until {@link done}
   */
  async open(name: string, size: number | undefined, resume: boolean): Promise<OwnFile> {
    const key = size === undefined ? undefined : partialKey(name, size);
    let own: OwnFile | undefined;
    if (key !== undefined) {
      await this.#index();
      if (resume) own = await this.#resumable(key, size!);
      // Earlier partials of this name and size that are not continued are
      // of no more use.
      for (const other of [...this.#partials.get(key) ?? []]) {
        if (other !== own?.fileName) await this.remove(other);
      }
    }
    own ??= { ...await this.#create(key), offset: 0 };
    if (key !== undefined) this.#remember(key, own.fileName);
    this.#inUse.add(own.fileName);
    return own;
  }

  /**
   * An upload is over with its file: kept as a partial upload, or gone.
   *
   * @param fileName the file
   * @param kept whether it stays in the folder for a later put
   */
  done(fileName: string, kept: boolean): void {
    this.#inUse.delete(fileName);
    if (!kept) this.#forget(fileName);
  }

  /**
   * Removes one of the server's own temporary files, if it can prove it is one.
   *
   * @param fileName the file's name in the folder
   * @returns whether it was removed
   */
  async remove(fileName: string): Promise<boolean> {
    const facts = await lstatFacts(join(this.#root, fileName));
    if (!facts) {
      this.#forget(fileName);
      return false;
    }
    if (!await this.#isOwn(facts)) return false;
    await removeQuietly(join(this.#root, fileName));
    this.#forget(fileName);
    return true;
  }

  /**
   * Removes the server's own temporary files older than `ttlMs` that no
   * upload is using. Only names of its exact patterns, regular files with
   * one link, owned by its user, are its own; anything else is left alone.
   *
   * @param ttlMs age after which a partial upload is removed
   * @returns how many were removed
   */
  async sweep(ttlMs: number): Promise<number> {
    const cutoff = Date.now() - ttlMs;
    let removed = 0;
    for await (const entry of Deno.readDir(this.#root)) {
      if (!PARTIAL_NAME.test(entry.name) && !TEMP_NAME.test(entry.name)) continue;
      if (this.#inUse.has(entry.name)) continue;
      const facts = await lstatFacts(join(this.#root, entry.name));
      if (!facts || facts.mtimeMs > cutoff) continue;
      if (await this.remove(entry.name)) removed++;
    }
    return removed;
  }

  /** Creates a new temporary file under a random name that nobody could have foreseen. */
  async #create(key: string | undefined): Promise<{ fileName: string; file: FolderFile }> {
    for (let attempt = 0;; attempt++) {
      const fileName = key === undefined
        ? TEMP_PREFIX + randomHex()
        : `${PARTIAL_PREFIX}${key}-${randomHex()}`;
      try {
        return { fileName, file: await createExclusive(join(this.#root, fileName)) };
      } catch (error) {
        // 128 random bits taken already: only a hostile folder; try another.
        if (errorCode(error) !== "EEXIST" || attempt >= 3) throw error;
      }
    }
  }

  /** The largest partial upload of `key` that is provably this server's own, opened. */
  async #resumable(key: string, size: number): Promise<OwnFile | undefined> {
    const candidates: { fileName: string; facts: FileFacts }[] = [];
    for (const fileName of this.#partials.get(key) ?? []) {
      if (this.#inUse.has(fileName)) continue;
      const facts = await lstatFacts(join(this.#root, fileName));
      if (facts && await this.#isOwn(facts) && facts.size <= size) {
        candidates.push({ fileName, facts });
      }
    }
    candidates.sort((a, b) => b.facts.size - a.facts.size);
    for (const { fileName, facts } of candidates) {
      const path = join(this.#root, fileName);
      let file: FolderFile;
      try {
        file = await openExisting(path);
      } catch (error) {
        const code = errorCode(error);
        if (code === "ENOENT" || code === "ELOOP") continue;
        throw error;
      }
      // Nothing is written before the handle is checked, twice: as opened,
      // and as opened for writing.
      const opened = await file.facts();
      if (!sameFile(opened, facts) || !await this.#isOwn(opened)) {
        await file.close();
        continue;
      }
      const writable = await reopenForWriting(file, path);
      const reopened = await writable.facts();
      if (sameFile(reopened, opened) && await this.#isOwn(reopened)) {
        return { fileName, file: writable, offset: reopened.size };
      }
      await writable.close();
    }
    return undefined;
  }

  /** Whether a file is provably one this server made: regular, one link, its own user's. */
  async #isOwn(facts: FileFacts): Promise<boolean> {
    return facts.isFile && facts.nlink === 1 && facts.uid === await this.#ownUid();
  }

  /**
   * The user id that files created by this server get, learnt from a file
   * it creates (Deno.uid() would need a permission the server is not given).
   */
  #ownUid(): Promise<number> {
    this.#uid ??= (async () => {
      const { fileName, file } = await this.#create(undefined);
      try {
        return (await file.facts()).uid;
      } finally {
        await file.close();
        await removeQuietly(join(this.#root, fileName));
      }
    })();
    this.#uid.catch(() => this.#uid = undefined);
    return this.#uid;
  }

  /** Finds the partial uploads left in the folder by an earlier run (once). */
  #index(): Promise<void> {
    this.#indexed ??= (async () => {
      for await (const entry of Deno.readDir(this.#root)) {
        const key = PARTIAL_NAME.exec(entry.name)?.[1];
        if (key !== undefined) this.#remember(key, entry.name);
      }
    })();
    this.#indexed.catch(() => this.#indexed = undefined);
    return this.#indexed;
  }

  #remember(key: string, fileName: string): void {
    let files = this.#partials.get(key);
    if (!files) this.#partials.set(key, files = new Set());
    files.add(fileName);
  }

  #forget(fileName: string): void {
    const key = PARTIAL_NAME.exec(fileName)?.[1];
    if (key !== undefined) this.#partials.get(key)?.delete(fileName);
  }
}

/**
 * Removes a name, which may be gone already.
 *
 * @param path the path
 */
export async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

function partialKey(name: string, size: number): string {
  return createHash("sha256").update(`${name}\0${size}`).digest("hex").slice(0, 32);
}

function randomHex(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
