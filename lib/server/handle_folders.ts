/**
 * Serves the folder requests of PS/2 (docs/PROTOCOL.md#folders): a get of
 * a folder (walked, its manifest sent, the client's have-list read, the
 * data of what it lacks sent) and a put of a new folder (checked, its
 * manifest read and checked whole before anything is written, received
 * into a hidden working folder that a cut-off put resumes, committed by
 * one rename that never replaces anything).
 *
 * @module
 */

import { CancelError } from "../protocol/errors.ts";
import type { Command } from "../protocol/ps2.ts";
import { isConnectionError, type Wire } from "../net/wire.ts";
import {
  readHave,
  readManifest,
  receiveFolderData,
  sendFolderData,
  sendHave,
  sendManifest,
} from "../exchange/folder.ts";
import type { FolderReceiver } from "../exchange/folder_receive.ts";
import { sendReply } from "../exchange/ps2.ts";
import { atRate, budgetMs, haveBytes, manifestBytes, within } from "../exchange/budget.ts";
import { cancel, cancelAndDrain, type HandlerContext, toCancel } from "./handler.ts";
import type { FolderUpload } from "./store_folders.ts";
import { HeldBytes, manifestCost, walkedCost } from "./held.ts";

/**
 * Serves a get of `name` from a client that can take folders, if `name` is
 * a folder.
 *
 * @param wire the connection
 * @param context the store, pool and request record
 * @param name the path asked for
 * @returns false when `name` is not a folder (the caller serves it as a file)
 */
export async function getFolder(
  wire: Wire,
  context: HandlerContext,
  name: string,
): Promise<boolean> {
  let opened;
  try {
    opened = await context.store.openFolder(name);
  } catch (error) {
    const refusal = await cancel(wire, error);
    throw refusal === error
      ? error
      : new Error(`Opening ${JSON.stringify(name)}: ${error}`, { cause: error });
  }
  if (!opened) return false;
  const { dir, manifest } = opened;
  const { record } = context;
  // The manifest and the have-list count against the pool while the request holds them.
  const held = new HeldBytes(context.pool);
  try {
    try {
      held.add(walkedCost(manifest));
    } catch (error) {
      throw await cancel(wire, error);
    }
    record.files = manifest.files.size;
    record.size = manifest.size;
    await sendReply(wire, {
      code: "pass",
      type: "folder",
      files: manifest.files.size,
      folders: manifest.folders.size,
      size: manifest.size,
    });
    await atRate(wire, context.minRate, context.dataTimeoutMs, () => sendManifest(wire, manifest));
    // The client hashes what it holds as it writes the have-list: time for that too.
    const have = await within(
      wire,
      budgetMs(context.pace, haveBytes(manifest), manifest.size),
      "The have-list",
      () => readHave(wire, manifest),
    );
    wire.setRateFloor(context.minRate, context.dataTimeoutMs);
    await sendFolderData(wire, dir, manifest, have, {
      pool: context.pool,
      onProgress: context.progress,
    });
    wire.setRateFloor(0, 0);
  } finally {
    held.release();
    await dir.close();
  }
  return true;
}

/**
 * Serves a put of a new folder.
 *
 * @param wire the connection
 * @param context the store, pool and request record
 * @param command the put-folder command
 */
export async function putFolder(
  wire: Wire,
  context: HandlerContext,
  command: Extract<Command, { op: "put-folder" }>,
): Promise<void> {
  const { record, store } = context;
  record.files = command.files;
  record.size = command.size;
  let upload: FolderUpload;
  try {
    upload = await store.beginFolderUpload(command.name, command);
  } catch (error) {
    await cancel(wire, error);
    throw error;
  }
  // The manifest counts against the pool, whole, before it is read.
  const held = new HeldBytes(context.pool);
  try {
    held.add(manifestCost(command.files + command.folders, store.folderLimits));
  } catch (error) {
    await upload.release();
    await cancel(wire, error);
    throw error;
  }
  let receiver: FolderReceiver | undefined;
  // A cut-off put keeps its working folder for the next attempt; so does a
  // corrupt file (only that file is gone) and a malformed message.
  let keep = true;
  try {
    await sendReply(wire, { code: "pass" });
    // Checked whole before anything is written: a refused manifest leaves nothing.
    const lines = command.files + command.folders;
    const manifest = await within(
      wire,
      budgetMs(context.pace, manifestBytes(lines, store.folderLimits)),
      "The manifest",
      () =>
        atRate(
          wire,
          context.minRate,
          context.dataTimeoutMs,
          () => readManifest(wire, command, store.folderLimits),
        ),
    );
    receiver = await upload.start(manifest, { pool: context.pool, onProgress: context.progress });
    await sendHave(wire, receiver.have());
    wire.setRateFloor(context.minRate, context.dataTimeoutMs);
    await receiveFolderData(wire, receiver);
    wire.setRateFloor(0, 0);
    await upload.commit(receiver);
    await sendReply(wire, { code: "done", files: manifest.files.size, size: manifest.size });
  } catch (error) {
    wire.setRateFloor(0, 0);
    if (!isConnectionError(error)) {
      const refusal = toCancel(error);
      // Taken meanwhile, a full disk, a failure of ours: the work is of no more use.
      if (refusal.reason === "exists" || refusal.reason === "no-space") keep = false;
      if (refusal.reason === "internal") keep = false;
      await cancelAndDrain(wire, refusal);
      if (!(error instanceof CancelError) && refusal.reason === "no-space") throw refusal;
    }
    throw error;
  } finally {
    held.release();
    await receiver?.abort(keep);
    await upload.release();
  }
}
