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
import { addressKey } from "./admission.ts";

/** The start of the session cookie's name; the page's port follows. */
export const SESSION_COOKIE = "privateshare_session";

/**
 * The session cookie's name at a port. A browser keeps cookies per host, not
 * per port: with one name, a second server of the same computer would
 * replace the first's session.
 *
 * @param port the page's port
 * @returns `privateshare_session_PORT`
 */
export function sessionCookie(port: number): string {
  return `${SESSION_COOKIE}_${port}`;
}
/** Most sessions held at once; the oldest goes first. */
const MAX_SESSIONS = 1000;
/** Most sessions one address holds; its oldest goes first, so that it cannot push out others'. */
const MAX_PER_ADDRESS = 32;

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
  /** Each session, with the address (its key: an IPv6 /64) that opened it. */
  readonly #sessions = new Map<string, string>();
  readonly #secure: boolean;
  #name = SESSION_COOKIE;

  /**
   * Creates a WebAccess.
   *
   * @param secure whether the page is served over HTTPS (the cookie is then `Secure`)
   */
  constructor(secure: boolean) {
    this.#secure = secure;
  }

  /**
   * Names the cookie after the page's port, once it listens.
   *
   * @param port the page's port
   */
  listening(port: number): void {
    this.#name = sessionCookie(port);
  }

  /**
   * Opens a session for the address that signed in or brought the token. A
   * browser sends its cookies to every port of a host, so another program
   * there (another user's web server, say) could read the cookie: bound to
   * its address, it is no session from anywhere else.
   *
   * @param address the browser's IP address
   * @returns the `Set-Cookie` header that carries it
   */
  open(address: string): string {
    const id = randomToken(24);
    const key = addressKey(address);
    // One address's flood of sign-ins (or of the token's address) ends its own oldest sessions.
    const own = [...this.#sessions].filter(([, from]) => from === key);
    if (own.length >= MAX_PER_ADDRESS) this.#sessions.delete(own[0]![0]);
    this.#sessions.set(id, key);
    // The oldest first out: a flood of sign-ins cannot grow the table.
    if (this.#sessions.size > MAX_SESSIONS) {
      this.#sessions.delete(this.#sessions.keys().next().value!);
    }
    const secure = this.#secure ? "; Secure" : "";
    return `${this.#name}=${id}; Path=/; HttpOnly; SameSite=Strict${secure}`;
  }

  /**
   * Whether a request carries a session of this server, opened from its address.
   *
   * @param request the request
   * @param address the browser's IP address
   * @returns true for a live session
   */
  has(request: Request, address: string): boolean {
    return this.sessionOf(request, address) !== undefined;
  }

  /**
   * The live session a request carries, opened from its address.
   *
   * @param request the request
   * @param address the browser's IP address
   * @returns its ID, or undefined
   */
  sessionOf(request: Request, address: string): string | undefined {
    const key = addressKey(address);
    // Any cookie of the name: another program of this host may have set one too.
    return cookiesOf(request, this.#name).find((id) => this.#sessions.get(id) === key);
  }

  /** Ends every session. */
  clear(): void {
    this.#sessions.clear();
  }
}

/** The values of the cookies of one name in a request. */
function cookiesOf(request: Request, name: string): string[] {
  const header = request.headers.get("cookie");
  if (header === null) return [];
  const values: string[] = [];
  for (const part of header.split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) values.push(part.slice(at + 1).trim());
  }
  return values;
}

/**
 * The host and port a request names: its Host header or, over HTTP/2 (which
 * browsers speak to an HTTPS server), its `:authority`, which Deno gives only
 * as the URL's. A request that names none (HTTP/1.0 without Host, HTTP/2
 * without `:authority`) gets `localhost` and the page's port from Deno: no
 * browser sends such a request, so it cannot come from a rebound name.
 *
 * @param request the request
 * @returns `host[:port]` as the request wrote it
 */
export function authorityOf(request: Request): string {
  const host = request.headers.get("host");
  if (host !== null) return host;
  return /^[a-z]+:\/\/([^/?#]*)/i.exec(request.url)?.[1] ?? "";
}

/**
 * The page's origin as a browser writes it in `Origin`: the scheme, the
 * host in lower case, and the port unless it is the scheme's own.
 *
 * @param authority the request's host and port ({@link authorityOf})
 * @param secure whether the page is HTTPS
 * @returns the origin
 */
export function pageOrigin(authority: string, secure: boolean): string {
  const host = authority.toLowerCase().replace(secure ? /:443$/ : /:80$/, "");
  return `${secure ? "https" : "http"}://${host}`;
}

/**
 * Says why a request names the wrong server, or nothing. The host must be an
 * address (any of this computer's, as a phone reaches it), `localhost` or one
 * of the server's own names, at the page's port (written, or the scheme's
 * own when left out): a name of someone else's rebound to this computer (DNS
 * rebinding) is refused.
 *
 * @param authority the request's host and port ({@link authorityOf})
 * @param port the page's port
 * @param names the server's own host names (lower case), besides `localhost`
 * @param secure whether the page is HTTPS (port 443 when none is written, else 80)
 * @returns the refusal, or undefined
 */
export function wrongHost(
  authority: string,
  port: number,
  names: readonly string[],
  secure: boolean,
): string | undefined {
  const refusal = "Refused: open the address the server printed (this one names another host)";
  const match = /^(\[[0-9a-f:.]+\]|[^:\[\]]+)(?::(\d+))?$/.exec(authority.toLowerCase());
  if (!match) return refusal;
  const named = match[2] === undefined ? (secure ? 443 : 80) : Number(match[2]);
  if (named !== port) return refusal;
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
 * @param origin the page's own origin ({@link pageOrigin})
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
