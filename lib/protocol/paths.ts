/**
 * Paths from the network: a file or folder inside the served folder (or a
 * download's destination), as names joined by `/`. Every segment follows the
 * name rules of names.ts, so that no path can climb out, name a drive, hide
 * a backslash or reach privateshare's own hidden files
 * (docs/PROTOCOL.md#paths), and a folder's size is bounded by the limits
 * here.
 *
 * @module
 */

import { CancelError } from "./errors.ts";
import { nameProblem, quoteName } from "./names.ts";

/** Bounds on what one folder transfer may hold. */
export interface FolderLimits {
  /** Files in one folder transfer. */
  maxFiles: number;
  /** Folders in one folder transfer. */
  maxFolders: number;
  /** Segments in a path, the folder's own name included. */
  maxDepth: number;
  /** Bytes of UTF-8 in one path. */
  maxPathBytes: number;
  /** Bytes of UTF-8 of every path of one folder transfer together. */
  maxNamesBytes: number;
}

/** The limits that hold unless a server is told otherwise; README states them. */
export const FOLDER_LIMITS: Readonly<FolderLimits> = {
  /** Files in one folder transfer. */
  maxFiles: 100_000,
  /** Folders in one folder transfer. */
  maxFolders: 100_000,
  /** Segments in a path, the folder's own name included. */
  maxDepth: 32,
  /** Bytes of UTF-8 in one path. */
  maxPathBytes: 4096,
  /** Bytes of UTF-8 of every path of one folder transfer together. */
  maxNamesBytes: 16 * 1024 * 1024,
};

const encoder = new TextEncoder();

/**
 * Says what is wrong with a path, if anything.
 *
 * @param path a path from the network or a user
 * @returns a phrase naming the broken rule, or undefined for a good path
 */
export function pathProblem(path: string): string | undefined {
  if (path.length === 0) return "it is empty";
  if (path.includes("\\")) return "it contains a backslash";
  if (path.startsWith("/")) return "it is an absolute path";
  if (encoder.encode(path).length > FOLDER_LIMITS.maxPathBytes) {
    return `it is longer than ${FOLDER_LIMITS.maxPathBytes} bytes`;
  }
  const parts = path.split("/");
  if (parts.length > FOLDER_LIMITS.maxDepth) {
    return `it is more than ${FOLDER_LIMITS.maxDepth} folders deep`;
  }
  for (const part of parts) {
    if (part === "") return "it has an empty segment";
    const problem = nameProblem(part);
    if (problem) return parts.length === 1 ? problem : `its part ${quoteName(part)}: ${problem}`;
  }
  return undefined;
}

/**
 * Checks a path from the network.
 *
 * @param path the path as received
 * @throws {CancelError} `invalid-name`, saying which rule it broke
 * @example
 * ```ts
 * validatePath("photos/2024/beach.jpg"); // fine
 * validatePath("a/../../x"); // throws CancelError("invalid-name", ...)
 * ```
 */
export function validatePath(path: string): void {
  const problem = pathProblem(path);
  if (problem) throw new CancelError("invalid-name", `Invalid name ${quoteName(path)}: ${problem}`);
}

/**
 * The names a valid path is made of.
 *
 * @param path a path that {@link validatePath} accepted
 * @returns its segments, outermost first
 */
export function segments(path: string): string[] {
  return path.split("/");
}

/**
 * The folder a path is in, or "" for the top.
 *
 * @param path a valid path
 * @returns everything before the last `/`
 */
export function parentPath(path: string): string {
  const at = path.lastIndexOf("/");
  return at < 0 ? "" : path.slice(0, at);
}

/**
 * The last name of a path.
 *
 * @param path a valid path
 * @returns everything after the last `/`
 */
export function lastName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * Joins a folder path and a path inside it.
 *
 * @param folder a path, or "" for the top
 * @param path a path inside it
 * @returns the joined path
 */
export function joinPath(folder: string, path: string): string {
  return folder === "" ? path : `${folder}/${path}`;
}
