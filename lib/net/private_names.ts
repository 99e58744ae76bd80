/**
 * Names that no public certificate authority may certify, and whether
 * Deno's roots are only the public ones: what lets a pinned certificate be
 * checked by Deno's own TLS. Given the pinned certificate as its only
 * private root, and one of the certificate's own names that public
 * authorities may not issue for (the CA/Browser Forum's baseline
 * requirements forbid loopback, private and link-local addresses and
 * internal names), Deno's TLS accepts only a server that holds the pinned
 * certificate's key: no public root can vouch for such a name.
 *
 * @module
 */

/**
 * The variables by which Deno's TLS may have been given roots beside the
 * public ones. A program that may read them (the GUI tasks and the compiled
 * programs are let read exactly these) checks a pin with Deno's own TLS.
 */
export const ROOT_VARIABLES = ["DENO_CERT", "NODE_EXTRA_CA_CERTS", "DENO_TLS_CA_STORE"] as const;

/**
 * Whether the environment may have added roots to Deno's TLS beyond the
 * public (Mozilla) ones: `DENO_CERT` or `NODE_EXTRA_CA_CERTS` set (Deno
 * honours both), or `DENO_TLS_CA_STORE` naming a store other than
 * `mozilla`. A variable that may not be read (no `--allow-env` for it)
 * might be set: it counts as widening, and is not asked for (no prompt).
 * Deno's `--cert` flag cannot be seen from inside the program.
 *
 * @returns true when some root besides the public ones may be trusted
 */
export function rootsWidened(): boolean {
  return ROOT_VARIABLES.some((variable) => {
    if (Deno.permissions.querySync({ name: "env", variable }).state !== "granted") return true;
    const value = Deno.env.get(variable)?.trim();
    if (!value) return false;
    if (variable !== "DENO_TLS_CA_STORE") return true;
    return value.split(",").some((store) => store.trim() !== "" && store.trim() !== "mozilla");
  });
}

/**
 * The name to check a pinned certificate against with Deno's own TLS: one
 * of the certificate's subject alternative names that no public authority
 * may certify. Loopback addresses come first (127.0.0.1, then ::1), then
 * `localhost`, then the others in the certificate's order: private and
 * link-local addresses (10/8, 172.16/12, 192.168/16, 169.254/16,
 * 100.64/10, fc00::/7, fe80::/10) and internal names (`*.localhost`,
 * `*.local`, `*.internal`, a name without a dot). Wildcards are passed over.
 *
 * @param der the certificate, DER bytes
 * @returns the name (an address as text), or undefined when none qualifies or the
 *   certificate cannot be read
 */
export function privateName(der: Uint8Array): string | undefined {
  const names = subjectAltNames(der);
  if (names === undefined) return undefined;
  const rank = (name: string) =>
    name === "127.0.0.1"
      ? 0
      : name === "0:0:0:0:0:0:0:1"
      ? 1
      : isLoopbackV4(name)
      ? 2
      : name === "localhost"
      ? 3
      : 4;
  const qualifying = names.filter(isPrivateName);
  qualifying.sort((a, b) => rank(a) - rank(b));
  return qualifying[0];
}

/**
 * Whether a name (as {@link subjectAltNames} gives it) is one no public
 * authority may certify.
 *
 * @param name a DNS name in lower case, or an address as text
 * @returns true for the names {@link privateName} may choose
 */
export function isPrivateName(name: string): boolean {
  const v4 = ipv4(name);
  if (v4 !== undefined) {
    const [a, b] = v4;
    return a === 127 || a === 10 || (a === 172 && b! >= 16 && b! <= 31) ||
      (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b! >= 64 && b! <= 127);
  }
  if (name.includes(":")) {
    const first = parseInt(name.split(":")[0]!, 16);
    return name === "0:0:0:0:0:0:0:1" || (first & 0xfe00) === 0xfc00 ||
      (first & 0xffc0) === 0xfe80;
  }
  if (
    !/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/.test(name)
  ) {
    return false;
  }
  if (name.length > 253 || /^[0-9.]+$/.test(name)) return false;
  return !name.includes(".") || name === "localhost" ||
    /\.(?:localhost|local|internal)$/.test(name);
}

