/**
 * The log's way out: lines wait in a bounded queue and are written
 * asynchronously, one write at a time, so that a reader that stalls (a
 * paused pager, a stuck log shipper) never stalls the server, and a reader
 * that goes away (`server.ts | head`) never ends it. What does not fit is
 * counted and reported once the output flows again.
 *
 * @module
 */

/** Where queued log bytes go: stdout by default. */
export interface LogOutput {
  /**
   * Writes some of `p`.
   *
   * @param p the bytes
   * @returns how many were written
   */
  write(p: Uint8Array): Promise<number>;
}

/** How much log text may wait for a slow reader before lines are dropped. */
export const LOG_QUEUE_BYTES = 1024 * 1024;

/**
 * How long a line waits for others to go out with it in one write. Each
 * write is a trip to Deno's thread pool and a wake-up of the reader; one a
 * request cost a server about a fifth of a list's CPU (bench/RESULTS.md).
 */
export const LOG_GATHER_MS = 5;

/** A bounded queue of log lines in front of an output. */
export class LogQueue {
  readonly #output: LogOutput;
  readonly #limit: number;
  readonly #onDropped: (count: number) => string;
  readonly #onBroken: (error: unknown) => void;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #unreported = 0;
  #dropped = 0;
  #draining: Promise<void> | undefined;
  #broken = false;
  #encoder = new TextEncoder();

  /**
   * Creates a LogQueue.
   *
   * @param output where lines go
   * @param limit most bytes that may wait
   * @param onDropped the line that reports `count` dropped lines
   * @param onBroken called once when the output fails for good
   */
  constructor(
    output: LogOutput,
    limit: number,
    onDropped: (count: number) => string,
    onBroken: (error: unknown) => void,
  ) {
    this.#output = output;
    this.#limit = limit;
    this.#onDropped = onDropped;
    this.#onBroken = onBroken;
  }

  /** Lines dropped so far, because the queue was full or the output closed. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Queues one line (a newline is added); drops it when the queue is full.
   *
   * @param line the text
   */
  push(line: string): void {
    if (this.#broken) {
      this.#dropped++;
      return;
    }
    const bytes = this.#encoder.encode(line + "\n");
    if (this.#queuedBytes + bytes.length > this.#limit) {
      this.#dropped++;
      this.#unreported++;
      return;
    }
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
    this.#draining ??= new Promise<void>((resolve) => setTimeout(resolve, LOG_GATHER_MS))
      .then(() => this.#drain())
      .finally(() => this.#draining = undefined);
  }

  /**
   * Waits until every queued line is written, or `timeoutMs` has passed.
   *
   * @param timeoutMs how long to wait at most
   * @returns true when the queue is empty
   */
  async flush(timeoutMs: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs));
    try {
      while (this.#draining && !this.#broken) {
        const drained = this.#draining.then(() => true);
        if (!await Promise.race([drained, late.then(() => false)])) return false;
      }
      return this.#queue.length === 0;
    } finally {
      clearTimeout(timer);
    }
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      // Every line queued so far, in one write.
      const count = this.#queue.length;
      const bytes = count === 1 ? this.#queue[0]! : concat(this.#queue, this.#queuedBytes);
      try {
        let written = 0;
        while (written < bytes.length) {
          written += await this.#output.write(bytes.subarray(written));
        }
      } catch (error) {
        // The reader went away (BrokenPipe) or the output is gone: logging
        // stops, serving goes on.
        this.#broken = true;
        this.#dropped += this.#queue.length;
        this.#queue = [];
        this.#queuedBytes = 0;
        this.#onBroken(error);
        return;
      }
      this.#queue.splice(0, count);
      this.#queuedBytes -= bytes.length;
      if (this.#queue.length === 0 && this.#unreported > 0) {
        const report = this.#encoder.encode(this.#onDropped(this.#unreported) + "\n");
        this.#unreported = 0;
        this.#queue.push(report);
        this.#queuedBytes += report.length;
      }
    }
  }
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  const all = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}
