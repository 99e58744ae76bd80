/**
 * The server's password check with a limit on guessing: each address's
 * attempts are taken one at a time; after a wrong password the next attempt
 * from that address waits, twice as long after each further failure, and
 * enough failures in a row ban the address for a while. An attempt whose
 * connection is closed while it waits (by its deadline, or to make room)
 * leaves the queue at once. When many addresses fail at once (a guesser with
 * many addresses), every attempt waits the first delay before it is checked.
 * The table of addresses is bounded; when it is full, addresses that are not
 * banned are forgotten first, and a ban never. Every failure and ban is
 * reported as an event.
 *
 * @module
 */

import { CancelError } from "../protocol/errors.ts";
import type { Command } from "../protocol/ps2.ts";
import { passwordMatches, unauthorized } from "../exchange/auth.ts";
import { addressKey } from "./admission.ts";

/** How repeated wrong passwords from one address are slowed, then banned. */
export interface AuthLimits {
  /** The wait before the attempt after a first failure; it doubles with each further one. */
  delayMs: number;
  /** The longest wait (keep it under the command deadline). */
  maxDelayMs: number;
  /** Failures in a row that ban the address. */
  banAfter: number;
  /** How long a ban lasts. */
  banMs: number;
  /** Failures are forgotten after this long without one. */
  forgetMs: number;
  /** Wrong passwords from all addresses together, within a minute, that slow every attempt. */
  globalFailures: number;
  /** Most addresses remembered at once. */
  maxAddresses: number;
}

/** The defaults of {@link AuthLimits}. */
export const AUTH_LIMITS: Readonly<AuthLimits> = {
  delayMs: 1000,
  maxDelayMs: 5000,
  banAfter: 10,
  banMs: 15 * 60_000,
  forgetMs: 15 * 60_000,
  globalFailures: 100,
  maxAddresses: 10_000,
};

/** The window in which {@link AuthLimits.globalFailures} are counted. */
const GLOBAL_WINDOW_MS = 60_000;

/** What the guard reports: a wrong password, and a ban. */
export type GuardEvent =
  | {
    type: "auth-failed";
    /** The address (an IPv6 address as its /64 network). */
    address: string;
    /** Failures in a row from it. */
    failures: number;
    /** How long its next attempt will wait. */
    delayMs: number;
  }
  | {
    type: "auth-banned";
    /** The address (an IPv6 address as its /64 network). */
    address: string;
    /** Failures in a row from it. */
    failures: number;
    /** How long it is banned. */
    banMs: number;
  };

interface AddressState {
  failures: number;
  lastFailure: number;
  bannedUntil: number;
  /** Attempts waiting for their turn, oldest first; the one checked now is not in it. */
  queue: (() => void)[];
  /** Whether an attempt is being checked now. */
  busy: boolean;
  pending: number;
}

/** The password check of one server. */
export class PasswordGuard {
  readonly #password: string;
  readonly #limits: AuthLimits;
  readonly #emit: (event: GuardEvent) => void;
  readonly #states = new Map<string, AddressState>();
  readonly #sleeps = new Set<() => void>();
  /** When the recent wrong passwords (from any address) came, oldest first. */
  #recentFailures: number[] = [];
  #closed = false;

  /**
   * Creates a PasswordGuard.
   *
   * @param password the password every command must carry
   * @param limits how guessing is slowed (defaults: {@link AUTH_LIMITS})
   * @param emit receives failures and bans
   */
  constructor(
    password: string,
    limits: Partial<AuthLimits> = {},
    emit: (event: GuardEvent) => void = () => {},
  ) {
    this.#password = password;
    this.#limits = { ...AUTH_LIMITS, ...limits };
    this.#emit = emit;
  }

