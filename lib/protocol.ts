/**
 * The privateshare protocol (PS/2): command and code messages, their limits,
 * and the reason codes a cancel carries. See docs/PROTOCOL.md for the bytes.
 *
 * @module
 */

/** The version of privateshare, shown by `--version`. */
export const VERSION = "0.1.0";

/** Every default-protocol command starts with these bytes. */
export const MAGIC = "PS/2 ";

/**
 * The chunk in which the original privateshare reads and writes files:
 * 32 MiB. It is not visible on the wire in either format.
 */
export const CLASSIC_CHUNK_SIZE = 32 * 1024 * 1024;

/**
 * The chunk in which privateshare reads and writes file bodies: 4 MiB.
 * Measured against 32 MiB (bench/RESULTS.md): a 1 GiB put takes about 27%
 * less time and half the memory, because a 4 MiB chunk stays in the CPU's
 * cache between the socket, the SHA-256 and the page cache, where a 32 MiB
 * one is read back from memory at every step.
 */
export const CHUNK_SIZE = 4 * 1024 * 1024;

/** Largest command line, magic and newline included. */
export const MAX_COMMAND_BYTES = 8 * 1024;

/** Largest reply, trailer or list entry line, newline included. */
export const MAX_REPLY_BYTES = 8 * 1024;

/** Why a request was cancelled: a closed set, each with its own meaning. */
export type Reason =
  | "bad-request"
  | "invalid-name"
  | "exists"
  | "not-found"
  | "busy"
  | "read-only"
  | "too-large"
  | "no-space"
  | "unauthorized"
  | "corrupt"
  | "timeout"
  | "internal";

/** Every reason code, for validation. */
export const REASONS: readonly Reason[] = [
  "bad-request",
  "invalid-name",
  "exists",
  "not-found",
  "busy",
  "read-only",
  "too-large",
  "no-space",
  "unauthorized",
  "corrupt",
  "timeout",
  "internal",
];

/** A client's first message. */
export type Command =
  | { op: "put"; name: string; size: number; resume: boolean }
  | { op: "get"; name: string; offset: number; prefixSha256?: string }
  | { op: "list" };

/** A server's answer to a command, or a put's final verdict. */
export type Reply =
  | { code: "pass"; size?: number; offset?: number; prefixSha256?: string; count?: number }
  | { code: "done"; sha256: string }
  | { code: "cancel"; reason: Reason; message: string };

/** One file in a listing. */
export interface ListEntry {
  /** The file's name in the served folder. */
  name: string;
  /** Size in bytes. */
  size: number;
  /** Last modification, milliseconds since the Unix epoch. */
  mtime: number;
}

/**
 * A refusal with a reason code: what a server sends as `cancel`, and what a
 * client raises when it receives one.
 */
export class CancelError extends Error {
  /** The reason code from the closed set. */
  readonly reason: Reason;

  /**
   * @param reason the reason code
   * @param message a sentence for a person, naming what was wrong
   */
  constructor(reason: Reason, message: string) {
    super(message);
    this.name = "CancelError";
    this.reason = reason;
  }
}

/**
 * Turns an error during a transfer into the cancel the peer should hear:
 * a full disk is `no-space`, anything unexpected `internal`.
 *
 * @param error what was thrown
 * @returns the cancel to send
 */
export function toCancel(error: unknown): CancelError {
  if (error instanceof CancelError) return error;
  if ((error as { code?: string })?.code === "ENOSPC") {
    return new CancelError("no-space", "The server's disk is full: free some space and try again");
  }
  return new CancelError("internal", "The server failed to complete the request: see its log");
}

const _encoder = new TextEncoder();
const _decoder = new TextDecoder("utf-8", { fatal: true });
const _SHA256_HEX = /^[0-9a-f]{64}$/;

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
  const bytes = _encoder.encode(MAGIC + JSON.stringify(command) + "\n");
  if (bytes.length > MAX_COMMAND_BYTES) {
    throw new CancelError("bad-request", `Command is longer than ${MAX_COMMAND_BYTES} bytes`);
  }
  return bytes;
}

/**
 * Decodes and validates one command line (without its newline).
 *
 * @param line the bytes before the newline
 * @returns the command
 * @throws {CancelError} `bad-request` for anything malformed
 */
export function decodeCommand(line: Uint8Array): Command {
  const text = _decodeText(line, "Command");
  if (!text.startsWith(MAGIC)) {
    throw new CancelError("bad-request", `Command does not start with '${MAGIC.trim()}'`);
  }
  const value = _parseObject(text.slice(MAGIC.length), "Command");
  switch (value.op) {
    case "put":
      return {
        op: "put",
        name: _string(value, "name"),
        size: _size(value, "size"),
        resume: value.resume === undefined ? false : _boolean(value, "resume"),
      };
    case "get": {
      const offset = value.offset === undefined ? 0 : _size(value, "offset");
      const prefix = value.prefixSha256;
      if (prefix !== undefined && (typeof prefix !== "string" || !_SHA256_HEX.test(prefix))) {
        throw new CancelError(
          "bad-request",
          "Field 'prefixSha256' must be 64 lowercase hex digits",
        );
      }
      if (offset > 0 && prefix === undefined) {
        throw new CancelError("bad-request", "Field 'offset' needs 'prefixSha256'");
      }
      return prefix === undefined
        ? { op: "get", name: _string(value, "name"), offset }
        : { op: "get", name: _string(value, "name"), offset, prefixSha256: prefix };
    }
    case "list":
      return { op: "list" };
    default:
      throw new CancelError("bad-request", `Unknown operation ${JSON.stringify(value.op)}`);
  }
}

