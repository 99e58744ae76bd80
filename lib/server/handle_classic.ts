/**
 * Serves one request from an original privateshare client ("classic"):
 * bare codes, no size, no checksum, data until the end of the stream.
 *
 * @module
 */

import { CancelError } from "../protocol/errors.ts";
import { encodeClassicList, parseClassic } from "../protocol/classic.ts";
import type { ListEntry } from "../protocol/ps2.ts";
import type { Wire } from "../net/wire.ts";
import { sendClassicCode } from "../exchange/classic.ts";
import { type BodyOptions, newHash, receiveBody, sendBody } from "../transfer/body.ts";
import type { HandlerContext } from "./handler.ts";

/** A listing reused by the store is encoded once. */
const encodedLists = new WeakMap<readonly ListEntry[], Uint8Array>();

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
  if (context.authorize) {
    await sendClassicCode(wire, "cancel");
    throw new CancelError(
      "unauthorized",
      "The server needs a password, which classic cannot carry",
    );
  }
  try {
    context.begin();
  } catch (error) {
    if (error instanceof CancelError) await sendClassicCode(wire, "cancel");
    throw error;
  }
  wire.setRateFloor(context.minRate, context.dataTimeoutMs);
  if (op === "list") {
    const entries = await store.list();
    let bytes = encodedLists.get(entries);
    if (!bytes) {
      bytes = encodeClassicList(entries.map((entry) => entry.name));
      encodedLists.set(entries, bytes);
    }
    await wire.write(bytes);
    record.bytes = bytes.length;
    return;
  }
  const options = (): BodyOptions => ({ pool, hash: newHash(), onProgress: context.progress });
  if (op === "get") {
    let opened;
    try {
      opened = await store.open(name, true);
    } catch (error) {
      await sendClassicCode(wire, "cancel");
      throw error;
    }
    try {
      record.size = opened.size;
      // The code goes out in a write of its own, and the data only after a
      // pause: the original client compares its first receive (32 bytes)
      // with "pass", and data that arrives before it has read the code
      // would share that receive.
      await sendClassicCode(wire, "pass");
      if (opened.size > 0) await pauseForReader(context.classicPauseMs);
      await sendBody(opened.file, wire, opened.size, options());
    } finally {
      await opened.file.close();
    }
    return;
  }
  let upload;
  try {
    upload = await store.beginUpload(name, undefined, false, true);
  } catch (error) {
    await sendClassicCode(wire, "cancel");
    throw error;
  }
  try {
    await sendClassicCode(wire, "pass");
    await receiveBody(wire, upload.file, undefined, options());
    await upload.commit();
  } catch (error) {
    await upload.abort(false);
    throw error;
  }
}

/**
 * Waits `ms`, and again while the wait itself ran late: a timer that fires
 * well after its time means the machine's CPUs are contended, and then the
 * client, which must get a turn to read the code, is likely to be late too.
 * On an idle machine this is one wait of `ms`; under load a few (at most
 * four). Measured with the original client's read pattern under CPU load:
 * bench/classic_pause.ts.
 *
 * @param ms the pause
 */
export async function pauseForReader(ms: number): Promise<void> {
  if (ms <= 0) return;
  for (let round = 0; round < 4; round++) {
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, ms));
    const late = performance.now() - started - ms;
    if (late < ms / 2) return;
  }
}
