/**
 * The messages of a folder transfer (docs/PROTOCOL.md#folders): the
 * manifest that the sender sends first, the have-list the receiver answers
 * with, and the header of each file's data. Every line is checked here,
 * paths included, so that a receiver can refuse a manifest whole before it
 * writes a byte.
 *
 * @module
 */

import { CancelError, ProtocolError, type Reason, REASONS } from "./errors.ts";
import { decodeText, parseObject, sha256, size, string } from "./fields.ts";
import { validatePath } from "./paths.ts";

/** One item of a manifest: a folder, or a file of a known size. */
export type ManifestEntry =
  | { path: string; type: "folder" }
  | { path: string; size: number };

/** One line of a have-list: a complete file, or a partial one with its first `offset` bytes. */
export type HaveEntry =
  | { path: string; sha256: string }
  | { path: string; offset: number; prefixSha256: string };

/** The header before a file's data: which file, and where its bytes start. */
export interface DataHeader {
  /** The file's path, as in the manifest. */
  path: string;
  /** Where the body starts (0, or a verified partial's length). */
  offset: number;
}

const utf8 = new TextEncoder();

/** The line that ends a have-list or the data. */
export const END_LINE = { end: true } as const;

/**
 * Whether a line is `{"end":true}`.
 *
 * @param value a parsed line
 */
function isEnd(value: Record<string, unknown>): boolean {
  return value.end === true;
}

/**
 * Throws the peer's refusal when a line where a have-list line or a data
 * header belongs is a cancel (a receiver refusing the manifest, a sender
 * giving up), so that it reads as the refusal it is, not as a malformed line.
 *
 * @param value a parsed line
 * @throws {CancelError} when it is `{"code":"cancel",...}`
 */
function throwIfCancel(value: Record<string, unknown>): void {
  if (value.code !== "cancel") return;
  const reason = REASONS.includes(value.reason as Reason) ? value.reason as Reason : "internal";
  throw new CancelError(
    reason,
    typeof value.message === "string" ? value.message : "The peer refused",
  );
}

/**
 * Decodes one manifest line. Its path is checked against the path rules.
 *
 * @param line the bytes before the newline
 * @returns the entry
 * @throws {ProtocolError} when malformed
 * @throws {CancelError} `invalid-name` for a bad path
 */
export function decodeManifestEntry(line: Uint8Array): ManifestEntry {
  const value = parseObject(decodeText(line, "Manifest entry"), "Manifest entry");
  const path = string(value, "path");
  validatePath(path);
  if (value.type === "folder") return { path, type: "folder" };
  if (value.type !== undefined) {
    throw new ProtocolError(`Unknown manifest entry type ${JSON.stringify(value.type)}`);
  }
  return { path, size: size(value, "size") };
}

/**
 * Decodes one have-list line, or `{"end":true}` (undefined).
 *
 * @param line the bytes before the newline
 * @returns the entry, or undefined at the end of the list
 * @throws {ProtocolError} when malformed
 */
export function decodeHaveEntry(line: Uint8Array): HaveEntry | undefined {
  const value = parseObject(decodeText(line, "Have entry"), "Have entry");
  throwIfCancel(value);
  if (isEnd(value)) return undefined;
  const path = string(value, "path");
  validatePath(path);
  if (value.sha256 !== undefined) return { path, sha256: sha256(value, "sha256") };
  return {
    path,
    offset: size(value, "offset"),
    prefixSha256: sha256(value, "prefixSha256"),
  };
}

/**
 * Decodes a data header, or `{"end":true}` (undefined).
 *
 * @param line the bytes before the newline
 * @returns the header, or undefined at the end of the data
 * @throws {ProtocolError} when malformed
 */
export function decodeDataHeader(line: Uint8Array): DataHeader | undefined {
  const value = parseObject(decodeText(line, "Data header"), "Data header");
  throwIfCancel(value);
  if (isEnd(value)) return undefined;
  const path = string(value, "path");
  validatePath(path);
  return { path, offset: size(value, "offset") };
}

/** A manifest as the receiver holds it, checked whole. */
export interface Manifest {
  /** Every entry, in the order sent: parents before their children. */
  entries: ManifestEntry[];
  /** Each file's size, by path. */
  files: Map<string, number>;
  /** Every folder's path. */
  folders: Set<string>;
  /** Bytes of every file together. */
  size: number;
}

/**
 * Builds a {@link Manifest} entry by entry and enforces its rules: a path
 * once only, a file or folder only inside a folder listed before it, and
 * the limits given. The sender runs the same checks on what it walked, so
 * that a folder it cannot send is refused before it connects.
 */
export class ManifestBuilder {
  readonly manifest: Manifest = { entries: [], files: new Map(), folders: new Set(), size: 0 };
  #namesBytes = 0;
  readonly #limits: { maxFiles: number; maxFolders: number; maxNamesBytes: number };

  /**
   * Creates a ManifestBuilder.
   *
   * @param limits the most files, folders and bytes of paths allowed
   */
  constructor(limits: { maxFiles: number; maxFolders: number; maxNamesBytes: number }) {
    this.#limits = limits;
  }

  /**
   * Adds one entry.
   *
   * @param entry the next entry (its path already checked)
   * @throws {ProtocolError} for a repeated path or one whose folder was not listed
   * @throws {CancelError} `too-large` past a limit
   */
  add(entry: ManifestEntry): void {
    const { manifest } = this;
    const { path } = entry;
    if (manifest.files.has(path) || manifest.folders.has(path)) {
      throw new ProtocolError(`The manifest lists ${JSON.stringify(path)} twice`);
    }
    const parent = path.lastIndexOf("/") < 0 ? "" : path.slice(0, path.lastIndexOf("/"));
    if (parent !== "" && !manifest.folders.has(parent)) {
      throw new ProtocolError(`The manifest lists ${JSON.stringify(path)} before its folder`);
    }
    // Bytes of UTF-8, as the limit says (a path's length counts UTF-16 units).
    this.#namesBytes += utf8.encode(path).length;
    if (this.#namesBytes > this.#limits.maxNamesBytes) {
      throw new CancelError(
        "too-large",
        `The folder's names hold more than ${this.#limits.maxNamesBytes} bytes: send it in parts`,
      );
    }
    if ("type" in entry) {
      manifest.folders.add(path);
      if (manifest.folders.size > this.#limits.maxFolders) {
        throw new CancelError(
          "too-large",
          `The folder holds more than ${this.#limits.maxFolders} folders: send it in parts`,
        );
      }
    } else {
      manifest.files.set(path, entry.size);
      manifest.size += entry.size;
      if (manifest.files.size > this.#limits.maxFiles) {
        throw new CancelError(
          "too-large",
          `The folder holds more than ${this.#limits.maxFiles} files: send it in parts`,
        );
      }
    }
    manifest.entries.push(entry);
  }
}
