/**
 * A `node:tls` socket shaped as the `Deno.Conn` that {@link Wire} reads and
 * writes, and the check of a pinned fingerprint on it. Deno's own TLS does
 * not show the server's certificate; node's does, so a fingerprint seen for
 * the first time is checked on a node socket, on the very connection used.
 *
 * @module
 */

import type { TLSSocket } from "node:tls";
import { fingerprintOf, parseFingerprint, TlsError } from "./tls.ts";
import { parseShortCode, shortCode } from "./short_code.ts";

/**
 * Checks the server of a TLS socket whose handshake has just completed,
 * before anything is sent: its certificate must have the pinned fingerprint.
 *
 * @param socket the socket, handshake done
 * @param where `host:port`, for messages
 * @param fingerprint the pinned fingerprint
 * @returns the refusal, or undefined when the server passed
 */
export function checkPinned(
  socket: TLSSocket,
  where: string,
  fingerprint: string,
): TlsError | undefined {
  const raw = socket.getPeerCertificate().raw;
  const shown = raw ? fingerprintOf(raw) : "none";
  const pinned = parseFingerprint(fingerprint);
  if (pinned !== undefined && shown === pinned) return undefined;
  return new TlsError(
    "fingerprint",
    where,
    `The certificate of ${where} has SHA-256 fingerprint ${shown}, not the expected ` +
      (pinned ?? `'${fingerprint}'`),
    { fingerprint: shown },
  );
}

/**
 * Checks the server of a TLS socket whose handshake has just completed,
 * before anything is sent: its certificate's short code must be the one
 * given.
 *
 * @param socket the socket, handshake done
 * @param where `host:port`, for messages
 * @param code the short code given
 * @returns the refusal, or undefined when the server passed
 */
export function checkShortCode(
  socket: TLSSocket,
  where: string,
  code: string,
): TlsError | undefined {
  const raw = socket.getPeerCertificate().raw;
  const shown = raw ? fingerprintOf(raw) : undefined;
  const expected = parseShortCode(code);
  const seen = shown === undefined ? "none" : shortCode(shown);
  if (expected !== undefined && seen === expected) return undefined;
  return new TlsError(
    "short-code",
    where,
    `The certificate of ${where} has the code ${seen}, not ${expected ?? `'${code}'`} as given`,
    shown === undefined ? {} : { fingerprint: shown },
  );
}

/** The TCP connection under a server's TLS socket, which decides how it ends. */
export interface Carrier {
  /** The local address. */
  readonly localAddr: Deno.NetAddr;
  /** The client's address. */
  readonly remoteAddr: Deno.NetAddr;
  /** Ends the TLS socket and closes the connection (at once, or after what was written leaves). */
  close(): void;
  /** Keeps the event loop alive while the connection is open. */
  ref(): void;
  /** Lets the event loop end while the connection is open. */
  unref(): void;
}

/** Bytes read ahead of the reader before the socket is paused. */
const HIGH_WATER = 8 * 1024 * 1024;

/**
 * A `node:tls` socket as a `Deno.Conn`: the shape {@link Wire} reads and
 * writes. `Deno.connectTls` does not show the server's certificate: a
 * client's pinned connection that Deno's TLS cannot check as strictly (see
 * socket.ts) has its certificate compared on the very connection used, a
 * node socket adapted here; so are the server's connections.
 */
