/**
 * The steps of a folder transfer on the wire, the same in both directions
 * (docs/PROTOCOL.md#folders): the sender's manifest, the receiver's
 * have-list, then the data of every file the receiver still needs, each
 * with its SHA-256, on the one connection and without waiting for an
 * answer between files. Small files are gathered into large writes, so
 * that thousands of them cost no more system calls than a few large ones.
 *
 * @module
 */

import { ProtocolError } from "../protocol/errors.ts";
import {
  decodeDataHeader,
  decodeHaveEntry,
  decodeManifestEntry,
  END_LINE,
  type HaveEntry,
  type Manifest,
  ManifestBuilder,
} from "../protocol/folder.ts";
import { quoteName } from "../protocol/names.ts";
import type { FolderLimits } from "../protocol/paths.ts";
import { encodeLine, MAX_REPLY_BYTES } from "../protocol/ps2.ts";
import { TruncatedError, type Wire } from "../net/wire.ts";
import { hashPrefix, newHash, sendBody } from "../transfer/body.ts";
import type { Dir } from "../transfer/dir.ts";
import type { ChunkPool } from "../transfer/pool.ts";
import { DirCursor } from "../transfer/tree_walk.ts";
import type { FolderReceiver } from "./folder_receive.ts";
import { SMALL_FILE } from "./folder_work.ts";
import { matchPrefix } from "./ps2.ts";

/** Lines and small files are gathered up to this many bytes before a write. */
const BATCH_BYTES = 256 * 1024;

/** Bytes to write, gathered. */
class Batch {
  #parts: Uint8Array[] = [];
  #bytes = 0;

  constructor(readonly wire: Wire) {}

