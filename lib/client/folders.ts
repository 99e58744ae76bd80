/**
 * The client's side of folders in PS/2 (docs/PROTOCOL.md#folders): a put
 * of a whole local folder, and a get whose pass says that the name is a
 * folder, both through the shared exchange steps. A folder download is
 * received into a hidden working folder beside its destination, resumed
 * from there on the next run, and made visible only when whole; a manifest
 * from the server is checked whole before anything is written.
 *
 * @module
 */

import { join } from "node:path";
import { CancelError, ProtocolError } from "../protocol/errors.ts";
import type { HaveEntry, Manifest } from "../protocol/folder.ts";
import { FOLDER_LIMITS } from "../protocol/paths.ts";
import type { Reply } from "../protocol/ps2.ts";
import type { Wire } from "../net/wire.ts";
import { readReply, sendCommand, unexpected } from "../exchange/ps2.ts";
import {
  readHave,
  readManifest,
  receiveFolderData,
  sendFolderData,
  sendHave,
  sendManifest,
} from "../exchange/folder.ts";
import { FolderReceiver } from "../exchange/folder_receive.ts";
import { ChunkPool } from "../transfer/pool.ts";
import type { Skipped } from "../transfer/tree_walk.ts";
import { ClientError } from "./errors.ts";
import {
  commitFolder,
  type FolderPlace,
  type LocalFolder,
  openFolderTarget,
} from "./folder_local.ts";
import { q, resolveTarget } from "./local.ts";
import { firstPass, type StepOptions } from "./ps2.ts";
import {
  budgetMs,
  clientPace,
  clientRate,
  haveBytes,
  manifestBytes,
  within,
} from "../exchange/budget.ts";

/** What a folder transfer moved. */
export interface FolderMoved {
  /** Files in the folder. */
  files: number;
  /** Bytes of all its files. */
  size: number;
  /** Bytes the receiver held already from an earlier run. */
  resumedFrom: number;
  /** Files not sent again: the receiver held them whole. */
  kept: number;
  /** The local folder. */
  path: string;
  /** What was left out (a put's links, FIFOs, devices, bad names). */
  skipped: Skipped[];
}

/** Folders have many files in flight: their own, larger buffers. */
let folderPool: ChunkPool | undefined;
function pool(): ChunkPool {
  return folderPool ??= new ChunkPool(16 * 1024 * 1024);
}

const RESUME = "run the same command again to resume";

/** Bytes a have-list says the receiver holds. */
function heldBytes(manifest: Manifest, have: Iterable<HaveEntry>): number {
  let bytes = 0;
  for (const entry of have) {
    bytes += "sha256" in entry ? manifest.files.get(entry.path) ?? 0 : entry.offset;
  }
  return bytes;
}

/**
 * Puts a local folder as a new folder on the server.
 *
 * @param wire the connection
 * @param local the walked folder
 * @param name its name on the server
 * @param resume keep what the server holds from an earlier, cut-off put (checked by SHA-256)
 * @param options where, progress
 * @returns what was moved
 */
export async function putFolderPs2(
  wire: Wire,
  local: LocalFolder,
  name: string,
  resume: boolean,
  options: StepOptions,
): Promise<FolderMoved> {
  const { manifest } = local;
  const files = manifest.files.size;
  await sendCommand(wire, {
    op: "put-folder",
    name,
    files,
    folders: manifest.folders.size,
    size: manifest.size,
  });
  await firstPass(wire, options, RESUME);
  await sendManifest(wire, manifest);
  // Without resuming, every file is sent whole: the server replaces what it held.
  // The server hashes what it holds as it writes the have-list: time for that too.
  const offered = await within(
    wire,
    budgetMs(clientPace(options.timeoutMs), haveBytes(manifest), manifest.size),
    "The server's have-list",
    () => readHave(wire, manifest),
  );
  const have = resume ? offered : new Map<string, HaveEntry>();
  const resumedFrom = heldBytes(manifest, have.values());
  let done = 0;
  let kept = 0;
  let sent = 0;
  const report = () =>
    options.onProgress?.({
      done: Math.min(resumedFrom + sent, manifest.size),
      total: manifest.size,
      resumedFrom,
      files: done,
      filesTotal: files,
    });
  report();
  let sendFailure: unknown;
  const sending = sendFolderData(wire, local.dir, manifest, have, {
    pool: pool(),
    onProgress: (bytes) => {
      sent = bytes;
      report();
    },
    onFile: (_path, _size, wasKept) => {
      done++;
      if (wasKept) kept++;
      report();
    },
  }).then(
    // From here on only the verdict is awaited: it must come within one answer's time.
    () => wire.setBudget(options.timeoutMs ?? 0),
    (error) => {
      sendFailure = error;
      wire.close();
    },
  );
  // The server answers after the data, or early with a refusal: read while sending.
  let reply: Reply;
  try {
    reply = await readReply(wire);
  } catch (error) {
    wire.close();
    await sending;
    throw sendFailure ? localFailure(sendFailure) : error;
  }
  if (reply.code !== "done") wire.close();
  await sending;
  if (reply.code === "cancel") throw new CancelError(reply.reason, reply.message);
  if (sendFailure) throw localFailure(sendFailure);
  if (reply.code !== "done" || !("files" in reply)) throw unexpected(reply);
  if (reply.files !== files || reply.size !== manifest.size) {
    throw new ProtocolError(
      `The server confirmed ${reply.files} files and ${reply.size} bytes, not the ` +
        `${files} and ${manifest.size} sent`,
    );
  }
  return { files, size: manifest.size, resumedFrom, kept, path: "", skipped: local.skipped };
}

