/**
 * What a privateshare server says about itself on the local network: the
 * DNS-SD service type and the TXT keys (docs/PROTOCOL.md, "Discovery"), and
 * the checks that a found server's fields pass before anything shows them.
 * What arrives here comes from anyone on the network: a fingerprint found
 * this way lets a client show the server's short code before it connects,
 * and is never trust.
 *
 * @module
 */

import { shortCode } from "./short_code.ts";

/** The DNS-SD service type of privateshare servers. */
export const SERVICE_TYPE = "_privateshare._tcp.local";

/** The longest server name, in UTF-8 bytes (one DNS label). */
export const MAX_SERVER_NAME_BYTES = 63;

/** What a server announces. */
export interface ServerAd {
  /** The name people see: the computer's name by default. */
  name: string;
  /** The TCP port it serves on. */
  port: number;
  /** The PS/2 protocol version it speaks. */
  version: string;
  /** Whether it speaks TLS. */
  tls: boolean;
  /** Whether it wants a password. */
  password: boolean;
  /** Whether it accepts uploads. */
  uploads: boolean;
  /** Its certificate's SHA-256 fingerprint (`AB:CD:...`), for a TLS server. */
  fingerprint?: string;
  /** The TCP port of its web page for phones and browsers, when it serves one. */
  web?: number;
}

/** A server found on the network. */
export interface FoundServer extends ServerAd {
  /** The DNS-SD instance label, unique on the network. */
  instance: string;
  /** Its IPv4 addresses. */
  addresses: string[];
  /** The short code of its fingerprint, for a TLS server. */
  code?: string;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

// What a terminal acts on, and what no name should hold: C0 and C1 controls,
// DEL, bidirectional overrides and isolates, line and paragraph separators.
// deno-lint-ignore no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

/**
 * Whether a server name can be announced and shown: printable, not empty,
 * at most 63 UTF-8 bytes.
 *
 * @param name the name
 * @returns whether it is good
 */
export function validServerName(name: string): boolean {
  const bytes = encoder.encode(name).length;
  return bytes > 0 && bytes <= MAX_SERVER_NAME_BYTES && !UNPRINTABLE.test(name) &&
    name.trim() === name;
}

/**
 * Makes a name fit: control characters dropped, spaces trimmed, cut to 63
 * bytes (or fewer) at a character boundary.
 *
 * @param name a computer's name or one a person gave
 * @param maxBytes the most UTF-8 bytes it may take
 * @returns a name that {@link validServerName} accepts, or "" when none is left
 */
export function fitServerName(name: string, maxBytes = MAX_SERVER_NAME_BYTES): string {
  let out = "";
  for (const char of name.replace(new RegExp(UNPRINTABLE.source, "g"), "").trim()) {
    if (encoder.encode(out + char).length > maxBytes) break;
    out += char;
  }
  return out.trim();
}

/**
 * The TXT strings of an announcement.
 *
 * @param ad what to announce
 * @returns `txtvers=1`, `name=`, `v=`, `tls=`, `pw=`, `up=`, for TLS `fp=`, and with a web
 *   page `web=`
 */
export function txtOf(ad: ServerAd): Uint8Array[] {
  const pairs = [
    "txtvers=1",
    `name=${ad.name}`,
    `v=${ad.version}`,
    `tls=${ad.tls ? 1 : 0}`,
    `pw=${ad.password ? 1 : 0}`,
    `up=${ad.uploads ? 1 : 0}`,
  ];
  if (ad.tls && ad.fingerprint !== undefined) {
    pairs.push(`fp=${ad.fingerprint.replaceAll(":", "").toLowerCase()}`);
  }
  if (ad.web !== undefined) pairs.push(`web=${ad.web}`);
  return pairs.map((p) => encoder.encode(p));
}

/**
 * Reads a found server from its TXT strings and SRV port, or nothing when
 * any field does not pass: a name that is not printable or over 63 bytes, a
 * port outside 1-65535, a flag other than 0 or 1, a TLS server without a
 * fingerprint of 64 hex digits. A web port that is not 1-65535 in decimal
 * digits is left out: the server is listed, without its page.
 *
 * @param instance the instance label
 * @param port the SRV record's port
 * @param strings the TXT record's strings
 * @param addresses its addresses
 * @returns the server, or undefined
 */
export function foundServer(
  instance: string,
  port: number,
  strings: Uint8Array[],
  addresses: string[],
): FoundServer | undefined {
  const txt = new Map<string, string>();
  for (const bytes of strings) {
    let text: string;
    try {
      text = strictDecoder.decode(bytes);
    } catch {
      return undefined;
    }
    const eq = text.indexOf("=");
    const key = (eq < 0 ? text : text.slice(0, eq)).toLowerCase();
    // RFC 6763 6.4: only the first of a repeated key counts.
    if (!txt.has(key)) txt.set(key, eq < 0 ? "" : text.slice(eq + 1));
  }
  const flag = (key: string) => txt.get(key) === "1" ? true : txt.get(key) === "0" ? false : null;
  const [name, version, tls, password, uploads] = [
    txt.get("name"),
    txt.get("v"),
    flag("tls"),
    flag("pw"),
    flag("up"),
  ];
  if (txt.get("txtvers") !== "1" || name === undefined || !validServerName(name)) return undefined;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  if (version === undefined || !/^[0-9A-Za-z.\-]{1,16}$/.test(version)) return undefined;
  if (tls === null || password === null || uploads === null) return undefined;
  if (!validServerName(instance)) return undefined;
  const found: FoundServer = { instance, name, port, version, tls, password, uploads, addresses };
  if (tls) {
    const fp = txt.get("fp");
    if (fp === undefined || !/^[0-9a-f]{64}$/.test(fp)) return undefined;
    found.fingerprint = fp.toUpperCase().match(/../g)!.join(":");
    found.code = shortCode(fp);
  }
  const web = txt.get("web");
  if (web !== undefined && /^[0-9]{1,5}$/.test(web) && Number(web) >= 1 && Number(web) <= 65535) {
    found.web = Number(web);
  }
  return found;
}
