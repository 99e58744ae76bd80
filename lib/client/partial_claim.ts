/**
 * Claiming a partial download's path in a folder others can write to: the
 * partial is created exclusively (never through a link, never over
 * anything), checked on its open handle, and locked while a download writes
 * to it. Beside it, a record created exclusively too holds the server, the
 * name, the size, how many bytes the partial held when the last download
 * stopped and their SHA-256, and the partial's device and inode. A file at a
 * partial's path is reused, emptied or removed only when its record, owned
 * by this user, names exactly that file, owned by this user too, with no
 * other link to it. Anything else there is left alone and the download
 * refused.
 *
 * @module
 */

// Deferred: node:crypto costs a process a few tens of milliseconds to start, which a
// list, and a client's start-up, need not pay (issue 16).
import defer * as nodeCrypto from "node:crypto";
import { basename, dirname, join } from "node:path";
import { ClientError } from "./errors.ts";
import { localError, q } from "./local.ts";

/** What a partial download's record says. */
export interface PartialRecord {
  /** Always {@link RECORD_KIND}. */
  privateshare: string;
  /** `host:port` of the server it came from. */
  server: string;
  /** The name on the server. */
  name: string;
  /** The destination's file name. */
  dest: string;
  /** The partial's device and inode: which file the record speaks for. */
  dev: number;
  ino: number | null;
  /** The server's size of the file, once known. */
  size?: number;
  /** Bytes the partial held when the last download stopped, and their SHA-256. */
  have?: number;
  prefixSha256?: string;
}

/** What every record says it is. */
export const RECORD_KIND = "partial download 1";
/** A record is padded to this size, so that rewriting it in place never leaves a stale tail. */
const RECORD_BYTES = 4096;
const encoder = new TextEncoder();

/**
 * Where the partial download for a destination and its record live: hidden,
 * beside it, within 255 bytes.
 *
 * @param dest the destination
 * @returns the partial's path and its record's
 */
export function partialPaths(dest: string): { data: string; record: string } {
  const base = basename(dest);
  let stem = `.${base}.privateshare-partial`;
  if (encoder.encode(`${stem}.json`).length > 255) {
    stem = `.${
      nodeCrypto.createHash("sha256").update(base).digest("hex").slice(0, 32)
    }.privateshare-partial`;
  }
  return { data: join(dirname(dest), stem), record: join(dirname(dest), `${stem}.json`) };
}

/** An open, locked file that a download writes to. */
export interface Claim {
  /** The partial, open for reading and writing, locked. */
  file: Deno.FsFile;
  /** Its status when opened: which file it is. */
  info: Deno.FileInfo;
  /** Its record, open for reading and writing. */
  record: Deno.FsFile;
  /** The record's status when opened. */
  recordInfo: Deno.FileInfo;
  /** What the record said, for a partial an earlier download left. */
  previous?: PartialRecord;
}

/**
 * Creates the partial download for a destination exclusively, with its
 * record, or claims the one an earlier download of this client left; locks
 * it either way.
 *
 * @param dest the destination
 * @param paths the partial's and its record's paths
 * @returns the open, locked partial and its record
 * @throws {ClientError} `local` when the folder is missing or not writable, when another
 *   download to the destination is running, or when something that is not provably the
 *   client's own partial download is at either path (code `in-the-way`)
 */
export function claimPartial(dest: string, paths: { data: string; record: string }): Claim {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(paths.data, { read: true, write: true, createNew: true });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return claimExisting(dest, paths);
    throw localError(error, paths.data, true);
  }
  const info = file.statSync();
  // A file this process just created exclusively is its own: its owner is this user.
  cachedUid ??= info.uid;
  if (!file.tryLockSync(true)) {
    file.close();
    throw busy(dest);
  }
  try {
    const record = Deno.openSync(paths.record, {
      read: true,
      write: true,
      createNew: true,
      mode: 0o600,
    });
    return { file, info, record, recordInfo: record.statSync() };
  } catch (error) {
    let found: ReturnType<typeof openRecord>;
    // A record whose partial is gone: an earlier clean-up of this client cut short.
    if (error instanceof Deno.errors.AlreadyExists) found = openRecord(paths.record, info.uid);
    if (found) return { file, info, record: found.file, recordInfo: found.info };
    file.close();
    removeIfSame(paths.data, info);
    if (error instanceof Deno.errors.AlreadyExists) throw inTheWay(paths.record);
    throw localError(error, paths.record, true);
  }
}

