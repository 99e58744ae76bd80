/**
 * Looking at a server without asking it anything: whether it answers on its
 * port, and which certificate a TLS server presents. Neither sends a
 * command; the second completes a TLS handshake and closes, so that a
 * person can compare the certificate's short code before anything is sent.
 *
 * @module
 */

import { connect } from "./socket.ts";
import { parseFingerprint, TlsError } from "./tls.ts";
import { TlsSocketConn } from "./tls_socket.ts";

/** A pin that no certificate has in practice: the handshake then stops with the fingerprint seen. */
const NO_CERTIFICATE = parseFingerprint("00".repeat(32))!;

/**
 * Whether a server accepts a TCP connection (closed at once, nothing sent).
 *
 * @param host host name or address
 * @param port port
 * @param timeoutMs how long to wait for the connection
 * @param signal gives up when aborted
 * @returns true when it connected
 */
export async function reachable(
  host: string,
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  try {
    (await connect(host, port, timeoutMs, signal)).close();
    return true;
  } catch (error) {
    if (signal?.aborted) throw error;
    return false;
  }
}

/**
 * The SHA-256 fingerprint of the certificate a TLS server presents, read on
 * a handshake that is closed before a byte of the protocol is sent.
 *
 * @param host host name or address
 * @param port port
 * @param timeoutMs how long to wait for the connection and the handshake
 * @param signal gives up when aborted
 * @returns the fingerprint (`AB:CD:...`)
 * @throws {ConnectError} when no connection is made
 * @throws {TlsError} when the server does not speak TLS or shows no certificate
 */
export async function presentedFingerprint(
  host: string,
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string> {
  let conn: Deno.Conn;
  try {
    conn = await connect(host, port, timeoutMs, signal, { fingerprint: NO_CERTIFICATE });
  } catch (error) {
    if (error instanceof TlsError && error.code === "fingerprint" && error.fingerprint) {
      if (error.fingerprint !== "none") return error.fingerprint;
      throw new TlsError(
        "untrusted",
        error.where,
        `The server at ${error.where} shows no certificate`,
      );
    }
    throw error;
  }
  conn.close();
  if (conn instanceof TlsSocketConn) return conn.fingerprint;
  throw new TypeError("A pinned connection is a TLS socket");
}
