/**
 * Serves one request from an original privateshare client ("classic"):
 * bare codes, no size, no checksum, data until the end of the stream.
 *
 * @module
 */

import { CancelError } from "../protocol/errors.ts";
import { encodeClassicList, parseClassic } from "../protocol/classic.ts";
import type { Wire } from "../net/wire.ts";
import { sendClassicCode, sendClassicPassBeforeData } from "../exchange/classic.ts";
import { type BodyOptions, newHash, receiveBody, sendBody } from "../transfer/body.ts";
import type { HandlerContext } from "./handler.ts";

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
  try {
    context.begin();
  } catch (error) {
    if (error instanceof CancelError) await sendClassicCode(wire, "cancel");
    throw error;
  }
  wire.setRateFloor(context.minRate, context.dataTimeoutMs);
  if (op === "list") {
    const bytes = encodeClassicList((await store.list()).map((entry) => entry.name));
    await wire.write(bytes);
    record.bytes = bytes.length;
    return;
  }
  const options = (): BodyOptions => ({ pool, hash: newHash(), onProgress: context.progress });
  if (op === "get") {
    let opened;
    try {
      opened = await store.open(name);
    } catch (error) {
      await sendClassicCode(wire, "cancel");
      throw error;
    }
    try {
      record.size = opened.size;
      await sendClassicPassBeforeData(wire, opened.size > 0, context.classicPauseMs);
      await sendBody(opened.file, wire, opened.size, options());
    } finally {
      await opened.file.close();
    }
    return;
  }
  let upload;
  try {
    upload = await store.beginUpload(name, undefined, false);
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