function ipv4(name: string): number[] | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(name);
  if (!match) return undefined;
  const parts = match.slice(1).map(Number);
  return parts.every((part) => part <= 255) ? parts : undefined;
}

function isLoopbackV4(name: string): boolean {
  return ipv4(name)?.[0] === 127;
}

/** The OID of subjectAltName, 2.5.29.17: the contents of its DER. */
const SAN_OID = [0x55, 0x1d, 0x11];

/**
 * The DNS names and IP addresses in a certificate's subjectAltName
 * extension: DNS names in lower case, IPv4 addresses dotted, IPv6 addresses
 * as eight hex groups without compression (`0:0:0:0:0:0:0:1`). Other kinds
 * of names are left out.
 *
 * @param der the certificate, DER bytes
 * @returns the names in the certificate's order (empty without the extension), or
 *   undefined when the DER cannot be read
 */
export function subjectAltNames(der: Uint8Array): string[] | undefined {
  const certificate = readTlv(der, 0);
  if (certificate?.tag !== 0x30 || certificate.end !== der.length) return undefined;
  const tbs = readTlv(der, certificate.start);
  if (tbs?.tag !== 0x30) return undefined;
  const fields = children(der, tbs.start, tbs.end);
  if (fields === undefined) return undefined;
  const extensions = fields.find((field) => field.tag === 0xa3);
  if (extensions === undefined) return [];
  const list = readTlv(der, extensions.start);
  if (list?.tag !== 0x30 || list.end !== extensions.end) return undefined;
  const entries = children(der, list.start, list.end);
  if (entries === undefined) return undefined;
  for (const entry of entries) {
    if (entry.tag !== 0x30) return undefined;
    const parts = children(der, entry.start, entry.end);
    const oid = parts?.[0];
    const value = parts?.at(-1);
    if (oid === undefined || value === undefined || value.tag !== 0x04) return undefined;
    const isSan = oid.tag === 0x06 && oid.end - oid.start === SAN_OID.length &&
      SAN_OID.every((byte, i) => der[oid.start + i] === byte);
    if (isSan) return generalNames(der, value.start, value.end);
  }
  return [];
}

/** The DNS names and addresses of a GeneralNames sequence. */
function generalNames(der: Uint8Array, start: number, end: number): string[] | undefined {
  const sequence = readTlv(der, start);
  if (sequence?.tag !== 0x30 || sequence.end !== end) return undefined;
  const names = children(der, sequence.start, sequence.end);
  if (names === undefined) return undefined;
  const found: string[] = [];
  for (const name of names) {
    const bytes = der.subarray(name.start, name.end);
    if (name.tag === 0x82) {
      // dNSName, IA5String: ASCII only.
      if (bytes.some((byte) => byte < 0x21 || byte > 0x7e)) continue;
      found.push(String.fromCharCode(...bytes).toLowerCase());
    } else if (name.tag === 0x87 && bytes.length === 4) {
      found.push(Array.from(bytes).join("."));
    } else if (name.tag === 0x87 && bytes.length === 16) {
      const groups = [];
      for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
      found.push(groups.join(":"));
    }
  }
  return found;
}

/** One DER element: its tag, where its contents start, and where it ends. */
interface Tlv {
  tag: number;
  /** Where its contents start. */
  start: number;
  /** Where it ends (exclusive). */
  end: number;
}

/** Reads the element at `offset`, or undefined when it runs past the bytes or is not DER. */
function readTlv(der: Uint8Array, offset: number, limit = der.length): Tlv | undefined {
  if (offset + 2 > limit) return undefined;
  const tag = der[offset]!;
  // High tag numbers do not occur in the parts read here.
  if ((tag & 0x1f) === 0x1f) return undefined;
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 3 || start + count > limit) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[start + i]!;
    start += count;
  }
  const end = start + length;
  if (end > limit) return undefined;
  return { tag, start, end };
}

/** The elements that fill `start` to `end` exactly, or undefined when they do not. */
function children(der: Uint8Array, start: number, end: number): Tlv[] | undefined {
  const found: Tlv[] = [];
  let offset = start;
  while (offset < end) {
    const element = readTlv(der, offset, end);
    if (element === undefined) return undefined;
    found.push(element);
    offset = element.end;
  }
  return found;
}
