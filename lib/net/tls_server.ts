/**
 * The server's TLS, on top of a plain TCP listener whose connections stay
 * ours to close. `Deno.listenTls` hands each connection to a handshake task
 * of its own (denoland/rustls-tokio-stream) that holds the socket until the
 * handshake ends: closing the connection before then waits for that task, so
 * a client that sends nothing, or half a ClientHello, keeps the descriptor
 * until it leaves (issue 20). Here TCP is accepted with `Deno.listen` and the
 * TLS runs in node:tls over the connection, which closing always releases,
 * whatever stage the handshake is in.
 *
 * @module
 */

// Deferred: node:stream costs a process about 10 ms to load, and only a TLS
// server needs it (a client that lists does not; issue 25).
import defer * as nodeStream from "node:stream";
import type { Duplex } from "node:stream";
// Deferred: node:tls costs a process a tenth of a second to start, which a plain server need not pay.
import defer * as nodeTls from "node:tls";
import type { SecureContext, TLSSocket } from "node:tls";
import type { TlsServerKeys } from "./tls.ts";
import { type Carrier, TlsSocketConn } from "./tls_socket.ts";

/** Bytes asked of the connection in one read. */
const READ_BYTES = 64 * 1024;

/**
 * How long a closed connection may take to send what was written to it, or
 * a TLS alert, before it is closed regardless.
 */
export const CLOSE_GRACE_MS = 2000;

/** A TLS record: fatal alert, handshake_failure. */
const HANDSHAKE_FAILURE = new Uint8Array([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);

/**
 * A listener whose connections speak TLS: accepted as TCP, the handshake
 * done as the first bytes are read. Accept errors (out of descriptors
 * included) come from the TCP listener unchanged.
 */
export class TlsListener implements Deno.Listener<Deno.Conn, Deno.NetAddr> {
  readonly #tcp: Deno.TcpListener;
  readonly #context: SecureContext;

  /**
   * Wraps a TCP listener.
   *
   * @param tcp the listener
   * @param context the certificate and key, from {@link tlsContext}
   */
  constructor(tcp: Deno.TcpListener, context: SecureContext) {
    this.#tcp = tcp;
    this.#context = context;
  }

  /** The address listened on. */
  get addr(): Deno.NetAddr {
    return this.#tcp.addr;
  }

  /**
   * Waits for the next connection; its handshake runs as it is read.
   *
   * @returns the connection
   */
  async accept(): Promise<Deno.Conn> {
    const tcp = await this.#tcp.accept();
    const socket: TLSSocket = new nodeTls.TLSSocket(streamOf(tcp), {
      isServer: true,
      secureContext: this.#context,
    });
    return new TlsSocketConn(socket, new TcpCarrier(tcp, socket));
  }

  /** Stops listening. */
  close(): void {
    this.#tcp.close();
  }

  /** Keeps the event loop alive while listening (the default). */
  ref(): void {
    this.#tcp.ref();
  }

  /** Lets the event loop end while listening. */
  unref(): void {
    this.#tcp.unref();
  }

  /** The connections, as they come. */
  async *[Symbol.asyncIterator](): AsyncIterableIterator<Deno.Conn> {
    while (true) {
      try {
        yield await this.accept();
      } catch (error) {
        if (error instanceof Deno.errors.BadResource) return;
        throw error;
      }
    }
  }

  /** Stops listening. */
  [Symbol.dispose](): void {
    try {
      this.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  }
}

/**
 * Checks a certificate and key, and makes the context that serves with them.
 *
 * @param keys certificate and key, PEM
 * @returns the context
 * @throws {Error} when the certificate or key cannot be used
 */
export function tlsContext(keys: TlsServerKeys): SecureContext {
  return nodeTls.createSecureContext({ cert: keys.cert, key: keys.key });
}

/**
 * The TCP connection under a server's TLS socket, and the only thing that
 * closes it: at once while the handshake is under way, after a TLS alert
 * when the client sent something that is not TLS (so that a plain client
 * can be told), and after the TLS close (what was written, then
 * close_notify) once the handshake is done; never later than
 * {@link CLOSE_GRACE_MS} after the server closed it.
 */
class TcpCarrier implements Carrier {
  readonly localAddr: Deno.NetAddr;
  readonly remoteAddr: Deno.NetAddr;
  readonly #tcp: Deno.Conn;
  readonly #socket: TLSSocket;
  #secure = false;
  #alerting = false;
  #released = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(tcp: Deno.Conn, socket: TLSSocket) {
    this.#tcp = tcp;
    this.#socket = socket;
    this.localAddr = tcp.localAddr as Deno.NetAddr;
    this.remoteAddr = tcp.remoteAddr as Deno.NetAddr;
    socket.once("secure", () => this.#secure = true);
    socket.on("error", () => {
      if (this.#secure || this.#alerting || this.#released) return;
      // node:tls closes without a word; Deno's own TLS (and a plain client's advice) expect an alert.
      this.#alerting = true;
      this.#within(CLOSE_GRACE_MS);
      writeAll(tcp, HANDSHAKE_FAILURE).catch(() => {}).finally(() => this.#release());
    });
    socket.once("close", () => {
      if (!this.#alerting) this.#release();
    });
  }

  close(): void {
    if (this.#secure && !this.#socket.destroyed) {
      this.#within(CLOSE_GRACE_MS);
      this.#socket.end();
      return;
    }
    this.#socket.destroy();
    if (!this.#alerting) this.#release();
  }

  ref(): void {
    this.#tcp.ref();
  }

  unref(): void {
    this.#tcp.unref();
  }

  /** Closes the connection after `ms` at the latest. */
  #within(ms: number): void {
    if (this.#timer !== undefined) return;
    const timer = setTimeout(() => {
      this.#socket.destroy();
      this.#release();
    }, ms);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    clearTimeout(this.#timer);
    try {
      this.#tcp.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  }
}

/**
 * A TCP connection as the node stream that node:tls reads and writes. It
 * never closes the connection: {@link TcpCarrier} does.
 */
function streamOf(conn: Deno.Conn): Duplex {
  let reading = false;
  const stream: Duplex = new nodeStream.Duplex({
    // The TLS layer, not TCP, says when each side is done.
    allowHalfOpen: true,
    read() {
      if (reading) return;
      reading = true;
      (async () => {
        try {
          while (true) {
            const buffer = new Uint8Array(READ_BYTES);
            const n = await conn.read(buffer);
            if (n === null) {
              stream.push(null);
              return;
            }
            if (!stream.push(buffer.subarray(0, n))) return;
          }
        } catch (error) {
          stream.destroy(error as Error);
        } finally {
          reading = false;
        }
      })();
    },
    write(chunk: Uint8Array, _encoding, callback) {
      writeAll(conn, chunk).then(() => callback(), callback);
    },
    final(callback) {
      conn.closeWrite().then(() => callback(), callback);
    },
  });
  return stream;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let sent = 0; sent < bytes.length;) sent += await conn.write(bytes.subarray(sent));
}
