/**
 * The PS/2 exchange on a connection, the steps both ends share: send and read
 * a command, a reply, the start line of a put, a listing, the SHA-256
 * trailer, and the resume check that both directions make on a partial file.
 * Server and client call these; neither encodes or decodes a message itself,
 * so that a later step (authentication, say) hooks in at one place.
 *
 * @module
 */

import type { Hash } from "node:crypto";
import { CancelError, ProtocolError } from "../protocol/errors.ts";
import {
  type Command,
  decodeCommand,
  decodeListing,
  decodeReply,
  decodeStart,
  decodeTrailer,
  encodeCommand,
  encodeLine,
  type ListEntry,
  MAX_COMMAND_BYTES,
  MAX_REPLY_BYTES,
  type Reply,
} from "../protocol/ps2.ts";
import { TruncatedError, type Wire } from "../net/wire.ts";
import { type BodySource, hashPrefix, newHash } from "../transfer/body.ts";
import type { ChunkPool } from "../transfer/pool.ts";
import { withPassword } from "./auth.ts";

/**
 * Sends a client's command, with the connection's password if it has one.
 *
 * @param wire the connection
 * @param command the command
 */
export async function sendCommand(wire: Wire, command: Command): Promise<void> {
  await wire.write(encodeCommand(withPassword(wire, command)));
}

/**
 * Reads and decodes a client's command.
 *
 * @param wire the connection, its first bytes buffered or not
 * @returns the command
 * @throws {ProtocolError} for a malformed or oversized command
 * @throws {TruncatedError} when the client closes first
 */
export async function readCommand(wire: Wire): Promise<Command> {
  const line = await wire.readLine(MAX_COMMAND_BYTES);
  if (line === null) throw new TruncatedError("The client closed without a command");
  return decodeCommand(line);
}

/**
 * Sends a reply: `pass`, `done` or `cancel`.
 *
 * @param wire the connection
 * @param reply the reply
 */
export async function sendReply(wire: Wire, reply: Reply): Promise<void> {
  await wire.write(encodeLine(reply));
}

/**
 * Sends the cancel for a refusal.
 *
 * @param wire the connection
 * @param cancel the refusal
 */
export async function sendCancel(wire: Wire, cancel: CancelError): Promise<void> {
  await sendReply(wire, { code: "cancel", reason: cancel.reason, message: cancel.message });
}

/**
 * Reads one reply as it is.
 *
 * @param wire the connection
 * @returns the reply
 * @throws {ProtocolError} when it is not a valid reply
 * @throws {TruncatedError} when the server closes first
 */
export async function readReply(wire: Wire): Promise<Reply> {
  const line = await wire.readLine(MAX_REPLY_BYTES);
  if (line === null) throw new TruncatedError("The server closed without answering");
  return decodeReply(line);
}

/**
 * Reads a reply that must be `pass`; a `cancel` becomes a {@link CancelError}.
 *
 * @param wire the connection
 * @returns the pass
 * @throws {CancelError} when the server refused
 * @throws {ProtocolError} for anything but pass or cancel
 */
export async function readPass(wire: Wire): Promise<Reply & { code: "pass" }> {
  const reply = await readReply(wire);
  if (reply.code === "cancel") throw new CancelError(reply.reason, reply.message);
  if (reply.code !== "pass") throw unexpected(reply);
  return reply;
}

/**
 * Reads a put's verdict: `done` with the server's SHA-256.
 *
 * @param wire the connection
 * @returns the SHA-256 the server computed
 * @throws {CancelError} when the server refused (a mismatch is `corrupt`)
 * @throws {ProtocolError} for anything but done or cancel
 */
export async function readDone(wire: Wire): Promise<string> {
  const reply = await readReply(wire);
  if (reply.code === "cancel") throw new CancelError(reply.reason, reply.message);
  if (reply.code !== "done" || !("sha256" in reply)) throw unexpected(reply);
  return reply.sha256;
}

/**
 * An error for a reply that is valid but not the one this step expects.
 *
 * @param reply what came
 * @returns the error to throw
 */
export function unexpected(reply: Reply): ProtocolError {
  return new ProtocolError(`Unexpected answer ${JSON.stringify(reply)}`);
}

/**
 * Sends the start line of a put: where the client's data begins.
 *
 * @param wire the connection
 * @param offset 0, or the server's offset to resume from
 */
export async function sendStart(wire: Wire, offset: number): Promise<void> {
  await wire.write(encodeLine({ offset }));
}

/**
 * Reads the start line of a put, which must be 0 or the offset offered.
 *
 * @param wire the connection
 * @param offered the offset the server offered
 * @returns where the data begins
 * @throws {ProtocolError} for any other offset
 */
