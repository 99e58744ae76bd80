/**
 * TLS connections through node:tls, the only TLS in Deno that shows the
 * server's certificate: a look at the certificate on a connection closed
 * at once (nothing sent), and a connection whose certificate is decided on
 * before it is handed over. socket.ts decides when they are used.
 *
 * @module
 */

// Deferred: node:net costs a process a few tens of milliseconds to start (issue 16).
import defer * as nodeNet from "node:net";
import type { TLSSocket } from "node:tls";
import { ConnectError } from "./connect_error.ts";
import { derToPem, fingerprintOf, handshakeTimeout, TlsError } from "./tls.ts";

/**
 * The SHA-256 fingerprint of the certificate a TLS server shows, read on a
 * connection that is closed at once, with nothing sent: what a person is
 * asked to trust on first contact. A caller that trusts it connects again
 * pinned to it (see socket.ts `connect`), so that a different certificate on
 * the second connection is refused.
 *
 * @param host host name or address
 * @param port port
 * @param timeoutMs give up when no connection and handshake are made in this long
 * @param signal gives up when aborted
 * @returns the fingerprint (`AB:CD:...`)
 * @throws {ConnectError} when no connection is made
 * @throws {TlsError} when the server does not speak TLS or shows no certificate
 */
export async function peekFingerprint(
  host: string,
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string> {
  return (await peekCertificate(host, port, timeoutMs, signal)).fingerprint;
}

/**
 * The certificate a TLS server shows, read as {@link peekFingerprint}
 * reads it (a connection closed at once, nothing sent). A caller that
 * trusts it connects again pinned to its fingerprint, the certificate
 * given beside it so that it need not be read again.
 *
 * @param host host name or address
 * @param port port
 * @param timeoutMs give up when no connection and handshake are made in this long
 * @param signal gives up when aborted
 * @returns the fingerprint (`AB:CD:...`) and the certificate (PEM)
 * @throws {ConnectError} when no connection is made
 * @throws {TlsError} when the server does not speak TLS or shows no certificate
 */
export async function peekCertificate(
  host: string,
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ fingerprint: string; certificate: string }> {
  return await connectNode(host, port, timeoutMs, signal, (socket, where) => {
    const raw = socket.getPeerCertificate().raw;
    return raw
      ? { fingerprint: fingerprintOf(raw), certificate: derToPem(raw) }
      : new TlsError("untrusted", where, `The server at ${where} shows no certificate`);
  }, true);
}

/**
 * Connects over TLS with node:tls, which shows the server's certificate
 * (Deno's own TLS does not), and decides on this very connection, before a
 * byte is sent, what to make of it: a connection to hand over, what was
 * read from it (the connection then closed), or a refusal. Names and
 * issuers do not matter, as for an ssh host key.
 *
 * @param host host name or address
 * @param port port
 * @param timeoutMs give up when no connection and handshake are made in this long
 * @param signal gives up when aborted
 * @param decide what to make of the socket once its handshake is done
 * @param close close the connection once decided (a look at the certificate only)
 * @returns what `decide` made of it
 * @throws {ConnectError} when no connection is made
 * @throws {TlsError} the refusal `decide` made, or for a server that does not speak TLS
 */
export async function connectNode<T>(
  host: string,
  port: number,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  decide: (socket: TLSSocket, where: string) => T | TlsError,
  close = false,
): Promise<T> {
  // Loaded on first use: node:tls costs a plain run a tenth of a second.
  const { connect: nodeConnect } = await import("node:tls");
  signal?.throwIfAborted();
  const where = `${host}:${port}`;
  return await new Promise<T>((resolve, reject) => {
    let connected = false;
    let settled = false;
    const socket: TLSSocket = nodeConnect({
      host,
      port,
      ...(nodeNet.isIP(host) ? {} : { servername: host }),
      // The fingerprint is checked below, on this connection, before a byte is sent.
      rejectUnauthorized: false,
    });
    const finish = (error: unknown, result?: { value: T }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (close || !result) socket.destroy();
      if (result) return resolve(result.value);
      reject(error);
    };
    const timer = setTimeout(() => {
      finish(connected ? handshakeTimeout(where, timeoutMs) : new ConnectError(where, "no answer"));
    }, timeoutMs);
    const onAbort = () => finish(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => connected = true);
    // Not once: a later error must not go unheard (node would throw it).
    socket.on("error", (error: Error & { code?: string }) => {
      if (!connected) {
        const why = error.code === "ECONNREFUSED"
          ? "connection refused"
          : error.code === "ENOTFOUND"
          ? "no such host"
          : error.message;
        return finish(new ConnectError(where, why, { cause: error }));
      }
      finish(
        new TlsError("not-tls", where, `The server at ${where} does not speak TLS`, {
          cause: error,
        }),
      );
    });
    socket.once("secureConnect", () => {
      const decided = decide(socket, where);
      if (decided instanceof TlsError) finish(decided);
      else finish(undefined, { value: decided });
    });
  });
}
