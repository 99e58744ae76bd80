/**
 * Partial downloads: the hidden file a download is written to beside its
 * destination, hashed up to what it holds before any connection, kept for a
 * resume whenever a download stops, and moved into place once verified.
 * Claiming its path safely in a folder others can write to, and the record
 * that proves it the client's own, are in `partial_claim.ts`.
 *
 * @module
 */

import type { Hash } from "node:crypto";
import { basename } from "node:path";
import { newHash } from "../transfer/body.ts";
import type { ChunkPool } from "../transfer/pool.ts";
import { ClientError } from "./errors.ts";
import { hashFilePrefix, localError, q } from "./local.ts";
import {
  type Claim,
  claimPartial,
  partialPaths,
  RECORD_KIND,
  removeIfSame,
  sameFile,
  writeRecord,
} from "./partial_claim.ts";

/** How to open a partial download. */
export interface PartialOptions {
  /** Continue what an earlier download of the client left; otherwise start over. */
  resume: boolean;
  /** Replace the destination on commit. */
  replace: boolean;
  /** `host:port`, for the record. */
  server: string;
  /** The name on the server, for the record. */
  name: string;
  /** Buffers for hashing what the partial holds. */
  pool: ChunkPool;
  /** Stops hashing a large partial. */
  signal?: AbortSignal;
}

/**
 * A download in progress: a hidden file beside its destination, proved the
 * client's own, locked, and hashed up to what it holds.
 */
export class PartialDownload {
  /** The hidden file, positioned at {@link have}. */
  readonly file: Deno.FsFile;
  /** Its path. */
  readonly path: string;
  /** Bytes it holds, all of them hashed into {@link hash}. */
  have = 0;
  /** The running SHA-256 of the bytes it holds. */
  hash: Hash = newHash();
  /** Bytes fed to {@link hash} so far (set by the download as it receives). */
  hashed = 0;
  /** The server's size of the file, once known. */
  size?: number;
  readonly #dest: string;
  readonly #claim: Claim;
  readonly #recordPath: string;
  readonly #options: PartialOptions;
  #closed = false;

  /**
   * Wraps a claimed partial download; use {@link openPartial}.
   *
   * @param dest the destination
   * @param paths the partial's and its record's paths
   * @param claim the open, locked partial and record
   * @param options the download's options
   */
  constructor(
    dest: string,
    paths: { data: string; record: string },
    claim: Claim,
    options: PartialOptions,
  ) {
    this.file = claim.file;
    this.path = paths.data;
    this.#dest = dest;
    this.#claim = claim;
    this.#recordPath = paths.record;
    this.#options = options;
  }

