/**
 * The other end of a connection, in this process: the library's server,
 * a fake server that speaks raw bytes (a hostile or broken peer), a loopback
 * connection pair, raw reads and writes for fakes, and what the client
 * library's caller sees when a peer fails it.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  ClientError,
  type Server,
  type ServerEvent,
  type ServerOptions,
  startServer,
} from "../../lib/mod.ts";

const decoder = new TextDecoder();

/** A server of the library, in this process, with every event it sent. */
export interface LibraryServer extends AsyncDisposable {
  /** The server; `server.addr.port` is its port. */
  server: Server;
  /** Its port. */
  port: number;
  /** Every event so far, in order. */
  events: ServerEvent[];
}

/**
 * Starts the library's server in this process on 127.0.0.1, port 0, with no
 * idle shutdown unless asked: faster than a process, and its events can be
 * read directly. `await using` stops it.
 *
 * @param root the folder to serve
 * @param options more server options
 * @returns the server and its events
 */
export function serveFolder(
  root: string,
  options: Partial<ServerOptions> = {},
): LibraryServer {
  const events: ServerEvent[] = [];
  const server = startServer({
    port: 0,
    host: "127.0.0.1",
    idleTimeoutMs: 0,
    ...options,
    root,
    onEvent: (event) => {
      events.push(event);
      options.onEvent?.(event);
    },
  });
  return {
    server,
    port: server.addr.port,
    events,
    async [Symbol.asyncDispose]() {
      await server.close();
    },
  };
}

/**
 * The library's server on 127.0.0.1 with its web page on a port of its own,
 * also on 127.0.0.1 only (so that a relay may take the same port on 127.0.0.2).
 */
export function servePage(
  root: string,
  options: Partial<ServerOptions> = {},
): LibraryServer & { url: string } {
  const served = serveFolder(root, { web: { port: 0, host: "127.0.0.1" }, ...options });
  return Object.assign(served, { url: served.server.web!.url("127.0.0.1") });
}

/** A connected pair of real TCP connections over loopback. */
export interface ConnPair extends Disposable {
  /** The end that connected. */
  client: Deno.Conn;
  /** The end that accepted. */
  server: Deno.Conn;
}

/**
 * Opens a real TCP connection to itself on 127.0.0.1, port 0. Disposing it
 * closes both ends (an end already closed is fine).
 *
 * @returns both ends
 */
export async function connPair(): Promise<ConnPair> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  return {
    client,
    server,
    [Symbol.dispose]() {
      for (const conn of [client, server]) closeQuietly(conn);
    },
  };
}

/**
 * Closes a connection or listener that may already be closed.
 *
 * @param resource what to close
 */
export function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}

/** A peer written in a test that speaks raw bytes: a hostile or broken server. */
export interface FakeServer extends AsyncDisposable {
  /** The port it listens on (127.0.0.1). */
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
}

/**
 * Listens on 127.0.0.1, port 0, and runs `serve` on every connection, which
 * is closed when `serve` returns or throws (a peer that hangs up on it is
 * the point of many such tests). `await using` stops it and closes every
 * connection still open.
 *
 * @param serve what to do with each connection
 * @returns the fake server
 */
export function fakeServer(serve: (conn: Deno.Conn) => Promise<void>): FakeServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const served = new Set<Promise<void>>();
  let accepted = 0;
  const accepting = (async () => {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (error instanceof Deno.errors.BadResource) return;
        throw error;
      }
      accepted++;
      open.add(conn);
      const one = serve(conn).catch(() => {}).finally(() => {
        open.delete(conn);
        closeQuietly(conn);
      });
      served.add(one);
      one.finally(() => served.delete(one));
    }
  })();
  return {
    port: listener.addr.port,
    get accepted() {
      return accepted;
    },
    async [Symbol.asyncDispose]() {
      closeQuietly(listener);
      for (const conn of open) closeQuietly(conn);
      await accepting;
      await Promise.allSettled([...served]);
    },
  };
}

/**
 * Reads from a connection until `\n`, byte by byte so that nothing after
 * the line is consumed: what a fake peer reads a command or a line with.
 *
 * @param conn the connection
 * @param limit most bytes to read
 * @returns the line without its newline, or null at end of stream
 */
export async function readRawLine(conn: Deno.Conn, limit = 16 * 1024): Promise<string | null> {
  const bytes: number[] = [];
  const one = new Uint8Array(1);
  while (bytes.length < limit) {
    const n = await conn.read(one);
    if (n === null) return bytes.length === 0 ? null : decoder.decode(new Uint8Array(bytes));
    if (one[0] === 0x0a) return decoder.decode(new Uint8Array(bytes));
    bytes.push(one[0]!);
  }
  throw new Error(`No newline in the first ${limit} bytes`);
}

/**
 * Reads exactly `length` bytes from a connection.
 *
 * @param conn the connection
 * @param length bytes to read
 * @returns the bytes (fewer when the stream ends first)
 */
export async function readRawBytes(conn: Deno.Conn, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = await conn.read(bytes.subarray(got));
    if (n === null) return bytes.subarray(0, got);
    got += n;
  }
  return bytes;
}

/**
 * Writes all of `bytes` to a connection, or text as UTF-8.
 *
 * @param conn the connection
 * @param bytes what to write
 */
export async function writeRaw(conn: Deno.Conn, bytes: Uint8Array | string): Promise<void> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  let sent = 0;
  while (sent < data.length) sent += await conn.write(data.subarray(sent));
}

/**
 * Reads a PS/2 command line as a fake server: the JSON after `PS/2 `.
 *
 * @param conn the connection
 * @returns the command's fields
 * @throws {Error} when the line is not a PS/2 command
 */
export async function readPs2Command(conn: Deno.Conn): Promise<Record<string, unknown>> {
  const line = await readRawLine(conn);
  if (!line?.startsWith("PS/2 ")) throw new Error(`Not a PS/2 command: ${line}`);
  return JSON.parse(line.slice(5));
}

/**
 * A value as one JSON line, as a fake peer writes it.
 *
 * @param value the value
 * @returns its JSON and a newline
 */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value) + "\n";
}

/**
 * Waits for a client operation that must fail with a {@link ClientError} of
 * `kind` whose message is one line.
 *
 * @param promise the operation
 * @param kind the kind of failure expected
 * @returns the error, for more checks
 */
export async function failsWith(
  promise: Promise<unknown>,
  kind: ClientError["kind"],
): Promise<ClientError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ClientError, `a ClientError, not ${error}`);
    assert.equal(error.kind, kind, `kind of: ${error.message}`);
    assert.ok(!error.message.includes("\n"), "one line");
    return error;
  }
  assert.fail(`expected a ClientError of kind ${kind}`);
}
