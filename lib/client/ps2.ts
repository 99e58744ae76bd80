/**
 * The client's side of a PS/2 put, get and list, through the shared
 * exchange steps.
 *
 * @module
 */

import { CancelError, ProtocolError } from "../protocol/errors.ts";
import type { ListEntry, Reply } from "../protocol/ps2.ts";
import { TruncatedError, type Wire } from "../net/wire.ts";
import type { Hash } from "node:crypto";
import {
  matchPrefix,
  readDone,
  readListing,
  readPass,
  type ResumePoint,
  type SeekableSource,
  sendCommand,
  sendStart,
  sendTrailer,
  unexpected,
  verifyTrailer,
} from "../exchange/ps2.ts";
import { type BodySource, newHash, receiveBody, sendBody } from "../transfer/body.ts";
import type { ChunkPool } from "../transfer/pool.ts";
import { budgetMs, clientPace, clientRate, within } from "../exchange/budget.ts";
import { ClientError } from "./errors.ts";

/** How a transfer is going. */
export interface Progress {
  /** Bytes of the file in place so far, resumed bytes included. */
  done: number;
  /** The file's size, when known (not for a classic get). */
  total?: number;
  /** Where a resumed transfer started, 0 otherwise. */
  resumedFrom: number;
  /** Of a folder: files in place so far. */
  files?: number;
  /** Of a folder: its files. */
  filesTotal?: number;
}

/** What a step of the client needs besides the connection. */
export interface StepOptions {
  /** `host:port`, for messages. */
  where: string;
  /** Buffers. */
  pool: ChunkPool;
  /** Called as bytes move. */
  onProgress?: (progress: Progress) => void;
  /** The most time one answer (a reply line, a listing) may take in all; 0 or none for no limit. */
  timeoutMs?: number;
}

/** What a body moved. */
export interface Moved {
  /** The file's size. */
  size: number;
  /** Where a resumed transfer started. */
  resumedFrom: number;
  /** The verified SHA-256, when the protocol has one. */
  sha256?: string;
}

const RESUME = "run the same command again to resume";

/**
 * Reads the server's first answer, within the time budget of one answer
 * (however slowly it trickles in). Only an answer that is not PS/2 at all
 * means the server speaks another protocol (an original privateshare server,
 * say); a connection that closes or resets before answering is a lost
 * connection, whatever the server.
 */
export async function firstPass(
  wire: Wire,
  options: StepOptions,
  again: string,
): Promise<Reply & { code: "pass" }> {
  wire.setBudget(options.timeoutMs ?? 0);
  try {
    return await readPass(wire);
  } catch (error) {
    const cut = error instanceof TruncatedError || error instanceof Deno.errors.ConnectionReset;
    // Bytes that do not even start a JSON line.
    const garbled = cut && wire.buffered.length > 0 && wire.buffered[0] !== 0x7b;
    if (error instanceof ProtocolError || garbled) {
      throw new ClientError(
        "protocol",
        `The server at ${options.where} did not answer in the privateshare protocol`,
        { code: "not-privateshare", cause: error },
      );
    }
    if (cut) {
      throw new ClientError(
        "connection",
        `The server at ${options.where} closed the connection without answering: ${again}`,
        { cause: error },
      );
    }
    throw error;
  } finally {
    wire.setBudget(0);
  }
}

/** The pass of a get that names a folder. */
export class FolderPass extends Error {
  /** The pass. */
  readonly reply: Reply & { code: "pass" };

  /**
   * Creates a FolderPass.
   *
   * @param reply the pass, with `type: "folder"`
   */
  constructor(reply: Reply & { code: "pass" }) {
    super("The name is a folder on the server");
    this.name = "FolderPass";
    this.reply = reply;
  }
}

/**
 * The longest prefix of the local file that a put hashes while the server
 * waits for its start line (a fraction of a second from the page cache, a
 * few seconds from a slow disk, well within a server's data deadline).
 */
export const INLINE_HASH_LIMIT = 256 * 1024 * 1024;