  /** Hashes what an earlier download left (before any connection), or empties it. */
  async prepare(): Promise<void> {
    const previous = this.#claim.previous;
    const size = this.file.statSync().size;
    // A partial of another name on the server (or for another destination, where long names
    // share a hashed path) is this client's own, but not the start of this file: start over.
    const sameFileNamed = previous === undefined ||
      (previous.name === this.#options.name && previous.dest === basename(this.#dest));
    if (this.#options.resume && size > 0 && sameFileNamed) {
      const checked = await hashFilePrefix(this.file, this.path, size, {
        ...this.#options,
        ...(previous?.have !== undefined ? { at: previous.have } : {}),
      });
      const changed = previous?.prefixSha256 !== undefined &&
        checked.prefix !== previous.prefixSha256;
      if (changed) {
        // Not the bytes this client wrote when it stopped: start over.
        await this.restart();
      } else {
        this.have = this.hashed = size;
        this.hash = checked.hash;
      }
    } else if (size > 0) {
      await this.restart();
    }
    this.#writeRecord();
  }

  /** Empties the partial: the server's file is not the one it came from. */
  restart(): Promise<void> {
    this.file.truncateSync(0);
    this.file.seekSync(0, Deno.SeekMode.Start);
    this.have = this.hashed = 0;
    this.hash = newHash();
    return Promise.resolve();
  }

  /**
   * Flushes the partial and moves it into place; without `replace`, never
   * over anything. The record goes with it.
   *
   * @throws {ClientError} `local` with code `appeared` when something appeared at the destination
   *   meanwhile; the finished partial is kept
   */
  async commit(): Promise<void> {
    await this.file.syncData();
    if (!this.#stillOurs(this.path, this.#claim.info)) {
      throw new ClientError("local", `${q(this.path)} was moved or replaced while downloading`, {
        path: this.path,
      });
    }
    const dest = this.#dest;
    try {
      if (this.#options.replace) {
        Deno.renameSync(this.path, dest);
      } else {
        linkNew(this.path, dest);
      }
    } catch (error) {
      const appeared = error instanceof Deno.errors.AlreadyExists ||
        error instanceof Deno.errors.IsADirectory ||
        (error as { code?: string })?.code === "ENOTEMPTY";
      if (!appeared) throw localError(error, dest, true);
      throw new ClientError("local", `${q(dest)} appeared while downloading and was left alone`, {
        code: "appeared",
        path: dest,
        cause: error,
      });
    }
    this.#close();
    removeIfSame(this.#recordPath, this.#claim.recordInfo);
  }

  /**
   * Stops: keeps the partial for a later resume when `keep` and it holds
   * something (recording what it holds), or removes it and its record.
   *
   * @param keep keep it for a later resume
   */
  abort(keep: boolean): void {
    if (this.#closed) return;
    const size = this.file.statSync().size;
    if (keep && size > 0) {
      let prefixSha256: string | undefined;
      if (this.hashed === size) {
        try {
          prefixSha256 = this.hash.copy().digest("hex");
        } catch {
          // The hash was already digested (a trailer came): no prefix to record.
        }
      }
      this.#writeRecord({ have: size, ...(prefixSha256 ? { prefixSha256 } : {}) });
      this.#close();
      return;
    }
    this.#close();
    removeIfSame(this.path, this.#claim.info);
    removeIfSame(this.#recordPath, this.#claim.recordInfo);
  }

  #writeRecord(state: { have?: number; prefixSha256?: string } = {}): void {
    const { info } = this.#claim;
    writeRecord(this.#claim.record, {
      privateshare: RECORD_KIND,
      server: this.#options.server,
      name: this.#options.name,
      dest: basename(this.#dest),
      dev: info.dev,
      ino: info.ino,
      ...(this.size !== undefined ? { size: this.size } : {}),
      ...state,
    });
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#claim.record.close();
    this.file.close();
  }

  /** Whether a path still names the file that was opened. */
  #stillOurs(path: string, info: Deno.FileInfo): boolean {
    try {
      return sameFile(Deno.lstatSync(path), info);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  }
}

/**
 * Opens the partial download for a destination: creates it exclusively, or
 * claims the one an earlier download of this client left, and hashes what
 * it holds (before any connection, so that a server never waits for it).
 *
 * @param dest the destination
 * @param options resume, replace, and what the record names
 * @returns the partial download, locked
 * @throws {ClientError} `local` when the folder is missing or not writable, when another
 *   download to the same destination is running, or when something that is not provably the
 *   client's own partial download is in the way (code `in-the-way`)
 */
export async function openPartial(dest: string, options: PartialOptions): Promise<PartialDownload> {
  const paths = partialPaths(dest);
  const claim = claimPartial(dest, paths);
  const partial = new PartialDownload(dest, paths, claim, options);
  try {
    await partial.prepare();
  } catch (error) {
    // Leave what an earlier download left as it was found, for the next attempt.
    partial.abort(claim.file.statSync().size > 0 && claim.previous !== undefined);
    throw error;
  }
  return partial;
}

/**
 * Moves a file to a path where nothing is: a hard link, which fails rather
 * than replace anything. Where the file system has no hard links (FAT, some
 * network shares), a rename after checking that the path is free.
 */
function linkNew(from: string, to: string): void {
  try {
    Deno.linkSync(from, to);
  } catch (error) {
    const noLinks = error instanceof Deno.errors.PermissionDenied ||
      error instanceof Deno.errors.NotSupported ||
      ["EPERM", "ENOTSUP", "EOPNOTSUPP", "EXDEV"].includes(
        (error as { code?: string })?.code ?? "",
      );
    if (!noLinks) throw error;
    try {
      Deno.lstatSync(to);
      throw new Deno.errors.AlreadyExists(`${q(to)} exists`);
    } catch (missing) {
      if (!(missing instanceof Deno.errors.NotFound)) throw missing;
    }
    Deno.renameSync(from, to);
    return;
  }
  Deno.removeSync(from);
}
