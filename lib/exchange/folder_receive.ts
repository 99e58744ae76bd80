/**
 * Receiving a folder, the same on both ends (the server for a put, the
 * client for a get): into a hidden working folder beside its destination,
 * from a manifest already checked whole. The working folder says what it
 * already holds (the have-list, for a resume), takes each file's data,
 * verifies its SHA-256, flushes files in batches (many flushes at once,
 * after the batch's files are written) rather than one after each file,
 * and is finally made visible by one rename onto a
 * name claimed with an exclusive `mkdir`, so that an existing folder is
 * never replaced and nothing is visible before it is whole.
 *
 * The working folder is this program's own (mode 0700, checked by
 * `openOwnFolder` in folder_work.ts); everything in it is reached through open folder
 * handles, never through a link.
 *
 * @module
 */

import type { Hash } from "node:crypto";
import { CancelError, ProtocolError } from "../protocol/errors.ts";
import type { DataHeader, HaveEntry, Manifest } from "../protocol/folder.ts";
import { quoteName } from "../protocol/names.ts";
import type { Wire } from "../net/wire.ts";
import { hashPrefix, newHash, receiveBody } from "../transfer/body.ts";
import { Dir } from "../transfer/dir.ts";
import { errorCode, type FolderFile, reopenForWriting } from "../transfer/files.ts";
import type { ChunkPool } from "../transfer/pool.ts";
import { DirCursor } from "../transfer/tree_walk.ts";
import {
  caseClash,
  createFile,
  foldClash,
  type Folding,
  ownFolder,
  placeWork,
  probeFolding,
  SMALL_FILE,
  tidyWork,
} from "./folder_work.ts";
import { verifyTrailer } from "./ps2.ts";

/** What receiving a folder needs. */
export interface ReceiveOptions {
  /** Buffers for bodies. */
  pool: ChunkPool;
  /** Called with the bytes of file data received so far in this run. */
  onProgress?: (bytes: number) => void;
  /** Called when a file has arrived and was verified. */
  onFile?: (path: string, size: number) => void;
  /** Flushes to disk running at once (default 256). */
  parallelFlush?: number;
  /** Files written and held open until they are flushed together (default 512). */
  flushBatch?: number;
  /** How this file system compares names; probed in the working folder when not given. */
  folding?: Folding;
}

/** A file of the working folder from an earlier run, and what the sender may do with it. */
interface Held {
  /** Bytes it holds. */
  offset: number;
  /** Whether it holds the whole file. */
  complete: boolean;
  /** The hash of its bytes, for continuing a partial one. */
  hash: Hash;
}

/** A folder being received into a hidden working folder. */
export class FolderReceiver {
  readonly #parent: Dir;
  readonly #workName: string;
  readonly #work: Dir;
  readonly #manifest: Manifest;
  readonly #options: ReceiveOptions;
  readonly #cursor: DirCursor;
  readonly #held = new Map<string, Held>();
  readonly #received = new Set<string>();
  /** Files written, not yet flushed: flushed together, once the batch is full and at the end. */
  #unflushed: FolderFile[] = [];
  #bytes = 0;

  private constructor(
    parent: Dir,
    workName: string,
    work: Dir,
    manifest: Manifest,
    options: ReceiveOptions,
  ) {
    this.#parent = parent;
    this.#workName = workName;
    this.#work = work;
    this.#manifest = manifest;
    this.#options = options;
    this.#cursor = new DirCursor(work);
  }

  /**
   * Starts receiving into a working folder: the one given (left by an
   * earlier run and checked with `openOwnFolder`), or a new one
   * created under `workName`.
   *
   * @param parent the folder where the working folder and the destination are
   * @param workName the working folder's name
   * @param manifest the checked manifest
   * @param options buffers and progress
   * @param existing the working folder from an earlier run, open
   * @returns the receiver
   * @throws an error with `code` `EEXIST` when `workName` is taken and no `existing` was given
   */
  static async start(
    parent: Dir,
    workName: string,
    manifest: Manifest,
    options: ReceiveOptions,
    existing?: Dir,
  ): Promise<FolderReceiver> {
    let work = existing;
    if (!work) {
      await parent.mkdir(workName, 0o700);
      work = await parent.openDir(workName);
      if (!work || !await ownFolder(parent, await work.facts())) {
        await work?.close();
        throw new Error(`The working folder ${quoteName(workName)} was replaced meanwhile`);
      }
    }
    return new FolderReceiver(parent, workName, work, manifest, options);
  }