  /**
   * Lets a command through when it carries the password; otherwise refuses
   * it, after the address's wait. A banned address is refused unchecked.
   *
   * @param command the command, with its password field
   * @param host the client's address
   * @param closed aborts when the connection closes: the attempt leaves the queue at once
   * @throws {CancelError} `unauthorized`, saying nothing about the served files
   */
  async admit(command: Command, host: string, closed?: AbortSignal): Promise<void> {
    const key = addressKey(host);
    let state = this.#states.get(key);
    if (!state) {
      state = { failures: 0, lastFailure: 0, bannedUntil: 0, queue: [], busy: false, pending: 0 };
      // A full table of bans and attempts in flight: checked, but not remembered.
      if (this.#makeRoom()) this.#states.set(key, state);
    }
    state.pending++;
    try {
      await this.#turn(state, closed);
      try {
        await this.#attempt(state, command, key, closed);
      } finally {
        state.busy = false;
        state.queue.shift()?.();
      }
    } finally {
      state.pending--;
      const clean = state.failures === 0 && state.bannedUntil <= Date.now();
      if (state.pending === 0 && clean && this.#states.get(key) === state) {
        this.#states.delete(key);
      }
    }
  }

  /** Waits until no other attempt of the address is being checked, or the connection closes. */
  #turn(state: AddressState, closed: AbortSignal | undefined): Promise<void> {
    if (closed?.aborted) return Promise.reject(gone());
    if (!state.busy) {
      state.busy = true;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const go = () => {
        closed?.removeEventListener("abort", leave);
        state.busy = true;
        resolve();
      };
      const leave = () => {
        const at = state.queue.indexOf(go);
        if (at >= 0) state.queue.splice(at, 1);
        reject(gone());
      };
      state.queue.push(go);
      closed?.addEventListener("abort", leave, { once: true });
    });
  }

  async #attempt(
    state: AddressState,
    command: Command,
    key: string,
    closed: AbortSignal | undefined,
  ): Promise<void> {
    const limits = this.#limits;
    let now = Date.now();
    if (state.bannedUntil > now) {
      const minutes = Math.ceil((state.bannedUntil - now) / 60_000);
      throw new CancelError(
        "unauthorized",
        `Too many wrong passwords from your address: try again in ${minutes} min`,
      );
    }
    if (now - state.lastFailure > limits.forgetMs) state.failures = 0;
    // No password, no guess: refused at once, and not counted.
    if (command.password === undefined) throw unauthorized(command);
    // The wait comes before the comparison, whatever the password: closing early tells nothing.
    let wait = state.failures > 0 ? this.#delay(state.failures) - (now - state.lastFailure) : 0;
    if (this.#underAttack(now)) wait = Math.max(wait, limits.delayMs);
    if (wait > 0) {
      await this.#sleep(wait, closed);
      now = Date.now();
    }
    if (passwordMatches(command.password, this.#password)) {
      state.failures = 0;
      return;
    }
    state.failures++;
    state.lastFailure = now;
    this.#recentFailures.push(now);
    if (this.#recentFailures.length > limits.globalFailures) this.#recentFailures.shift();
    if (state.failures >= limits.banAfter) {
      state.bannedUntil = now + limits.banMs;
      state.failures = 0;
      this.#emit({
        type: "auth-banned",
        address: key,
        failures: limits.banAfter,
        banMs: limits.banMs,
      });
    } else {
      this.#emit({
        type: "auth-failed",
        address: key,
        failures: state.failures,
        delayMs: this.#delay(state.failures),
      });
    }
    throw unauthorized(command);
  }

  #delay(failures: number): number {
    return Math.min(this.#limits.delayMs * 2 ** (failures - 1), this.#limits.maxDelayMs);
  }

  /** Whether as many wrong passwords as `globalFailures` came within the last minute. */
  #underAttack(now: number): boolean {
    const recent = this.#recentFailures;
    return recent.length >= this.#limits.globalFailures &&
      now - recent[recent.length - this.#limits.globalFailures]! < GLOBAL_WINDOW_MS;
  }

  #sleep(ms: number, closed?: AbortSignal): Promise<void> {
    if (this.#closed) return Promise.reject(stopping());
    if (closed?.aborted) return Promise.reject(gone());
    return new Promise((resolve, reject) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleeps.delete(wake);
        closed?.removeEventListener("abort", wake);
        if (this.#closed) reject(stopping());
        else if (closed?.aborted) reject(gone());
        else resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleeps.add(wake);
      closed?.addEventListener("abort", wake, { once: true });
    });
  }

  /**
   * Makes room for one more address when the table is full: forgets
   * addresses whose failures expired, then the oldest that are not banned
   * and have no attempt in flight; a ban is never forgotten before its end.
   *
   * @returns false when every entry is a ban or in flight (the newcomer is not remembered)
   */
  #makeRoom(): boolean {
    const max = this.#limits.maxAddresses;
    if (this.#states.size < max) return true;
    const now = Date.now();
    for (const [key, state] of this.#states) {
      const stale = now - state.lastFailure > this.#limits.forgetMs && state.bannedUntil < now;
      if (state.pending === 0 && stale) this.#states.delete(key);
    }
    for (const [key, state] of this.#states) {
      if (this.#states.size < max) break;
      if (state.pending === 0 && state.bannedUntil <= now) this.#states.delete(key);
    }
    return this.#states.size < max;
  }

  /** Ends every wait: the attempts waiting are refused, as the server stops. */
  close(): void {
    this.#closed = true;
    for (const wake of [...this.#sleeps]) wake();
  }
}

function stopping(): CancelError {
  return new CancelError("unauthorized", "The server is stopping");
}

function gone(): CancelError {
  return new CancelError("unauthorized", "The connection closed while its password waited");
}
