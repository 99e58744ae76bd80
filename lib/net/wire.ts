/**
 * Framed reads and writes on a `Deno.Conn`: lines with a size limit, exact
 * byte counts, whole writes, and a deadline on every read and write.
 *
 * @module
 */

import { ProtocolError } from "../protocol/errors.ts";
import { Limits } from "./limits.ts";

/** A read or write made no progress before its deadline. */
export class TimeoutError extends Error {
  /**
   * Creates a TimeoutError.
   *
   * @param message what timed out
   */
  constructor(message = "The connection made no progress before its deadline") {
    super(message);
    this.name = "TimeoutError";
  }
}

/** The peer closed the connection before a message or body was complete. */
export class TruncatedError extends Error {
  /**
   * Creates a TruncatedError.
   *
   * @param message what was cut short
   */
  constructor(message = "The connection closed before the message was complete") {
    super(message);
    this.name = "TruncatedError";
  }
}

/**
 * Whether an error means the peer went away or the connection was cut (a
 * deadline, our own close), as opposed to a failure on this side.
 *
 * @param error what was thrown
 */
export function isConnectionError(error: unknown): error is Error {
  return error instanceof TimeoutError || error instanceof TruncatedError ||
    error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.BadResource || error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.NotConnected ||
    // A read or write cut short by our own close (shutdown, deadline).
    error instanceof Deno.errors.Interrupted ||
    // TLS: the peer left without close_notify, or sent an alert or a record that failed its check.
    error instanceof Deno.errors.UnexpectedEof || error instanceof Deno.errors.InvalidData;
}

const BUFFER_BYTES = 16 * 1024;
/** A released wire's buffer: nothing to read. */
const NO_BUFFER = new Uint8Array(0);
/**
 * Read buffers of released wires, for the next (issue 25: a server made a
 * 16 KiB buffer a connection, about 2 µs). At most {@link SPARE_LIMIT}.
 */
const spareBuffers: Uint8Array[] = [];
const SPARE_LIMIT = 16;

/**
 * A buffered connection. Lines are read through a small internal buffer;
 * bodies are read straight into the caller's buffer once it is drained, so a
 * file's bytes are never copied twice.
 */
export class Wire {
  /** The underlying connection. */
  readonly conn: Deno.Conn;
  #buf = spareBuffers.pop() ?? new Uint8Array(BUFFER_BYTES);
  #start = 0;
  #end = 0;
  /** How much of the buffer was ever written: what {@link release} zeroes. */
  #used = 0;
  /** The deadline, the budget and the rate floor (lib/net/limits.ts). */
  readonly #limits = new Limits((message) => this.#expire(message));
  #timedOut = false;
  #timeoutMessage: string | undefined;
  #closed = false;
  /** Made on first use: most connections never ask for the signal (issue 25). */
  #onClose: AbortController | undefined;

  /**
   * Creates a Wire.
   *
   * @param conn the connection to wrap
   */
  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /** Aborts when the connection is closed: by a deadline, a budget, or this side. */
  get closedSignal(): AbortSignal {
    if (!this.#onClose) {
      this.#onClose = new AbortController();
      if (this.#closed) this.#onClose.abort();
    }
    return this.#onClose.signal;
  }

  /** Bytes already read from the connection and not yet consumed. */
  get buffered(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }

  /**
   * Drops bytes from the front of the internal buffer.
   *
   * @param n how many of the buffered bytes to drop
   */
  consume(n: number): void {
    this.#start = Math.min(this.#start + n, this.#end);
  }

  /**
   * Sets the deadline: a read or write that makes no progress for this long
   * closes the connection and fails with {@link TimeoutError}.
   *
   * @param ms milliseconds without progress; 0 for none
   */
  setDeadline(ms: number): void {
    this.#limits.setDeadline(ms);
  }

  /**
   * Sets a budget: the connection is closed when this much time has passed,
   * however steadily bytes trickle in, and pending reads and writes fail
   * with {@link TimeoutError}. Unlike {@link setDeadline}, progress does not
   * extend it.
   *
   * @param ms milliseconds from now; 0 to remove the budget
   * @param message what the {@link TimeoutError} says when the budget runs out
   */
  setBudget(ms: number, message?: string): void {
    this.#limits.setBudget(ms, message);
  }

  /**
   * Sets a rate floor: in every window of `windowMs`, at least
   * `bytesPerSecond` × the window's seconds must be read or written, or the
   * connection is closed and pending reads and writes fail with
   * {@link TimeoutError}. A trickle of a byte now and then keeps a
   * {@link setDeadline} deadline alive; it does not pass a rate floor.
   *
   * @param bytesPerSecond the least average rate; 0 to remove the floor
   * @param windowMs the window the rate is averaged over
   */
  setRateFloor(bytesPerSecond: number, windowMs: number): void {
    this.#limits.setRateFloor(bytesPerSecond, windowMs);
  }

  #expire(message: string | undefined): void {
    this.#timedOut = true;
    this.#timeoutMessage ??= message;
    this.close();
  }

