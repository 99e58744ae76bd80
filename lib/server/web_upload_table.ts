/**
 * The web page's uploads between their requests: each a PS/2 put of the
 * store ({@link Store.beginUpload}, resumable) held under a random ID, with
 * the SHA-256 of what its partial file holds, so that the page can send the
 * rest after a cut and the server can check every byte before the file
 * appears. An ID belongs to the browser session that made it; it is
 * forgotten (its partial kept for a later resume) after the data deadline
 * without a request.
 *
 * @module
 */

import type { Hash } from "node:crypto";
import { CancelError } from "../protocol/errors.ts";
import { freeName, quoteName } from "../protocol/names.ts";
import { lastName, parentPath } from "../protocol/paths.ts";
import { hashPartial } from "../exchange/ps2.ts";
import { newHash, SourceEndedError } from "../transfer/body.ts";
import { CHUNK_SIZE, ChunkPool } from "../transfer/pool.ts";
import { addressKey } from "./admission.ts";
import { randomToken } from "./web_access.ts";
import type { Store, Upload } from "./store.ts";

/** The reason a request's cut carries when the page cancelled its upload. */
export const CANCELLED = "cancelled";
/** Uploads held at once, in all. */
const MAX_UPLOADS = 256;
/** Uploads one session holds at once; past it, its oldest idle one is let go (partial kept). */
const MAX_PER_SESSION = 16;
/**
 * Uploads one address holds at once, over all its sessions; past it, its oldest idle one is let
 * go (partial kept), so that one address cannot fill the server's table.
 */
const MAX_PER_ADDRESS = 64;
/** Names tried for "Keep both" before giving up. */
const MAX_FREE_NAMES = 1000;

/** The refusal of an upload ID that is unknown, ended, or another session's. */
function unknownUpload(): CancelError {
  return new CancelError(
    "not-found",
    "No such upload (it waited too long, or the server restarted): start it again",
  );
}

/** One upload between its requests. */
export interface HeldUpload {
  /** Its ID, in the page's URLs. */
  readonly id: string;
  /** The session that made it. */
  readonly session: string | undefined;
  /** The address that made it (its key: an IPv6 address's /64). */
  readonly from: string;
  /** The path the page asked for. */
  readonly asked: string;
  /** Where the file will appear (with "Keep both", a free name). */
  readonly path: string;
  /** Its announced size. */
  readonly size: number;
  /** The store's upload: the hidden file and its commit. */
  readonly upload: Upload;
  /** Bytes the hidden file holds. */
  held: number;
  /** The SHA-256 of those bytes. */
  hash: Hash;
  /** Cuts the request that works on it now, if one does. */
  cut?: AbortController;
  /** Settles when the request that works on it now ends. */
  working?: Promise<void>;
  /** Forgets it after the data deadline without a request. */
  timer?: ReturnType<typeof setTimeout>;
}

/** The uploads in progress between their requests. */
export class UploadTable {
  readonly #store: Store;
  readonly #idleMs: number;
  readonly #held = new Map<string, HeldUpload>();
  readonly #pool = new ChunkPool(CHUNK_SIZE);
  #closed = false;

  /**
   * Creates an UploadTable.
   *
   * @param store the served folder
   * @param dataTimeoutMs how long an upload may wait for its next request (0: no limit)
   */
  constructor(store: Store, dataTimeoutMs: number) {
    this.#store = store;
    this.#idleMs = dataTimeoutMs;
  }

