/**
 * The privateshare protocol (PS/2): command and code messages, their limits,
 * and their encoding and decoding. See docs/PROTOCOL.md for the bytes.
 *
 * @module
 */

import { ProtocolError, type Reason, REASONS } from "./errors.ts";
import { boolean, decodeText, parseObject, sha256, size, string } from "./fields.ts";

/** Every default-protocol command starts with these bytes. */
export const MAGIC = "PS/2 ";

/** Largest command line, magic and newline included. */
export const MAX_COMMAND_BYTES = 8 * 1024;

/** Largest reply, trailer or list entry line, newline included. */
export const MAX_REPLY_BYTES = 8 * 1024;

/** A client's first message; `password` only ever inside TLS. */
export type Command =
  & (
    | { op: "put"; name: string; size: number; resume: boolean }
    | { op: "get"; name: string; offset: number; prefixSha256?: string; folders?: boolean }
    | { op: "list"; folder?: string; folders?: boolean }
    | { op: "put-folder"; name: string; files: number; folders: number; size: number }
  )
  & { password?: string };

/** A server's answer to a command, or a put's final verdict. */
export type Reply =
  | {
    code: "pass";
    size?: number;
    offset?: number;
    prefixSha256?: string;
    count?: number;
    /** A get of a folder: `folder`, with its totals in `files`, `folders` and `size`. */
    type?: "folder";
    files?: number;
    folders?: number;
  }
  | { code: "done"; sha256: string }
  | { code: "done"; files: number; size: number }
  | { code: "cancel"; reason: Reason; message: string };

/** One file, or with `type` one folder, in a listing. */
export interface ListEntry {
  /** The file's name in the served folder. */
  name: string;
  /** Size in bytes; of a folder, of every file below it. */
  size: number;
  /** Last modification, milliseconds since the Unix epoch. */
  mtime: number;
  /** Only for a folder. */
  type?: "folder";
  /** A folder's regular files, at any depth. */
  files?: number;
}

const encoder = new TextEncoder();
const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Encodes a command as the bytes a client sends.
 *
 * @param command the command
 * @returns `PS/2 ` + JSON + `\n`
 * @example
 * ```ts
 * encodeCommand({ op: "list" }); // bytes of 'PS/2 {"op":"list"}\n'
 * ```
 */
export function encodeCommand(command: Command): Uint8Array {
  const bytes = encoder.encode(MAGIC + JSON.stringify(command) + "\n");
  if (bytes.length > MAX_COMMAND_BYTES) {
    throw new ProtocolError(`Command is longer than ${MAX_COMMAND_BYTES} bytes`);
  }
  return bytes;
}

/**
 * Decodes and validates one command line (without its newline).
 *
 * @param line the bytes before the newline
 * @returns the command
 * @throws {ProtocolError} for anything malformed
 */
export function decodeCommand(line: Uint8Array): Command {
  const text = decodeText(line, "Command");
  if (!text.startsWith(MAGIC)) {
    throw new ProtocolError(`Command does not start with '${MAGIC.trim()}'`);
  }
  const value = parseObject(text.slice(MAGIC.length), "Command");
  const command = decodeOp(value);
  return value.password === undefined
    ? command
    : { ...command, password: string(value, "password") };
}

function decodeOp(value: Record<string, unknown>): Command {
  switch (value.op) {
    case "put":
      return {
        op: "put",
        name: string(value, "name"),
        size: size(value, "size"),
        resume: value.resume === undefined ? false : boolean(value, "resume"),
      };
    case "get": {
      const offset = value.offset === undefined ? 0 : size(value, "offset");
      const prefix = value.prefixSha256;
      if (prefix !== undefined && (typeof prefix !== "string" || !SHA256_HEX.test(prefix))) {
        throw new ProtocolError("Field 'prefixSha256' must be 64 lowercase hex digits");
      }
      if (offset > 0 && prefix === undefined) {
        throw new ProtocolError("Field 'offset' needs 'prefixSha256'");
      }
      const get: Command = prefix === undefined
        ? { op: "get", name: string(value, "name"), offset }
        : { op: "get", name: string(value, "name"), offset, prefixSha256: prefix };
      if (value.folders === true) get.folders = true;
      return get;
    }
    case "list": {
      const list: Command = { op: "list" };
      if (value.folder !== undefined) list.folder = string(value, "folder");
      if (value.folders === true) list.folders = true;
      return list;
    }
    case "put-folder":
      return {
        op: "put-folder",
        name: string(value, "name"),
        files: size(value, "files"),
        folders: size(value, "folders"),
        size: size(value, "size"),
      };
    default:
      throw new ProtocolError(`Unknown operation ${JSON.stringify(value.op)}`);
  }
}