  /**
   * Tidies the working folder to the manifest and says what it holds: each
   * file of the manifest's size (complete) or shorter (partial), hashed.
   * Anything else in it, left by an earlier run of another folder, is
   * removed. Every folder of the manifest is created.
   *
   * @yields one have-list line per file it holds, as each is hashed
   */
  async *have(): AsyncGenerator<HaveEntry> {
    // Two names that this file system holds as one are refused before anything is written:
    // two folders would merge silently, since an existing folder is reused for a resume.
    const clash = foldClash(
      this.#manifest,
      this.#options.folding ?? await probeFolding(this.#work),
    );
    if (clash !== undefined) throw caseClash(clash);
    const candidates = await tidyWork(this.#work, this.#manifest);
    for (const path of candidates) {
      const size = this.#manifest.files.get(path)!;
      const entry = { path, size };
      const held = await this.#hash(entry.path, entry.size);
      if (!held) continue;
      this.#held.set(entry.path, held);
      const digest = held.hash.copy().digest("hex");
      yield held.complete
        ? { path: entry.path, sha256: digest }
        : { path: entry.path, offset: held.offset, prefixSha256: digest };
    }
  }

  /** Hashes a file the working folder holds, and flushes a complete one. */
  async #hash(path: string, size: number): Promise<Held | undefined> {
    const { dir, name } = await this.#cursor.parentOf(path);
    const file = await dir.openFile(name).catch(() => undefined);
    if (!file) return undefined;
    try {
      const facts = await file.facts();
      if (!facts.isFile || facts.nlink !== 1 || facts.size > size) return undefined;
      const hash = newHash();
      await hashPrefix(file, facts.size, hash, this.#options.pool);
      const complete = facts.size === size;
      if (complete) await file.syncData();
      return { offset: facts.size, complete, hash };
    } finally {
      await file.close();
    }
  }

  /**
   * Receives one file's data: the header was read; the body and trailer
   * follow on the wire.
   *
   * @param wire the connection
   * @param header which file, and where its body starts
   * @throws {ProtocolError} for a file not in the manifest, sent twice, or from a wrong offset
   * @throws {CancelError} `corrupt` when its SHA-256 does not match (the file is removed)
   */
  async receiveFile(wire: Wire, header: DataHeader): Promise<void> {
    const { path, offset } = header;
    const size = this.#manifest.files.get(path);
    if (size === undefined) {
      throw new ProtocolError(`Data for ${JSON.stringify(path)}, which the manifest does not list`);
    }
    if (this.#received.has(path)) {
      throw new ProtocolError(`Data for ${JSON.stringify(path)} came twice`);
    }
    const held = this.#held.get(path);
    if (offset > 0 && (!held || held.complete || held.offset !== offset)) {
      throw new ProtocolError(`Data for ${JSON.stringify(path)} starts at ${offset}, not offered`);
    }
    if (offset === 0 && size <= SMALL_FILE) return await this.#receiveSmall(wire, path, size, held);
    const { dir, name } = await this.#cursor.parentOf(path);
    let file: FolderFile;
    let hash: Hash;
    if (offset > 0) {
      const existing = await dir.openFile(name);
      const facts = await existing.facts();
      if (!facts.isFile || facts.nlink !== 1 || facts.size !== offset) {
        await existing.close();
        throw new Error(`The partial file of ${quoteName(path)} changed meanwhile`);
      }
      file = await reopenForWriting(existing, dir.path(name));
      await file.seek(offset, Deno.SeekMode.Start);
      hash = held!.hash;
    } else {
      if (held) await dir.remove(name).catch(() => {});
      file = await createFile(dir, name, path);
      hash = newHash();
    }
    this.#held.delete(path);
    const before = this.#bytes;
    try {
      await receiveBody(wire, file, size - offset, {
        pool: this.#options.pool,
        hash,
        onProgress: (bytes) => {
          this.#bytes = before + bytes;
          this.#options.onProgress?.(this.#bytes);
        },
      });
      await verifyTrailer(
        wire,
        hash,
        `The data of ${quoteName(path)} did not match its SHA-256: it was not kept`,
      );
    } catch (error) {
      await file.close();
      if (error instanceof CancelError) await dir.remove(name).catch(() => {});
      throw error;
    }
    this.#received.add(path);
    this.#options.onFile?.(path, size);
    await this.#flush(file);
  }

  /**
   * A small file: its bytes are read whole and verified first, then
   * written at once and held for the batch flush, so that thousands of
   * small files do not each wait on the thread pool and the disk. Nothing
   * is created for data that does not match.
   */
  async #receiveSmall(
    wire: Wire,
    path: string,
    size: number,
    held: Held | undefined,
  ): Promise<void> {
    const body = new Uint8Array(size);
    await wire.readFull(body);
    const hash = newHash().update(body);
    await verifyTrailer(
      wire,
      hash,
      `The data of ${quoteName(path)} did not match its SHA-256: it was not kept`,
    );
    this.#held.delete(path);
    this.#received.add(path);
    this.#bytes += size;
    this.#options.onProgress?.(this.#bytes);
    this.#options.onFile?.(path, size);
    const { dir, name } = await this.#cursor.parentOf(path);
    if (held) await dir.remove(name).catch(() => {});
    // Created and written on this thread (a few KiB: cheaper than the thread
    // pool's round trips); the flush waits for its batch.
    let file: FolderFile;
    try {
      file = dir.createSmallNow(name, body);
    } catch (error) {
      if (errorCode(error) === "EEXIST" || error instanceof Deno.errors.AlreadyExists) {
        throw caseClash(path);
      }
      throw error;
    }
    await this.#flush(file);
  }

