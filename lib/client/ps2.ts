/**
 * The client's side of a PS/2 put, get and list, through the shared
 * exchange steps.
 *
 * @module
 */

import { CancelError, ProtocolError } from "../protocol/errors.ts";
import type { ListEntry } from "../protocol/ps2.ts";
import { TruncatedError, type Wire } from "../net/wire.ts";
import {
  hashPartial,
  matchPrefix,
  readDone,
  readListing,
  readPass,
  type SeekableSource,
  sendCommand,
  sendStart,
  sendTrailer,
  unexpected,
  verifyTrailer,
} from "../exchange/ps2.ts";
import { type BodySource, newHash, receiveBody, sendBody } from "../transfer/body.ts";
import type { ChunkPool } from "../transfer/pool.ts";
import { ClientError } from "./errors.ts";

/** How a transfer is going. */
export interface Progress {
  /** Bytes of the file in place so far, resumed bytes included. */
  done: number;
  /** The file's size, when known (not for a classic get). */
  total?: number;
  /** Where a resumed transfer started, 0 otherwise. */
  resumedFrom: number;
}

/** What a step of the client needs besides the connection. */
export interface StepOptions {
  /** `host:port`, for messages. */
  where: string;
  /** Buffers. */
  pool: ChunkPool;
  /** Called as bytes move. */
  onProgress?: (progress: Progress) => void;
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

/**
 * Reads the server's first answer. An answer that is not PS/2 at all means
 * the server speaks another protocol (an original privateshare server, say).
 */
async function firstPass(wire: Wire, where: string) {
  try {
    return await readPass(wire);
  } catch (error) {
    if (
      error instanceof TruncatedError || error instanceof ProtocolError ||
      error instanceof Deno.errors.ConnectionReset
    ) {
      throw new ClientError(
        "protocol",
        `The server at ${where} did not answer in the privateshare protocol`,
        { code: "not-privateshare", cause: error },
      );
    }
    throw error;
  }
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
 * @returns what was moved
 */
export async function putPs2(
  wire: Wire,
  source: BodySource & Partial<SeekableSource>,
  name: string,
  size: number,
  resume: boolean,
  options: StepOptions,
): Promise<Moved> {
  const seekable = typeof source.seek === "function";
  await sendCommand(wire, { op: "put", name, size, resume: resume && seekable });
  const reply = await firstPass(wire, options.where);
  const { start, hash } = seekable
    ? await matchPrefix(
      source as SeekableSource,
      reply.offset ?? 0,
      reply.prefixSha256,
      size,
      options.pool,
    )
    : { start: 0, hash: newHash() };
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
    return await sendTrailer(wire, hash);
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
 * Receives a file into a partial download, continuing what it holds when
 * the server's file still starts with it.
 *
 * @param wire the connection
 * @param file the partial download, at its start
 * @param name the name on the server
 * @param options where, pool, progress
 * @returns what was moved
 */
export async function getPs2(
  wire: Wire,
  file: Deno.FsFile,
  name: string,
  options: StepOptions,
): Promise<Moved> {
  const have = file.statSync().size;
  let hash = await hashPartial(file, have, options.pool);
  await sendCommand(
    wire,
    have > 0
      ? { op: "get", name, offset: have, prefixSha256: hash.copy().digest("hex") }
      : { op: "get", name, offset: 0 },
  );
  const reply = await firstPass(wire, options.where);
  if (reply.size === undefined) throw unexpected(reply);
  const size = reply.size;
  const start = reply.offset ?? 0;
  if (start !== 0 && start !== have) throw unexpected(reply);
  if (start === 0 && have > 0) {
    // The server's file is not the one the partial came from: start over.
    hash = newHash();
    await file.truncate(0);
    await file.seek(0, Deno.SeekMode.Start);
  }
  const progress = options.onProgress;
  progress?.({ done: start, total: size, resumedFrom: start });
  await receiveBody(wire, file, size - start, {
    pool: options.pool,
    hash,
    onProgress: progress && ((n) => progress({ done: start + n, total: size, resumedFrom: start })),
  });
  const sha256 = await verifyDownload(wire, hash, name);
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
 * Lists the server's files.
 *
 * @param wire the connection
 * @param where `host:port`, for messages
 * @returns the entries
 */
export async function listPs2(wire: Wire, where: string): Promise<ListEntry[]> {
  await sendCommand(wire, { op: "list" });
  const reply = await firstPass(wire, where);
  if (reply.count === undefined) throw unexpected(reply);
  try {
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
