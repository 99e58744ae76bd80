/**
 * What every case of the benchmark shares: its folders and its progress
 * lines.
 *
 * @module
 */

import { join } from "node:path";
import { ROOT } from "../tests/helpers.ts";

/** Where the benchmark keeps its files (git-ignored). */
export const DATA: string = join(ROOT, ".bench-data");

/** The folders of each case, under {@link DATA}. */
export const DIRS = {
  served: join(DATA, "served"),
  downloads: join(DATA, "downloads"),
  socat: join(DATA, "socat"),
  small: join(DATA, "small"),
  smallOut: join(DATA, "small-out"),
  concurrent: join(DATA, "concurrent"),
} as const;

/** A memory-backed folder, where a flush costs nothing. */
export const TMPFS = "/dev/shm";

const started = performance.now();

/**
 * Prints a progress line on stderr, with the seconds since the start.
 *
 * @param message what is happening
 */
export function progress(message: string): void {
  const seconds = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
  console.error(`[${seconds} s] ${message}`);
}