  /**
   * Holds a written file for the batch flush. Flushing each file as it
   * arrives makes every file creation wait on the file system's journal,
   * which the flushes keep busy; creating a batch, then flushing it with
   * many flushes at once, measured 1.6 to 1.8 times faster for small files
   * (bench/RESULTS.md).
   */
  async #flush(file: FolderFile): Promise<void> {
    this.#unflushed.push(file);
    if (this.#unflushed.length >= (this.#options.flushBatch ?? 512)) await this.#flushAll();
  }

  /** Flushes and closes every file held, many at once; the first failure is thrown. */
  async #flushAll(): Promise<void> {
    const files = this.#unflushed;
    this.#unflushed = [];
    let next = 0;
    let failure: unknown;
    const flusher = async () => {
      while (next < files.length) {
        const file = files[next++]!;
        try {
          if (failure === undefined) await file.syncData();
        } catch (error) {
          failure ??= error;
        } finally {
          await file.close();
        }
      }
    };
    const parallel = Math.min(this.#options.parallelFlush ?? 256, files.length);
    await Promise.all(Array.from({ length: parallel }, flusher));
    if (failure !== undefined) throw failure;
  }

  /**
   * Checks that every file of the manifest is here, whole, and flushes
   * every file and folder to disk.
   *
   * @throws {ProtocolError} when a file of the manifest never came
   */
  async finish(): Promise<void> {
    const missing = [...this.#manifest.files.keys()].filter((path) =>
      !this.#received.has(path) && !this.#held.get(path)?.complete
    );
    if (missing.length > 0) {
      throw new ProtocolError(
        `The data ended without ${missing.length} file(s) of the manifest, such as ${
          JSON.stringify(missing[0])
        }`,
      );
    }
    await this.#flushAll();
    await this.#cursor.close();
    const folders = [...this.#manifest.folders];
    for (let at = 0; at < folders.length; at += 32) {
      await Promise.all(
        folders.slice(at, at + 32).map(async (path) => {
          const dir = await this.#work.openPath(path.split("/"));
          try {
            await dir?.sync();
          } finally {
            await dir?.close();
          }
        }),
      );
    }
    await this.#work.sync();
  }

  /**
   * Makes the folder visible under `name` in the parent folder: claims the
   * name with an exclusive `mkdir`, then renames the working folder onto
   * the claim, which replaces only that empty folder of its own.
   *
   * @param name the destination's name in the parent folder
   * @param exists the refusal when the name is taken
   * @throws {CancelError} `exists` when the name is taken
   */
  async commit(name: string, exists: CancelError): Promise<void> {
    try {
      await placeWork(this.#parent, this.#workName, this.#work, name, exists);
    } finally {
      await this.#work.close();
    }
    await this.#parent.sync();
  }

  /**
   * Stops: waits for flushes under way, and removes the working folder
   * unless it is kept for a resume.
   *
   * @param keep keep the working folder for the next run
   */
  async abort(keep: boolean): Promise<void> {
    // What was written stays for a resume; the flush is not needed for that.
    for (const file of this.#unflushed.splice(0)) await file.close();
    await this.#cursor.close();
    await this.#work.close();
    if (!keep) {
      await Deno.remove(this.#parent.path(this.#workName), { recursive: true }).catch(() => {});
    }
  }
}
