/**
 * Looking at a server without asking it anything: whether it answers on its
 * port (the certificate a TLS server shows is read by socket.ts's
 * `peekFingerprint`, which sends nothing either).
 *
 * @module
 */

import { connect } from "./socket.ts";

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
