/**
 * What the two entry points share: exit codes, the one fatal-error path,
 * and number parsing for flags.
 *
 * @module
 */

import { basename } from "node:path";
import type { FailureKind } from "../mod.ts";

/** Exit codes of both programs; README.md lists them. */
export const EXIT = {
  /** Success. */
  ok: 0,
  /** An unexpected failure: a bug, please report it. */
  internal: 1,
  /** The command line was wrong (or, for the server, the port is unusable). */
  usage: 2,
  /** The server refused the request (cancel). */
  refused: 3,
  /** The server could not be reached, or the connection was lost. */
  connection: 4,
  /** The data did not match its SHA-256; nothing was kept. */
  corrupt: 5,
  /** A local file problem: exists, missing, unreadable, disk full. */
  local: 6,
  /** The server does not speak the expected protocol. */
  protocol: 7,
  /** The server's TLS certificate was not trusted (or changed); nothing was sent. */
  untrusted: 8,
  /** No server answered on the local network (discover), or none by the name given. */
  notFound: 9,
  /** Cancelled (Ctrl-C): 128 + SIGINT, as shells report it. */
  interrupted: 130,
} as const;

/** The exit code for each kind of client failure. */
export const EXIT_FOR: Record<FailureKind, number> = {
  usage: EXIT.usage,
  refused: EXIT.refused,
  connection: EXIT.connection,
  corrupt: EXIT.corrupt,
  local: EXIT.local,
  protocol: EXIT.protocol,
  aborted: EXIT.interrupted,
  untrusted: EXIT.untrusted,
};

/**
 * A command-line mistake, or a setting the program cannot use: exit 2,
 * printed with the usage line when the arguments themselves were wrong.
 */
export class UsageError extends Error {
  /** Whether to print the usage line after the message. */
  readonly showUsage: boolean;

  /**
   * Creates an UsageError.
   *
   * @param message what was wrong and what to do
   * @param showUsage print the usage line too (default true)
   */
  constructor(message: string, showUsage = true) {
    super(message);
    this.name = "UsageError";
    this.showUsage = showUsage;
  }
}

/**
 * Prints one line to stderr and exits.
 *
 * @param program `privateshare-server` or `privateshare`
 * @param message what went wrong and what to do
 * @param code the exit code
 * @param usage a usage line to add, for usage errors
 */
export function fail(program: string, message: string, code: number, usage?: string): never {
  console.error(`${program}: ${message}`);
  if (usage) console.error(usage);
  Deno.exit(code);
}

/**
 * Parses a port number.
 *
 * @param text the argument
 * @returns the port
 * @throws {UsageError} for anything but a whole number from 0 to 65535
 */
export function parsePort(text: string | undefined): number {
  if (text === undefined) throw new UsageError("Missing PORT: give a port number such as 365");
  const port = Number(text);
  if (!/^\d+$/.test(text) || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`Invalid port '${text}': give a whole number from 0 to 65535`);
  }
  return port;
}

/**
 * Parses a duration in seconds (fractions allowed) into milliseconds.
 *
 * @param flag the flag's name, for the message
 * @param text the argument, or undefined for the default
 * @param fallbackMs the default in milliseconds
 * @returns milliseconds
 * @throws {UsageError} for anything but a number of at least 0
 */
export function parseSeconds(flag: string, text: string | undefined, fallbackMs: number): number {
  if (text === undefined) return fallbackMs;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < 0) {
    throw new UsageError(`Invalid ${flag} '${text}': give a number of seconds, 0 or more`);
  }
  return Math.round(value * 1000);
}

/**
 * Parses a positive whole number.
 *
 * @param flag the flag's name, for the message
 * @param text the argument, or undefined for the default
 * @param fallback the default
 * @returns the number
 * @throws {UsageError} for anything but a whole number of at least 1
 */
export function parseCount(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1) {
    throw new UsageError(`Invalid ${flag} '${text}': give a whole number, 1 or more`);
  }
  return value;
}

/**
 * Whether an error is a flag-parsing error from `node:util`'s parseArgs.
 *
 * @param error what was thrown
 */
export function isParseArgsError(error: unknown): error is Error {
  const code = (error as { code?: string })?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
}

/**
 * One line for an error nobody expected (a bug): its message and where it
 * was thrown, for the report.
 *
 * @param error what was thrown
 * @returns the line, without the program name
 */
export function describeUnexpected(error: unknown): string {
  if (!(error instanceof Error)) return `Unexpected error: ${String(error)}: please report it`;
  const frame = error.stack?.split("\n").find((line) => line.trim().startsWith("at "))?.trim();
  return `Unexpected error: ${error.name}: ${error.message}${frame ? ` (${frame})` : ""}: ` +
    "please report it";
}

/**
 * The name of the compiled program, for its usage lines, as it was started:
 * its file name (`privateshare-server`, `privateshare-server.exe`, or what
 * the user renamed it to). Under `deno run` there is none, and the usage
 * lines name the script and its permissions. `deno compile`'s runtime sets
 * `Deno.build.standalone` (Deno's own Node compatibility relies on it to
 * tell a compiled program from `deno`), and `Deno.execPath()` is then the
 * program itself.
 *
 * @returns the program's file name, or undefined for a script
 */
export function compiledName(): string | undefined {
  return Deno.build.standalone ? basename(Deno.execPath()) : undefined;
}

/** The flags both programs take besides their own: the GUI, help and version. */
export const FACE_FLAGS = {
  gui: { type: "boolean" },
  "no-open": { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;
