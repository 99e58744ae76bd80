/**
 * Where the programs get a password: the `PRIVATESHARE_PASSWORD`
 * environment variable or a file named on the command line, never a
 * command-line value (every user of a computer can read its process list);
 * and, for the client at a terminal, a prompt that does not echo.
 *
 * @module
 */

import { UsageError } from "./common.ts";

/** The environment variable that holds the password. */
export const PASSWORD_VARIABLE = "PRIVATESHARE_PASSWORD";

/** A password and where it came from, for messages. */
export interface GivenPassword {
  /** The password. */
  password: string;
  /** `PRIVATESHARE_PASSWORD`, or `'FILE'`. */
  source: string;
}

/**
 * The password given to a program: from `--password-file FILE` when given
 * (its first line), else from `PRIVATESHARE_PASSWORD` when it is set and may
 * be read.
 *
 * @param file the `--password-file` value, if any
 * @returns the password and its source, or undefined when none was given
 * @throws {UsageError} for a file that cannot be read or is empty
 */
export async function givenPassword(file: string | undefined): Promise<GivenPassword | undefined> {
  if (file !== undefined) {
    if (Deno.permissions.querySync({ name: "read", path: file }).state !== "granted") {
      throw new UsageError(
        `Reading the password file '${file}' needs --allow-read: run deno with --allow-read`,
        false,
      );
    }
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new UsageError(`The password file '${file}' does not exist`, false);
      }
      if (
        error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.IsADirectory
      ) {
        throw new UsageError(`Cannot read the password file '${file}': ${error.message}`, false);
      }
      throw error;
    }
    const password = text.split(/\r?\n/)[0] ?? "";
    if (password === "") throw new UsageError(`The password file '${file}' is empty`, false);
    return { password, source: `'${file}'` };
  }
  if (!canReadPasswordVariable()) return undefined;
  const password = Deno.env.get(PASSWORD_VARIABLE);
  return password ? { password, source: PASSWORD_VARIABLE } : undefined;
}

/**
 * Whether `PRIVATESHARE_PASSWORD` may be read without a prompt.
 *
 * @returns true when `--allow-env` covers it
 */
export function canReadPasswordVariable(): boolean {
  return Deno.permissions.querySync({ name: "env", variable: PASSWORD_VARIABLE }).state ===
    "granted";
}

/**
 * Asks for a password at the terminal without echoing it. Ctrl-C exits
 * (130); Ctrl-D on an empty line gives up.
 *
 * @param question what to print before it, on stderr
 * @returns what was typed, or undefined when the user gave up
 */
export async function promptPassword(question: string): Promise<string | undefined> {
  const encoder = new TextEncoder();
  // Echo goes off before the question is shown: a person (or a program)
  // that types as soon as it appears must never see the password echoed.
  Deno.stdin.setRaw(true);
  Deno.stderr.writeSync(encoder.encode(question));
  const typed: number[] = [];
  const buffer = new Uint8Array(256);
  try {
    while (true) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) return typed.length > 0 ? decode(typed) : undefined;
      for (const byte of buffer.subarray(0, n)) {
        if (byte === 0x0d || byte === 0x0a) return decode(typed);
        if (byte === 0x03) {
          Deno.stdin.setRaw(false);
          Deno.stderr.writeSync(encoder.encode("\n"));
          Deno.exit(130);
        }
        if (byte === 0x04) {
          if (typed.length === 0) return undefined;
          return decode(typed);
        }
        if (byte === 0x7f || byte === 0x08) {
          // One character back: its UTF-8 continuation bytes, then its first.
          while (typed.length > 0 && (typed.at(-1)! & 0xc0) === 0x80) typed.pop();
          typed.pop();
        } else if (byte === 0x15) {
          typed.length = 0;
        } else if (byte >= 0x20 || byte === 0x09) {
          typed.push(byte);
        }
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    Deno.stderr.writeSync(encoder.encode("\n"));
  }
}

function decode(bytes: number[]): string {
  return new TextDecoder().decode(new Uint8Array(bytes));
}