/**
 * Encodes any JSON message line: a reply, a trailer, a list entry.
 *
 * @param message the object to send
 * @returns JSON + `\n`
 */
export function encodeLine(message: object): Uint8Array {
  return _encoder.encode(JSON.stringify(message) + "\n");
}

/**
 * Decodes and validates one reply line (without its newline).
 *
 * @param line the bytes before the newline
 * @returns the reply
 * @throws {CancelError} `bad-request` for anything malformed
 */
export function decodeReply(line: Uint8Array): Reply {
  const value = _parseObject(_decodeText(line, "Reply"), "Reply");
  switch (value.code) {
    case "pass": {
      const reply: Reply = { code: "pass" };
      if (value.size !== undefined) reply.size = _size(value, "size");
      if (value.offset !== undefined) reply.offset = _size(value, "offset");
      if (value.count !== undefined) reply.count = _size(value, "count");
      if (value.prefixSha256 !== undefined) reply.prefixSha256 = _sha256(value, "prefixSha256");
      return reply;
    }
    case "done":
      return { code: "done", sha256: _sha256(value, "sha256") };
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
      throw new CancelError("bad-request", `Unknown reply code ${JSON.stringify(value.code)}`);
  }
}

/**
 * Decodes a trailer line `{"sha256":"<hex>"}`.
 *
 * @param line the bytes before the newline
 * @returns the hex digest
 */
export function decodeTrailer(line: Uint8Array): string {
  return _sha256(_parseObject(_decodeText(line, "Trailer"), "Trailer"), "sha256");
}

/**
 * Decodes one list entry line `{"name":..,"size":..,"mtime":..}`.
 *
 * @param line the bytes before the newline
 * @returns the entry
 */
export function decodeListEntry(line: Uint8Array): ListEntry {
  return _listEntry(_decodeText(line, "List entry"));
}

/**
 * Decodes the entries that follow a list's `pass`, all at once: `count`
 * lines, each a list entry, and nothing after them. Decoding the whole body
 * in one go costs far less than line by line for a large folder.
 *
 * @param body every byte after the `pass` line, up to the end of stream
 * @param count how many entries the `pass` announced
 * @returns the entries
 * @throws {CancelError} `bad-request` when the body is not `count` valid lines
 */
export function decodeListing(body: Uint8Array, count: number): ListEntry[] {
  const lines = _decodeText(body, "Listing").split("\n");
  if (lines.length !== count + 1 || lines[count] !== "") {
    throw new CancelError("bad-request", `Listing does not hold the ${count} entries announced`);
  }
  lines.pop();
  return lines.map(_listEntry);
}

function _listEntry(text: string): ListEntry {
  const value = _parseObject(text, "List entry");
  return { name: _string(value, "name"), size: _size(value, "size"), mtime: _size(value, "mtime") };
}

/**
 * Decodes the optional resume line a client sends after a put's `pass`:
 * `{"offset":N}`, where N is the server's offset or 0.
 *
 * @param line the bytes before the newline
 * @returns the offset the client starts from
 */
export function decodeStart(line: Uint8Array): number {
  return _size(_parseObject(_decodeText(line, "Start"), "Start"), "offset");
}

function _decodeText(line: Uint8Array, what: string): string {
  try {
    return _decoder.decode(line);
  } catch {
    throw new CancelError("bad-request", `${what} is not valid UTF-8`);
  }
}

function _parseObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CancelError("bad-request", `${what} is not valid JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CancelError("bad-request", `${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function _string(value: Record<string, unknown>, field: string): string {
  const v = value[field];
  if (typeof v !== "string") {
    throw new CancelError("bad-request", `Field '${field}' must be a string`);
  }
  return v;
}

function _boolean(value: Record<string, unknown>, field: string): boolean {
  const v = value[field];
  if (typeof v !== "boolean") {
    throw new CancelError("bad-request", `Field '${field}' must be true or false`);
  }
  return v;
}

function _size(value: Record<string, unknown>, field: string): number {
  const v = value[field];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new CancelError("bad-request", `Field '${field}' must be a whole number of at least 0`);
  }
  return v;
}

function _sha256(value: Record<string, unknown>, field: string): string {
  const v = value[field];
  if (typeof v !== "string" || !_SHA256_HEX.test(v)) {
    throw new CancelError("bad-request", `Field '${field}' must be 64 lowercase hex digits`);
  }
  return v;
}
