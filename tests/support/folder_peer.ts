/**
 * A client for folder requests written in the test, on the exchange
 * functions (not lib/client), so that server tests do not depend on the
 * client library: a put-folder and a get of a folder step by step, replies
 * read as raw lines, and snapshots of a folder tree (hidden entries, links
 * and FIFOs included) to prove what a request wrote or left alone.
 *
 * @module
 */

import { join } from "node:path";
import { Wire } from "../../lib/net/wire.ts";
import { CancelError } from "../../lib/protocol/errors.ts";
import { FOLDER_LIMITS } from "../../lib/protocol/paths.ts";
import {
  type Command,
  decodeReply,
  encodeCommand,
  encodeLine,
  type Reply,
} from "../../lib/protocol/ps2.ts";
import { Dir } from "../../lib/transfer/dir.ts";
import { ChunkPool } from "../../lib/transfer/pool.ts";
import { walkFolder } from "../../lib/transfer/tree_walk.ts";
import {
  readHave,
  readManifest,
  receiveFolderData,
  sendFolderData,
  sendHave,
  sendManifest,
} from "../../lib/exchange/folder.ts";
import { FolderReceiver } from "../../lib/exchange/folder_receive.ts";
import { closeQuietly } from "./peers.ts";
import { randomBytes, sha256Hex } from "./data.ts";

const pool = new ChunkPool(16 * 1024 * 1024);

/** What a folder tree holds: files by bytes, folders, links and others by kind. */
export type Tree = Map<string, Uint8Array | "folder" | "link" | "other">;

/**
 * Everything below a folder, hidden entries included; links not followed.
 *
 * @param dir the folder
 * @returns each entry by its path
 */
export async function snapshot(dir: string, prefix = ""): Promise<Tree> {
  const found: Tree = new Map();
  for await (const entry of Deno.readDir(dir)) {
    const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isSymlink) found.set(path, "link");
    else if (entry.isDirectory) {
      found.set(path, "folder");
      for (const [p, v] of await snapshot(join(dir, entry.name), path)) found.set(p, v);
    } else if (entry.isFile) found.set(path, await Deno.readFile(join(dir, entry.name)));
    else found.set(path, "other");
  }
  return new Map([...found].sort(([a], [b]) => a < b ? -1 : 1));
}

/**
 * Makes `photos` in `root`: nested and empty folders, Unicode, names that
 * differ in case, an empty file, a 3 MiB file last, and 30 small files.
 *
 * @param root where
 */
export async function makePhotos(root: string): Promise<void> {
  await Deno.mkdir(join(root, "photos/2024/empty"), { recursive: true });
  await Deno.writeFile(join(root, "photos/2024/beach.jpg"), randomBytes(200_000, 1));
  await Deno.writeFile(join(root, "photos/2024/Beach.jpg"), randomBytes(1_000, 2));
  await Deno.writeFile(join(root, "photos/café ☕.txt"), new TextEncoder().encode("ünïcode"));
  await Deno.writeFile(join(root, "photos/zero"), new Uint8Array(0));
  for (let i = 0; i < 30; i++) {
    await Deno.writeFile(join(root, `photos/2024/small-${i}.txt`), randomBytes(100 + i, 10 + i));
  }
  await Deno.mkdir(join(root, "photos/zz"));
  await Deno.writeFile(join(root, "photos/zz/big.bin"), randomBytes(3 * 1024 * 1024 + 7, 3));
}

/** A PS/2 connection of the test's own. */
export interface RawClient extends Disposable {
  conn: Deno.Conn;
  wire: Wire;
  /** Reads one reply line. */
  reply(): Promise<Reply>;
}

/**
 * Connects and sends a command.
 *
 * @param port the server's port on 127.0.0.1
 * @param command the command
 * @returns the connection
 */
export async function command(port: number, command: Command): Promise<RawClient> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const wire = new Wire(conn);
  await wire.write(encodeCommand(command));
  return {
    conn,
    wire,
    async reply() {
      const line = await wire.readLine(64 * 1024);
      if (line === null) throw new Error("The server closed without a reply");
      return decodeReply(line);
    },
    [Symbol.dispose]() {
      closeQuietly(conn);
    },
  };
}

/** What a folder put through {@link putFolder} ended with. */
export interface PutResult {
  /** The first reply. */
  first: Reply;
  /** The final reply, if any. */
  last?: Reply;
  /** Files the server said it held already (the have-list). */
  held: string[];
  /** Files whose data was sent. */
  sent: string[];
}

/**
 * Puts the folder `source` as `name`, as a client would, on the exchange
 * functions; with `cutAfterFiles` the connection is closed after that many
 * whole files' data.
 *
 * @param port the server's port
 * @param name the folder's path on the server
 * @param source the local folder
 * @param cutAfterFiles close after this many files were sent
 * @returns the replies and what moved
 */
export async function putFolder(
  port: number,
  name: string,
  source: string,
  cutAfterFiles?: number,
): Promise<PutResult> {
  await using top = await Dir.open(source);
  const { manifest } = await walkFolder(top);
  using client = await command(port, {
    op: "put-folder",
    name,
    files: manifest.files.size,
    folders: manifest.folders.size,
    size: manifest.size,
  });
  const first = await client.reply();
  const result: PutResult = { first, held: [], sent: [] };
  if (first.code !== "pass") return result;
  await sendManifest(client.wire, manifest);
  let have;
  try {
    have = await readHave(client.wire, manifest);
  } catch {
    // A cancel instead of the have-list.
    return result;
  }
  result.held = [...have.keys()];
  if (cutAfterFiles !== undefined) {
    // Whole files, written plainly, then the connection closed: a real cut
    // at a known point.
    for (const [path] of manifest.files) {
      if (result.sent.length === cutAfterFiles) break;
      if (have.has(path)) continue;
      const bytes = await Deno.readFile(join(source, path));
      await client.wire.write(encodeLine({ path, offset: 0 }));
      await client.wire.write(bytes);
      await client.wire.write(encodeLine({ sha256: sha256Hex(bytes) }));
      result.sent.push(path);
    }
    closeQuietly(client.conn);
    return result;
  }
  const sending = sendFolderData(client.wire, top, manifest, have, {
    pool,
    onFile: (path, _size, kept) => {
      if (!kept) result.sent.push(path);
    },
  });
  try {
    await sending;
  } catch (error) {
    // The server may have cancelled while the data flowed: its reason is waiting.
    result.last = await client.reply().catch(() => {
      throw error;
    });
    return result;
  }
  result.last = await client.reply();
  return result;
}

/**
 * Gets the folder `name` into `parent` (as `as`, default its last name) as
 * a client would.
 *
 * @param port the server's port
 * @param name the folder's path on the server
 * @param parent the local folder it lands in
 * @returns the first reply (a folder's `pass`, or a cancel)
 */
export async function getFolder(
  port: number,
  name: string,
  parent: string,
): Promise<Reply> {
  using client = await command(port, { op: "get", name, offset: 0, folders: true });
  const first = await client.reply();
  if (first.code !== "pass" || first.type !== "folder") return first;
  const manifest = await readManifest(client.wire, {
    files: first.files!,
    folders: first.folders!,
    size: first.size!,
  }, FOLDER_LIMITS);
  await using into = await Dir.open(parent);
  const receiver = await FolderReceiver.start(into, ".work", manifest, { pool });
  try {
    await sendHave(client.wire, receiver.have());
    await receiveFolderData(client.wire, receiver);
    await receiver.commit(name.split("/").pop()!, new CancelError("exists", "exists"));
  } catch (error) {
    await receiver.abort(false);
    throw error;
  }
  return first;
}