/**
 * Encodes any JSON message line: a reply, a trailer, a list entry.
 *
 * @param message the object to send
 * @returns JSON + `\n`
 */
export function encodeLine(message: object): Uint8Array {
  return encoder.encode(JSON.stringify(message) + "\n");
}

/**
 * Decodes and validates one reply line (without its newline).
 *
 * @param line the bytes before the newline
 * @returns the reply
 * @throws {ProtocolError} for anything malformed
 */
export function decodeReply(line: Uint8Array): Reply {
  const value = parseObject(decodeText(line, "Reply"), "Reply");
  switch (value.code) {
    case "pass": {
      const reply: Reply = { code: "pass" };
      if (value.size !== undefined) reply.size = size(value, "size");
      if (value.offset !== undefined) reply.offset = size(value, "offset");
      if (value.count !== undefined) reply.count = size(value, "count");
      if (value.prefixSha256 !== undefined) reply.prefixSha256 = sha256(value, "prefixSha256");
      if (value.type === "folder") {
        reply.type = "folder";
        reply.files = size(value, "files");
        reply.folders = size(value, "folders");
        reply.size = size(value, "size");
      }
      return reply;
    }
    case "done":
      return value.sha256 === undefined
        ? { code: "done", files: size(value, "files"), size: size(value, "size") }
        : { code: "done", sha256: sha256(value, "sha256") };
    case "cancel": {
      const reason = value.reason;
      return {
        code: "cancel",
        // A reason this version does not know is still a refusal.
        reason: REASONS.includes(reason as Reason) ? reason as Reason : "internal",
        message: typeof value.message === "string" ? value.message : "The server refused",
      };
    }
    default:
      throw new ProtocolError(`Unknown reply code ${JSON.stringify(value.code)}`);
  }
}

/**
 * Decodes a trailer line `{"sha256":"<hex>"}`.
 *
 * @param line the bytes before the newline
 * @returns the hex digest
 */
export function decodeTrailer(line: Uint8Array): string {
  return sha256(parseObject(decodeText(line, "Trailer"), "Trailer"), "sha256");
}

/**
 * Decodes one list entry line `{"name":..,"size":..,"mtime":..}`.
 *
 * @param line the bytes before the newline
 * @returns the entry
 */
export function decodeListEntry(line: Uint8Array): ListEntry {
  return listEntry(decodeText(line, "List entry"));
}

/**
 * Decodes the entries that follow a list's `pass`, all at once: `count`
 * lines, each a list entry, and nothing after them. Decoding the whole body
 * in one go costs far less than line by line for a large folder.
 *
 * @param body every byte after the `pass` line, up to the end of stream
 * @param count how many entries the `pass` announced
 * @returns the entries
 * @throws {ProtocolError} when the body is not `count` valid lines
 */
export function decodeListing(body: Uint8Array, count: number): ListEntry[] {
  const lines = decodeText(body, "Listing").split("\n");
  if (lines.length !== count + 1 || lines[count] !== "") {
    throw new ProtocolError(`Listing does not hold the ${count} entries announced`);
  }
  lines.pop();
  return lines.map(listEntry);
}

function listEntry(text: string): ListEntry {
  const value = parseObject(text, "List entry");
  const entry: ListEntry = {
    name: string(value, "name"),
    size: size(value, "size"),
    mtime: size(value, "mtime"),
  };
  if (value.type === "folder") {
    entry.type = "folder";
    entry.files = size(value, "files");
  }
  return entry;
}

/**
 * Decodes the optional resume line a client sends after a put's `pass`:
 * `{"offset":N}`, where N is the server's offset or 0.
 *
 * @param line the bytes before the newline
 * @returns the offset the client starts from
 */
export function decodeStart(line: Uint8Array): number {
  return size(parseObject(decodeText(line, "Start"), "Start"), "offset");
}