/** A failure of the sender that is about the local folder, in one line. */
function localFailure(error: unknown): unknown {
  if (error instanceof ClientError || !(error instanceof Error)) return error;
  if (error.constructor !== Error) return error;
  return new ClientError("local", error.message, { cause: error });
}

/**
 * Receives a folder whose pass has come: its manifest, checked whole before
 * anything is written; then the working folder (an earlier run's, resumed),
 * the have-list, the data, and the commit.
 *
 * @param wire the connection, after the pass
 * @param pass the pass, `type: "folder"`
 * @param name the name on the server
 * @param place where it lands; undefined when the caller's output is not a folder
 * @param force replace a local folder of the same name
 * @param options where, progress
 * @returns what was moved
 */
export async function getFolderPs2(
  wire: Wire,
  pass: Reply & { code: "pass" },
  name: string,
  place: FolderPlace | undefined,
  force: boolean,
  options: StepOptions,
): Promise<FolderMoved> {
  const { files, folders, size } = pass;
  if (files === undefined || folders === undefined || size === undefined) throw unexpected(pass);
  if (!place) {
    throw new ClientError(
      "local",
      `${q(name)} is a folder on the server: save it into a folder`,
    );
  }
  let manifest: Manifest;
  try {
    manifest = await within(
      wire,
      budgetMs(clientPace(options.timeoutMs), manifestBytes(files + folders, FOLDER_LIMITS)),
      "The server's manifest",
      () =>
        clientRate(
          wire,
          options.timeoutMs,
          () => readManifest(wire, { files, folders, size }, FOLDER_LIMITS),
        ),
    );
  } catch (error) {
    if (!(error instanceof CancelError) && !(error instanceof ProtocolError)) throw error;
    throw new ClientError(
      "protocol",
      `The server at ${options.where} described the folder ${q(name)} wrongly ` +
        `(${error.message}): nothing was written`,
      { cause: error },
    );
  }
  const target = await openFolderTarget(place, force);
  let receiver: FolderReceiver | undefined;
  let resumedFrom = 0;
  let kept = 0;
  let done = 0;
  let received = 0;
  const report = (bytes?: number) => {
    if (bytes !== undefined) received = bytes;
    options.onProgress?.({
      done: Math.min(resumedFrom + received, size),
      total: size,
      resumedFrom,
      files: done + kept,
      filesTotal: files,
    });
  };
  try {
    receiver = await FolderReceiver.start(target.parent, place.work, manifest, {
      pool: pool(),
      onProgress: (bytes) => report(bytes),
      onFile: () => {
        done++;
        report();
      },
    }, target.existing);
    const held = receiver.have();
    await sendHave(
      wire,
      (async function* () {
        for await (const entry of held) {
          resumedFrom += heldBytes(manifest, [entry]);
          if ("sha256" in entry) kept++;
          yield entry;
        }
      })(),
    );
    report(0);
    await clientRate(wire, options.timeoutMs, () => receiveFolderData(wire, receiver!));
    await commitFolder(receiver, target, place, force);
  } catch (error) {
    await receiver?.abort(true);
    // A clash of two names on this file system is a local problem, not the server's refusal.
    if (error instanceof CancelError && error.reason === "exists") {
      throw new ClientError("local", error.message, { cause: error });
    }
    throw error;
  } finally {
    await target.existing?.close().catch(() => {});
    await target.parent.close();
  }
  return { files, size, resumedFrom, kept, path: join(place.parent, place.name), skipped: [] };
}

/**
 * Asks for a name that is probably a folder (one is at its place here, or
 * an earlier run's working folder), and receives it; a file of that name
 * on the server is refused, touching nothing.
 *
 * @param wire the connection
 * @param name the name on the server
 * @param place where it lands
 * @param force replace a local folder of the same name
 * @param options where, progress
 * @returns what was moved
 */
export async function getFolderFirst(
  wire: Wire,
  name: string,
  place: FolderPlace,
  force: boolean,
  options: StepOptions,
): Promise<FolderMoved> {
  await sendCommand(wire, { op: "get", name, offset: 0, folders: true });
  const pass = await firstPass(wire, options, RESUME);
  if (pass.type !== "folder") {
    // A file: why it cannot land here, in the words of a file's get.
    resolveTarget(place.name, place.output, force);
    throw new ClientError(
      "local",
      `${q(name)} is a file on the server, and ${q(join(place.parent, place.name))} or ` +
        `${q(join(place.parent, place.work))} is a folder here`,
      { code: "in-the-way" },
    );
  }
  return await getFolderPs2(wire, pass, name, place, force, options);
}
