/**
 * A connection's time limits: a deadline that progress extends, a budget that
 * it does not, and a rate floor, all on one {@link Alarm} (issue 25: a
 * server's request set three timers, one for each).
 *
 * @module
 */

import { Alarm } from "./alarm.ts";

/** The limits of one connection; `expire` closes it, saying why. */
export class Limits {
  /** Bytes read and written so far, for the rate floor. */
  moved = 0;
  /** When bytes last moved (`performance.now()` time), for the deadline. */
  lastProgress = 0;
  #deadlineMs = 0;
  /** When the budget runs out; Infinity for none. */
  #budgetAt = Infinity;
  #budgetMessage: string | undefined;
  /** The rate floor: bytes a second, bytes a window, the window, its end, bytes moved at its start. */
  #rateFloor = 0;
  #rateLeast = 0;
  #rateWindowMs = 0;
  #rateAt = Infinity;
  #rateMark = 0;
  #stopped = false;
  /** Rings at or before the earliest of the three; made at the first limit. */
  #alarm: Alarm | undefined;
  readonly #expire: (message: string | undefined) => void;

  /**
   * Creates a connection's limits, none set.
   *
   * @param expire closes the connection when a limit passes (the budget's message, the rate
   *   floor's, or undefined for the deadline)
   */
  constructor(expire: (message: string | undefined) => void) {
    this.#expire = expire;
  }

  /**
   * Sets the deadline, from now.
   *
   * @param ms milliseconds without progress; 0 for none
   */
  setDeadline(ms: number): void {
    this.#deadlineMs = ms;
    this.lastProgress = performance.now();
    this.#schedule();
  }

  /**
   * Sets the budget, from now.
   *
   * @param ms milliseconds; 0 for none
   * @param message what the connection's failure says when it runs out
   */
  setBudget(ms: number, message?: string): void {
    this.#budgetAt = ms > 0 && !this.#stopped ? performance.now() + ms : Infinity;
    this.#budgetMessage = message;
    this.#schedule();
  }

  /**
   * Sets the rate floor, its first window from now.
   *
   * @param bytesPerSecond the least average rate; 0 for none
   * @param windowMs the window the rate is averaged over
   */
  setRateFloor(bytesPerSecond: number, windowMs: number): void {
    if (bytesPerSecond <= 0 || windowMs <= 0 || this.#stopped) {
      this.#rateAt = Infinity;
    } else {
      this.#rateFloor = bytesPerSecond;
      this.#rateLeast = Math.ceil(bytesPerSecond * windowMs / 1000);
      this.#rateWindowMs = windowMs;
      this.#rateMark = this.moved;
      this.#rateAt = performance.now() + windowMs;
    }
    this.#schedule();
  }

  /** Removes every limit for good: the connection is closed. */
  stop(): void {
    this.#stopped = true;
    this.#budgetAt = this.#rateAt = Infinity;
    this.#deadlineMs = 0;
    this.#alarm?.clear();
  }

  /** Keeps the alarm due at or before the earliest limit, or clears it when none is set. */
  #schedule(): void {
    const deadlineAt = this.#deadlineMs > 0 ? this.lastProgress + this.#deadlineMs : Infinity;
    const due = this.#stopped ? Infinity : Math.min(this.#budgetAt, deadlineAt, this.#rateAt);
    if (due === Infinity) {
      this.#alarm?.clear();
      return;
    }
    this.#alarm ??= new Alarm(() => this.#check(performance.now()));
    // An alarm due earlier stays: it finds nothing due, and is set again.
    if (this.#alarm.at > due) this.#alarm.set(due);
  }

  /** The alarm rang: expires for what is due, or sets it again. */
  #check(now: number): void {
    if (this.#budgetAt <= now) return this.#expire(this.#budgetMessage);
    if (this.#deadlineMs > 0 && now - this.lastProgress >= this.#deadlineMs) {
      return this.#expire(undefined);
    }
    if (this.#rateAt <= now) {
      if (this.moved - this.#rateMark < this.#rateLeast) {
        const [least, windowMs] = [this.#rateLeast, this.#rateWindowMs];
        return this.#expire(
          `The transfer moved less than ${least} bytes in ${windowMs / 1000} s ` +
            `(at least ${this.#rateFloor} bytes a second are needed)`,
        );
      }
      this.#rateMark = this.moved;
      this.#rateAt = now + this.#rateWindowMs;
    }
    this.#schedule();
  }
}