  /**
   * Starts an upload, or resumes what the server holds of the same path and
   * size. The same session asking again for a path and size it is uploading
   * takes that upload over (cut off, if it was still receiving): a page that
   * lost its ID resumes at once.
   *
   * @param session the browser session
   * @param address the browser's IP address
   * @param path the path asked for
   * @param size the file's size
   * @param keepBoth whether a name that exists gets the first free `name (2).ext`
   * @returns the upload, idle
   * @throws {CancelError} `read-only`, `invalid-name`, `not-found`, `exists` or `busy`
   */
  async begin(
    session: string | undefined,
    address: string,
    path: string,
    size: number,
    keepBoth: boolean,
  ): Promise<HeldUpload> {
    this.#store.checkWritable();
    if (this.#closed) throw new CancelError("busy", "The server is stopping");
    for (const held of this.#of(session)) {
      // The same file asked again (a page that lost its ID); another file of the same name (a
      // second photo.jpg, kept both) is an upload of its own.
      const same = held.asked === path || held.path === path;
      if (same && held.size === size) await this.#forget(held, true);
    }
    await this.#makeRoom(this.#of(session), MAX_PER_SESSION);
    const from = addressKey(address);
    await this.#makeRoom([...this.#held.values()].filter((h) => h.from === from), MAX_PER_ADDRESS);
    if (this.#held.size >= MAX_UPLOADS) {
      throw new CancelError("busy", "The server holds too many uploads: try again later");
    }
    const { upload, at } = await this.#open(path, size, keepBoth);
    let held: HeldUpload | undefined;
    try {
      let hash = newHash();
      let offset = upload.offset;
      await upload.file.seek(0, Deno.SeekMode.Start);
      try {
        if (offset > 0) hash = await hashPartial(upload.file, offset, this.#pool);
      } catch (error) {
        // The partial shrank since it was opened: start over.
        if (!(error instanceof SourceEndedError)) throw error;
        await upload.restart();
        offset = 0;
      }
      if (this.#closed) throw new CancelError("busy", "The server is stopping");
      const id = randomToken(18);
      held = { id, session, from, asked: path, path: at, size, upload, held: offset, hash };
    } catch (error) {
      await upload.abort(true);
      throw error;
    }
    this.#held.set(held.id, held);
    this.#idle(held);
    return held;
  }

  /** Lets the oldest idle of some uploads go (partial kept) when they are at their limit. */
  async #makeRoom(uploads: HeldUpload[], most: number): Promise<void> {
    if (uploads.length < most) return;
    const idle = uploads.find((held) => !held.working);
    if (!idle) throw new CancelError("busy", "Too many uploads under way: try again when some end");
    await this.#forget(idle, true);
  }

  /** Opens the store's upload of a path, or of its first free name with "Keep both". */
  async #open(
    path: string,
    size: number,
    keepBoth: boolean,
  ): Promise<{ upload: Upload; at: string }> {
    try {
      return { upload: await this.#store.beginUpload(path, size, true), at: path };
    } catch (error) {
      if (!keepBoth || !(error instanceof CancelError) || error.reason !== "exists") throw error;
    }
    const folder = parentPath(path);
    let upload: Upload | undefined;
    let tries = 0;
    // Each name is tried by starting its upload: taking the name and testing it are one step.
    const name = await freeName(lastName(path), async (candidate) => {
      if (++tries > MAX_FREE_NAMES) {
        throw new CancelError("exists", `No free name like ${quoteName(path)}: choose another`);
      }
      try {
        upload = await this.#store.beginUpload(
          folder ? `${folder}/${candidate}` : candidate,
          size,
          true,
        );
        return false;
      } catch (error) {
        if (
          error instanceof CancelError && (error.reason === "exists" || error.reason === "busy")
        ) {
          return true;
        }
        throw error;
      }
    });
    return { upload: upload!, at: folder ? `${folder}/${name}` : name };
  }

  /**
   * The upload of an ID, for its own session.
   *
   * @param id the ID
   * @param session the browser session asking
   * @returns the upload
   * @throws {CancelError} `not-found` for an unknown, forgotten or other session's ID
   */
  find(id: string, session: string | undefined): HeldUpload {
    const held = this.#held.get(id);
    if (!held || held.session !== session) throw unknownUpload();
    return held;
  }

  /**
   * Runs one request's work on an upload, alone: a second request on the
   * same ID meanwhile is refused `busy`. The upload does not expire while
   * the work runs.
   *
   * @param held the upload
   * @param work what the request does, with a signal that cuts it
   * @returns what the work returned
   * @throws {CancelError} `not-found` when the upload ended meanwhile, `busy` when another
   *   request works on it
   */
  async work<T>(held: HeldUpload, work: (cut: AbortSignal) => Promise<T>): Promise<T> {
    // Ended while the request read its body (taken over, cancelled, let go): as if unknown.
    if (this.#held.get(held.id) !== held) throw unknownUpload();
    if (held.working) {
      throw new CancelError("busy", "This upload is busy with another request: try again");
    }
    clearTimeout(held.timer);
    const cut = new AbortController();
    let done = () => {};
    held.cut = cut;
    held.working = new Promise<void>((resolve) => done = resolve);
    try {
      return await work(cut.signal);
    } finally {
      held.cut = undefined;
      held.working = undefined;
      done();
      this.#idle(held);
    }
  }

  /**
   * Ends an upload: committed, refused or cancelled. Its partial is kept
   * only with `keep`.
   *
   * @param held the upload
   * @param keep whether its partial stays for a later resume
   */
  async end(held: HeldUpload, keep: boolean): Promise<void> {
    clearTimeout(held.timer);
    if (this.#held.get(held.id) !== held) return;
    this.#held.delete(held.id);
    await held.upload.abort(keep);
  }

  /** The uploads of a session, oldest first. */
  #of(session: string | undefined): HeldUpload[] {
    return [...this.#held.values()].filter((held) => held.session === session);
  }

  /** Cuts the request working on an upload (saying why), waits for it, then ends the upload. */
  async #forget(held: HeldUpload, keep: boolean, why?: typeof CANCELLED): Promise<void> {
    held.cut?.abort(why);
    await held.working;
    await this.end(held, keep);
  }

  /**
   * Cancels an upload: cuts a request that is sending to it and removes its partial.
   *
   * @param held the upload
   */
  async cancel(held: HeldUpload): Promise<void> {
    await this.#forget(held, false, CANCELLED);
  }

  #idle(held: HeldUpload): void {
    clearTimeout(held.timer);
    if (this.#idleMs <= 0 || this.#held.get(held.id) !== held) return;
    held.timer = setTimeout(() => {
      if (!held.working) this.end(held, true).catch(() => {});
    }, this.#idleMs);
  }

  /** Gives up every upload in progress, keeping their partial files. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#held.values()].map((held) => this.#forget(held, true)));
  }
}
