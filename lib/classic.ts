/**
 * The original privateshare wire format ("classic"): bare `put,NAME`,
 * `get,NAME` and `list` commands, bare `pass` / `cancel` codes, and data that
 * ends where the stream ends. The server side answers original clients; the
 * client side talks to original servers.
 *
 * @module
 */

import type { HandlerContext } from "./server.ts";
import { CancelError } from "./protocol.ts";
import { type BodyOptions, newHash, receiveBody, sendBody } from "./transfer.ts";
import { TruncatedError, type Wire } from "./wire.ts";

/**
 * How long a classic get waits between its `pass` and the first data, so that
 * the original client's first receive holds the code alone.
 */
export const CLASSIC_CODE_PAUSE_MS = 50;

/** Longest classic command privateshare accepts: an op, a comma and a 255-byte name. */
const _MAX_COMMAND = 4 + 255;

const _encoder = new TextEncoder();
const _decoder = new TextDecoder("utf-8", { fatal: true });
const _PASS = _encoder.encode("pass");
const _CANCEL = _encoder.encode("cancel");

/**
 * Whether the first bytes of a connection look like a classic command.
 *
 * @param head the first bytes received
 * @returns true for `put,`, `get,` or `list`
 */
export function looksClassic(head: Uint8Array): boolean {
  if (head.length > _MAX_COMMAND) return false;
  const text = new TextDecoder().decode(head.subarray(0, 4));
  return text === "put," || text === "get," || text === "list";
}

/**
 * Parses a classic command: the op before the first comma, the name after it
 * (a name may itself hold commas).
 *
 * @param bytes the command as received
 * @returns the op and name
 * @throws {CancelError} `bad-request` for anything else
 */
export function parseClassic(bytes: Uint8Array): { op: "put" | "get" | "list"; name: string } {
  let text: string;
  try {
    text = _decoder.decode(bytes);
  } catch {
    throw new CancelError("bad-request", "Classic command is not valid UTF-8");
  }
  if (text === "list") return { op: "list", name: "" };
  const comma = text.indexOf(",");
  const op = text.slice(0, comma);
  if (comma < 0 || (op !== "put" && op !== "get")) {
    throw new CancelError("bad-request", "Not a classic command");
  }
  return { op, name: text.slice(comma + 1) };
}

/**
 * Serves one classic request whose command is in the wire's buffer.
 *
 * @param wire the connection, with the command buffered
 * @param context the server's store, pool and the request record
 */
export async function handleClassic(wire: Wire, context: HandlerContext): Promise<void> {
  const head = wire.buffered.slice();
  wire.consume(head.length);
  const { op, name } = parseClassic(head);
  const { record, store, pool } = context;
  record.op = op;
  if (op !== "list") record.name = name;
  wire.setDeadline(context.options.dataTimeoutMs);
  if (context.overLimit) {
    await wire.write(_CANCEL);
    throw new CancelError("busy", "The server is serving its maximum of connections");
  }
  if (op === "list") {
    const names = store.list().map((entry) => entry.name + ", ").join("");
    const bytes = _encoder.encode(names);
    await wire.write(bytes);
    record.bytes = bytes.length;
    return;
  }
  const options = (): BodyOptions => ({
    pool,
    hash: newHash(),
    onProgress: (n) => record.bytes = n,
  });
  if (op === "get") {
    let opened;
    try {
      opened = await store.open(name);
    } catch (error) {
      await wire.write(_CANCEL);
      throw error;
    }
    try {
      // The code goes out in a write of its own, before any data is read,
      // because the original client compares its first receive with "pass".
      // A write of its own is not enough: data sent right after it reaches
      // the client before it has read the code, and the two arrive in one
      // receive. A short pause lets the client read the code alone.
      await wire.write(_PASS);
      if (opened.size > 0) await new Promise((r) => setTimeout(r, CLASSIC_CODE_PAUSE_MS));
      await sendBody(opened.file, wire, opened.size, options());
    } finally {
      opened.file.close();
    }
    return;
  }
  let upload;
  try {
    upload = await store.beginUpload(name, undefined, false);
  } catch (error) {
    await wire.write(_CANCEL);
    throw error;
  }
  try {
    await wire.write(_PASS);
    await receiveBody(wire, upload.file, undefined, options());
    await upload.commit();
  } catch (error) {
    await upload.abort(false);
    throw error;
  }
}

/**
 * Reads a classic code from an original server.
 *
 * @param wire the connection, command sent
 * @returns "pass" or "cancel"; bytes after "pass" stay buffered as data
 * @throws {TruncatedError} when the server closes without a code
 */
export async function readClassicCode(wire: Wire): Promise<"pass" | "cancel"> {
  while (true) {
    const head = wire.buffered;
    if (_startsWith(head, _PASS)) {
      wire.consume(_PASS.length);
      return "pass";
    }
    if (_startsWith(head, _CANCEL)) {
      wire.consume(head.length);
      return "cancel";
    }
    const partial = _startsWith(_PASS, head) || _startsWith(_CANCEL, head);
    if (!partial) {
      throw new CancelError("bad-request", "The server answered with neither 'pass' nor 'cancel'");
    }
    if (!await wire.fill()) throw new TruncatedError("The server closed without answering");
  }
}

/**
 * Sends a classic command.
 *
 * @param wire the connection
 * @param op put, get or list
 * @param name the file name (ignored for list)
 */
export async function sendClassicCommand(
  wire: Wire,
  op: "put" | "get" | "list",
  name: string,
): Promise<void> {
  await wire.write(_encoder.encode(op === "list" ? "list" : `${op},${name}`));
}

/**
 * Reads a classic listing until the server closes.
 *
 * @param wire the connection, `list` sent
 * @param limit most bytes to accept
 * @returns the names
 */
export async function readClassicList(wire: Wire, limit: number): Promise<string[]> {
  while (await wire.fill()) {
    if (wire.buffered.length > limit) {
      throw new CancelError("too-large", `The listing is longer than ${limit} bytes`);
    }
  }
  const text = new TextDecoder().decode(wire.buffered);
  return text.split(", ").filter((name) => name.length > 0);
}

/**
 * Sends a file body after a classic `pass`, then shuts down the sending
 * side and waits for the server to close, which is all the confirmation
 * the classic format gives.
 *
 * @param wire the connection
 * @param file the local file at its start
 * @param size bytes to send
 * @param body pool, hash and progress
 */
export async function sendClassicBody(
  wire: Wire,
  file: Deno.FsFile,
  size: number,
  body: BodyOptions,
): Promise<void> {
  await sendBody(file, wire, size, body);
  await wire.closeWrite();
  const sink = new Uint8Array(1024);
  while (await wire.readInto(sink) > 0) { /* the server says nothing more */ }
}

function _startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}
