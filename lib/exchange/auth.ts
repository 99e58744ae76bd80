/**
 * The password of the PS/2 exchange. A client's command carries it in its
 * `password` field (the client sends it only inside TLS); the server compares
 * it in constant time before it looks at anything else the command asks, so
 * that a refusal says nothing about the served files.
 *
 * @module
 */

// Deferred: node:crypto costs a process a few tens of milliseconds to start, which a
// list, and a client's start-up, need not pay (issue 16).
import defer * as nodeCrypto from "node:crypto";
import { CancelError } from "../protocol/errors.ts";
import type { Command } from "../protocol/ps2.ts";
import type { Wire } from "../net/wire.ts";

/** The password each client connection sends with its command. */
const passwords = new WeakMap<Wire, string>();

/**
 * Makes every command sent on this connection carry the password.
 *
 * @param wire the client's connection (a TLS one: the caller's duty)
 * @param password the password
 */
export function attachPassword(wire: Wire, password: string): void {
  passwords.set(wire, password);
}

/**
 * The command as it goes out on this connection: with its password, if one
 * was attached.
 *
 * @param wire the connection
 * @param command the command
 * @returns the command to send
 */
export function withPassword(wire: Wire, command: Command): Command {
  const password = passwords.get(wire);
  return password === undefined ? command : { ...command, password };
}

/**
 * Compares a password given with the expected one in constant time: both
 * are hashed first, so neither their bytes nor their lengths show in the
 * time taken.
 *
 * @param given what the client sent, if anything
 * @param expected the server's password
 * @returns whether they are equal
 */
export function passwordMatches(given: string | undefined, expected: string): boolean {
  const a = nodeCrypto.createHash("sha256").update(given ?? "").digest();
  const b = nodeCrypto.createHash("sha256").update(expected).digest();
  return nodeCrypto.timingSafeEqual(a, b) && given !== undefined;
}

/**
 * The refusal for a command without the right password. It is the same
 * whatever the command asked, and names nothing on the server.
 *
 * @param command the command received
 * @returns the cancel to send
 */
export function unauthorized(command: Command): CancelError {
  return new CancelError(
    "unauthorized",
    command.password === undefined ? "This server needs a password" : "Wrong password",
  );
}
