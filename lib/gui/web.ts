/**
 * The web shell both GUIs share: a page server on the loopback interface
 * that only the page it printed can drive. Every request must carry the
 * random token in its path, name the loopback address and port in its Host
 * header (against DNS rebinding), and come from the page's own origin
 * (against requests forged by any other page the user has open).
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";
import style from "../assets/style.css" with { type: "text" };
import common from "./assets/common.js" with { type: "text" };
import listing from "./assets/listing.js" with { type: "text" };
import transferRows from "./assets/transfer_rows.js" with { type: "text" };
import addressFields from "./assets/address_fields.js" with { type: "text" };
import finding from "./assets/finding.js" with { type: "text" };

/** One API call of a page: its method and what answers it. */
export interface Route {
  /** GET for reads, POST for everything that changes something. */
  method: "GET" | "POST";
  /**
   * Answers the request.
   *
   * @param request the request, already checked
   * @returns the response
   */
  handle(request: Request): Response | Promise<Response>;
}

/** What one GUI serves: its page, its script and its API. */
export interface GuiSite {
  /** The page's HTML. */
  html: string;
  /** The page's own script (a plain browser module). */
  script: string;
  /** API calls by name: `list` answers `api/list`. */
  routes: Record<string, Route>;
  /** Called each time the page itself is served (a browser opened it). */
  onPage?: () => void;
}

/** A running page server. */
export interface GuiServer {
  /** The page's address, token included: give it to the browser and no one else. */
  url: string;
  /** The port it listens on (127.0.0.1 only). */
  port: number;
  /** Stops serving, waiting briefly for answers already being written. */
  shutdown(): Promise<void>;
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  json: "application/json; charset=utf-8",
  text: "text/plain; charset=utf-8",
};

/** Headers on every answer: nothing from elsewhere, no framing, no caching, no referrer. */
const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; " +
    "frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "cross-origin-resource-policy": "same-origin",
  "cross-origin-opener-policy": "same-origin",
} as const;

/**
 * Serves a GUI on 127.0.0.1 at a random port, behind a random token.
 *
 * @param site the page, its script and its API
 * @returns the running page server and its address
 */
export function serveGui(site: GuiSite): GuiServer {
  const token = base64url(crypto.getRandomValues(new Uint8Array(24)));
  const prefix = `/${token}/`;
  const prefixBytes = new TextEncoder().encode(prefix);
  let port = 0;
  const files: Record<string, { type: string; body: string }> = {
    "": { type: TYPES.html!, body: site.html },
    "style.css": { type: TYPES.css!, body: style },
    "common.js": { type: TYPES.js!, body: common },
    "listing.js": { type: TYPES.js!, body: listing },
    "transfer_rows.js": { type: TYPES.js!, body: transferRows },
    "address_fields.js": { type: TYPES.js!, body: addressFields },
    "finding.js": { type: TYPES.js!, body: finding },
    "page.js": { type: TYPES.js!, body: site.script },
  };
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
    // What no route expected still reaches the page as one line, and the
    // terminal too, never as a stack trace.
    onError: (error) => {
      const message = oneLine(error);
      console.error(`privateshare: a request of the page failed: ${message}`);
      return json({ error: `The program could not answer: ${message}` }, 500);
    },
  }, async (request) => {
    const refusal = refuse(request, port, prefixBytes);
    if (refusal) return text(403, refusal);
    const path = new URL(request.url).pathname.slice(prefix.length);
    const file = files[path];
    if (file) {
      if (request.method !== "GET" && request.method !== "HEAD") return text(405, "Use GET");
      if (path === "") site.onPage?.();
      return new Response(file.body, {
        headers: { ...SECURITY_HEADERS, "content-type": file.type },
      });
    }
    const route = path.startsWith("api/") ? site.routes[path.slice(4)] : undefined;
    if (!route) return text(404, "Not found");
    if (request.method !== route.method) return text(405, `Use ${route.method}`);
    try {
      return await route.handle(request);
    } catch (error) {
      if (error instanceof PageRequestError) return json({ error: error.message }, error.status);
      throw error;
    }
  });
  port = server.addr.port;
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    port,
    async shutdown() {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([server.shutdown(), new Promise((r) => timer = setTimeout(r, 2000))]);
      clearTimeout(timer);
    },
  };
}

/**
 * Says why a request is refused, or nothing for one from the page itself.
 * The token alone would do against other users and other pages; the Host and
 * origin checks make sure that no other site can ever reach the API, even one
 * that learns the token.
 */
function refuse(request: Request, port: number, prefix: Uint8Array): string | undefined {
  const origin = `http://127.0.0.1:${port}`;
  if (request.headers.get("host") !== `127.0.0.1:${port}`) {
    return "Refused: this page answers only at 127.0.0.1, the address the program printed";
  }
  const from = request.headers.get("origin");
  if (from !== null && from !== origin) return "Refused: a request from another site";
  const site = request.headers.get("sec-fetch-site");
  if (
    site !== null && site !== "same-origin" && site !== "none" && !opensPage(request, prefix)
  ) {
    return "Refused: a request from another site";
  }
  const path = new TextEncoder().encode(new URL(request.url).pathname);
  if (path.length < prefix.length || !timingSafeEqual(path.subarray(0, prefix.length), prefix)) {
    return "Refused: open the address with the token that the program printed";
  }
  return undefined;
}

/**
 * Whether a request is the browser opening the page itself, in a tab of its
 * own, from elsewhere: the redirect file the program opens is another site
 * to the browser. Such a request reads nothing another site could see (the
 * answer goes to the tab, not to the site) and changes nothing, and the page
 * it loads talks to the API from its own origin; it still needs the token.
 */
