/**
 * The served folder as a web page, for phones and any browser: a real HTTP
 * server (`Deno.serve`) on a port of its own beside the privateshare port,
 * with the same store, the same connection limits, the same password guard
 * and the same log. Each request is checked (Host, Origin, session) before a
 * route sees it; each route's answer is logged when its body has been sent.
 *
 * Why a second port: `Deno.serve` owns its listener, and a connection the
 * privateshare accept loop has sniffed cannot be handed to it; a real HTTP
 * server (request smuggling, header limits, keep-alive) is worth the port.
 *
 * @module
 */

import { CancelError } from "../protocol/errors.ts";
import { shortCode } from "../net/short_code.ts";
import { fingerprintOf, pemCertificates, type TlsServerKeys } from "../net/tls.ts";
import { addressKey, type Admission, hostOf, peerName } from "./admission.ts";
import type { RequestRecord, ServerEvents } from "./events.ts";
import type { PasswordGuard } from "./guard.ts";
import { recordError } from "./handler.ts";
import type { Store } from "./store.ts";
import { authorityOf, foreignOrigin, pageOrigin, WebAccess, wrongHost } from "./web_access.ts";
import { WebListener } from "./web_listener.ts";
import { answerError, pageRoutes, WebRefusal } from "./web_page.ts";
import type { WebRequest, WebRoute } from "./web_route.ts";
import { fileRoutes, type WebInfo } from "./web_files.ts";
import { uploadRoutes, UploadTable } from "./web_upload.ts";

/** What a request over a connection limit is told (as a PS/2 command is). */
const BUSY = {
  connections: "The server is serving its maximum of connections: try again",
  address: "The server is serving its maximum of connections from your address: try again",
} as const;

/** Where the web page is served. */
export interface WebOptions {
  /** The page's port; 0 for any free one. */
  port: number;
  /** The address to listen on (default: every address, as the privateshare port). */
  host?: string;
  /** The computer's own names (besides its addresses and `localhost`) the page may be opened at. */
  names?: readonly string[];
  /** The server's name, as the page shows it and names the whole folder's zip (default "privateshare"). */
  name?: string;
}

/** What the web server shares with the privateshare server it runs beside. */
export interface WebParts {
  /** The served folder. */
  store: Store;
  /** Where requests are reported (the log, a GUI). */
  events: ServerEvents;
  /** The connection limits, per address and in all. */
  admission: Admission;
  /** The password check, when the server has a password. */
  guard?: PasswordGuard;
  /** The certificate and key, when the server speaks TLS: the page is then HTTPS. */
  keys?: TlsServerKeys;
  /** How long a body may stall. */
  dataTimeoutMs: number;
  /** A new request's number. */
  nextId(): number;
  /** Marks the server busy (no idle stop) until the returned function is called. */
  hold(): () => void;
}

/** The web page of one server. */
export class WebServer {
  /** The address it listens on (the real port when 0 was asked). */
  readonly addr: Deno.NetAddr;
  /** Whether it is HTTPS. */
  readonly secure: boolean;
  readonly #access: WebAccess;
  readonly #parts: WebParts;
  readonly #listener: WebListener;
  readonly #routes: WebRoute[];
  readonly #uploads: UploadTable;
  readonly #stopping = new AbortController();
  readonly #names: readonly string[];

  /**
   * Starts serving the page.
   *
   * @param options where
   * @param parts what it shares with the privateshare server
   */
  constructor(options: WebOptions, parts: WebParts) {
    this.#parts = parts;
    this.#names = (options.names ?? []).map((name) => name.toLowerCase());
    this.secure = parts.keys !== undefined;
    this.#access = new WebAccess(this.secure);
    this.#uploads = new UploadTable(parts.store, parts.dataTimeoutMs);
    const info = webInfo(options, parts);
    this.#routes = [
      ...pageRoutes(this.#access, parts.guard, info),
      ...fileRoutes(info),
      ...uploadRoutes(this.#uploads),
    ];
    this.#listener = new WebListener({
      port: options.port,
      ...(options.host !== undefined ? { hostname: options.host } : {}),
      ...(parts.keys ? { tls: { cert: parts.keys.cert, key: parts.keys.key } } : {}),
      onError: (error: unknown) => {
        parts.events.emit({ type: "error", what: "web", message: String(error) });
        return answerError(error, "");
      },
      onLost: (message, retryMs) =>
        parts.events.emit({
          type: "error",
          what: "web",
          message: `${message}: listening again in ${retryMs / 1000} s`,
        }),
    }, (request, info) => this.#serve(request, info));
    this.addr = this.#listener.addr;
    this.#access.listening(this.addr.port);
  }

  /** The token the page's address carries; a new one with each start. */
  get token(): string {
    return this.#access.token;
  }

  /**
   * The page's address at a host, with the token (the QR code's address).
   *
   * @param host an address or name of this computer that the browser can reach
   * @param withToken false for the bare address (a password server's page asks to sign in)
   * @returns the address
   */
  url(host: string, withToken = true): string {
    const name = host.includes(":") ? `[${host}]` : host;
    const query = withToken && !this.#parts.guard ? `?t=${this.#access.token}` : "";
    return `${this.secure ? "https" : "http"}://${name}:${this.addr.port}/${query}`;
  }

