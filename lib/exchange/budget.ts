/**
 * The time a peer has for one message: a total budget that trickling cannot
 * extend, on both ends (docs/PROTOCOL.md#deadlines). A one-line message has
 * the floor (the server's command timeout, the client's `--timeout`),
 * however it trickles; a message of many lines (a manifest, a have-list)
 * has the floor plus time for the most bytes it may hold at the least rate,
 * and a have-list also time for its sender to hash what it holds.
 *
 * @module
 */

import type { Manifest } from "../protocol/folder.ts";
import type { FolderLimits } from "../protocol/paths.ts";
import { MAX_REPLY_BYTES } from "../protocol/ps2.ts";
import type { Wire } from "../net/wire.ts";

/** How long one message may take. */
export interface Pace {
  /** The time any message may take, however short; 0 for no limit. */
  floorMs: number;
  /** The least rate, bytes a second, at which a long message must come. */
  minRate: number;
}

/** The least rate of the client's messages and data, as the server's default floor. */
export const CLIENT_MIN_RATE = 4096;

/**
 * The slowest reading assumed while a peer hashes what it holds before its
 * have-list lines: a slow USB disk.
 */
export const HASH_FLOOR_RATE = 16 * 1024 * 1024;

/** Bytes of a manifest or have-list line besides its path, escapes aside. */
const LINE_OVERHEAD = 192;

/**
 * The total budget of a message.
 *
 * @param pace the floor and the least rate
 * @param bytes the most bytes the message may hold beyond one line
 * @param hashBytes bytes the sender may hash while it writes the message
 * @returns milliseconds; 0 for no limit
 */
export function budgetMs(pace: Pace, bytes = 0, hashBytes = 0): number {
  if (pace.floorMs <= 0) return 0;
  const rate = pace.minRate > 0 ? pace.minRate : CLIENT_MIN_RATE;
  return Math.ceil(pace.floorMs + bytes * 1000 / rate + hashBytes * 1000 / HASH_FLOOR_RATE);
}

/**
 * The most bytes a manifest of `count` lines may hold: its paths, escaped
 * (at most twice their bytes), and each line's fields.
 *
 * @param count files and folders announced
 * @param limits the receiver's limits
 * @returns bytes
 */
export function manifestBytes(count: number, limits: Readonly<FolderLimits>): number {
  return Math.min(count * MAX_REPLY_BYTES, 2 * limits.maxNamesBytes + count * LINE_OVERHEAD);
}

/**
 * The most bytes a have-list for `manifest` may hold.
 *
 * @param manifest the manifest sent
 * @returns bytes
 */
export function haveBytes(manifest: Manifest): number {
  let bytes = MAX_REPLY_BYTES;
  // A path's UTF-8 is at most three bytes a UTF-16 unit; escaped, twice that.
  for (const path of manifest.files.keys()) bytes += 6 * path.length + LINE_OVERHEAD;
  return bytes;
}

/**
 * Runs one step of reading a message under a total budget: when it runs
 * out, the connection is closed and the step fails with a TimeoutError.
 *
 * @param wire the connection
 * @param ms the budget; 0 for none
 * @param what the message, for the error ("The manifest")
 * @param step the reading
 * @returns what the step returned
 */
export async function within<T>(
  wire: Wire,
  ms: number,
  what: string,
  step: () => Promise<T>,
): Promise<T> {
  wire.setBudget(ms, `${what} did not arrive whole within ${ms / 1000} s`);
  try {
    return await step();
  } finally {
    wire.setBudget(0);
  }
}

/**
 * Runs a step under a rate floor: at least `pace.minRate` bytes a second
 * over each window of `windowMs`, or the connection is closed.
 *
 * @param wire the connection
 * @param minRate bytes a second; 0 for no floor
 * @param windowMs the window
 * @param step the reading or writing
 * @returns what the step returned
 */
export async function atRate<T>(
  wire: Wire,
  minRate: number,
  windowMs: number,
  step: () => Promise<T>,
): Promise<T> {
  wire.setRateFloor(minRate, windowMs);
  try {
    return await step();
  } finally {
    wire.setRateFloor(0, 0);
  }
}

/**
 * The client's pace: `timeoutMs` (its `--timeout`) for a line, more for a
 * long message at {@link CLIENT_MIN_RATE}.
 *
 * @param timeoutMs the client's timeout; 0 or none for no limit
 * @returns the pace
 */
export function clientPace(timeoutMs = 0): Pace {
  return { floorMs: timeoutMs, minRate: CLIENT_MIN_RATE };
}

/**
 * Runs a client's data step under the rate floor: {@link CLIENT_MIN_RATE}
 * over each window of `timeoutMs`, so that a server that trickles is dropped.
 *
 * @param wire the connection
 * @param timeoutMs the client's timeout; 0 or none for no floor
 * @param step the data step
 * @returns what the step returned
 */
export function clientRate<T>(
  wire: Wire,
  timeoutMs: number | undefined,
  step: () => Promise<T>,
): Promise<T> {
  const windowMs = timeoutMs ?? 0;
  return atRate(wire, windowMs > 0 ? CLIENT_MIN_RATE : 0, windowMs, step);
}