export class TlsSocketConn implements Deno.Conn<Deno.NetAddr> {
  /** The local address. */
  readonly localAddr: Deno.NetAddr;
  /** The server's address. */
  readonly remoteAddr: Deno.NetAddr;
  /** The SHA-256 fingerprint of the server's certificate. */
  readonly fingerprint: string;
  /** The server's certificate, DER. */
  readonly certificate: Uint8Array | undefined;
  readonly #socket: TLSSocket;
  readonly #over: Carrier | undefined;
  readonly #chunks: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #error: Error | undefined;
  #closed = false;
  #wake: (() => void) | undefined;
  readonly #writes = new Set<(error: Error) => void>();
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  /**
   * Adapts a socket: a client's once its handshake has completed, or a
   * server's over the TCP connection it was accepted on, before its
   * handshake (reads wait for it; closing closes that connection, whatever
   * stage the handshake is in).
   *
   * @param socket the socket
   * @param over the TCP connection under a server's socket
   */
  constructor(socket: TLSSocket, over?: Carrier) {
    this.#socket = socket;
    this.#over = over;
    this.localAddr = over ? over.localAddr : address(socket.localAddress, socket.localPort);
    this.remoteAddr = over ? over.remoteAddr : address(socket.remoteAddress, socket.remotePort);
    const raw = over ? undefined : socket.getPeerCertificate().raw;
    this.certificate = raw ? new Uint8Array(raw) : undefined;
    this.fingerprint = raw ? fingerprintOf(raw) : "";
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#queued += chunk.length;
      if (this.#queued >= HIGH_WATER) socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (error: Error) => this.#fail(toDenoError(error)));
    socket.on("close", () => {
      // After an error, reads report it; otherwise the stream simply ended.
      this.#ended = true;
      for (const reject of this.#writes) {
        reject(new Deno.errors.BrokenPipe("The connection closed"));
      }
      this.#writes.clear();
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #fail(error: Error): void {
    this.#error ??= error;
    for (const reject of this.#writes) reject(this.#error);
    this.#writes.clear();
    this.#notify();
  }

  /**
   * Reads what has arrived, waiting for at least one byte.
   *
   * @param p where the bytes go
   * @returns how many, or null at the end of the stream
   */
  async read(p: Uint8Array): Promise<number | null> {
    while (true) {
      if (this.#closed) throw new Deno.errors.BadResource("The connection is closed");
      if (this.#chunks.length > 0) return this.#take(p);
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }

  #take(p: Uint8Array): number {
    let n = 0;
    while (n < p.length && this.#chunks.length > 0) {
      const head = this.#chunks[0]!;
      const take = Math.min(head.length, p.length - n);
      p.set(head.subarray(0, take), n);
      n += take;
      if (take === head.length) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(take);
    }
    this.#queued -= n;
    if (this.#queued < HIGH_WATER / 2 && this.#socket.isPaused()) this.#socket.resume();
    return n;
  }

  /**
   * Writes all of `p`; resolves once the socket has taken it, so that the
   * caller may reuse the buffer.
   *
   * @param p the bytes
   * @returns `p.length`
   */
  write(p: Uint8Array): Promise<number> {
    if (this.#closed) {
      return Promise.reject(new Deno.errors.BadResource("The connection is closed"));
    }
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#writes.add(reject);
      this.#socket.write(p, (error?: Error | null) => {
        this.#writes.delete(reject);
        if (error) reject(toDenoError(error));
        else resolve(p.length);
      });
    });
  }

  /** Sends TLS close_notify and ends the sending side. */
  closeWrite(): Promise<void> {
    if (this.#closed || this.#error) return Promise.resolve();
    return new Promise((resolve) => this.#socket.end(() => resolve()));
  }

  /** Closes the connection at once; pending reads and writes fail. */
  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("The connection is closed");
    this.#closed = true;
    if (this.#over) this.#over.close();
    else this.#socket.destroy();
    this.#fail(new Deno.errors.Interrupted("The connection was closed"));
  }

  /** Keeps the event loop alive while the connection is open (the default). */
  ref(): void {
    if (this.#over) this.#over.ref();
    else this.#socket.ref();
  }

  /** Lets the event loop end while the connection is open. */
  unref(): void {
    if (this.#over) this.#over.unref();
    else this.#socket.unref();
  }

  /** The bytes received, as a stream. */
  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    this.#readable ??= new ReadableStream({
      pull: async (controller) => {
        const buffer = new Uint8Array(64 * 1024);
        const n = await this.read(buffer);
        if (n === null) controller.close();
        else controller.enqueue(buffer.slice(0, n));
      },
    });
    return this.#readable;
  }

  /** A stream to send bytes. */
  get writable(): WritableStream<Uint8Array> {
    this.#writable ??= new WritableStream({
      write: async (chunk) => {
        await this.write(chunk);
      },
      close: () => this.closeWrite(),
    });
    return this.#writable;
  }

  /** Closes the connection. */
  [Symbol.dispose](): void {
    if (!this.#closed) this.close();
  }
}

function address(hostname: string | undefined, port: number | undefined): Deno.NetAddr {
  return { transport: "tcp", hostname: hostname ?? "", port: port ?? 0 };
}

/**
 * Turns a node socket error into the Deno error that the rest of
 * privateshare knows (a reset, a broken pipe, ...).
 *
 * @param error node's error
 * @returns the Deno error, with node's as its cause
 */
function toDenoError(error: Error): Error {
  const code = (error as { code?: string }).code;
  const options = { cause: error };
  switch (code) {
    case "ECONNRESET":
      return new Deno.errors.ConnectionReset(error.message, options);
    case "EPIPE":
    case "ERR_STREAM_DESTROYED":
    case "ERR_STREAM_WRITE_AFTER_END":
      return new Deno.errors.BrokenPipe(error.message, options);
    case "ECONNABORTED":
      return new Deno.errors.ConnectionAborted(error.message, options);
    case "ENOTCONN":
      return new Deno.errors.NotConnected(error.message, options);
  }
  if (/close_notify|unexpected end of file/i.test(error.message)) {
    return new Deno.errors.UnexpectedEof(error.message, options);
  }
  // A TLS alert or a record that failed its check.
  return new Deno.errors.InvalidData(error.message, options);
}