  async #serve(request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Promise<Response> {
    const authority = authorityOf(request);
    const origin = pageOrigin(authority, this.secure);
    const refusal = wrongHost(authority, this.addr.port, this.#names, this.secure) ??
      foreignOrigin(request, origin);
    // Deno makes the URL from the Host header: only a Host that passed is sure to make one.
    const url = URL.parse(request.url) ?? new URL("http://invalid/");
    const found = refusal ? undefined : this.#route(request.method, url.pathname);
    // A quiet route's success is not logged; its refusal is, as any other (below).
    let quietFailure: { error: unknown } | undefined;
    if (
      found?.route.quiet &&
      (found.route.open || this.#access.has(request, info.remoteAddr.hostname))
    ) {
      try {
        return await found.route.handle(
          this.#web(request, info, origin, url, found.rest, newRecord(0, info)),
        );
      } catch (error) {
        quietFailure = { error };
      }
    }
    const record = newRecord(this.#parts.nextId(), info);
    record.op = `${request.method} ${url.pathname}`.slice(0, 80);
    const release = this.#parts.hold();
    const events = this.#parts.events;
    events.emit({ type: "request-start", record });
    const started = performance.now();
    const address = addressKey(info.remoteAddr.hostname);
    const cut = new AbortController();
    const { ticket } = this.#parts.admission.admit(address, () => cut.abort());
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      this.#parts.admission.release(ticket);
      events.emit({ type: "request-end", record, ms: performance.now() - started });
      release();
    };
    try {
      if (refusal) throw new WebRefusal(403, "unauthorized", refusal);
      if (!found) throw new CancelError("not-found", "No such page");
      if (!found.route.open && !this.#access.has(request, info.remoteAddr.hostname)) {
        throw new WebRefusal(
          401,
          "unauthorized",
          "Open the address with its key: scan the server's QR code, or copy its address",
        );
      }
      if (quietFailure) throw quietFailure.error;
      const busy = this.#parts.admission.serve(ticket);
      if (busy) throw new CancelError("busy", BUSY[busy]);
      // Not request.signal: Deno aborts it once a response is returned, body or not.
      info.completed.catch(() => cut.abort());
      const signal = AbortSignal.any([cut.signal, this.#stopping.signal]);
      const web = this.#web(request, info, origin, url, found.rest, record, signal, end);
      const response = await found.route.handle(web);
      if (response.status >= 400 && record.outcome === "ok") record.outcome = "cancel";
      info.completed.then(end, () => {
        if (record.outcome === "ok") {
          record.outcome = "closed";
          record.message = "the browser stopped: cancelled or cut off";
        }
        end();
      });
      return response;
    } catch (error) {
      recordError(record, error);
      end();
      return answerError(error, url.pathname);
    }
  }

  #web(
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
    origin: string,
    url: URL,
    path: string,
    record: RequestRecord,
    signal = this.#stopping.signal,
    end = () => {},
  ): WebRequest {
    const events = this.#parts.events;
    const address = hostOf(info.remoteAddr);
    const session = this.#access.sessionOf(request, address);
    return {
      ...(session !== undefined ? { session } : {}),
      request,
      url,
      path,
      store: this.#parts.store,
      record,
      signal,
      dataTimeoutMs: this.#parts.dataTimeoutMs,
      end,
      address,
      origin,
      progress(bytes: number) {
        record.bytes = bytes;
        if (events.active) events.emit({ type: "request-progress", record });
      },
    };
  }

  #route(method: string, pathname: string): { route: WebRoute; rest: string } | undefined {
    const asked = method === "HEAD" ? "GET" : method;
    for (const route of this.#routes) {
      if (route.method !== asked) continue;
      const prefix = route.path.length > 1 && route.path.endsWith("/");
      if (prefix ? !pathname.startsWith(route.path) : pathname !== route.path) continue;
      try {
        return { route, rest: decodeURIComponent(pathname.slice(route.path.length)) };
      } catch {
        return undefined;
      }
    }
    return undefined;
  }

  /**
   * Stops serving: ends every session, cuts requests in flight (their
   * partial uploads are kept for resume) and closes the port.
   */
  async close(): Promise<void> {
    this.#access.clear();
    this.#stopping.abort();
    await this.#uploads.close();
    await this.#listener.shutdown(2000);
  }
}

/** What the page is told about the server: its name, read-only, and its certificate's short code. */
function webInfo(options: WebOptions, parts: WebParts): WebInfo {
  const der = parts.keys && pemCertificates(parts.keys.cert)[0];
  return {
    name: options.name ?? "privateshare",
    readOnly: parts.store.readOnly,
    tls: parts.keys !== undefined,
    ...(der ? { code: shortCode(fingerprintOf(der)) } : {}),
  };
}

function newRecord(id: number, info: Deno.ServeHandlerInfo<Deno.NetAddr>): RequestRecord {
  // As the privateshare port logs a peer: an IPv4 address mapped into IPv6 unmapped.
  return { id, peer: peerName(info.remoteAddr), protocol: "web", op: "-", bytes: 0, outcome: "ok" };
}
