/**
 * Who may use the web page: the random token the QR code carries, the
 * session cookie a browser holds after it, the sign-in of a server with a
 * password, and the Host and Origin checks that keep every other site (and a
 * DNS name rebound to this computer) away from the page.
 *
 * Sessions live in memory: they end when the server stops, and a new start
 * makes a new token.
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";

/** The session cookie's name. */
export const SESSION_COOKIE = "privateshare_session";
/** Most sessions held at once; the oldest goes first. */
const MAX_SESSIONS = 1000;

/** A random string of `bytes` random bytes, base64url. */
export function randomToken(bytes = 18): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...raw)).replaceAll("+", "-").replaceAll("/", "_")
    .replaceAll("=", "");
}

/** Whether two secrets are the same, in a time that does not tell where they differ. */
export function sameSecret(given: string, expected: string): boolean {
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The sessions of one web server, and the token that opens one. */
export class WebAccess {
  /** The token the page's address carries (the QR code's). */
  readonly token: string = randomToken();
  readonly #sessions = new Set<string>();
  readonly #secure: boolean;

  /**
   * Creates a WebAccess.
   *
   * @param secure whether the page is served over HTTPS (the cookie is then `Secure`)
   */
  constructor(secure: boolean) {
    this.#secure = secure;
  }

  /**
   * Opens a session.
   *
   * @returns the `Set-Cookie` header that carries it
   */
  open(): string {
    const id = randomToken(24);
    this.#sessions.add(id);
    // The oldest first out: a flood of sign-ins cannot grow the table.
    if (this.#sessions.size > MAX_SESSIONS) {
      this.#sessions.delete(this.#sessions.values().next().value!);
    }
    const secure = this.#secure ? "; Secure" : "";
    return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict${secure}`;
  }

  /**
   * Whether a request carries a session of this server.
   *
   * @param request the request
   * @returns true for a live session
   */
  has(request: Request): boolean {
    return this.sessionOf(request) !== undefined;
  }

  /**
   * The live session a request carries.
   *
   * @param request the request
   * @returns its ID, or undefined
   */
  sessionOf(request: Request): string | undefined {
    const id = cookieOf(request, SESSION_COOKIE);
    return id !== undefined && this.#sessions.has(id) ? id : undefined;
  }

  /** Ends every session. */
  clear(): void {
    this.#sessions.clear();
  }
}

/** The value of one cookie of a request. */
function cookieOf(request: Request, name: string): string | undefined {
  const header = request.headers.get("cookie");
  if (header === null) return undefined;
  for (const part of header.split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/**
 * The host and port a request names: its `Host` header, or over HTTP/2
 * (which browsers speak over HTTPS, and which has no `Host`) its
 * `:authority`, which Deno puts in the request's URL.
 *
 * @param request the request
 * @returns `host:port`, or undefined when it names none
 */
export function requestHost(request: Request): string | undefined {
  const header = request.headers.get("host");
  if (header !== null) return header;
  const url = new URL(request.url);
  if (url.hostname === "") return undefined;
  return `${url.hostname}:${url.port || (url.protocol === "https:" ? 443 : 80)}`;
}

/**
 * Says why a request names the wrong server, or nothing. The Host must be an
 * address (any of this computer's, as a phone reaches it), `localhost` or one
 * of the server's own names, at the page's port: a name of someone else's
 * rebound to this computer (DNS rebinding) is refused.
 *
 * @param request the request
 * @param port the page's port
 * @param names the server's own host names (lower case), besides `localhost`
 * @returns the refusal, or undefined
 */
export function wrongHost(
  request: Request,
  port: number,
  names: readonly string[],
): string | undefined {
  const host = requestHost(request)?.toLowerCase();
  const refusal = "Refused: open the address the server printed (this one names another host)";
  if (!host) return refusal;
  const match = /^(\[[0-9a-f:.]+\]|[^:\[\]]+):(\d+)$/.exec(host);
  if (!match || Number(match[2]) !== port) return refusal;
  const name = match[1]!.startsWith("[") ? match[1]!.slice(1, -1) : match[1]!;
  if (isIP(name) !== 0 || name === "localhost" || names.includes(name)) return undefined;
  return refusal;
}

/**
 * Says why a request comes from another site, or nothing. Whatever changes
 * something must carry the page's own Origin; a read from another site is
 * refused too, except the browser opening the page itself in a tab (as from
 * a QR code or a link), which carries no Origin.
 *
 * @param request the request
 * @param origin the page's own origin (scheme, host and port, as the Host named it)
 * @returns the refusal, or undefined
 */
export function foreignOrigin(request: Request, origin: string): string | undefined {
  const refusal = "Refused: a request from another site";
  const from = request.headers.get("origin");
  const reads = request.method === "GET" || request.method === "HEAD";
  if (from !== null && from !== origin) return refusal;
  if (from === null && !reads) return "Refused: a change without the page's Origin header";
  const site = request.headers.get("sec-fetch-site");
  if (site === null || site === "same-origin" || site === "none") return undefined;
  const navigates = reads && request.headers.get("sec-fetch-mode") === "navigate";
  return navigates ? undefined : refusal;
}
