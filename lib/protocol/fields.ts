/**
 * Reading the fields of a JSON message strictly: every malformed byte or
 * field is a {@link ProtocolError} naming it.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });
const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Decodes UTF-8 strictly.
 *
 * @param line bytes
 * @param what the message, for the error
 * @returns the text
 */
export function decodeText(line: Uint8Array, what: string): string {
  try {
    return decoder.decode(line);
  } catch {
    throw new ProtocolError(`${what} is not valid UTF-8`);
  }
}

/**
 * Parses a JSON object.
 *
 * @param text JSON
 * @param what the message, for the error
 * @returns the object
 */
export function parseObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError(`${what} is not valid JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ProtocolError(`${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * A string field.
 *
 * @param value the message
 * @param field the field
 * @returns its value
 * @throws {ProtocolError} when it is missing or of the wrong kind
 */
export function string(value: Record<string, unknown>, field: string): string {
  const v = value[field];
  if (typeof v !== "string") {
    throw new ProtocolError(`Field '${field}' must be a string`);
  }
  return v;
}

/**
 * A true/false field.
 *
 * @param value the message
 * @param field the field
 * @returns its value
 * @throws {ProtocolError} when it is missing or of the wrong kind
 */
export function boolean(value: Record<string, unknown>, field: string): boolean {
  const v = value[field];
  if (typeof v !== "boolean") {
    throw new ProtocolError(`Field '${field}' must be true or false`);
  }
  return v;
}

/**
 * A whole-number field, 0 .. 2^53 − 1.
 *
 * @param value the message
 * @param field the field
 * @returns its value
 * @throws {ProtocolError} when it is missing or of the wrong kind
 */
export function size(value: Record<string, unknown>, field: string): number {
  const v = value[field];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new ProtocolError(`Field '${field}' must be a whole number of at least 0`);
  }
  return v;
}

/**
 * A SHA-256 field, 64 lowercase hex digits.
 *
 * @param value the message
 * @param field the field
 * @returns its value
 * @throws {ProtocolError} when it is missing or of the wrong kind
 */
export function sha256(value: Record<string, unknown>, field: string): string {
  const v = value[field];
  if (typeof v !== "string" || !SHA256_HEX.test(v)) {
    throw new ProtocolError(`Field '${field}' must be 64 lowercase hex digits`);
  }
  return v;
}
