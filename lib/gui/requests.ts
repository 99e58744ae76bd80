/**
 * The fields of the client page's requests, checked: the server's address
 * and port, a transfer's id, a header the page encoded; an upload as a
 * stream; a transfer as the page is shown it; a route the page posts JSON to.
 *
 * @module
 */

import { printable, type TransferResult } from "../mod.ts";
import type { PageAction } from "./wording.ts";
import { readJson, type Route } from "./web.ts";

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

/**
 * A browser upload as a stream for `put`. When the page goes away in the
 * middle (closed, reloaded, its request cancelled), reading fails: the
 * transfer is cancelled first, so that it ends as a cancel (the server keeps
 * its partial upload) and not as a failure.
 *
 * @param body the request's body
 * @param cancel cancels the transfer
 * @returns the stream to put
 */
export function pageUpload(
  body: ReadableStream<Uint8Array> | null,
  cancel: () => void,
): ReadableStream<Uint8Array> {
  if (body === null) return new ReadableStream({ start: (c) => c.close() });
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      let next;
      try {
        next = await reader.read();
      } catch (error) {
        cancel();
        controller.error(error);
        return;
      }
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

/** One put or get, as the page shows it. */
export interface Transfer {
  id: string;
  op: "put" | "get";
  /** The name, made safe to show. */
  name: string;
  state: "queued" | "running" | "done" | "failed" | "cancelled" | "restarted" | "skipped";
  done: number;
  total: number | null;
  resumedFrom: number;
  /** Of a folder: files in place so far, and its files. */
  files?: number;
  filesTotal?: number;
  started: number;
  result?: Omit<TransferResult, "name" | "path" | "skipped"> & {
    path: string;
    skipped?: number;
    /** Of a get: the page may offer "Show in folder". */
    show?: boolean;
  };
  message?: string;
  /** The fixes the page offers for a failure (Replace, Keep both, Skip). */
  actions?: PageAction[];
  /** The TLS box as the failure's fix needs it. */
  tls?: boolean;
}

/**
 * A route the page posts JSON to.
 *
 * @param handle answers the request's JSON object body
 * @returns the route
 */
export function post(
  handle: (body: Record<string, unknown> | undefined) => Promise<Response>,
): Route {
  return { method: "POST", handle: async (request) => await handle(await readJson(request)) };
}