function opensPage(request: Request, prefix: Uint8Array): boolean {
  const path = new TextEncoder().encode(new URL(request.url).pathname);
  return request.method === "GET" && request.headers.get("origin") === null &&
    request.headers.get("sec-fetch-mode") === "navigate" &&
    request.headers.get("sec-fetch-dest") === "document" &&
    path.length === prefix.length;
}

/**
 * A JSON answer.
 *
 * @param body what to send
 * @param status the HTTP status (default 200)
 * @returns the response
 */
export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...SECURITY_HEADERS, "content-type": TYPES.json! },
  });
}

/**
 * A plain-text answer.
 *
 * @param status the HTTP status
 * @param body one line
 * @returns the response
 */
export function text(status: number, body: string): Response {
  return new Response(body + "\n", {
    status,
    headers: { ...SECURITY_HEADERS, "content-type": TYPES.text! },
  });
}

/**
 * The most bytes a page's JSON request may carry: its fields are addresses,
 * names, folder paths and a password, far below this.
 */
export const MAX_JSON_BYTES = 64 * 1024;

/** A request the page API refuses: its HTTP status and one line for the page. */
export class PageRequestError extends Error {
  /** The HTTP status to answer with (400, 413). */
  readonly status: number;

  /**
   * Creates a PageRequestError.
   *
   * @param status the HTTP status to answer with
   * @param message one line: what was wrong
   */
  constructor(status: number, message: string) {
    super(message);
    this.name = "PageRequestError";
    this.status = status;
  }
}

/**
 * Reads a request's JSON object body, as a stream that is stopped at
 * {@link MAX_JSON_BYTES} (never buffered whole past it). The page server
 * answers the {@link PageRequestError} this throws with its status and
 * message.
 *
 * @param request the request
 * @returns the object
 * @throws {PageRequestError} 413 for a body over the limit; 400 for one that is
 *   cut off, is not JSON, or is JSON but not an object
 */
export async function readJson(request: Request): Promise<Record<string, unknown>> {
  const bytes = await readBody(request, MAX_JSON_BYTES);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    // TypeError: not UTF-8.
    if (!(error instanceof SyntaxError || error instanceof TypeError)) throw error;
    throw new PageRequestError(400, "Malformed request: its body is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new PageRequestError(400, "Malformed request: its body is not a JSON object");
  }
  return value as Record<string, unknown>;
}

/** A request's body, read up to `limit` bytes; past them the reading stops. */
async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const tooLarge = () =>
    new PageRequestError(413, `Request too large: a page's request carries at most ${limit} bytes`);
  const length = request.headers.get("content-length");
  if (length !== null && /^\d+$/.test(length) && Number(length) > limit) throw tooLarge();
  if (request.body === null) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) throw tooLarge();
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof PageRequestError) {
      reader.cancel().catch(() => {});
      throw error;
    }
    // The connection ended before the body did.
    if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Http) {
      throw new PageRequestError(400, "Malformed request: its body was cut off");
    }
    throw error;
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

/** Most events a page may fall behind by before its stream is dropped (it reconnects). */
const MAX_QUEUED = 1000;

/**
 * Server-Sent Events to every open page: each event is one JSON object. A
 * page that connects (or reconnects) first gets a snapshot of the state.
 */
export class EventHub {
  readonly #pages = new Set<ReadableStreamDefaultController<Uint8Array>>();
  readonly #encoder = new TextEncoder();
  #ping: ReturnType<typeof setInterval> | undefined;

  /**
   * Opens a page's stream.
   *
   * @param snapshot the events that bring a new page up to date
   * @returns the streaming response
   */
  connect(snapshot: () => unknown[]): Response {
    let page: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        page = controller;
        this.#pages.add(controller);
        for (const event of snapshot()) controller.enqueue(this.#encode(event));
        this.#ping ??= setInterval(
          () => this.#broadcast(this.#encoder.encode(": ping\n\n")),
          15_000,
        );
      },
      cancel: () => this.#drop(page),
    }, { highWaterMark: MAX_QUEUED, size: () => 1 });
    return new Response(body, {
      headers: { ...SECURITY_HEADERS, "content-type": "text/event-stream" },
    });
  }

  /**
   * Sends an event to every open page.
   *
   * @param event a JSON-serializable object with a `type`
   */
  send(event: { type: string; [field: string]: unknown }): void {
    this.#broadcast(this.#encode(event));
  }

  /** Ends every page's stream. */
  close(): void {
    for (const page of [...this.#pages]) {
      this.#drop(page);
      try {
        page.close();
      } catch (error) {
        if (!(error instanceof TypeError)) throw error;
      }
    }
  }

  #encode(event: unknown): Uint8Array {
    return this.#encoder.encode(`data: ${JSON.stringify(event)}\n\n`);
  }

  #broadcast(bytes: Uint8Array): void {
    for (const page of [...this.#pages]) {
      if ((page.desiredSize ?? 0) <= 0) {
        // A page that stopped reading (a frozen tab) must not grow our memory:
        // drop it; when it wakes, it reconnects and gets a fresh snapshot.
        this.#drop(page);
        page.error(new Error("The page fell behind"));
        continue;
      }
      page.enqueue(bytes);
    }
  }

  #drop(page: ReadableStreamDefaultController<Uint8Array>): void {
    this.#pages.delete(page);
    if (this.#pages.size === 0 && this.#ping !== undefined) {
      clearInterval(this.#ping);
      this.#ping = undefined;
    }
  }
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0]!.trim() || "unknown error";
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replaceAll("=", "");
}
