/**
 * Serves one PS/2 request: list, get or put, through the shared exchange
 * steps and the store.
 *
 * @module
 */

import type { Hash } from "node:crypto";
import { CancelError, ProtocolError } from "../protocol/errors.ts";
import type { Command } from "../protocol/ps2.ts";
import { isConnectionError, type Wire } from "../net/wire.ts";
import {
  hashPartial,
  matchPrefix,
  readCommand,
  readStart,
  sendCancel,
  sendListing,
  sendReply,
  sendTrailer,
  verifyTrailer,
} from "../exchange/ps2.ts";
import { newHash, receiveBody, sendBody, SourceEndedError } from "../transfer/body.ts";
import { atRate, budgetMs, within } from "../exchange/budget.ts";
import { getFolder, putFolder } from "./handle_folders.ts";
import { cancel, cancelAndDrain, type HandlerContext, toCancel } from "./handler.ts";
import type { Upload } from "./store.ts";

/**
 * Serves one PS/2 request whose first bytes are buffered on the wire.
 *
 * @param wire the connection
 * @param context the store, pool and request record
 */
export async function handlePs2(wire: Wire, context: HandlerContext): Promise<void> {
  let command: Command;
  try {
    command = await readCommand(wire);
    context.record.op = command.op;
    if (command.op !== "list") context.record.name = command.name;
    else if (command.folder !== undefined) context.record.name = command.folder;
    // The password first: a guesser is slowed before it takes a serving slot.
    await context.authorize?.(command);
    context.begin();
  } catch (error) {
    if (error instanceof CancelError || error instanceof ProtocolError) {
      await sendCancel(wire, toCancel(error));
    }
    throw error;
  }
  switch (command.op) {
    case "list":
      return await list(wire, context, command.folder, command.folders === true);
    case "get":
      if (command.folders && await getFolder(wire, context, command.name)) return;
      return await get(wire, context, command.name, command.offset, command.prefixSha256);
    case "put":
      return await put(wire, context, command.name, command.size, command.resume);
    case "put-folder":
      return await putFolder(wire, context, command);
  }
}

async function list(
  wire: Wire,
  context: HandlerContext,
  folder: string | undefined,
  withFolders: boolean,
): Promise<void> {
  let entries;
  try {
    entries = await context.store.list(folder, withFolders);
  } catch (error) {
    await cancel(wire, error);
    throw error;
  }
  // A client that reads the listing a byte at a time is cut at the rate floor.
  context.record.bytes = await atRate(
    wire,
    context.minRate,
    context.dataTimeoutMs,
    () => sendListing(wire, entries),
  );
}

async function get(
  wire: Wire,
  context: HandlerContext,
  name: string,
  offset: number,
  prefixSha256: string | undefined,
): Promise<void> {
  let opened;
  try {
    opened = await context.store.open(name);
  } catch (error) {
    const refusal = await cancel(wire, error);
    throw refusal === error
      ? error
      : new Error(`Opening ${JSON.stringify(name)}: ${error}`, { cause: error });
  }
  const { file, size } = opened;
  try {
    context.record.size = size;
    const { start, hash } = await matchPrefix(file, offset, prefixSha256, size, context.pool);
    await sendReply(wire, { code: "pass", size, offset: start });
    if (start > 0) context.record.resumedFrom = start;
    wire.setRateFloor(context.minRate, context.dataTimeoutMs);
    await sendBody(file, wire, size - start, {
      pool: context.pool,
      hash,
      onProgress: context.progress,
    });
    wire.setRateFloor(0, 0);
    await sendTrailer(wire, hash);
  } finally {
    await file.close();
  }
}

async function put(
  wire: Wire,
  context: HandlerContext,
  name: string,
  size: number,
  resume: boolean,
): Promise<void> {
  context.record.size = size;
  let upload;
  try {
    upload = await context.store.beginUpload(name, size, resume);
  } catch (error) {
    await cancel(wire, error);
    throw error;
  }
  let keep = true;
  try {
    let offset = upload.offset;
    let hash = newHash();
    if (offset > 0) {
      try {
        hash = await hashPartial(upload.file, offset, context.pool);
      } catch (error) {
        // The partial shrank since it was opened: start over.
        if (!(error instanceof SourceEndedError)) throw error;
        await upload.restart();
        offset = 0;
      }
    }
    await sendReply(
      wire,
      offset > 0
        ? { code: "pass", offset, prefixSha256: hash.copy().digest("hex") }
        : { code: "pass", offset: 0 },
    );
    // The client may hash its first `offset` bytes before it answers: time for that too.
    const start = await within(
      wire,
      budgetMs(context.pace, 0, offset),
      "The start line",
      () => readStart(wire, offset),
    );
    if (start === 0 && offset > 0) {
      await upload.restart();
      hash = newHash();
    }
    if (start > 0) context.record.resumedFrom = start;
    await receiveAndCommit(wire, context, upload, size, start, hash, () => keep = false);
  } catch (error) {
    if (error instanceof ProtocolError) {
      await sendCancel(wire, toCancel(error)).catch(() => {});
    } else if (!isConnectionError(error) && !(error instanceof CancelError)) {
      // A full disk or a failure of ours: tell the client why, then let its
      // data drain so that it reads the reason instead of a reset.
      const refusal = toCancel(error);
      await cancelAndDrain(wire, refusal);
      keep = false;
      if (refusal.reason === "no-space") throw refusal;
    }
    throw error;
  } finally {
    await upload.abort(keep);
  }
}

async function receiveAndCommit(
  wire: Wire,
  context: HandlerContext,
  upload: Upload,
  size: number,
  start: number,
  hash: Hash,
  discard: () => void,
): Promise<void> {
  wire.setRateFloor(context.minRate, context.dataTimeoutMs);
  await receiveBody(wire, upload.file, size - start, {
    pool: context.pool,
    hash,
    onProgress: context.progress,
  });
  wire.setRateFloor(0, 0);
  let digest;
  try {
    digest = await within(wire, budgetMs(context.pace), "The checksum", () =>
      verifyTrailer(
        wire,
        hash,
        "The data the server received does not match the sender's SHA-256: nothing was kept",
      ));
  } catch (error) {
    if (error instanceof CancelError) {
      discard();
      throw await cancel(wire, error);
    }
    throw error;
  }
  try {
    await upload.commit();
  } catch (error) {
    discard();
    await cancel(wire, error);
    throw error;
  }
  await sendReply(wire, { code: "done", sha256: digest });
}
