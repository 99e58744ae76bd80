/**
 * Counting what a flood costs (connections closed to make room, failed
 * accepts) and reporting it at most once per interval, so that a flood
 * produces a few log lines, not one per connection.
 *
 * @module
 */

/** What happened since the last report. */
export interface FloodCounts {
  /** Connections without a command closed to make room for newer ones. */
  evicted: number;
  /** Other connections of the flood that ended without a command. */
  withoutCommand: number;
  /** Accepts that failed (out of descriptors, ...). */
  acceptErrors: number;
  /** The last accept failure, in the system's words. */
  lastAcceptError?: string;
}

/** Connections ending without a command in one second before they count as a flood. */
const QUIET_AFTER = 20;

/**
 * Counts incidents and reports them: a second after the first (so that a
 * burst is one line), then at most once per interval while they go on.
 */
export class FloodMeter {
  readonly #intervalMs: number;
  readonly #firstMs: number;
  readonly #report: (counts: FloodCounts, seconds: number) => void;
  #counts: FloodCounts = { evicted: 0, withoutCommand: 0, acceptErrors: 0 };
  /** Connections that ended without a command in the current second. */
  #recent = 0;
  #recentSince = 0;
  #since = performance.now();
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Creates a FloodMeter.
   *
   * @param intervalMs at most one report per this long
   * @param report receives the counts and the seconds they cover
   * @param firstMs how long after the first incident the first report comes
   */
  constructor(
    intervalMs: number,
    report: (counts: FloodCounts, seconds: number) => void,
    firstMs = 1000,
  ) {
    this.#intervalMs = intervalMs;
    this.#firstMs = firstMs;
    this.#report = report;
  }

  /**
   * Counts one incident.
   *
   * @param kind what happened
   * @param error the accept failure, for `acceptErrors`
   */
  note(kind: "evicted" | "withoutCommand" | "acceptErrors", error?: unknown): void {
    this.#counts[kind]++;
    if (error !== undefined) {
      this.#counts.lastAcceptError = error instanceof Error ? error.message : String(error);
    }
    if (this.#timer !== undefined) return;
    this.#since = performance.now();
    this.#schedule(this.#firstMs);
  }

  /**
   * A connection ended without a command: whether it is part of a flood (a
   * report is under way, or more than a few ended this second), and so is
   * counted here instead of logged on its own.
   *
   * @returns true when it was counted
   */
  summarizes(): boolean {
    const now = performance.now();
    if (now - this.#recentSince > 1000) {
      this.#recentSince = now;
      this.#recent = 0;
    }
    this.#recent++;
    if (this.#timer === undefined && this.#recent <= QUIET_AFTER) return false;
    this.note("withoutCommand");
    return true;
  }

  /** Reports what is still counted, and stops (the server stopped). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const { evicted, withoutCommand, acceptErrors } = this.#counts;
    if (evicted + withoutCommand + acceptErrors > 0) this.#flush();
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const { evicted, withoutCommand, acceptErrors } = this.#counts;
      if (evicted + withoutCommand + acceptErrors === 0) return;
      this.#flush();
      this.#schedule(this.#intervalMs);
    }, ms);
  }

  #flush(): void {
    const now = performance.now();
    const counts = this.#counts;
    this.#counts = { evicted: 0, withoutCommand: 0, acceptErrors: 0 };
    this.#report(counts, Math.max(1, Math.round((now - this.#since) / 1000)));
    this.#since = now;
  }
}