/**
 * The server offered to resume a put from a prefix too long to hash while it
 * waits: the put hashes it with no connection open, then asks again.
 */
export class HashFirst extends Error {
  /** The length of the server's partial upload. */
  readonly offset: number;

  /**
   * Creates a HashFirst.
   *
   * @param offset the length of the server's partial upload
   */
  constructor(offset: number) {
    super(`The server offered to resume at ${offset} bytes: hash them first`);
    this.name = "HashFirst";
    this.offset = offset;
  }
}

/** A prefix of the local file, hashed while no connection waited. */
export interface HashedPrefix {
  /** Its length. */
  offset: number;
  /** The running SHA-256 of those bytes. */
  hash: Hash;
}

/**
 * Sends a body to the server: offers to resume, sends the data and its
 * SHA-256, and waits for the server's verdict.
 *
 * @param wire the connection
 * @param source the local data at its start; seekable when it can resume
 * @param name the name on the server
 * @param size bytes
 * @param resume whether to continue the server's partial upload
 * @param options where, pool, progress
 * @param hashed the prefix the server offered last time, hashed since
 * @returns what was moved
 * @throws {HashFirst} on a first attempt (no `hashed`), when the server offers a prefix longer
 *   than {@link INLINE_HASH_LIMIT}
 */
export async function putPs2(
  wire: Wire,
  source: BodySource & Partial<SeekableSource>,
  name: string,
  size: number,
  resume: boolean,
  options: StepOptions,
  hashed?: HashedPrefix,
): Promise<Moved> {
  const seekable = typeof source.seek === "function";
  await sendCommand(wire, { op: "put", name, size, resume: resume && seekable });
  const reply = await firstPass(wire, options, RESUME);
  const offset = reply.offset ?? 0;
  let point: ResumePoint = { start: 0, hash: newHash() };
  if (seekable && hashed && hashed.offset === offset && offset <= size) {
    const match = hashed.hash.copy().digest("hex") === reply.prefixSha256;
    if (match) point = { start: offset, hash: hashed.hash };
    await (source as SeekableSource).seek(point.start, Deno.SeekMode.Start);
  } else if (
    source instanceof Deno.FsFile && !hashed && offset > INLINE_HASH_LIMIT && offset <= size
  ) {
    // A stream cannot be read twice: it hashes its prefix inline, below.
    throw new HashFirst(offset);
  } else if (seekable) {
    point = await matchPrefix(
      source as SeekableSource,
      offset,
      reply.prefixSha256,
      size,
      options.pool,
    );
  }
  const { start, hash } = point;
  await sendStart(wire, start);
  const progress = options.onProgress;
  progress?.({ done: start, total: size, resumedFrom: start });
  let sendFailure: unknown;
  const sending = (async () => {
    await sendBody(source, wire, size - start, {
      pool: options.pool,
      hash,
      onProgress: progress &&
        ((n) => progress({ done: start + n, total: size, resumedFrom: start })),
    });
    const sent = await sendTrailer(wire, hash);
    // From here on only the verdict is awaited: it must come within one answer's time.
    wire.setBudget(options.timeoutMs ?? 0);
    return sent;
  })().catch((error) => {
    sendFailure = error;
    return undefined;
  });
  // The server answers after the checksum, or early with a cancel (a full
  // disk, say): read its verdict while sending.
  let sha256: string;
  try {
    sha256 = await readDone(wire);
  } catch (error) {
    // A verdict other than done ends the exchange: stop sending.
    const verdict = error instanceof CancelError || error instanceof ProtocolError;
    if (verdict) wire.close();
    // The exchange is over: a source still waiting for its data (a stalled
    // stream) must not hold the put, nor its buffers, until the data comes.
    const cancelled = sendFailure === undefined && source.cancel !== undefined;
    if (cancelled) await source.cancel!();
    await sending;
    throw verdict || cancelled ? error : sendFailure ?? error;
  }
  const sent = await sending;
  if (sendFailure) throw sendFailure;
  if (sent !== sha256) {
    throw new ProtocolError(`The server confirmed SHA-256 ${sha256}, not the ${sent} sent`);
  }
  return { size, resumedFrom: start, sha256 };
}

