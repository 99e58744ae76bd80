/**
 * The client page's ways to trust a server without pasting a fingerprint:
 * the question "Does the server show K7QF-3M2D?" when a server's certificate
 * is not trusted (the code of the certificate that server presents, read on
 * a handshake that sends nothing), and a pasted `privateshare://` link read
 * into the page's fields.
 *
 * @module
 */

import {
  ClientError,
  LinkError,
  parseLink,
  peekFingerprint,
  printable,
  shortCode,
  TlsError,
} from "../mod.ts";

/** What the page asks a person to compare, and the fingerprint Trust pins. */
export interface TrustQuestion {
  /** The short code of the certificate the server presented. */
  code: string;
  /** That certificate's full SHA-256 fingerprint. */
  fingerprint: string;
}

/** How long the look at the server's certificate may take. */
const LOOK_MS = 10_000;

/**
 * The question to ask when a failure is a certificate that is not trusted
 * (no fingerprint was given and none is remembered): the code of the
 * certificate the server presents now.
 *
 * @param error the failure of a request
 * @param server the server it went to
 * @returns `trust`, the question, for the page's answer; nothing when the failure is another
 *   one or the server shows no certificate now
 */
export async function trustQuestion(
  error: unknown,
  server: { host: string; port: number },
): Promise<{ trust?: TrustQuestion }> {
  if (!(error instanceof ClientError) || (error.code !== "untrusted" && error.code !== "name")) {
    return {};
  }
  try {
    const fingerprint = await peekFingerprint(server.host, server.port, LOOK_MS);
    return { trust: { code: shortCode(fingerprint), fingerprint } };
  } catch (error) {
    // Gone, or no longer TLS, since the first try: the page shows the failure's own words.
    if (error instanceof TlsError || (error as Error)?.name === "ConnectError") return {};
    throw error;
  }
}

/**
 * A pasted link as the page's fields: where to connect, and for a TLS
 * server the fingerprint to pin.
 *
 * @param text the link field
 * @returns the host, port and fingerprint, or the link's error in words
 */
export function linkFields(
  text: unknown,
): { host: string; port: number; fingerprint?: string } | { error: string } {
  if (typeof text !== "string" || text.trim() === "") {
    return { error: "Paste the link the server's page shows (privateshare://…)" };
  }
  try {
    return parseLink(text);
  } catch (error) {
    if (error instanceof LinkError) return { error: printable(error.message) };
    throw error;
  }
}
