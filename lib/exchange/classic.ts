/**
 * The classic exchange on a connection: the steps an original client and an
 * original server take, for privateshare's server and client alike.
 *
 * @module
 */

import { ProtocolError } from "../protocol/errors.ts";
import {
  CLASSIC_CANCEL,
  CLASSIC_PASS,
  type ClassicOp,
  decodeClassicList,
  encodeClassic,
} from "../protocol/classic.ts";
import { TruncatedError, type Wire } from "../net/wire.ts";

/**
 * How long a classic get waits between its `pass` and the first data, so that
 * the original client's first receive holds the code alone.
 */
export const CLASSIC_CODE_PAUSE_MS = 50;

/**
 * Sends a classic command.
 *
 * @param wire the connection
 * @param op put, get or list
 * @param name the file name (ignored for list)
 */
export async function sendClassicCommand(wire: Wire, op: ClassicOp, name: string): Promise<void> {
  await wire.write(encodeClassic(op, name));
}

/**
 * Sends a classic code, in a write of its own.
 *
 * @param wire the connection
 * @param code pass or cancel
 */
export async function sendClassicCode(wire: Wire, code: "pass" | "cancel"): Promise<void> {
  await wire.write(code === "pass" ? CLASSIC_PASS : CLASSIC_CANCEL);
}

/**
 * Sends `pass` before a get's data. The code goes out in a write of its own,
 * before any data is read, because the original client compares its first
 * receive with "pass". A write of its own is not enough: data sent right
 * after it reaches the client before it has read the code, and the two
 * arrive in one receive. A short pause lets the client read the code alone.
 *
 * @param wire the connection
 * @param hasData whether data follows
 */
export async function sendClassicPassBeforeData(wire: Wire, hasData: boolean): Promise<void> {
  await sendClassicCode(wire, "pass");
  if (hasData) await new Promise((r) => setTimeout(r, CLASSIC_CODE_PAUSE_MS));
}

/**
 * Reads a classic code from an original server.
 *
 * @param wire the connection, command sent
 * @returns "pass" or "cancel"; bytes after "pass" stay buffered as data
 * @throws {TruncatedError} when the server closes without a code
 * @throws {ProtocolError} when the answer is neither code
 */
export async function readClassicCode(wire: Wire): Promise<"pass" | "cancel"> {
  while (true) {
    const head = wire.buffered;
    if (startsWith(head, CLASSIC_PASS)) {
      wire.consume(CLASSIC_PASS.length);
      return "pass";
    }
    if (startsWith(head, CLASSIC_CANCEL)) {
      wire.consume(head.length);
      return "cancel";
    }
    const partial = startsWith(CLASSIC_PASS, head) || startsWith(CLASSIC_CANCEL, head);
    if (!partial) {
      throw new ProtocolError("The server answered with neither 'pass' nor 'cancel'");
    }
    if (!await wire.fill()) throw new TruncatedError("The server closed without answering");
  }
}

/**
 * Reads a classic listing until the server closes.
 *
 * @param wire the connection, `list` sent
 * @param limit most bytes to accept
 * @returns the names
 * @throws {ProtocolError} when the listing is longer than `limit`
 */
export async function readClassicList(wire: Wire, limit: number): Promise<string[]> {
  return decodeClassicList(await wire.readToEnd(limit));
}

/**
 * After a classic put's body: shuts down the sending side and waits for the
 * server to close, which is all the confirmation the classic format gives.
 *
 * @param wire the connection
 */
export async function finishClassicPut(wire: Wire): Promise<void> {
  await wire.closeWrite();
  const sink = new Uint8Array(1024);
  while (await wire.readInto(sink) > 0) { /* the server says nothing more */ }
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}
