/**
 * TLS for the network layer: certificates as PEM text, SHA-256
 * fingerprints as `openssl x509 -fingerprint -sha256` prints them, how a TLS
 * record looks on the wire, and the errors of a server that could not be
 * trusted. The connections themselves are opened in socket.ts.
 *
 * @module
 */

// Deferred: node:crypto costs a process a few tens of milliseconds to start, which a
// list, and a client's start-up, need not pay (issue 16).
import defer * as nodeCrypto from "node:crypto";

/** A certificate and its private key, as PEM text, for a TLS server. */
export interface TlsServerKeys {
  /** The certificate (chain), PEM. */
  cert: string;
  /** The private key, PEM. */
  key: string;
}

/**
 * What a TLS client trusts. With neither field, only certificates that the
 * system's public roots vouch for, and that hold the name connected to.
 */
export interface TlsTrust {
  /**
   * A certificate (PEM) to trust as a root, beside the public ones: the
   * server's own `cert.pem`, or its CA's. The certificate must also be made
   * out to the name connected to.
   */
  ca?: string;
  /**
   * The SHA-256 fingerprint of the server's certificate: trusted whatever
   * its issuer and names, as ssh trusts a known host key.
   */
  fingerprint?: string;
  /**
   * The certificate with that fingerprint (PEM), when known (a remembered
   * server's): it spares reading the certificate from the server before
   * connecting. Ignored when its fingerprint is not `fingerprint`.
   */
  certificate?: string;
  /**
   * The short code of the server's certificate (`K7QF-3M2D`, see
   * short_code.ts), as its owner reads it out: trusted whatever its issuer
   * and names when the certificate shown on this very connection has it. A
   * caller pins that certificate's full fingerprint from then on.
   */
  code?: string;
}

/** Why a TLS connection was refused or failed. */
export type TlsFailure =
  | "untrusted"
  | "name"
  | "expired"
  | "fingerprint"
  | "short-code"
  | "not-tls"
  | "handshake";

/** A server whose certificate was refused, or that does not speak TLS. */
export class TlsError extends Error {
  /** What failed. */
  readonly code: TlsFailure;
  /** `host:port` as asked. */
  readonly where: string;
  /** The fingerprint of the certificate the server showed, when it showed one. */
  readonly fingerprint?: string;

  /**
   * Creates a TlsError.
   *
   * @param code what failed
   * @param where `host:port`
   * @param message one sentence: what was wrong
   * @param details the server's fingerprint and the cause, where known
   */
  constructor(
    code: TlsFailure,
    where: string,
    message: string,
    details: { fingerprint?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "TlsError";
    this.code = code;
    this.where = where;
    if (details.fingerprint !== undefined) this.fingerprint = details.fingerprint;
  }
}

/**
 * Reads a SHA-256 fingerprint as people copy it: 64 hex digits, in pairs
 * with colons or without, any case, optionally after `sha256 Fingerprint=`
 * or `SHA256:` as openssl and others print it.
 *
 * @param text the fingerprint as given
 * @returns it in the one form privateshare prints (`AB:CD:...`), or undefined when it is not one
 * @example
 * ```ts
 * parseFingerprint("ab".repeat(32)); // "AB:AB:...:AB"
 * ```
 */
export function parseFingerprint(text: string): string | undefined {
  const hex = text.trim().replace(/^(sha-?256\s*(fingerprint)?\s*[=:]?)/i, "").replace(
    /[:\s]/g,
    "",
  );
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return undefined;
  return formatFingerprint(hex);
}

/**
 * Formats hex digits as a fingerprint: uppercase pairs joined by colons.
 *
 * @param hex 64 hex digits
 * @returns `AB:CD:...`
 */
function formatFingerprint(hex: string): string {
  return hex.toUpperCase().match(/../g)!.join(":");
}

/**
 * The SHA-256 fingerprint of a certificate.
 *
 * @param der the certificate, DER bytes
 * @returns `AB:CD:...`, as `openssl x509 -noout -fingerprint -sha256` prints it
 */
export function fingerprintOf(der: Uint8Array): string {
  return formatFingerprint(nodeCrypto.createHash("sha256").update(der).digest("hex"));
}

/**
 * The certificates of a PEM text, as DER bytes, in order.
 *
 * @param pem PEM text
 * @returns one DER array per `CERTIFICATE` block; empty when there is none
 */
export function pemCertificates(pem: string): Uint8Array<ArrayBuffer>[] {
  const blocks = pem.matchAll(
    /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g,
  );
  const ders: Uint8Array<ArrayBuffer>[] = [];
  for (const block of blocks) {
    ders.push(Uint8Array.from(atob(block[1]!.replace(/\s/g, "")), (c) => c.charCodeAt(0)));
  }
  return ders;
}

/**
 * PEM text for a certificate.
 *
 * @param der the certificate, DER bytes
 * @returns PEM
 */
export function derToPem(der: Uint8Array): string {
  const base64 = btoa(String.fromCharCode(...der));
  return `-----BEGIN CERTIFICATE-----\n${base64.match(/.{1,64}/g)!.join("\n")}\n` +
    "-----END CERTIFICATE-----\n";
}

/**
 * Whether PEM text holds a private key.
 *
 * @param pem PEM text
 */
export function hasPrivateKey(pem: string): boolean {
  return /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/.test(pem);
}

/**
 * Whether bytes start like a TLS record (a handshake or an alert, TLS 1.0
 * to 1.3): what a plain client reads from a TLS server, and what a plain
 * server reads from a TLS client.
 *
 * @param bytes the first bytes received
 */
export function looksLikeTls(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0]! >= 0x14 && bytes[0]! <= 0x17 && bytes[1] === 0x03 &&
    bytes[2]! <= 0x04;
}

