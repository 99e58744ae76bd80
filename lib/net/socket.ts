/**
 * Opening connections: the only place that listens or connects, plain or
 * TLS (node_tls_connect.ts is its node:tls half). A connection pinned to a
 * certificate is Deno's own TLS where that is as strict as the pin (see
 * private_names.ts), node:tls otherwise. Errors come back as {@link ListenError}, {@link ConnectError} and
 * {@link TlsError}, each with a code and one sentence for a person.
 *
 * @module
 */

import type { SecureContext, TLSSocket } from "node:tls";
import { ConnectError } from "./connect_error.ts";
import { connectNode } from "./node_tls_connect.ts";
import {
  derToPem,
  fingerprintOf,
  handshakeError,
  handshakeTimeout,
  parseFingerprint,
  pemCertificates,
  TlsError,
  type TlsServerKeys,
  type TlsTrust,
} from "./tls.ts";
import { privateName, rootsWidened } from "./private_names.ts";
import { checkPinned, checkShortCode, TlsSocketConn } from "./tls_socket.ts";
import { tlsContext, TlsListener } from "./tls_server.ts";

export { ConnectError } from "./connect_error.ts";
export { peekCertificate, peekFingerprint } from "./node_tls_connect.ts";

/** Why a server could not listen. */
export type ListenFailure = "in-use" | "privileged" | "address" | "tls";

/** A port or address that cannot be listened on. */
export class ListenError extends Error {
  /** What kind of failure. */
  readonly code: ListenFailure;

  /**
   * Creates a ListenError.
   *
   * @param code what kind of failure
   * @param message one sentence: what was wrong and what to do
   * @param options the system's error
   */
  constructor(code: ListenFailure, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ListenError";
    this.code = code;
  }
}

/**
 * Listens for TCP connections. Without a host it listens on every
 * interface, IPv6 and IPv4 (`::` takes both on a dual-stack system), and
 * falls back to IPv4 alone where IPv6 is off.
 *
 * @param port the port; 0 picks a free one
 * @param host the address to listen on, or undefined for all
 * @param tls a certificate and key to speak TLS with, or undefined for plain TCP
 * @returns the listener
 * @throws {ListenError} for a port in use, a privileged port, an address not of this
 *   computer, or a certificate and key that cannot be used
 */
export function listen(port: number, host: string | undefined, tls?: TlsServerKeys): Deno.Listener {
  let context: SecureContext | undefined;
  try {
    if (tls) context = tlsContext(tls);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new ListenError("tls", `The TLS certificate and key cannot be used (${why})`, {
      cause: error,
    });
  }
  // Not Deno.listenTls: its connections cannot be closed before their handshake ends.
  const open = (hostname: string) => {
    const tcp = Deno.listen({ hostname, port });
    return context ? new TlsListener(tcp, context) : tcp;
  };
  try {
    if (host !== undefined) return open(host);
    try {
      return open("::");
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) throw error;
      return open("0.0.0.0");
    }
  } catch (error) {
    throw listenError(error, port, host);
  }
}

/**
 * Words a failed listen for a person.
 *
 * @param error what the system said
 * @param port the port asked for
 * @param host the address asked for, if one
 * @returns a {@link ListenError} for a port in use, a privileged port or an address not of
 *   this computer; the error itself otherwise
 */