export async function readStart(wire: Wire, offered: number): Promise<number> {
  const line = await wire.readLine(MAX_REPLY_BYTES);
  if (line === null) throw new TruncatedError("The client closed before sending data");
  const start = decodeStart(line);
  if (start !== 0 && start !== offered) {
    throw new ProtocolError(`Start offset ${start} is neither 0 nor ${offered}`);
  }
  return start;
}

/**
 * Sends the trailer: the SHA-256 of every byte of the body.
 *
 * @param wire the connection
 * @param hash the running hash of the body (consumed)
 * @returns the hex digest sent
 */
export async function sendTrailer(wire: Wire, hash: Hash): Promise<string> {
  const sha256 = hash.digest("hex");
  await wire.write(encodeLine({ sha256 }));
  return sha256;
}

/**
 * Reads the trailer and compares it with what was received.
 *
 * @param wire the connection
 * @param hash the running hash of the body received (consumed)
 * @param message what to say when they differ
 * @returns the verified hex digest
 * @throws {CancelError} `corrupt` when they differ
 */
export async function verifyTrailer(wire: Wire, hash: Hash, message: string): Promise<string> {
  const line = await wire.readLine(MAX_REPLY_BYTES);
  if (line === null) throw new TruncatedError("The peer closed before its checksum");
  const digest = hash.digest("hex");
  if (decodeTrailer(line) !== digest) throw new CancelError("corrupt", message);
  return digest;
}

/** A partial file's prefix, hashed, ready to continue. */
export interface ResumePoint {
  /** Where the body continues: the prefix's length, or 0 to start over. */
  start: number;
  /** The hash of the bytes before `start`, to be fed the rest. */
  hash: Hash;
}

/** A source that can go back to its start, as a file can. */
export interface SeekableSource extends BodySource {
  /**
   * Moves the position.
   *
   * @param offset where to
   * @param whence from where
   * @returns the new position
   */
  seek(offset: number, whence: Deno.SeekMode): Promise<number>;
}

/**
 * The resume check: hashes the first `offset` bytes of `source` and
 * continues from there only when they match the peer's SHA-256 of its own
 * prefix. Otherwise the source is rewound and the body starts over, so that
 * two different files are never spliced together.
 *
 * @param source the local file, at its start
 * @param offset the length of the peer's prefix
 * @param prefixSha256 the peer's SHA-256 of it
 * @param size the local file's size
 * @param pool buffers
 * @returns where to start and the running hash
 */
export async function matchPrefix(
  source: SeekableSource,
  offset: number,
  prefixSha256: string | undefined,
  size: number,
  pool: ChunkPool,
): Promise<ResumePoint> {
  const hash = newHash();
  if (offset <= 0 || offset > size || prefixSha256 === undefined) return { start: 0, hash };
  await hashPrefix(source, offset, hash, pool);
  if (hash.copy().digest("hex") === prefixSha256) return { start: offset, hash };
  await source.seek(0, Deno.SeekMode.Start);
  return { start: 0, hash: newHash() };
}

/**
 * Hashes a partial file's first `length` bytes, for offering a resume.
 *
 * @param source the partial file, at its start; left at `length`
 * @param length bytes it holds
 * @param pool buffers
 * @returns the running hash of the prefix
 */
export async function hashPartial(
  source: BodySource,
  length: number,
  pool: ChunkPool,
): Promise<Hash> {
  const hash = newHash();
  await hashPrefix(source, length, hash, pool);
  return hash;
}

/** A listing reused by the store is encoded once. */
const encodedListings = new WeakMap<readonly ListEntry[], Uint8Array>();

/**
 * Sends a listing: `pass` with the count, then one line per entry.
 *
 * @param wire the connection
 * @param entries the files
 * @returns bytes sent
 */
export async function sendListing(wire: Wire, entries: readonly ListEntry[]): Promise<number> {
  let bytes = encodedListings.get(entries);
  if (!bytes) {
    let text = JSON.stringify({ code: "pass", count: entries.length }) + "\n";
    for (const entry of entries) text += JSON.stringify(entry) + "\n";
    bytes = new TextEncoder().encode(text);
    encodedListings.set(entries, bytes);
  }
  await wire.write(bytes);
  return bytes.length;
}

/**
 * Reads a listing's entries after its `pass`.
 *
 * @param wire the connection
 * @param count the count the pass announced
 * @returns the entries
 * @throws {ProtocolError} when the body is not `count` valid lines
 */
export async function readListing(wire: Wire, count: number): Promise<ListEntry[]> {
  const body = await wire.readToEnd(count * MAX_REPLY_BYTES);
  return decodeListing(body, count);
}