/**
 * What a failed TLS handshake (Deno's own TLS) means: a certificate refused,
 * and why, or a server that does not speak TLS. Other errors pass unchanged.
 *
 * @param error what the handshake threw
 * @param where `host:port`
 * @param host the name connected to
 * @param trust what was trusted
 * @returns the error to throw
 */
export function handshakeError(
  error: unknown,
  where: string,
  host: string,
  trust: TlsTrust,
): unknown {
  if (!(error instanceof Error)) return error;
  const cause = { cause: error };
  const refused = /invalid peer certificate: (.*)$/.exec(error.message)?.[1];
  if (error instanceof Deno.errors.InvalidData && refused !== undefined) {
    if (/not valid for name|NotValidForName/i.test(refused)) {
      return new TlsError(
        "name",
        where,
        `The certificate of ${where} is not made out to '${host}'`,
        cause,
      );
    }
    if (/Expired|NotValidYet/i.test(refused)) {
      return new TlsError(
        "expired",
        where,
        `The certificate of ${where} has expired or is not valid yet`,
        cause,
      );
    }
    const why = /CaUsedAsEndEntity/.test(refused)
      ? "it is a CA's certificate, which a server may not use as its own (it needs CA:FALSE)"
      : trust.ca !== undefined
      ? "it is not the certificate given, nor signed by it"
      : "its issuer is not a public authority trusted here (it may be one the server made itself)";
    return new TlsError(
      "untrusted",
      where,
      `The certificate of ${where} is not trusted: ${why}`,
      cause,
    );
  }
  if (
    error instanceof Deno.errors.UnexpectedEof || error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.InvalidData
  ) {
    return new TlsError("not-tls", where, `The server at ${where} does not speak TLS`, cause);
  }
  return error;
}

/**
 * The error of a TLS handshake that did not complete in time. A stalled
 * handshake says nothing of whether the server speaks TLS: it is not
 * `not-tls`, whose advice (drop --tls, forget a remembered server) a peer
 * that stalls must not be able to prompt.
 *
 * @param where `host:port`
 * @param timeoutMs the time it had
 * @returns the error
 */
export function handshakeTimeout(where: string, timeoutMs: number): TlsError {
  return new TlsError(
    "handshake",
    where,
    `The server at ${where} did not complete a TLS handshake in ${timeoutMs / 1000} s`,
  );
}
