/**
 * Opening connections: the only place that listens or connects, plain or
 * TLS. Errors come back as {@link ListenError}, {@link ConnectError} and
 * {@link TlsError}, each with a code and one sentence for a person.
 *
 * @module
 */

// Deferred: node:net costs a process a few tens of milliseconds to start (issue 16).
import defer * as nodeNet from "node:net";
import type { SecureContext, TLSSocket } from "node:tls";
import {
  fingerprintOf,
  handshakeError,
  TlsError,
  type TlsServerKeys,
  type TlsTrust,
} from "./tls.ts";
import { checkPinned, checkShortCode, TlsSocketConn } from "./tls_socket.ts";
import { tlsContext, TlsListener } from "./tls_server.ts";

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

/** A server that could not be reached. */
export class ConnectError extends Error {
  /** `host:port` as asked. */
  readonly where: string;
  /** A short phrase: `connection refused`, `no answer`, or the system's words. */
  readonly why: string;

  /**
   * Creates a ConnectError.
   *
   * @param where `host:port`
   * @param why a short phrase
   * @param options the system's error
   */
  constructor(where: string, why: string, options?: ErrorOptions) {
    super(`Cannot connect to ${where} (${why})`, options);
    this.name = "ConnectError";
    this.where = where;
    this.why = why;
  }
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
  if (tls?.fingerprint !== undefined) {
    // Only node:tls shows the certificate, and a pin is that certificate, whatever roots the
    // system or the environment (DENO_CERT, --cert, a system store) add: never a name check.
    const pinned = tls.fingerprint;
    return await connectNode(host, port, timeoutMs, signal, (socket, where) => {
      const refusal = checkPinned(socket, where, pinned);
      return refusal ?? new TlsSocketConn(socket);
    });
  }
  if (tls?.code !== undefined) {
    // The code is compared on this very connection, so the certificate used is the one compared.
    const code = tls.code;
    return await connectNode(host, port, timeoutMs, signal, (socket, where) => {
      const refusal = checkShortCode(socket, where, code);
      return refusal ?? new TlsSocketConn(socket);
    });
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

/**
 * Starts TLS on a TCP connection, with Deno's own TLS: the certificate must
 * chain to `ca` (or a public root) and be made out to the host. The handshake completes, or fails, before the
 * connection is handed over.
 */
async function startTls(
  tcp: Deno.Conn,
  host: string,
  port: number,
  timeoutMs: number,
  trust: TlsTrust,
  signal?: AbortSignal,
): Promise<Deno.Conn> {
  const where = `${host}:${port}`;
  const conn = await Deno.startTls(tcp as Deno.TcpConn, {
    hostname: host,
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
    throw handshakeError(error, where, host, trust);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", stop);
  }
}

// A stalled handshake says nothing of whether the server speaks TLS: it is not "not-tls", whose
// advice (drop --tls, forget a remembered server) a peer that stalls must not be able to prompt.
function handshakeTimeout(where: string, timeoutMs: number): TlsError {
  return new TlsError(
    "handshake",
    where,
    `The server at ${where} did not complete a TLS handshake in ${timeoutMs / 1000} s`,
  );
}

/**
 * The SHA-256 fingerprint of the certificate a TLS server shows, read on a
 * connection that is closed at once, with nothing sent: what a person is
 * asked to trust on first contact. A caller that trusts it connects again
 * pinned to it (see {@link connect}), so that a different certificate on
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
  return await connectNode(host, port, timeoutMs, signal, (socket, where) => {
    const raw = socket.getPeerCertificate().raw;
    return raw
      ? fingerprintOf(raw)
      : new TlsError("untrusted", where, `The server at ${where} shows no certificate`);
  }, true);
}

/**
 * Connects over TLS with node:tls, which shows the server's certificate
 * (Deno's own TLS does not), and decides on this very connection, before a
 * byte is sent, what to make of it: a connection to hand over, or a
 * refusal. Names and issuers do not matter, as for an ssh host key.
 */
async function connectNode<T>(
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