/** Claims a partial that is already there, only when its record proves it the client's own. */
function claimExisting(dest: string, paths: { data: string; record: string }): Claim {
  let entry: Deno.FileInfo;
  try {
    entry = Deno.lstatSync(paths.data);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw localError(error, paths.data, true);
    // It was there a moment ago: another program is working in the folder.
    throw new ClientError("local", `${q(paths.data)} changed while it was opened: try again`, {
      path: paths.data,
      cause: error,
    });
  }
  if (!entry.isFile) throw inTheWay(paths.data);
  let file: Deno.FsFile;
  try {
    // No create, no truncate: opening changes nothing, and the handle is checked below.
    file = Deno.openSync(paths.data, { read: true, write: true });
  } catch (error) {
    if (error instanceof Deno.errors.PermissionDenied) throw inTheWay(paths.data);
    throw localError(error, paths.data, true);
  }
  const info = file.statSync();
  if (!info.isFile || !sameFile(entry, info)) {
    file.close();
    throw inTheWay(paths.data);
  }
  if (!file.tryLockSync(true)) {
    file.close();
    throw busy(dest);
  }
  const uid = ownUid(dirname(paths.data));
  const found = openRecord(paths.record, uid);
  const ours = found !== undefined && (uid === null || info.uid === uid) &&
    (info.nlink ?? 1) === 1 && found.record.dev === info.dev && found.record.ino === info.ino;
  if (!ours) {
    found?.file.close();
    file.close();
    throw inTheWay(paths.data);
  }
  return { file, info, record: found.file, recordInfo: found.info, previous: found.record };
}

/** Opens a record when it is a plain file of this user, holding a record. */
function openRecord(
  path: string,
  uid: number | null,
): { file: Deno.FsFile; info: Deno.FileInfo; record: PartialRecord } | undefined {
  let entry: Deno.FileInfo;
  try {
    entry = Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  if (!entry.isFile) return undefined;
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true, write: true });
  } catch (error) {
    if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotFound) {
      return undefined;
    }
    throw error;
  }
  const info = file.statSync();
  const plain = info.isFile && sameFile(entry, info) && (uid === null || info.uid === uid) &&
    (info.nlink ?? 1) === 1 && info.size <= RECORD_BYTES;
  const record = plain ? parseRecord(file, info.size) : undefined;
  if (!record) {
    file.close();
    return undefined;
  }
  return { file, info, record };
}

function parseRecord(file: Deno.FsFile, size: number): PartialRecord | undefined {
  const bytes = new Uint8Array(size);
  let got = 0;
  while (got < size) {
    const n = file.readSync(bytes.subarray(got));
    if (n === null) break;
    got += n;
  }
  try {
    const value = JSON.parse(new TextDecoder().decode(bytes.subarray(0, got)));
    return value?.privateshare === RECORD_KIND && typeof value.dev === "number"
      ? value as PartialRecord
      : undefined;
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof TypeError) return undefined;
    throw error;
  }
}

/** This process's user id, to tell the client's own files from anyone else's. */
let cachedUid: number | null | undefined;

function ownUid(folder: string): number | null {
  if (cachedUid !== undefined) return cachedUid;
  if (Deno.build.os === "windows") return cachedUid = null;
  if (Deno.permissions.querySync({ name: "sys", kind: "uid" }).state === "granted") {
    return cachedUid = Deno.uid();
  }
  // Without the permission to ask, the owner of a file just created exclusively says it.
  const probe = Deno.makeTempFileSync({ dir: folder, prefix: ".privateshare-probe-" });
  try {
    return cachedUid = Deno.lstatSync(probe).uid;
  } finally {
    Deno.removeSync(probe);
  }
}

/**
 * Rewrites a record in place, through its open handle, padded to a fixed
 * size so that no stale tail is ever left.
 *
 * @param file the record, open for writing
 * @param record what it says
 */
export function writeRecord(file: Deno.FsFile, record: PartialRecord): void {
  // The server is only informative: a long host name typed by hand is cut, so that a record
  // (names of at most 255 bytes, escaped) always fits.
  const json = encoder.encode(JSON.stringify({ ...record, server: record.server.slice(0, 512) }));
  const bytes = new Uint8Array(RECORD_BYTES).fill(0x20);
  bytes.set(json.subarray(0, RECORD_BYTES - 1));
  bytes[RECORD_BYTES - 1] = 0x0a;
  file.seekSync(0, Deno.SeekMode.Start);
  let written = 0;
  // A record is never longer (a longer file is not taken for one), so nothing is left past it.
  while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
}

/**
 * Whether two statuses are of one file.
 *
 * @param a one status
 * @param b another
 */
export function sameFile(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/**
 * Removes what a path names only when it is still the file opened.
 *
 * @param path the path
 * @param info the status of the file opened
 */
export function removeIfSame(path: string, info: Deno.FileInfo): void {
  try {
    if (sameFile(Deno.lstatSync(path), info)) Deno.removeSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

function busy(dest: string): ClientError {
  return new ClientError("local", `Another download to ${q(dest)} is running: wait for it to end`, {
    path: dest,
  });
}

function inTheWay(path: string): ClientError {
  return new ClientError(
    "local",
    `${q(path)} is in the way: it is not a partial download that privateshare can prove is its ` +
      "own, so it is neither used nor removed",
    { code: "in-the-way", path },
  );
}
