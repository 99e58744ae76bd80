/**
 * The server's password check with a limit on guessing: each address's
 * attempts are taken one at a time; after a wrong password the next attempt
 * from that address waits, twice as long after each further failure, and
 * enough failures in a row ban the address for a while. Other addresses are
 * never held up, and every failure and ban is reported as an event.
 *
 * @module
 */

import { CancelError } from "../protocol/errors.ts";
import type { Command } from "../protocol/ps2.ts";
import { passwordMatches, unauthorized } from "../exchange/auth.ts";

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
}

/** The defaults of {@link AuthLimits}. */
export const AUTH_LIMITS: Readonly<AuthLimits> = {
  delayMs: 1000,
  maxDelayMs: 5000,
  banAfter: 10,
  banMs: 15 * 60_000,
  forgetMs: 15 * 60_000,
};

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

/** Most addresses remembered at once; the oldest are forgotten first. */
const MAX_ADDRESSES = 10_000;

interface AddressState {
  failures: number;
  lastFailure: number;
  bannedUntil: number;
  /** Resolves when the attempt before the newest one is done. */
  queue: Promise<void>;
  pending: number;
}

/** The password check of one server. */
export class PasswordGuard {
  readonly #password: string;
  readonly #limits: AuthLimits;
  readonly #emit: (event: GuardEvent) => void;
  readonly #states = new Map<string, AddressState>();
  readonly #sleeps = new Set<() => void>();
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
   * @throws {CancelError} `unauthorized`, saying nothing about the served files
   */
  async admit(command: Command, host: string): Promise<void> {
    const key = addressKey(host);
    let state = this.#states.get(key);
    if (!state) {
      this.#makeRoom();
      state = { failures: 0, lastFailure: 0, bannedUntil: 0, queue: Promise.resolve(), pending: 0 };
      this.#states.set(key, state);
    }
    const previous = state.queue;
    let done!: () => void;
    state.queue = new Promise((resolve) => done = resolve);
    state.pending++;
    try {
      await previous;
      await this.#attempt(state, command, key);
    } finally {
      state.pending--;
      done();
      const clean = state.failures === 0 && state.bannedUntil <= Date.now();
      if (state.pending === 0 && clean) this.#states.delete(key);
    }
  }

  async #attempt(state: AddressState, command: Command, key: string): Promise<void> {
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
    if (state.failures > 0) {
      const wait = this.#delay(state.failures) - (now - state.lastFailure);
      if (wait > 0) await this.#sleep(wait);
      now = Date.now();
    }
    if (passwordMatches(command.password, this.#password)) {
      state.failures = 0;
      return;
    }
    state.failures++;
    state.lastFailure = now;
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

  #sleep(ms: number): Promise<void> {
    if (this.#closed) return Promise.reject(stopping());
    return new Promise((resolve, reject) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleeps.delete(wake);
        if (this.#closed) reject(stopping());
        else resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleeps.add(wake);
    });
  }

  /** Forgets addresses whose failures have expired, or else the oldest, when there are too many. */
  #makeRoom(): void {
    if (this.#states.size < MAX_ADDRESSES) return;
    const now = Date.now();
    for (const [key, state] of this.#states) {
      const stale = now - state.lastFailure > this.#limits.forgetMs && state.bannedUntil < now;
      if (state.pending === 0 && stale) this.#states.delete(key);
    }
    for (const [key, state] of this.#states) {
      if (this.#states.size < MAX_ADDRESSES) break;
      if (state.pending === 0) this.#states.delete(key);
    }
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

/**
 * The key an address is limited by: an IPv4 address as it is (also when
 * mapped into IPv6), an IPv6 address by its /64 network, which one
 * computer usually holds whole.
 *
 * @param host the address
 * @returns the key
 */
export function addressKey(host: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped) return mapped[1]!;
  if (!host.includes(":")) return host;
  const [head = "", tail = ""] = host.split("%")[0]!.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === "" ? [] : tail.split(":");
  const groups = host.includes("::")
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right]
    : left;
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "").toLowerCase()).join(":") +
    "::/64";
}
