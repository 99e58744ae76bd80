/**
 * Links to a server: `privateshare://HOST:PORT/#sha256=BASE64URL` (see
 * docs/PROTOCOL.md, "Links"). A link names where a server listens and, for a
 * TLS server, the full SHA-256 of its certificate, so that following it pins
 * the certificate on first contact with nothing to compare. A link is not a
 * secret and grants nothing: the password, where there is one, stays apart.
 *
 * @module
 */

import { canReadNetworkAddresses, networkAddresses } from "./addresses.ts";
import { parseFingerprint } from "./tls.ts";

/** The scheme of a link, with its colon. */
export const LINK_SCHEME = "privateshare:";

/** Where a link points. */
export interface ServerLink {
  /** The host name or address (IPv6 without brackets). */
  host: string;
  /** The TCP port. */
  port: number;
  /** The certificate's fingerprint (`AB:CD:...`), for a TLS server. */
  fingerprint?: string;
}

/** A text that looks like a link but is not a valid one. */
export class LinkError extends Error {
  /**
   * Creates a LinkError.
   *
   * @param message what is wrong with the link, one sentence
   */
  constructor(message: string) {
    super(message);
    this.name = "LinkError";
  }
}

/**
 * Writes a server's link.
 *
 * @param link host, port and, for a TLS server, its fingerprint
 * @returns `privateshare://HOST:PORT/`, with `#sha256=...` for a TLS server
 * @example
 * ```ts
 * formatLink({ host: "192.168.1.20", port: 3650 }); // "privateshare://192.168.1.20:3650/"
 * ```
 */
export function formatLink(link: ServerLink): string {
  const host = link.host.includes(":") ? `[${link.host}]` : link.host;
  const base = `${LINK_SCHEME}//${host}:${link.port}/`;
  if (link.fingerprint === undefined) return base;
  const hex = parseFingerprint(link.fingerprint);
  if (hex === undefined) throw new TypeError(`Not a SHA-256 fingerprint: '${link.fingerprint}'`);
  return `${base}#sha256=${toBase64Url(hex.replaceAll(":", ""))}`;
}

/**
 * Whether a text is meant as a link (it starts with the scheme), valid or not.
 *
 * @param text a command-line argument or a pasted text
 * @returns true when it starts with `privateshare:`, in any case
 */
export function isLink(text: string): boolean {
  return text.trim().toLowerCase().startsWith(LINK_SCHEME);
}

/**
 * Reads a link.
 *
 * @param text the link, as printed by the server or pasted
 * @returns where it points
 * @throws {LinkError} naming what is wrong: not a privateshare link, no port, a port out of
 *   range, a path or query, or a fragment that is not a SHA-256 fingerprint
 */
