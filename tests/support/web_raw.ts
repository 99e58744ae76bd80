/**
 * Raw HTTP/1.1 for the web page's tests: requests written byte for byte
 * (a Host that `fetch` would overwrite, a smuggling attempt, a trickle),
 * from a chosen loopback address, plain or over TLS, and the answer parsed
 * just enough to check it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";

/** Where a raw request goes from, and how. */
export interface RawOptions {
  /** The certificate to trust: the connection is TLS. */
  ca?: string;
  /** The loopback address to connect from (default 127.0.0.1). */
  from?: string;
}

/** One raw connection to the page. */
export interface RawConnection {
  /** Sends bytes. */
  write(data: string | Uint8Array): Promise<void>;
  /** Everything the server sent, once it closed (a reset ends it too). */
  answer: Promise<string>;
  /** What the server sent so far. */
  received(): string;
  /** Resolves once connected (and the TLS handshake is done); rejects if it closed before. */
  ready: Promise<void>;
  /** Closes the connection. */
  close(): void;
}

/**
 * Opens a connection to the page on 127.0.0.1.
 *
 * @param port the page's port
 * @param options TLS and the address to connect from
 * @returns the connection
 */
export function openRaw(port: number, options: RawOptions = {}): RawConnection {
  const localAddress = options.from ?? "127.0.0.1";
  const base = { host: "127.0.0.1", port, localAddress };
  let connected: () => void = () => {};
  const ready = new Promise<void>((resolve) => connected = resolve);
  // localAddress is node's (net.connect), though not in tls's types.
  const socket: Socket = options.ca !== undefined
    ? tlsConnect({ ...base, ca: [options.ca] }, () => connected())
    : netConnect(base, () => connected());
  // Refused or closed before it connected: a write fails instead of waiting for ever.
  const failed = new Promise<never>((_, reject) => {
    socket.once("close", () => reject(new Error("The connection closed before it was made")));
  });
  failed.catch(() => {});
  const made = Promise.race([ready, failed]);
  let text = "";
  const answer = new Promise<string>((resolve) => {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => text += chunk);
    socket.on("error", () => {});
    socket.on("close", () => resolve(text));
  });
  return {
    ready: made,
    answer,
    received: () => text,
    async write(data) {
      await made;
      await new Promise<void>((resolve, reject) =>
        socket.write(data, (error) => error ? reject(error) : resolve())
      );
    },
    close() {
      socket.destroy();
    },
  };
}

/**
 * Sends one request on a connection of its own and waits for the server to
 * close it.
 *
 * @param port the page's port
 * @param request the bytes
 * @param options TLS and the address to connect from
 * @returns the answer, parsed
 */
export async function rawHttp(
  port: number,
  request: string,
  options: RawOptions = {},
): Promise<RawAnswer> {
  const conn = openRaw(port, options);
  try {
    await conn.write(request);
  } catch {
    // The server may refuse and close before it has read all of it.
  }
  return parseAnswer(await conn.answer);
}

/** An HTTP answer, parsed just enough for the tests. */
export interface RawAnswer {
  /** The status code; 0 when nothing came. */
  status: number;
  /** The headers, names in lower case, each with all its values. */
  headers: Map<string, string[]>;
  /** What came after the headers (as sent: a chunked body keeps its framing). */
  body: string;
  /** Everything, as received. */
  raw: string;
}

/**
 * Parses an answer.
 *
 * @param raw the bytes received, as text
 * @returns the status, headers and body
 */
export function parseAnswer(raw: string): RawAnswer {
  const end = raw.indexOf("\r\n\r\n");
  const head = end < 0 ? raw : raw.slice(0, end);
  const [statusLine = "", ...lines] = head.split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const at = line.indexOf(":");
    if (at < 0) continue;
    const name = line.slice(0, at).trim().toLowerCase();
    headers.set(name, [...headers.get(name) ?? [], line.slice(at + 1).trim()]);
  }
  return { status, headers, body: end < 0 ? "" : raw.slice(end + 4), raw };
}

/**
 * Writes an HTTP/1.1 request that closes its connection after the answer.
 * The Host is `127.0.0.1:PORT` unless `headers.host` says otherwise (null
 * leaves it out); a body gets its Content-Length.
 *
 * @param method the method
 * @param target the request target
 * @param port the page's port
 * @param headers more headers (null leaves one out)
 * @param body the body
 * @returns the request's text
 */
export function httpRequest(
  method: string,
  target: string,
  port: number,
  headers: Record<string, string | null> = {},
  body = "",
): string {
  const all: Record<string, string | null> = {
    host: `127.0.0.1:${port}`,
    connection: "close",
    ...(body !== "" || method === "POST" ? { "content-length": String(body.length) } : {}),
    ...headers,
  };
  const lines = Object.entries(all).filter(([, value]) => value !== null)
    .map(([name, value]) => `${name}: ${value}\r\n`);
  return `${method} ${target} HTTP/1.1\r\n${lines.join("")}\r\n${body}`;
}

/**
 * The `Set-Cookie` headers of an answer.
 *
 * @param answer the answer
 * @returns the `Set-Cookie` headers
 */
export function cookiesSet(answer: RawAnswer): string[] {
  return answer.headers.get("set-cookie") ?? [];
}

/**
 * Opens a page's address with its key, as a phone does from the QR code:
 * the answer must be the 303 that sets the session's cookie.
 *
 * @param address the address with its key (`server.web.url(HOST)`)
 * @param client an HTTP client that trusts the page's certificate, over HTTPS
 * @returns the cookie, `privateshare_session_PORT=ID`
 */
export async function openSession(address: string, client?: Deno.HttpClient): Promise<string> {
  const answer = await fetch(address, { redirect: "manual", ...(client ? { client } : {}) });
  await answer.body?.cancel();
  assert.equal(answer.status, 303);
  return answer.headers.get("set-cookie")!.split(";")[0]!;
}