  async #read(target: Uint8Array): Promise<number | null> {
    try {
      const n = await this.conn.read(target);
      this.#limits.lastProgress = performance.now();
      if (n !== null) this.#limits.moved += n;
      return n;
    } catch (error) {
      if (this.#timedOut) throw new TimeoutError(this.#timeoutMessage);
      throw error;
    }
  }

  /**
   * Reads more bytes into the internal buffer. Every call either adds at
   * least one byte, reports the end of the stream, or fails: it never
   * returns having read nothing.
   *
   * @returns false at end of stream
   * @throws {ProtocolError} when the buffer is full of unconsumed bytes
   */
  async fill(): Promise<boolean> {
    if (this.#start > 0 && this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      if (this.#start === 0) {
        throw new ProtocolError(`Message is longer than ${this.#buf.length} bytes`);
      }
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    const n = await this.#read(this.#buf.subarray(this.#end));
    if (n === null) return false;
    this.#end += n;
    if (this.#end > this.#used) this.#used = this.#end;
    return true;
  }

  /**
   * Reads one line ending in `\n`, without the newline.
   *
   * @param limit largest line in bytes, newline included
   * @returns the line, or null at a clean end of stream before any byte
   * @throws {ProtocolError} when the line is longer than `limit`
   * @throws {TruncatedError} when the stream ends inside a line
   */
  async readLine(limit: number): Promise<Uint8Array | null> {
    let scanned = 0;
    while (true) {
      const view = this.#buf.subarray(this.#start + scanned, this.#end);
      const at = view.indexOf(0x0a);
      if (at >= 0) {
        const end = this.#start + scanned + at;
        if (end + 1 - this.#start > limit) break;
        const line = this.#buf.slice(this.#start, end);
        this.#start = end + 1;
        return line;
      }
      scanned = this.#end - this.#start;
      if (scanned >= limit) break;
      if (!await this.fill()) {
        if (this.#end === this.#start) return null;
        throw new TruncatedError();
      }
    }
    throw new ProtocolError(`Message is longer than ${limit} bytes`);
  }

  /**
   * Reads up to `target.length` bytes: first what is buffered, then straight
   * from the connection.
   *
   * @param target where the bytes go
   * @returns the number of bytes read, 0 at end of stream
   */
  async readInto(target: Uint8Array): Promise<number> {
    if (target.length === 0) return 0;
    if (this.#end > this.#start) {
      const n = Math.min(target.length, this.#end - this.#start);
      target.set(this.#buf.subarray(this.#start, this.#start + n));
      this.#start += n;
      return n;
    }
    return await this.#read(target) ?? 0;
  }

  /**
   * Reads everything up to the end of stream.
   *
   * @param limit most bytes to accept
   * @returns the bytes
   * @throws {ProtocolError} when the stream holds more than `limit`
   */
  async readToEnd(limit: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [this.buffered.slice()];
    let total = parts[0]!.length;
    this.consume(total);
    const chunk = new Uint8Array(64 * 1024);
    while (true) {
      if (total > limit) {
        throw new ProtocolError(`The answer is longer than ${limit} bytes`);
      }
      const n = await this.readInto(chunk);
      if (n === 0) break;
      parts.push(chunk.slice(0, n));
      total += n;
    }
    if (parts.length === 1) return parts[0]!;
    const all = new Uint8Array(total);
    let at = 0;
    for (const part of parts) {
      all.set(part, at);
      at += part.length;
    }
    return all;
  }

  /**
   * Fills `target` completely.
   *
   * @param target where the bytes go
   * @throws {TruncatedError} when the stream ends first
   */
  async readFull(target: Uint8Array): Promise<void> {
    let got = 0;
    while (got < target.length) {
      const n = await this.readInto(target.subarray(got));
      if (n === 0) throw new TruncatedError();
      got += n;
    }
  }

  /**
   * Writes all of `bytes`.
   *
   * @param bytes what to send
   */
  async write(bytes: Uint8Array): Promise<void> {
    let sent = 0;
    while (sent < bytes.length) {
      let n: number;
      try {
        n = await this.conn.write(bytes.subarray(sent));
      } catch (error) {
        if (this.#timedOut) throw new TimeoutError(this.#timeoutMessage);
        throw error;
      }
      sent += n;
      this.#limits.moved += n;
      this.#limits.lastProgress = performance.now();
    }
  }

  /** Shuts down the sending side: the peer reads end of stream. */
  async closeWrite(): Promise<void> {
    try {
      await this.conn.closeWrite();
    } catch (error) {
      if (!(error instanceof Deno.errors.NotConnected)) throw error;
    }
  }

  /**
   * Closes the connection and gives its read buffer, zeroed, to a wire made
   * later. Call it only when nothing reads this wire any more and no view
   * of {@link buffered} is kept: afterwards the wire holds no bytes.
   */
  release(): void {
    this.close();
    const buf = this.#buf;
    if (buf === NO_BUFFER) return;
    this.#buf = NO_BUFFER;
    this.#start = this.#end = 0;
    if (spareBuffers.length >= SPARE_LIMIT) return;
    buf.fill(0, 0, this.#used);
    spareBuffers.push(buf);
  }

  /** Closes the connection; safe to call more than once. */
  close(): void {
    this.#limits.stop();
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose?.abort();
    try {
      this.conn.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  }
}