/**
 * Where a download is written: a partial download that may hold the start
 * of the file already (hashed before connecting), or a device written into
 * from its first byte.
 */
export interface DownloadSink {
  /** Where the bytes go, positioned at {@link have}. */
  readonly file: Deno.FsFile;
  /** Bytes it holds already. */
  readonly have: number;
  /** The running SHA-256 of those bytes. */
  readonly hash: Hash;
  /** Bytes fed to {@link hash} so far; the download keeps it up to date. */
  hashed: number;
  /** The server's size of the file, once known. */
  size?: number;
  /** Empties it: the server's file is not the one its bytes came from. */
  restart(): Promise<void>;
}

/**
 * Receives a file into a download sink, continuing what it holds when the
 * server's file still starts with it.
 *
 * @param wire the connection
 * @param sink where the bytes go, with what it holds and its hash
 * @param name the name on the server
 * @param options where, pool, progress
 * @returns what was moved
 */
export async function getPs2(
  wire: Wire,
  sink: DownloadSink,
  name: string,
  options: StepOptions,
): Promise<Moved> {
  const have = sink.have;
  await sendCommand(
    wire,
    have > 0
      ? {
        op: "get",
        name,
        offset: have,
        prefixSha256: sink.hash.copy().digest("hex"),
        folders: true,
      }
      : { op: "get", name, offset: 0, folders: true },
  );
  const reply = await firstPass(wire, options, RESUME);
  if (reply.type === "folder") throw new FolderPass(reply);
  if (reply.size === undefined) throw unexpected(reply);
  const size = reply.size;
  const start = reply.offset ?? 0;
  if (start !== 0 && start !== have) throw unexpected(reply);
  sink.size = size;
  // The server's file is not the one the partial came from: start over.
  if (start === 0 && have > 0) await sink.restart();
  const hash = sink.hash;
  const progress = options.onProgress;
  progress?.({ done: start, total: size, resumedFrom: start });
  await clientRate(wire, options.timeoutMs, () =>
    receiveBody(wire, sink.file, size - start, {
      pool: options.pool,
      hash,
      onProgress: (n) => {
        sink.hashed = start + n;
        progress?.({ done: start + n, total: size, resumedFrom: start });
      },
    }));
  const sha256 = await within(
    wire,
    budgetMs(clientPace(options.timeoutMs)),
    "The server's checksum",
    () => verifyDownload(wire, hash, name),
  );
  return { size, resumedFrom: start, sha256 };
}

async function verifyDownload(
  wire: Wire,
  hash: ReturnType<typeof newHash>,
  name: string,
): Promise<string> {
  return await verifyTrailer(
    wire,
    hash,
    `The data received for '${name}' does not match the server's SHA-256: nothing was kept; ` +
      "try again",
  );
}

/**
 * Lists the server's files and folders, at the top or in a folder.
 *
 * @param wire the connection
 * @param options where, and the time budget of the listing
 * @param folder the folder to list, by its path on the server
 * @param folders whether to list subfolders too
 * @returns the entries
 */
export async function listPs2(
  wire: Wire,
  options: StepOptions,
  folder?: string,
  folders = true,
): Promise<ListEntry[]> {
  const where = options.where;
  await sendCommand(wire, {
    op: "list",
    ...(folder ? { folder } : {}),
    ...(folders ? { folders: true } : {}),
  });
  const reply = await firstPass(wire, options, "try again");
  if (reply.count === undefined) throw unexpected(reply);
  try {
    wire.setBudget(options.timeoutMs ?? 0);
    return await readListing(wire, reply.count);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    throw new ClientError(
      "protocol",
      `The listing from ${where} was incomplete or malformed (${error.message}): try again`,
      { cause: error },
    );
  }
}