export function listenError(error: unknown, port: number, host?: string): unknown {
  if (error instanceof Deno.errors.AddrInUse) {
    return new ListenError(
      "in-use",
      `Port ${port} is already in use: choose another port or stop the program using it`,
      { cause: error },
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new ListenError(
      "privileged",
      `Port ${port} needs administrator rights here: choose a port above 1023`,
      { cause: error },
    );
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return new ListenError("address", `Address '${host}' is not one of this computer's`, {
      cause: error,
    });
  }
  return error;
}

/**
 * Connects to a server over TCP, or over TLS when `tls` says whom to trust.
 * A TLS connection is returned only once the server's certificate has
 * passed: nothing is sent to a server that failed.
 *
 * @param host host name or address
 * @param port port
 * @param timeoutMs give up when no connection (and handshake) is made in this long
 * @param signal gives up when aborted
 * @param tls whom to trust, for TLS; undefined for plain TCP
 * @returns the connection
 * @throws {ConnectError} when no connection is made
 * @throws {TlsError} when the server's certificate is refused or it does not speak TLS
 */
export async function connect(
  host: string,
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
  tls?: TlsTrust,
): Promise<Deno.Conn> {
  if (tls?.fingerprint !== undefined || tls?.code !== undefined) {
    return await connectPinned(host, port, timeoutMs, signal, tls);
  }
  if (tls) {
    return await startTls(
      await connect(host, port, timeoutMs, signal),
      host,
      port,
      timeoutMs,
      tls,
      signal,
    );
  }
  // A timer of our own, cleared once connected, rather than AbortSignal.timeout,
  // whose timer would outlive every request of a long-running caller.
  const abort = new AbortController();
  const timer = setTimeout(
    () => abort.abort(new DOMException("No answer", "TimeoutError")),
    timeoutMs,
  );
  const onAbort = () => abort.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const where = `${host}:${port}`;
  try {
    return await Deno.connect({ hostname: host, port, signal: abort.signal });
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    const why = error instanceof Deno.errors.ConnectionRefused
      ? "connection refused"
      : error instanceof DOMException && error.name === "TimeoutError"
      ? "no answer"
      : error instanceof Error
      ? error.message.replace(/\s*\(os error \d+\)$/, "")
      : String(error);
    throw new ConnectError(where, why, { cause: error });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

/** The certificate a pinned connection was checked against, and which TLS checked it. */
export interface PinnedCertificate {
  /** Its SHA-256 fingerprint. */
  fingerprint: string;
  /** The certificate, DER. */
  certificate: Uint8Array;
  /**
   * `deno`: Deno's own TLS, with the certificate as its only private root and
   * one of its private names (see private_names.ts); `node`: node:tls, the
   * certificate shown compared on the connection itself.
   */
  checkedBy: "deno" | "node";
}

/** The pinned connections made with Deno's own TLS, and their certificates. */
const pinnedByDeno = new WeakMap<Deno.Conn, PinnedCertificate>();

/**
 * The certificate a connection that {@link connect} opened was pinned to
 * (by fingerprint or short code), and which TLS checked it.
 *
 * @param conn the connection
 * @returns the certificate, or undefined for a connection not pinned
 */
export function pinnedCertificate(conn: Deno.Conn): PinnedCertificate | undefined {
  if (conn instanceof TlsSocketConn) {
    return conn.certificate
      ? { fingerprint: conn.fingerprint, certificate: conn.certificate, checkedBy: "node" }
      : undefined;
  }
  return pinnedByDeno.get(conn);
}

/**
 * A connection pinned to a certificate, by fingerprint or short code. The
 * certificate is known (remembered, and its fingerprint is the pin) or read
 * on a first connection closed at once, nothing sent, and refused there as
 * before when it is not the pinned one. Then, where the environment adds no
 * root to Deno's TLS and the certificate holds a name no public authority
 * may certify, the connection is Deno's own TLS with that certificate as its
 * only private root, checked against that name: only the holder of the
 * certificate's key passes, at the speed of Deno's TLS. Otherwise, or when
 * Deno's TLS refuses the certificate (expired, say: the pin already
 * passed), node:tls, the certificate compared on the connection itself.
 */
async function connectPinned(
  host: string,
  port: number,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  trust: TlsTrust,
): Promise<Deno.Conn> {
  const check = (socket: TLSSocket, where: string) =>
    trust.fingerprint !== undefined
      ? checkPinned(socket, where, trust.fingerprint)
      : checkShortCode(socket, where, trust.code ?? "");
  // Node's TLS compares the certificate shown on the connection used.
  const throughNode = () =>
    connectNode(host, port, timeoutMs, signal, (socket, where) => {
      const refusal = check(socket, where);
      return refusal ?? new TlsSocketConn(socket);
    });
  // A root the environment adds could vouch for any name: only the certificate itself then.
  if (rootsWidened()) return await throughNode();
  const der = rememberedCertificate(trust) ??
    await connectNode(host, port, timeoutMs, signal, (socket, where) => {
      const refusal = check(socket, where);
      return refusal ?? new Uint8Array(socket.getPeerCertificate().raw);
    }, true);
  const name = privateName(der);
  if (name === undefined) return await throughNode();
  const tcp = await connect(host, port, timeoutMs, signal);
  let conn: Deno.TlsConn;
  try {
    conn = await startTls(tcp, host, port, timeoutMs, { ca: derToPem(der) }, signal, name);
  } catch (error) {
    // A stalled handshake is reported as one; any other refusal by Deno's TLS is decided again,
    // as before, by node's, on a connection of its own: a peer gains nothing by causing it.
    if (!(error instanceof TlsError) || error.code === "handshake") throw error;
    return await throughNode();
  }
  pinnedByDeno.set(conn, { fingerprint: fingerprintOf(der), certificate: der, checkedBy: "deno" });
  return conn;
}

/** The certificate given with a pinned fingerprint, when it is the one pinned. */
function rememberedCertificate(trust: TlsTrust): Uint8Array | undefined {
  if (trust.fingerprint === undefined || trust.certificate === undefined) return undefined;
  const der = pemCertificates(trust.certificate)[0];
  const pinned = parseFingerprint(trust.fingerprint);
  return der !== undefined && pinned !== undefined && fingerprintOf(der) === pinned
    ? der
    : undefined;
}

/**
 * Starts TLS on a TCP connection, with Deno's own TLS: the certificate must
 * chain to `ca` (or a public root) and be made out to `name` (the host
 * connected to, unless told otherwise). The handshake completes, or fails,
 * before the connection is handed over.
 */
async function startTls(
  tcp: Deno.Conn,
  host: string,
  port: number,
  timeoutMs: number,
  trust: TlsTrust,
  signal?: AbortSignal,
  name = host,
): Promise<Deno.TlsConn> {
  const where = `${host}:${port}`;
  // Without, a small request whose TLS records leave in two writes waits for the server's
  // delayed acknowledgement: a list over TLS took 40 ms longer (issue 25).
  (tcp as Deno.TcpConn).setNoDelay(true);
  const conn = await Deno.startTls(tcp as Deno.TcpConn, {
    hostname: name,
    ...(trust.ca !== undefined ? { caCerts: [trust.ca] } : {}),
  });
  let timedOut = false;
  const stop = () => {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, timeoutMs);
  signal?.addEventListener("abort", stop, { once: true });
  try {
    await conn.handshake();
    return conn;
  } catch (error) {
    stop();
    if (signal?.aborted) throw signal.reason;
    if (timedOut) throw handshakeTimeout(where, timeoutMs);
    throw handshakeError(error, where, name, trust);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", stop);
  }
}
