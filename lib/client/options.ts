/**
 * The options and results of the client's operations.
 *
 * @module
 */

import type { Progress } from "./ps2.ts";
import type { SecurityOptions } from "./secure.ts";
import type { Skipped } from "../transfer/tree_walk.ts";

/** Where the server is and how to talk to it. */
export interface ConnectOptions extends SecurityOptions {
  /** Host name or address. */
  host: string;
  /** Port. */
  port: number;
  /** Speak the original privateshare format. */
  classic?: boolean;
  /** Deadline for any progress on the connection (default {@link CLIENT_DEFAULTS}). */
  timeoutMs?: number;
  /** Cancels the operation; a cancelled get keeps its partial download for a resume. */
  signal?: AbortSignal;
}

/** Options for put and get. */
export interface TransferOptions extends ConnectOptions {
  /** Called as bytes move. */
  onProgress?: (progress: Progress) => void;
  /** Continue an interrupted transfer (default true). */
  resume?: boolean;
}

/** Options for put. */
export interface PutOptions extends TransferOptions {
  /** The name on the server, instead of the file's own (or the folder's). */
  as?: string;
  /** A folder on the server to put into: the name there is `to/NAME`. */
  to?: string;
}

/** Options for get. */
export interface GetOptions extends TransferOptions {
  /**
   * Where to save: a file path, or a folder to save into (default: the
   * current folder); a folder on the server is saved into a folder.
   */
  output?: string;
  /** Replace a local file, or folder, of the same name (a folder only once the new one is whole). */
  force?: boolean;
}

/** Data to put that is not a local file: a stream of known size, such as a browser upload. */
export interface PutStream {
  /** The name on the server. */
  name: string;
  /** Exactly how many bytes the stream holds. */
  size: number;
  /** The bytes. */
  stream: ReadableStream<Uint8Array>;
}

/** What a finished transfer did. */
export interface TransferResult {
  /** The name on the server. */
  name: string;
  /** The local file (empty for a stream put). */
  path: string;
  /** The file's size. */
  size: number;
  /** Bytes moved in this run (less than size when resumed). */
  moved: number;
  /** Where a resumed transfer started, 0 otherwise. */
  resumedFrom: number;
  /** The verified SHA-256, or undefined for the classic protocol. */
  sha256?: string;
  /** Milliseconds the operation took. */
  ms: number;
  /** A get written into a device, FIFO or descriptor as it arrived, rather than saved as a file. */
  streamed?: boolean;
  /** A folder: `folder`, with its file count; size and moved count all its files. */
  type?: "folder";
  /** Of a folder: its files. */
  files?: number;
  /** Of a folder: the files not sent again, as the receiver held them whole. */
  kept?: number;
  /** Of a folder put: what was left out (links, never followed; FIFOs, devices, bad names). */
  skipped?: Skipped[];
}

/** One file of a listing; classic servers give only names. */
export interface RemoteFile {
  /** Name on the server. */
  name: string;
  /** Size in bytes, when known. */
  size?: number;
  /** Modification time, ms since the epoch, when known. */
  mtime?: number;
  /** A folder: `folder`; its size is of every file below it. */
  type?: "folder";
  /** Of a folder: its regular files, at any depth. */
  files?: number;
}

/** Options for list. */
export interface ListOptions extends ConnectOptions {
  /** A folder on the server to list, instead of the top. */
  folder?: string;
  /** List subfolders too (default true); false asks as older clients do: regular files only. */
  folders?: boolean;
}
