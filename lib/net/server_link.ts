/**
 * Links to a server: `privateshare://HOST:PORT/#sha256=BASE64URL` (see
 * docs/PROTOCOL.md, "Links"). A link names where a server listens and, for a
 * TLS server, the full SHA-256 of its certificate, so that following it pins
 * the certificate on first contact with nothing to compare. A link is not a
 * secret and grants nothing: the password, where there is one, stays apart.
 *
 * @module
 */

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
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new LinkError(`Not a valid link: '${trimmed}'`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new LinkError("A link carries no user name or password; the password stays apart");
  }
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  if (host === "") throw new LinkError(`The link names no host: '${trimmed}'`);
  if (url.port === "") throw new LinkError(`The link names no port: '${trimmed}'`);
  const port = Number(url.port);
  if (port < 1 || port > 65535) {
    throw new LinkError(`The link's port is out of range: '${trimmed}'`);
  }
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "") {
    throw new LinkError(`A link has nothing after the port but '#sha256=...': '${trimmed}'`);
  }
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
