/**
 * The web page's bodies. A download's response body, pulled chunk by chunk
 * as the browser takes them (one chunk read ahead, so memory stays bounded
 * whatever the size), with the rules every privateshare transfer keeps: a
 * browser that stops reading for the data deadline is cut, a request
 * evicted or a server stopping ends it, what it holds open is closed exactly
 * once however it ends, and a failure of the source cuts the download and
 * reaches the log. And a small request body (a form, a JSON object), read
 * whole under a size limit and the data deadline.
 *
 * @module
 */

import type { WebRequest } from "./web_route.ts";

/** What {@link readSmallBody} throws when the body is too large, or too late. */
export interface SmallBodyRefusals {
  /** Over the limit (declared, or as it arrives). */
  large(): Error;
  /** Not whole within the data deadline. */
  late(): Error;
}

/**
 * Reads a small request body whole: at most `limit` bytes, within the data
 * deadline, so that a body that stalls cannot hold its slot (and the server
 * awake) for ever.
 *
 * @param web the request, for its body, deadline and signal
 * @param limit the most bytes read
 * @param refusals the errors to throw
 * @returns the bytes (empty for no body), or undefined when the body broke off
 *   (the browser went away, the request was ended)
 * @throws what `refusals` makes, over the limit or past the deadline
 */
export async function readSmallBody(
  web: WebRequest,
  limit: number,
  refusals: SmallBodyRefusals,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const { request, signal } = web;
  if (Number(request.headers.get("content-length") ?? 0) > limit) throw refusals.large();
  const reader = request.body?.getReader();
  if (!reader) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let late = false;
  const cut = () => reader.cancel().catch(() => {});
  const timer = web.dataTimeoutMs > 0
    ? setTimeout(() => {
      late = true;
      cut();
    }, web.dataTimeoutMs)
    : undefined;
  signal.addEventListener("abort", cut, { once: true });
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > limit) throw refusals.large();
      chunks.push(value);
    }
  } catch (error) {
    // Over the limit: the refusal. Otherwise the body broke off (the browser went away).
    if (size > limit || !(error instanceof Error)) throw error;
    if (!late) return undefined;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", cut);
  }
  if (late) throw refusals.late();
  if (signal.aborted) return undefined;
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

/**
 * Bytes handed to the HTTP server at a time: a browser that stops reading
 * is seen within one of these, and one that reads a slice per data
 * deadline (64 KiB in 30 s by default, 2.2 KB/s) is never cut.
 */
const SLICE = 64 * 1024;

/** Where a body's bytes come from. */
export interface BodySource {
  /**
   * The next chunk.
   *
   * @returns the bytes, or undefined at the end
   * @throws when the source failed (a file that changed): the download is cut
   */
  next(): Promise<Uint8Array | undefined>;
  /** Closes what the source holds open; called once, however the body ends. */
  close(): Promise<void>;
}

/**
 * A response body from a source.
 *
 * @param web the request, for its progress, record, deadline and signal
 * @param source the bytes
 * @returns the body
 */
export function pulledBody(web: WebRequest, source: BodySource): ReadableStream<Uint8Array> {
  const { record } = web;
  let sent = 0;
  let ended = false;
  let rest: Uint8Array = new Uint8Array();
  let closed: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stop: (() => void) | undefined;
  const close = () => {
    clearTimeout(timer);
    if (stop) web.signal.removeEventListener("abort", stop);
    closed ??= source.close().catch(() => {});
    return closed;
  };
  const fail = (
    controller: ReadableStreamDefaultController<Uint8Array>,
    outcome: "error" | "timeout" | "closed",
    message: string,
  ) => {
    if (record.outcome === "ok") {
      record.outcome = outcome;
      record.message = message;
    }
    close();
    try {
      controller.error(new Error(message));
    } catch {
      // Already closed or errored.
    }
    // The HTTP server sees the error only once the browser reads again, which it may never do.
    web.end();
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      stop = () => fail(controller, "closed", "the download was stopped");
      if (web.signal.aborted) stop();
      else web.signal.addEventListener("abort", stop, { once: true });
    },
    async pull(controller) {
      clearTimeout(timer);
      if (rest.length === 0) {
        let chunk: Uint8Array | undefined;
        try {
          chunk = await source.next();
        } catch (error) {
          fail(controller, "error", error instanceof Error ? error.message : String(error));
          return;
        }
        if (closed) return;
        if (chunk === undefined) {
          ended = true;
          await close();
          controller.close();
          return;
        }
        rest = chunk;
      }
      // Handed on in slices, so that a browser that stops reading is seen within a slice.
      const slice = rest.subarray(0, SLICE);
      rest = rest.subarray(slice.length);
      sent += slice.length;
      controller.enqueue(slice);
      web.progress(sent);
      // The browser takes the next slice once this one is on its way: one that stops taking
      // them is cut after the data deadline (0: none).
      if (web.dataTimeoutMs <= 0) return;
      timer = setTimeout(() => {
        fail(controller, "timeout", `the browser took nothing for ${web.dataTimeoutMs} ms`);
      }, web.dataTimeoutMs);
    },
    async cancel() {
      if (!ended && record.outcome === "ok") {
        record.outcome = "closed";
        record.message = "the browser stopped: cancelled or cut off";
      }
      await close();
    },
  });
}

/**
 * A source of bytes already in memory (an answer that grows with the folder, such as a
 * listing): sent through {@link pulledBody}, so that a browser that reads none of it holds its
 * connection slot, not the server's memory, and is cut after the data deadline.
 *
 * @param bytes the answer
 * @returns the source
 */
export function bytesSource(bytes: Uint8Array): BodySource {
  let sent = false;
  return {
    next() {
      if (sent) return Promise.resolve(undefined);
      sent = true;
      return Promise.resolve(bytes);
    },
    close: () => Promise.resolve(),
  };
}
