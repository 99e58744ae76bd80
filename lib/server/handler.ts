/**
 * What every request handler shares: the context the server hands it, and
 * how an error becomes the cancel a client hears and the outcome the log
 * records.
 *
 * @module
 */

import { CancelError, ProtocolError } from "../protocol/errors.ts";
import { isConnectionError, TimeoutError, TruncatedError, type Wire } from "../net/wire.ts";
import { type Command, MAGIC } from "../protocol/ps2.ts";
import { looksClassic } from "../protocol/classic.ts";
import { sendCancel } from "../exchange/ps2.ts";
import type { ChunkPool } from "../transfer/pool.ts";
import { NotAFolderError, UnsafeFolderError } from "../transfer/folder_guard.ts";
import type { Pace } from "../exchange/budget.ts";
import type { RequestRecord } from "./events.ts";
import type { Store } from "./store.ts";

/** What a protocol handler needs from the server. */
export interface HandlerContext {
  /** The served folder. */
  store: Store;
  /** Buffers for bodies. */
  pool: ChunkPool;
  /** The request being served; handlers fill it in. */
  record: RequestRecord;
  /** Deadline for progress while data flows; also the window of {@link minRate}. */
  dataTimeoutMs: number;
  /** Least average rate of a body, bytes a second; 0 for none. */
  minRate: number;
  /** The time each message from the client may take (docs/PROTOCOL.md#deadlines). */
  pace: Pace;
  /** Pause between a classic get's `pass` and its data. */
  classicPauseMs: number;
  /**
   * Called once the command has arrived: takes a serving slot and sets the
   * data deadline.
   *
   * @throws {CancelError} `busy` over a connection limit, or when the server is stopping
   */
  begin(): void;
  /** With a password set: lets a command through, or throws `unauthorized`. */
  authorize?: (command: Command) => Promise<void>;
  /** Reports body bytes moved so far. */
  progress(bytes: number): void;
}

/**
 * Turns an error into the cancel the client should hear: a refusal as it
 * is, malformed input `bad-request`, a full disk `no-space`, anything
 * unexpected `internal` (the details stay in the server's log).
 *
 * @param error what was thrown
 * @returns the cancel to send
 */
export function toCancel(error: unknown): CancelError {
  if (error instanceof CancelError) return error;
  if (error instanceof ProtocolError) {
    return new CancelError("bad-request", error.message, { cause: error });
  }
  if (error instanceof UnsafeFolderError) {
    return new CancelError(
      "not-found",
      "The server does not go through a folder that other users can change: " +
        "ask the server's owner (its log names the folder)",
      { cause: error },
    );
  }
  if (error instanceof NotAFolderError) {
    return new CancelError(
      "not-found",
      "A folder on the server was moved or replaced while in use: try again",
      { cause: error },
    );
  }
  if ((error as { code?: string })?.code === "ENOSPC") {
    return new CancelError(
      "no-space",
      "The server's disk is full: free some space and try again",
      { cause: error },
    );
  }
  return new CancelError(
    "internal",
    "The server failed to complete the request: see its log",
    { cause: error },
  );
}

/**
 * Records how a request ended from what it threw.
 *
 * @param record the request's record
 * @param error what was thrown
 */
export function recordError(record: RequestRecord, error: unknown): void {
  const cause = (error as { cause?: unknown })?.cause;
  const folder = cause instanceof NotAFolderError ? cause : error;
  if (folder instanceof NotAFolderError) {
    // The details (which folder, whose) are for the server's log only.
    record.outcome = "cancel";
    record.reason = "not-found";
    record.message = folder.message;
  } else if (error instanceof CancelError || error instanceof ProtocolError) {
    const cancel = toCancel(error);
    record.outcome = "cancel";
    record.reason = cancel.reason;
    record.message = cancel.message;
  } else if (error instanceof TimeoutError) {
    record.outcome = "timeout";
    record.message = error.message;
  } else if (isConnectionError(error)) {
    record.outcome = "closed";
    // A client that cancels just closes: the server cannot tell a cancel from a cut.
    record.message = record.op !== "-" && leftByPeer(error) ? STOPPED : error.message;
  } else {
    record.outcome = "error";
    record.message = error instanceof Error ? error.message : String(error);
  }
}

/** How a request is recorded when its client went away in the middle of it. */
export const STOPPED = "the client stopped: cancelled or cut off";

/** Whether a connection error is the peer's leaving (not a deadline, not our own close). */
function leftByPeer(error: Error): boolean {
  return error instanceof TruncatedError || error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.NotConnected || error instanceof Deno.errors.UnexpectedEof;
}

const MAGIC_BYTES = new TextEncoder().encode(MAGIC);

/**
 * Tells the protocol from a connection's first bytes, reading as many as it
 * takes (at most the magic's length).
 *
 * @param wire the connection, nothing consumed
 * @returns `ps2`, `classic`, `empty` (closed without a byte) or `other`
 */
export async function detect(wire: Wire): Promise<"ps2" | "classic" | "empty" | "other"> {
  while (true) {
    const head = wire.buffered;
    const n = Math.min(head.length, MAGIC_BYTES.length);
    let prefix = true;
    for (let i = 0; i < n; i++) if (head[i] !== MAGIC_BYTES[i]) prefix = false;
    if (prefix && n === MAGIC_BYTES.length) return "ps2";
    if (!prefix && head.length > 0) return looksClassic(head) ? "classic" : "other";
    if (!await wire.fill()) return head.length === 0 ? "empty" : "other";
  }
}

/**
 * Sends the cancel that an error stands for, and returns it.
 *
 * @param wire the connection
 * @param error what was thrown
 * @returns the cancel sent
 */
export async function cancel(wire: Wire, error: unknown): Promise<CancelError> {
  const refusal = toCancel(error);
  await sendCancel(wire, refusal);
  return refusal;
}

/**
 * Sends a cancel while the client may still be sending, and reads what it
 * sends for a moment, so that it reads the reason instead of a reset.
 *
 * @param wire the connection
 * @param refusal the cancel
 */
export async function cancelAndDrain(wire: Wire, refusal: CancelError): Promise<void> {
  try {
    await sendCancel(wire, refusal);
    await wire.closeWrite();
    wire.setDeadline(2000);
    const sink = new Uint8Array(64 * 1024);
    while (await wire.readInto(sink) > 0) { /* drain */ }
  } catch {
    // The client may already be gone; the cancel was best effort.
  }
}