  async add(bytes: Uint8Array): Promise<void> {
    this.#parts.push(bytes);
    this.#bytes += bytes.length;
    if (this.#bytes >= BATCH_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#bytes === 0) return;
    const all = new Uint8Array(this.#bytes);
    let at = 0;
    for (const part of this.#parts) {
      all.set(part, at);
      at += part.length;
    }
    this.#parts = [];
    this.#bytes = 0;
    await this.wire.write(all);
  }
}

/**
 * Sends a manifest: one line per folder and file.
 *
 * @param wire the connection
 * @param manifest what the folder holds
 */
export async function sendManifest(wire: Wire, manifest: Manifest): Promise<void> {
  const batch = new Batch(wire);
  for (const entry of manifest.entries) await batch.add(encodeLine(entry));
  await batch.flush();
}

/** What a folder command announced, which the manifest must match. */
export interface FolderTotals {
  /** Files. */
  files: number;
  /** Folders, the top one not counted. */
  folders: number;
  /** Bytes of every file. */
  size: number;
}

/**
 * Reads a manifest whole and checks it: every path, the order, the limits,
 * and the totals announced.
 *
 * @param wire the connection
 * @param totals what the command or pass announced
 * @param limits the receiver's limits
 * @returns the manifest
 * @throws {ProtocolError} when malformed or not matching the totals
 * @throws {import("../protocol/errors.ts").CancelError} `invalid-name` or `too-large`
 */
export async function readManifest(
  wire: Wire,
  totals: FolderTotals,
  limits: Readonly<FolderLimits>,
): Promise<Manifest> {
  const builder = new ManifestBuilder(limits);
  const count = totals.files + totals.folders;
  for (let i = 0; i < count; i++) {
    const line = await wire.readLine(MAX_REPLY_BYTES);
    if (line === null) throw new TruncatedError("The connection ended inside the manifest");
    builder.add(decodeManifestEntry(line));
  }
  const { manifest } = builder;
  if (
    manifest.files.size !== totals.files || manifest.folders.size !== totals.folders ||
    manifest.size !== totals.size
  ) {
    throw new ProtocolError(
      `The manifest holds ${manifest.files.size} files, ${manifest.folders.size} folders and ` +
        `${manifest.size} bytes, not the ${totals.files}, ${totals.folders} and ${totals.size} announced`,
    );
  }
  return manifest;
}

/**
 * Sends a have-list as its lines come, then its end.
 *
 * @param wire the connection
 * @param have the lines, as the receiver hashes its files
 */
export async function sendHave(wire: Wire, have: AsyncIterable<HaveEntry>): Promise<void> {
  for await (const entry of have) await wire.write(encodeLine(entry));
  await wire.write(encodeLine(END_LINE));
}

/**
 * Reads a have-list: only files of the manifest, each once.
 *
 * @param wire the connection
 * @param manifest the manifest sent
 * @returns the receiver's files, by path
 * @throws {ProtocolError} when malformed
 */
export async function readHave(wire: Wire, manifest: Manifest): Promise<Map<string, HaveEntry>> {
  const have = new Map<string, HaveEntry>();
  while (true) {
    const line = await wire.readLine(MAX_REPLY_BYTES);
    if (line === null) throw new TruncatedError("The connection ended inside the have-list");
    const entry = decodeHaveEntry(line);
    if (!entry) return have;
    const size = manifest.files.get(entry.path);
    if (size === undefined || have.has(entry.path)) {
      throw new ProtocolError(`The have-list names ${JSON.stringify(entry.path)} wrongly`);
    }
    if ("offset" in entry && entry.offset >= size) {
      throw new ProtocolError(`The have-list offers ${JSON.stringify(entry.path)} past its end`);
    }
    have.set(entry.path, entry);
  }
}

/** What sending a folder's data needs. */
export interface SendOptions {
  /** Buffers. */
  pool: ChunkPool;
  /** Called with the bytes of file data sent so far in this run. */
  onProgress?: (bytes: number) => void;
  /** Called once per file: sent, or `kept` when the receiver already held it whole. */
  onFile?: (path: string, size: number, kept: boolean) => void;
}

/**
 * Sends the data of every file the receiver still needs, in manifest
 * order, then the end line. A file the receiver holds whole is hashed here
 * and left out when it matches; a partial one continues when its prefix
 * matches. Every file is opened through `top` without following a link,
 * and must still have its manifest size.
 *
 * @param wire the connection
 * @param top the folder the manifest's paths are in
 * @param manifest what was announced
 * @param have what the receiver holds
 * @param options buffers and progress
 * @throws {Error} when a file changed since the manifest was made
 */
export async function sendFolderData(
  wire: Wire,
  top: Dir,
  manifest: Manifest,
  have: Map<string, HaveEntry>,
  options: SendOptions,
): Promise<void> {
  const batch = new Batch(wire);
  const cursor = new DirCursor(top);
  const files = [...manifest.files];
  let sent = 0;
  try {
    for (let at = 0; at < files.length;) {
      // A run of small files the receiver does not hold goes out in few large writes.
      const run: [string, number][] = [];
      while (
        at < files.length && run.length < SMALL_RUN && files[at]![1] <= SMALL_FILE &&
        !have.has(files[at]![0])
      ) run.push(files[at++]!);
      if (run.length > 0) {
        // Small files are read on this thread: cheaper than a trip through the thread pool each.
        const bodies: Uint8Array[] = [];
        for (const [path, size] of run) {
          const { dir, name } = await cursor.parentOf(path);
          const body = dir.readSmallNow(name, size);
          if (!body) {
            throw new Error(`${quoteName(path)} changed while the folder was sent: send it again`);
          }
          bodies.push(body);
        }
        for (const [i, [path, size]] of run.entries()) {
          const body = bodies[i]!;
          await batch.add(encodeLine({ path, offset: 0 }));
          await batch.add(body);
          await batch.add(encodeLine({ sha256: newHash().update(body).digest("hex") }));
          sent += size;
          options.onProgress?.(sent);
          options.onFile?.(path, size, false);
        }
        continue;
      }
      const [path, size] = files[at++]!;
      const { dir, name } = await cursor.parentOf(path);
      const file = await openChecked(dir, name, path, size);
      try {
        const held = have.get(path);
        let start = 0;
        let hash = newHash();
        if (held && "sha256" in held) {
          await hashPrefix(file, size, hash, options.pool);
          if (hash.digest("hex") === held.sha256) {
            options.onFile?.(path, size, true);
            continue;
          }
          await file.seek(0, Deno.SeekMode.Start);
          hash = newHash();
        } else if (held) {
          ({ start, hash } = await matchPrefix(
            file,
            held.offset,
            held.prefixSha256,
            size,
            options.pool,
          ));
        }
        await batch.add(encodeLine({ path, offset: start }));
        const length = size - start;
        if (length <= SMALL_FILE) {
          const body = await readAll(file, length, path);
          hash.update(body);
          await batch.add(body);
        } else {
          await batch.flush();
          const before = sent;
          await sendBody(file, wire, length, {
            pool: options.pool,
            hash,
            onProgress: (bytes) => options.onProgress?.(before + bytes),
          });
        }
        sent += length;
        await batch.add(encodeLine({ sha256: hash.digest("hex") }));
        options.onProgress?.(sent);
        options.onFile?.(path, size, false);
      } finally {
        await file.close();
      }
    }
    await batch.add(encodeLine(END_LINE));
    await batch.flush();
  } finally {
    await cursor.close();
  }
}

/** Small files gathered before their data is written. */
const SMALL_RUN = 64;

/** Opens a file to send, which must still be a regular file of its manifest size. */
async function openChecked(dir: Dir, name: string, path: string, size: number) {
  const file = await dir.openFile(name);
  const facts = await file.facts().catch(async (error) => {
    await file.close();
    throw error;
  });
  if (!facts.isFile || facts.size !== size) {
    await file.close();
    throw new Error(`${quoteName(path)} changed while the folder was sent: send it again`);
  }
  return file;
}

/** Reads the next `length` bytes of a file whole. */
async function readAll(
  file: { read(p: Uint8Array): Promise<number | null> },
  length: number,
  path: string,
): Promise<Uint8Array> {
  const body = new Uint8Array(length);
  for (let got = 0; got < length;) {
    const n = await file.read(body.subarray(got));
    if (n === null) throw new Error(`${quoteName(path)} shrank while the folder was sent`);
    got += n;
  }
  return body;
}

/**
 * Receives the data of a folder into a receiver until the end line, then
 * checks that every file arrived and flushes them all.
 *
 * @param wire the connection
 * @param receiver the folder being received
 */
export async function receiveFolderData(wire: Wire, receiver: FolderReceiver): Promise<void> {
  while (true) {
    const line = await wire.readLine(MAX_REPLY_BYTES);
    if (line === null) throw new TruncatedError("The connection ended inside the folder's data");
    const header = decodeDataHeader(line);
    if (!header) break;
    await receiver.receiveFile(wire, header);
  }
  await receiver.finish();
}
