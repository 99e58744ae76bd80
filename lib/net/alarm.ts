/**
 * Alarms for the deadlines of connections: every alarm of the process shares
 * one timer, due at or before the earliest of them (issue 25: a timer set and
 * cleared costs about 2.5 µs, and a server's request set three, for its
 * command budget, data deadline and rate floor; here a request adds to a set
 * and takes away from it). While no alarm is set the timer is left
 * unreferenced rather than cleared, so that it keeps no process alive; it
 * fires finding nothing, or serves the next alarm due later.
 *
 * @module
 */

/** A callback run once its time has come; set again as often as needed. */
export class Alarm {
  /** The alarms set. */
  static #armed = new Set<Alarm>();
  /** The shared timer, when it is due, and whether it holds the process alive. */
  static #timer: ReturnType<typeof setTimeout> | undefined;
  static #timerAt = Infinity;
  static #held = false;

  /** When the alarm is due (`performance.now()` time); Infinity when not set. */
  at = Infinity;
  readonly #run: () => void;

  /**
   * Creates an alarm, not set.
   *
   * @param run what to do when it is due (once per setting)
   */
  constructor(run: () => void) {
    this.#run = run;
  }

  /**
   * Sets the alarm, or moves it: it runs at `at` or a little after.
   *
   * @param at `performance.now()` time; Infinity clears the alarm
   */
  set(at: number): void {
    if (at === Infinity) return this.clear();
    this.at = at;
    Alarm.#armed.add(this);
    Alarm.#arm(at);
  }

  /** Clears the alarm; safe to call when it is not set. */
  clear(): void {
    this.at = Infinity;
    if (!Alarm.#armed.delete(this) || Alarm.#armed.size > 0) return;
    if (Alarm.#held) Deno.unrefTimer(Alarm.#timer!);
    Alarm.#held = false;
  }

  /** Keeps the shared timer due at or before `due`: one due earlier stays, a later one is replaced. */
  static #arm(due: number): void {
    if (Alarm.#timer !== undefined && Alarm.#timerAt <= due) {
      if (!Alarm.#held) Deno.refTimer(Alarm.#timer);
      Alarm.#held = true;
      return;
    }
    if (Alarm.#timer !== undefined) clearTimeout(Alarm.#timer);
    const now = performance.now();
    const wait = Math.max(0, Math.ceil(due - now));
    Alarm.#timerAt = now + wait;
    Alarm.#timer = setTimeout(Alarm.#fired, wait);
    Alarm.#held = true;
  }

  /** The shared timer fired: runs every alarm due, then sets the timer for the next. */
  static #fired(): void {
    Alarm.#timer = undefined;
    Alarm.#timerAt = Infinity;
    Alarm.#held = false;
    const now = performance.now();
    let failure: { error: unknown } | undefined;
    for (const alarm of [...Alarm.#armed]) {
      if (alarm.at > now) continue;
      alarm.at = Infinity;
      Alarm.#armed.delete(alarm);
      try {
        alarm.#run();
      } catch (error) {
        // The other alarms still run, and the timer is still set for the next.
        failure ??= { error };
      }
    }
    let next = Infinity;
    for (const alarm of Alarm.#armed) next = Math.min(next, alarm.at);
    if (next < Infinity) Alarm.#arm(next);
    if (failure) throw failure.error;
  }
}
