/**
 * The fields of the client page's requests, checked: the server's address
 * and port, a transfer's id, a header the page encoded.
 *
 * @module
 */

import { printable } from "../mod.ts";

/** Whether a transfer id from the page is one. */
export function validId(id: unknown): id is string {
  return typeof id === "string" && /^[A-Za-z0-9-]{1,64}$/.test(id);
}

/** A port from the page, or undefined when it is none. */
export function portOf(value: unknown): number | undefined {
  const text = typeof value === "number" ? String(value) : typeof value === "string" ? value : "";
  const port = Number(text);
  return /^\d+$/.test(text.trim()) && port >= 1 && port <= 65535 ? port : undefined;
}

/** A header the page encoded with encodeURIComponent (a password may be any text). */
export function fromHeader(value: string | null): string | null {
  try {
    return value === null ? null : decodeURIComponent(value);
  } catch {
    return null;
  }
}

/** The server the page names, or why it names none. */
export function serverOf(host: unknown, port: unknown): { host: string; port: number } | string {
  const name = typeof host === "string" ? host.trim() : "";
  if (name === "") return "Give the server's address";
  if (name.length > 255 || /\s/.test(name)) return `Invalid address '${printable(name)}'`;
  const number = portOf(port);
  if (number === undefined) {
    return `Invalid port '${printable(String(port ?? ""))}': give a whole number from 1 to 65535`;
  }
  return { host: name, port: number };
}

/** Resolves when the signal is aborted. */
export function abortOf(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}
