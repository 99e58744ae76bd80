/**
 * The served folder's listing, built without blocking the event loop: the
 * folder is read asynchronously, each file looked at with an asynchronous
 * `lstat`, a few at a time. A listing is shared by every request while the
 * folder is unchanged (and for at most a second, or a few times as long as
 * a rebuild takes in a very large folder); requests that arrive during a
 * rebuild wait for that one rebuild, so that no number of requests costs
 * more than one rebuild at a time. The server's own uploads update the
 * listing in place instead of dropping it.
 *
 * @module
 */

import { join } from "node:path";
import { RESERVED_PREFIX } from "../protocol/names.ts";
import type { ListEntry } from "../protocol/ps2.ts";
import { errorCode, type FileFacts, lstatFacts, openExisting } from "../transfer/files.ts";

/** A listing is reused for at most this long, unless rebuilds take longer. */
const LISTING_TTL_MS = 1000;
/** Files looked at at once while a listing is built. */
const CONCURRENCY = 16;
/** A rebuild waits at least this many times its own duration after the previous one. */
const SPACING = 4;
/** A listing built faster than this is built again rather than updated in place. */
const CHEAP_BUILD_MS = 20;

/** What the listing knows of a file beyond its entry. */
interface Known {
  entry: ListEntry;
  ino: number;
  ctimeMs: number;
  /** Whether this server may read it; checked when nobody else may. */
  readable: boolean;
}

/** Called once for each file that cannot be served, with why. */
export type UnreadableCallback = (name: string, why: string) => void;

/** The listing of one folder. */
export class Listing {
  readonly #root: string;
  readonly #onUnreadable: UnreadableCallback;
  #known = new Map<string, Known>();
  #sorted: ListEntry[] | undefined;
  /** The names of the listing, sorted. */
  #order: string[] = [];
  #folderMtime = -1;
  #builtAt = -Infinity;
  #buildMs = 0;
  #building: Promise<readonly ListEntry[]> | undefined;

  /**
   * Creates a Listing.
   *
   * @param root the folder, absolute
   * @param onUnreadable told once about each file that this server may not read
   */
  constructor(root: string, onUnreadable: UnreadableCallback) {
    this.#root = root;
    this.#onUnreadable = onUnreadable;
  }

