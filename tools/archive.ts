/**
 * The release archives: `.tar.gz` (POSIX ustar, gzip) and `.zip` (deflate),
 * written by streaming each file through, so that no program is held whole
 * in memory, and the SHA-256 of a file for `SHA256SUMS`. Deno's
 * CompressionStream does the compressing; nothing else is needed on the
 * machine that builds a release.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";

/** One entry of an archive. */
export interface ArchiveEntry {
  /** Its path inside the archive, `/`-separated; a folder ends with `/`. */
  name: string;
  /** The file whose bytes it holds; absent for a folder. */
  source?: string;
  /** Unix permission bits, such as 0o755 for a program. */
  mode: number;
}

/** The time every entry carries: the build's, to the second. */
function entryTime(): Date {
  return new Date(Math.floor(Date.now() / 1000) * 1000);
}

// ---------------------------------------------------------------------------
// tar.gz

const encoder = new TextEncoder();
const BLOCK = 512;

/** Writes `text` into `header` at `offset`, in at most `size` bytes. */
function put(header: Uint8Array, offset: number, size: number, text: string): void {
  const bytes = encoder.encode(text);
  if (bytes.length > size) throw new RangeError(`'${text}' does not fit a tar header field`);
  header.set(bytes, offset);
}

/** An octal number field: zero-padded digits and a NUL, as ustar wants. */
function octal(value: number, size: number): string {
  return value.toString(8).padStart(size - 1, "0");
}

/** A ustar header block for an entry. */
function tarHeader(entry: ArchiveEntry, size: number, mtime: Date): Uint8Array<ArrayBuffer> {
  const header = new Uint8Array(BLOCK);
  const folder = entry.name.endsWith("/");
  put(header, 0, 100, entry.name);
  put(header, 100, 8, octal(entry.mode, 8));
  put(header, 108, 8, octal(0, 8));
  put(header, 116, 8, octal(0, 8));
  put(header, 124, 12, octal(folder ? 0 : size, 12));
  put(header, 136, 12, octal(Math.floor(mtime.getTime() / 1000), 12));
  put(header, 148, 8, " ".repeat(8));
  put(header, 156, 1, folder ? "5" : "0");
  put(header, 257, 6, "ustar");
  put(header, 263, 2, "00");
  put(header, 265, 32, "root");
  put(header, 297, 32, "root");
  const sum = header.reduce((total, byte) => total + byte, 0);
  put(header, 148, 8, octal(sum, 7) + "\0 ");
  return header;
}

/** The blocks of a ustar archive: each entry's header, bytes and padding, then the end. */
async function* tarBlocks(
  entries: readonly ArchiveEntry[],
): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  const mtime = entryTime();
  for (const entry of entries) {
    if (entry.source === undefined) {
      yield tarHeader(entry, 0, mtime);
      continue;
    }
    const size = (await Deno.stat(entry.source)).size;
    yield tarHeader(entry, size, mtime);
    let copied = 0;
    for await (const chunk of fileChunks(entry.source)) {
      copied += chunk.length;
      if (copied > size) break;
      yield chunk;
    }
    if (copied !== size) throw new Error(`'${entry.source}' changed size while being packed`);
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (padding > 0) yield new Uint8Array(padding);
  }
  yield new Uint8Array(2 * BLOCK);
}

/**
 * Writes a gzip-compressed ustar archive.
 *
 * @param path the archive to write (replaced if it exists)
 * @param entries folders and files, in order
 */
export async function writeTarGz(path: string, entries: readonly ArchiveEntry[]): Promise<void> {
  const out = await Deno.open(path, { write: true, create: true, truncate: true });
  // pipeTo closes the file when done, and when the stream fails.
  await ReadableStream.from(tarBlocks(entries))
    .pipeThrough(new CompressionStream("gzip"))
    .pipeTo(out.writable);
}

// ---------------------------------------------------------------------------
// zip

/** A growable little-endian record. */
class Record {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  #at = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.#view = new DataView(this.bytes.buffer);
  }

  u16(value: number): this {
    this.#view.setUint16(this.#at, value, true);
    this.#at += 2;
    return this;
  }

  u32(value: number): this {
    this.#view.setUint32(this.#at, value >>> 0, true);
    this.#at += 4;
    return this;
  }

  raw(bytes: Uint8Array): this {
    this.bytes.set(bytes, this.#at);
    this.#at += bytes.length;
    return this;
  }
}