export function parseLink(text: string): ServerLink {
  const trimmed = text.trim();
  if (!isLink(trimmed)) throw new LinkError(`Not a privateshare link: '${trimmed}'`);
  // URL would drop tabs and newlines anywhere and re-read escapes: a link is taken as written.
  if (/[\s\p{Cc}\p{Cf}]/u.test(trimmed)) {
    throw new LinkError(`A link has no space or control character in it: '${trimmed}'`);
  }
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new LinkError(`Not a valid link: '${trimmed}'`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new LinkError("A link carries no user name or password; the password stays apart");
  }
  if (url.hostname === "") throw new LinkError(`The link names no host: '${trimmed}'`);
  if (url.port === "") throw new LinkError(`The link names no port: '${trimmed}'`);
  const port = Number(url.port);
  if (port < 1 || port > 65535) {
    throw new LinkError(`The link's port is out of range: '${trimmed}'`);
  }
  // What URL tidies away (dot segments, an empty query) would make two texts one link.
  const rest = /^[^:]+:\/\/[^/?#]*(.*)$/.exec(trimmed)?.[1] ?? "";
  if (!/^\/?(#.*)?$/.test(rest)) {
    throw new LinkError(`A link has nothing after the port but '#sha256=...': '${trimmed}'`);
  }
  const host = linkHost(url.hostname, trimmed);
  if (url.hash === "" || url.hash === "#") return { host, port };
  const match = /^#sha256=([A-Za-z0-9_-]{43})$/.exec(url.hash);
  const bytes = match?.[1] === undefined ? undefined : fromBase64Url(match[1]);
  if (bytes === undefined) {
    throw new LinkError(
      `The link's fingerprint is not a SHA-256 ('#sha256=' and 43 characters): '${trimmed}'`,
    );
  }
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return { host, port, fingerprint: parseFingerprint(hex) };
}

/** A listening server's links, one per address it can be reached at. */
export interface ServerLinks {
  /** The links, in the order to show them (IPv4 addresses first). */
  links: string[];
  /**
   * True when the server listens on every interface but this computer's
   * addresses could not be read (no permission), so only `localhost` is
   * linked: links for other computers need the network interfaces.
   */
  localOnly: boolean;
}

/**
 * The links of a listening server: for one listening on every interface
 * (`0.0.0.0`, `::`), one per address of this computer that other computers
 * can use (IPv4 ones only for `0.0.0.0`), or `localhost` where those cannot
 * be read; for one bound to an address, that address.
 *
 * @param host the address it listens on, as its `started` event gives it
 * @param port the port it listens on
 * @param fingerprint its certificate's fingerprint, for a TLS server
 * @returns the links
 * @example
 * ```ts
 * serverLinks("127.0.0.1", 3650).links; // ["privateshare://127.0.0.1:3650/"]
 * ```
 */
export function serverLinks(host: string, port: number, fingerprint?: string): ServerLinks {
  const link = (address: string) =>
    formatLink({ host: address, port, ...(fingerprint !== undefined ? { fingerprint } : {}) });
  if (host !== "0.0.0.0" && host !== "::") return { links: [link(host)], localOnly: false };
  if (!canReadNetworkAddresses()) return { links: [link("localhost")], localOnly: true };
  const addresses = networkAddresses().filter((a) => host === "::" || !a.includes(":"));
  return { links: (addresses.length > 0 ? addresses : ["localhost"]).map(link), localOnly: false };
}

/**
 * The host a link names, as a connection is made to it: an IPv6 address
 * (from its brackets), an IPv4 address in four decimal numbers, or a host
 * name, lowercase, international ones in their ASCII (punycode) form.
 * Percent-escapes and the other ways of writing an IPv4 address (`0x7f.1`,
 * `2130706433`) are refused, so that a host reads as it connects.
 */
function linkHost(hostname: string, link: string): string {
  if (hostname.startsWith("[")) return hostname.slice(1, -1);
  // A privateshare: URL keeps its host opaque, with non-ASCII characters escaped; an escape
  // the text itself holds is refused.
  const raw = /^[^:]+:\/\/([^/?#]*)/.exec(link)?.[1] ?? "";
  if (raw.includes("%")) {
    throw new LinkError(`A link's host has no percent-escapes: write it out: '${link}'`);
  }
  let ascii: string;
  try {
    // The host rules of http: links, which map international names to ASCII.
    ascii = new URL(`http://${decodeURIComponent(hostname)}/`).hostname;
  } catch {
    throw new LinkError(`The link's host is not a host name or address: '${link}'`);
  }
  if (/^[\d.]+$/.test(ascii) && ascii !== decodeURIComponent(hostname)) {
    throw new LinkError(
      `Write the link's IPv4 address as four decimal numbers (such as 192.168.1.20): '${link}'`,
    );
  }
  return ascii;
}

function toBase64Url(hex: string): string {
  const bytes = Uint8Array.from(hex.match(/../g)!, (pair) => parseInt(pair, 16));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

/** 32 bytes from 43 base64url characters, or undefined when they are not exactly that. */
function fromBase64Url(text: string): Uint8Array | undefined {
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/") + "=");
  if (binary.length !== 32) return undefined;
  const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
  // Reject a non-canonical last character (its two low bits must be zero) so one link is one text.
  return toBase64Url(Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")) === text
    ? bytes
    : undefined;
}