  /**
   * The regular files of the folder that can be served, sorted by name,
   * without privateshare's own hidden files. The array is the same object
   * while nothing changed, so that its encoding can be reused.
   *
   * @returns the entries
   */
  async entries(): Promise<readonly ListEntry[]> {
    const now = performance.now();
    const age = now - this.#builtAt;
    if (this.#sorted && this.#buildMs >= CHEAP_BUILD_MS && age < SPACING * this.#buildMs) {
      return this.#sorted;
    }
    if (this.#sorted && age < LISTING_TTL_MS && !this.#building) {
      // One stat of the folder itself, whatever its size: synchronous, as
      // the round trip of an asynchronous one would cost a small list more
      // than the listing.
      const mtime = Deno.statSync(this.#root).mtime?.getTime() ?? 0;
      if (mtime === this.#folderMtime) return this.#sorted;
    }
    this.#building ??= this.#rebuild().finally(() => this.#building = undefined);
    // The listing this build made, even if an upload has since asked for a new one.
    return await this.#building;
  }

  /**
   * Whether `name` is known to be unreadable for this server, as it is now.
   *
   * @param name a file name
   * @param facts the file's facts
   */
  knownUnreadable(name: string, facts: FileFacts): boolean {
    const known = this.#known.get(name);
    return known !== undefined && !known.readable && known.ino === facts.ino &&
      known.ctimeMs === facts.ctimeMs;
  }

  /**
   * Records that a file could not be read (a get found out): it is not
   * listed until its owner changes it, and the log hears of it once.
   *
   * @param name the file
   * @param facts its facts
   * @param why the system's words
   */
  markUnreadable(name: string, facts: FileFacts, why: string): void {
    if (this.knownUnreadable(name, facts)) return;
    const entry = { name, size: facts.size, mtime: facts.mtimeMs };
    this.#known.set(name, { entry, ino: facts.ino, ctimeMs: facts.ctimeMs, readable: false });
    if (this.#sorted) {
      this.#sorted = this.#sorted.filter((e) => e.name !== name);
      this.#order = this.#sorted.map((e) => e.name);
    }
    this.#onUnreadable(name, why);
  }

  /**
   * Adds a file that this server has just made visible, without a rebuild.
   *
   * @param name the file
   * @param facts its facts
   * @param folderBefore the folder's mtime just before the change
   * @param folderAfter the folder's mtime just after it
   */
  added(name: string, facts: FileFacts, folderBefore: number, folderAfter: number): void {
    const entry = { name, size: facts.size, mtime: facts.mtimeMs };
    this.#known.set(name, { entry, ino: facts.ino, ctimeMs: facts.ctimeMs, readable: true });
    if (!this.#sorted || this.#building) return;
    // Only when nothing else changed the folder meanwhile is the listing
    // still whole with this one entry added. Folder times are coarse (a few
    // ms): a change by another program in the same instant as this one would
    // then wait for the listing's second to be seen, so a listing that is
    // cheap to build is simply built again.
    if (folderBefore !== this.#folderMtime || this.#buildMs < CHEAP_BUILD_MS) {
      this.#sorted = undefined;
      return;
    }
    const sorted = this.#sorted.filter((e) => e.name !== name);
    sorted.splice(insertionPoint(sorted, name), 0, entry);
    this.#sorted = sorted;
    this.#order = sorted.map((e) => e.name);
    this.#folderMtime = folderAfter;
  }

  async #rebuild(): Promise<readonly ListEntry[]> {
    const started = performance.now();
    const mtime = (await Deno.stat(this.#root)).mtime?.getTime() ?? 0;
    const names: string[] = [];
    for await (const entry of Deno.readDir(this.#root)) {
      // Links, folders, FIFOs... are never served; privateshare's own files neither.
      if ((entry.isFile || !entry.isSymlink && !entry.isDirectory) && !isReserved(entry.name)) {
        names.push(entry.name);
      }
    }
    const previous = this.#known;
    const known = new Map<string, Known>();
    // Whether the set of names changed (a new order is needed), and whether
    // anything listed changed (a new listing is needed).
    let renamed = !this.#sorted;
    let changed = renamed;
    let next = 0;
    const worker = async () => {
      while (next < names.length) {
        const name = names[next++]!;
        const before = previous.get(name);
        const found = await this.#look(name, before);
        if (found?.readable !== before?.readable) renamed = true;
        if (!found) continue;
        known.set(name, found);
        if (before?.entry.size !== found.entry.size || before?.entry.mtime !== found.entry.mtime) {
          changed = true;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, names.length) }, worker));
    for (const name of previous.keys()) if (!known.has(name)) renamed = true;
    this.#known = known;
    if (renamed) {
      const readable = [...known.values()].filter((k) => k.readable).map((k) => k.entry.name);
      // Sorted by UTF-16 code units, as before; the default order of sort().
      this.#order = readable.sort();
    }
    if (renamed || changed) this.#sorted = this.#order.map((name) => known.get(name)!.entry);
    this.#folderMtime = mtime;
    this.#builtAt = performance.now();
    this.#buildMs = this.#builtAt - started;
    const built = this.#sorted ?? this.#order.map((name) => known.get(name)!.entry);
    this.#sorted = built;
    return built;
  }

  /** Looks at one name: its entry, or undefined when it is not a servable regular file. */
  async #look(name: string, before: Known | undefined): Promise<Known | undefined> {
    const path = join(this.#root, name);
    let facts: FileFacts | undefined;
    try {
      facts = await lstatFacts(path);
    } catch (error) {
      this.#onUnreadable(name, error instanceof Error ? error.message : String(error));
      return undefined;
    }
    if (!facts?.isFile) return undefined;
    const entry = { name, size: facts.size, mtime: facts.mtimeMs };
    if (before && before.ino === facts.ino && before.ctimeMs === facts.ctimeMs) {
      return { entry, ino: facts.ino, ctimeMs: facts.ctimeMs, readable: before.readable };
    }
    // A file that everyone may read needs no check; one that not everyone
    // may is opened once (and again only when its owner changes it).
    let readable = true;
    if ((facts.mode & 0o004) === 0) {
      try {
        await (await openExisting(path)).close();
      } catch (error) {
        const code = errorCode(error);
        if (code === "EACCES" || code === "EPERM") {
          readable = false;
          this.#onUnreadable(name, "permission denied");
        } else if (code !== "ENOENT" && code !== "ELOOP") {
          throw error;
        }
      }
    }
    return { entry, ino: facts.ino, ctimeMs: facts.ctimeMs, readable };
  }
}

function isReserved(name: string): boolean {
  return name.startsWith(RESERVED_PREFIX);
}

/** Where `name` goes in a sorted listing (binary search). */
function insertionPoint(sorted: readonly ListEntry[], name: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid]!.name < name) low = mid + 1;
    else high = mid;
  }
  return low;
}