/** Date and time as MS-DOS packs them (UTC, two-second steps). */
function dosTime(date: Date): { time: number; date: number } {
  return {
    time: (date.getUTCHours() << 11) | (date.getUTCMinutes() << 5) | (date.getUTCSeconds() >> 1),
    date: ((date.getUTCFullYear() - 1980) << 9) | ((date.getUTCMonth() + 1) << 5) |
      date.getUTCDate(),
  };
}

// Bit 3: sizes and CRC follow the data; bit 11: names are UTF-8.
const FLAGS = 0x0808;
const VERSION_NEEDED = 20;
// Made by Unix (3), so that the mode in the external attributes counts.
const VERSION_MADE_BY = (3 << 8) | 20;

/** What the central directory needs of an entry once it is written. */
interface Written {
  name: Uint8Array;
  method: number;
  crc: number;
  compressed: number;
  size: number;
  offset: number;
  attributes: number;
}

/**
 * Writes a zip archive, each file deflated.
 *
 * @param path the archive to write (replaced if it exists)
 * @param entries folders and files, in order
 */
export async function writeZip(path: string, entries: readonly ArchiveEntry[]): Promise<void> {
  const when = dosTime(entryTime());
  using out = await Deno.open(path, { write: true, create: true, truncate: true });
  let offset = 0;
  const write = async (bytes: Uint8Array) => {
    let done = 0;
    while (done < bytes.length) done += await out.write(bytes.subarray(done));
    offset += bytes.length;
  };
  const written: Written[] = [];
  for (const entry of entries) {
    const name = encoder.encode(entry.name);
    const folder = entry.source === undefined;
    const method = folder ? 0 : 8;
    const start = offset;
    await write(
      new Record(30 + name.length).u32(0x04034b50).u16(VERSION_NEEDED).u16(FLAGS).u16(method)
        .u16(when.time).u16(when.date).u32(0).u32(0).u32(0).u16(name.length).u16(0).raw(name)
        .bytes,
    );
    let crc = 0;
    let size = 0;
    let compressed = 0;
    if (!folder) {
      const counted = async function* (path: string) {
        for await (const chunk of fileChunks(path)) {
          crc = crc32(chunk, crc);
          size += chunk.length;
          yield chunk;
        }
      };
      const deflated = ReadableStream.from(counted(entry.source!))
        .pipeThrough(new CompressionStream("deflate-raw"));
      for await (const chunk of deflated) {
        await write(chunk);
        compressed += chunk.length;
      }
    }
    if (size > 0xffffffff || offset > 0xffffffff) {
      throw new RangeError(`'${entry.name}' is too large for a zip without ZIP64`);
    }
    await write(new Record(16).u32(0x08074b50).u32(crc).u32(compressed).u32(size).bytes);
    // Unix mode and type in the high half; the MS-DOS folder bit for folders.
    const type = folder ? 0o040000 : 0o100000;
    const attributes = (((type | entry.mode) << 16) | (folder ? 0x10 : 0)) >>> 0;
    written.push({ name, method, crc, compressed, size, offset: start, attributes });
  }
  const directoryStart = offset;
  for (const w of written) {
    await write(
      new Record(46 + w.name.length).u32(0x02014b50).u16(VERSION_MADE_BY).u16(VERSION_NEEDED)
        .u16(FLAGS).u16(w.method).u16(when.time).u16(when.date).u32(w.crc).u32(w.compressed)
        .u32(w.size).u16(w.name.length).u16(0).u16(0).u16(0).u16(0).u32(w.attributes)
        .u32(w.offset).raw(w.name).bytes,
    );
  }
  const directorySize = offset - directoryStart;
  await write(
    new Record(22).u32(0x06054b50).u16(0).u16(0).u16(written.length).u16(written.length)
      .u32(directorySize).u32(directoryStart).u16(0).bytes,
  );
}

// ---------------------------------------------------------------------------

/**
 * The SHA-256 of a file, read in chunks.
 *
 * @param path the file
 * @returns 64 lowercase hexadecimal digits
 */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of fileChunks(path)) hash.update(chunk);
  return hash.digest("hex");
}

/** A file's bytes, a mebibyte at a time. */
async function* fileChunks(path: string): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(1 << 20);
  while (true) {
    const n = await file.read(buffer);
    if (n === null) return;
    yield buffer.slice(0, n);
  }
}
