/**
 * The original privateshare wire format ("classic"): bare `put,NAME`,
 * `get,NAME` and `list` commands, bare `pass` / `cancel` codes, a listing of
 * names each followed by `", "`, and data that ends where the stream ends.
 * This module holds its bytes only; the steps on a connection are in
 * `exchange/classic.ts`.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";

/**
 * The chunk in which the original privateshare reads and writes files:
 * 32 MiB. It is not visible on the wire.
 */
export const CLASSIC_CHUNK_SIZE = 32 * 1024 * 1024;

/** Longest classic command privateshare accepts: an op, a comma and a 255-byte name. */
export const MAX_CLASSIC_COMMAND = 4 + 255;

/** A classic operation. */
export type ClassicOp = "put" | "get" | "list";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The code `pass`, as sent. */
export const CLASSIC_PASS: Uint8Array = encoder.encode("pass");
/** The code `cancel`, as sent. */
export const CLASSIC_CANCEL: Uint8Array = encoder.encode("cancel");

/**
 * Whether the first bytes of a connection look like a classic command.
 *
 * @param head the first bytes received
 * @returns true for `put,`, `get,` or `list`
 */
export function looksClassic(head: Uint8Array): boolean {
  if (head.length > MAX_CLASSIC_COMMAND) return false;
  // Compared as bytes: every connection is sniffed, and a decoder a
  // connection is a cost the server pays for each (issue 25).
  return CLASSIC_STARTS.some((start) => start.every((byte, i) => head[i] === byte));
}

/** How a classic command begins. */
const CLASSIC_STARTS = ["put,", "get,", "list"].map((start) => encoder.encode(start));
const LIST = CLASSIC_STARTS[2]!;

/**
 * Parses a classic command: the op before the first comma, the name after it
 * (a name may itself hold commas).
 *
 * @param bytes the command as received
 * @returns the op and name
 * @throws {ProtocolError} for anything else
 */
export function parseClassic(bytes: Uint8Array): { op: ClassicOp; name: string } {
  // The commonest command, compared as bytes: a decode costs about 3 µs (issue 25).
  if (bytes.length === 4 && LIST.every((byte, i) => bytes[i] === byte)) {
    return { op: "list", name: "" };
  }
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch (error) {
    throw new ProtocolError("Classic command is not valid UTF-8", { cause: error });
  }
  if (text === "list") return { op: "list", name: "" };
  const comma = text.indexOf(",");
  const op = text.slice(0, comma);
  if (comma < 0 || (op !== "put" && op !== "get")) {
    throw new ProtocolError("Not a classic command");
  }
  return { op, name: text.slice(comma + 1) };
}

/**
 * Encodes a classic command.
 *
 * @param op put, get or list
 * @param name the file name (ignored for list)
 * @returns the bytes to send
 */
export function encodeClassic(op: ClassicOp, name: string): Uint8Array {
  return encoder.encode(op === "list" ? "list" : `${op},${name}`);
}

/**
 * Encodes a classic listing: each name followed by `", "`.
 *
 * @param names the names
 * @returns the bytes to send
 */
export function encodeClassicList(names: readonly string[]): Uint8Array {
  return encoder.encode(names.map((name) => name + ", ").join(""));
}

/**
 * Decodes a classic listing.
 *
 * @param bytes everything the server sent
 * @returns the names
 */
export function decodeClassicList(bytes: Uint8Array): string[] {
  return new TextDecoder().decode(bytes).split(", ").filter((name) => name.length > 0);
}
