/**
 * Test helpers, shared with bench/: a real server process on port 0, the
 * real client CLI as a subprocess, the library's server in process, fake
 * peers that speak raw bytes, temporary folders, files of random bytes
 * compared byte for byte, and a deadline for every test.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Server, type ServerEvent, type ServerOptions, startServer } from "../lib/mod.ts";

/** The repository root. */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url));
/** The server entry point. */
export const SERVER_TS: string = join(ROOT, "server.ts");
/** The client entry point. */
export const CLIENT_TS: string = join(ROOT, "client.ts");
/** Every permission a program of privateshare may need. */
export const ALL_PERMS: readonly string[] = ["--allow-net", "--allow-read", "--allow-write"];

const decoder = new TextDecoder();

/**
 * The arguments of `deno` that run one of the programs with exactly the
 * given permissions and never prompt for more.
 *
 * @param script {@link SERVER_TS} or {@link CLIENT_TS}
 * @param args the program's arguments
 * @param perms permission flags
 * @returns the arguments after `deno`
 */
export function denoRunArgs(script: string, args: string[], perms: readonly string[]): string[] {
  return ["run", "--no-prompt", ...perms, script, ...args];
}

/** A server process under test. */
export interface TestServer {
  /** The port it listens on. */
  port: number;
  /** The served folder. */
  root: string;
  /** The process. */
  process: Deno.ChildProcess;
  /** Every log line so far (JSON objects); only the first with `record: false`. */
  lines: Record<string, unknown>[];
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number>;
  /**
   * Waits for a log line that matches; fails when the server exits first or
   * after `ms` (default 20 s).
   */
  waitFor(
    match: (line: Record<string, unknown>) => boolean,
    ms?: number,
  ): Promise<Record<string, unknown>>;
  /** Stops the process (SIGTERM, then SIGKILL after 5 s) and waits for it. */
  stop(): Promise<void>;
}

/** How to start a test server. */
export interface ServerSpec {
  /** The folder to serve (required). */
  root: string;
  /** Grant --allow-write (default true). */
  write?: boolean;
  /** More server flags. */
  args?: string[];
  /**
   * Keep the log lines after `listening` (default true). Without, they are
   * drained unparsed, so that a benchmark does not pay for parsing them.
   */
  record?: boolean;
  /** Called with the process as soon as it is spawned (a benchmark tracks it to kill it). */
  onSpawn?: (process: Deno.ChildProcess) => void;
}

/**
 * Starts the real server CLI on port 0 with JSON logs, and waits until it
 * listens. A server that does not come up within 20 s is killed.
 *
 * @param spec folder, permissions and flags
 * @returns the running server
 */
export async function startTestServer(spec: ServerSpec): Promise<TestServer> {
  const perms = spec.write === false ? ["--allow-net", "--allow-read"] : ALL_PERMS;
  const args = ["0", "--root", spec.root, "--log-format", "json"];
  const process = new Deno.Command(Deno.execPath(), {
    args: denoRunArgs(SERVER_TS, [...args, ...(spec.args ?? [])], perms),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  spec.onSpawn?.(process);
  const record = spec.record ?? true;
  const lines: Record<string, unknown>[] = [];
  const waiters: {
    match: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  let stderr = "";
  const stderrDone = (async () => {
    for await (const chunk of process.stderr) stderr += decoder.decode(chunk, { stream: true });
  })();
  // The server logs a line per request to stdout: it is read all the time,
  // or a full pipe would stall the server.
  const stdoutDone = (async () => {
    let pending = "";
    for await (const chunk of process.stdout) {
      if (!record && lines.length > 0) continue;
      pending += decoder.decode(chunk, { stream: true });
      let at: number;
      while ((at = pending.indexOf("\n")) >= 0) {
        const text = pending.slice(0, at);
        pending = pending.slice(at + 1);
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text);
        } catch (error) {
          if (!(error instanceof SyntaxError)) throw error;
          line = { raw: text };
        }
        lines.push(line);
        for (const w of [...waiters]) {
          if (w.match(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    }
  })();
  const exited = (async () => {
    const status = await process.status;
    await Promise.all([stdoutDone, stderrDone]);
    return status.code;
  })();
  const waitFor = (match: (l: Record<string, unknown>) => boolean, ms = 20_000) => {
    const found = lines.find(match);
    if (found) return Promise.resolve(found);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `No matching server log line in ${ms} ms; stderr: ${stderr}; lines: ${
              JSON.stringify(lines)
            }`,
          ),
        );
      }, ms);
      waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
      exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`Server exited; stderr: ${stderr}; lines: ${JSON.stringify(lines)}`));
      });
    });
  };
  const stop = async () => {
    kill(process, "SIGTERM");
    const timer = setTimeout(() => kill(process, "SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };
  let listening;
  try {
    listening = await waitFor((l) => l.event === "listening");
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    port: listening.port as number,
    root: spec.root,
    process,
    lines,
    exited,
    waitFor,
    stop,
  };
}

/**
 * Sends a signal to a child process that may already have exited.
 *
 * @param child the process
 * @param signal the signal
 */
export function kill(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch (error) {
    // Deno throws a TypeError for a child that has already exited.
    if (!(error instanceof TypeError)) throw error;
  }
}

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

/** What a CLI run printed and how it ended. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real client CLI.
 *
 * @param args arguments after `client.ts`
 * @param options working folder and permissions (default: net, read, write)
 * @returns exit code and output
 */
export async function runClient(
  args: string[],
  options: { cwd?: string; perms?: string[] } = {},
): Promise<RunResult> {
  return await runCli(CLIENT_TS, args, options.perms ?? ALL_PERMS, options.cwd);
}

/**
 * Runs the real server CLI to completion (for argument errors and the like).
 *
 * @param args arguments after `server.ts`
 * @param perms permissions
 * @returns exit code and output
 */
export async function runServer(
  args: string[],
  perms: string[] = ["--allow-net", "--allow-read"],
): Promise<RunResult> {
  return await runCli(SERVER_TS, args, perms);
}

/** Runs one of the CLIs to completion and collects what it printed. */
async function runCli(
  script: string,
  args: string[],
  perms: readonly string[],
  cwd?: string,
): Promise<RunResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: denoRunArgs(script, args, perms),
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/**
 * A temporary folder, removed by the returned disposer.
 *
 * @returns the path and `[Symbol.asyncDispose]`
 */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "privateshare-test-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Writes a file of pseudo-random bytes (a fast deterministic generator
 * seeded from `seed`), streaming, so large files cost little memory.
 *
 * @param path where to write
 * @param size bytes
 * @param seed varies the content
 */
export async function writeRandomFile(path: string, size: number, seed = 1): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const block = new Uint8Array(1024 * 1024);
  const words = new Uint32Array(block.buffer);
  let x = (seed * 2654435761) >>> 0 || 1;
  let left = size;
  while (left > 0) {
    for (let i = 0; i < words.length; i++) {
      // xorshift32
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      words[i] = x;
    }
    const part = block.subarray(0, Math.min(block.length, left));
    let written = 0;
    while (written < part.length) written += await file.write(part.subarray(written));
    left -= part.length;
  }
}

/**
 * Whether two files hold the same bytes.
 *
 * @param a one file
 * @param b the other
 * @returns true when equal byte for byte
 */
export async function sameBytes(a: string, b: string): Promise<boolean> {
  using fa = await Deno.open(a);
  using fb = await Deno.open(b);
  if ((await fa.stat()).size !== (await fb.stat()).size) return false;
  const ba = new Uint8Array(1 << 20);
  const bb = new Uint8Array(1 << 20);
  while (true) {
    const na = await fillFrom(fa, ba);
    const nb = await fillFrom(fb, bb);
    if (na !== nb) return false;
    if (na === 0) return true;
    for (let i = 0; i < na; i++) if (ba[i] !== bb[i]) return false;
  }
}

async function fillFrom(file: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return got;
}

/**
 * The names in a folder, sorted, hidden ones included.
 *
 * @param dir the folder
 * @returns file names
 */
export function namesIn(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

/**
 * Waits until `check` is true, polling.
 *
 * @param check the condition
 * @param ms give up after this long
 */
export async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`Condition not met in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Which way bytes flow through a {@link Relay}. */
export type Direction = "up" | "down";

/** A TCP relay between a client and a server, for fault injection. */
export interface Relay {
  /** The port clients connect to. */
  port: number;
  /** Bytes forwarded so far on the current connection, client to server ("up") and back ("down"). */
  forwarded: Record<Direction, number>;
  /** Resolves when a direction has forwarded at least `bytes` (and is then held, if asked). */
  reached(direction: Direction, bytes: number): Promise<void>;
  /** Lets held traffic flow again. */
  release(): void;
  /** Closes every connection abruptly. */
  cut(): void;
  /** Stops the relay. */
  close(): Promise<void>;
}

/** What a relay does to the bytes it forwards. */
export interface RelaySpec {
  /** Flip one bit of the byte at this offset of the given direction's stream. */
  flip?: { direction: Direction; offset: number };
  /** Stop forwarding a direction once it has forwarded this many bytes, until release(). */
  holdAt?: { direction: Direction; bytes: number };
}

/**
 * Starts a relay on 127.0.0.1 that forwards every connection to `port`:
 * a real network hop in which a test can flip a byte, or hold traffic at an
 * exact point. This is fault injection: a real network rarely flips a bit
 * that TCP's checksum misses, but privateshare must catch it when it does.
 *
 * @param port the server's port
 * @param spec what to do to the traffic
 * @returns the relay
 */
export function startRelay(port: number, spec: RelaySpec = {}): Relay {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const forwarded: Record<Direction, number> = { up: 0, down: 0 };
  const waiters: { direction: Direction; bytes: number; resolve: () => void }[] = [];
  let held: (() => void) | undefined;
  let releasedHold = false;
  const notify = () => {
    for (const w of [...waiters]) {
      if (forwarded[w.direction] >= w.bytes) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const pump = async (from: Deno.Conn, to: Deno.Conn, direction: Direction) => {
    const buf = new Uint8Array(256 * 1024);
    try {
      while (true) {
        let want = buf.length;
        const hold = spec.holdAt;
        if (hold && !releasedHold && hold.direction === direction) {
          want = Math.min(want, hold.bytes - forwarded[direction]);
          if (want <= 0) {
            await new Promise<void>((resolve) => held = resolve);
            continue;
          }
        }
        const n = await from.read(buf.subarray(0, want));
        if (n === null) break;
        const chunk = buf.subarray(0, n);
        const flip = spec.flip;
        const start = forwarded[direction];
        if (
          flip && flip.direction === direction && flip.offset >= start && flip.offset < start + n
        ) {
          chunk[flip.offset - start]! ^= 0x01;
        }
        let sent = 0;
        while (sent < n) sent += await to.write(chunk.subarray(sent));
        forwarded[direction] += n;
        notify();
      }
      await to.closeWrite();
    } catch {
      // One side went away: the other follows.
      try {
        to.close();
      } catch {
        // Already closed.
      }
    }
  };
  const accepting = (async () => {
    for await (const client of listener) {
      forwarded.up = 0;
      forwarded.down = 0;
      releasedHold = false;
      let server: Deno.Conn;
      try {
        server = await Deno.connect({ hostname: "127.0.0.1", port });
      } catch {
        client.close();
        continue;
      }
      conns.add(client);
      conns.add(server);
      Promise.all([pump(client, server, "up"), pump(server, client, "down")]).finally(() => {
        for (const c of [client, server]) {
          conns.delete(c);
          try {
            c.close();
          } catch {
            // Already closed.
          }
        }
      });
    }
  })();
  return {
    port: listener.addr.port,
    forwarded,
    reached(direction, bytes) {
      if (forwarded[direction] >= bytes) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ direction, bytes, resolve }));
    },
    release() {
      releasedHold = true;
      held?.();
      held = undefined;
    },
    cut() {
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // Already closed.
        }
      }
      conns.clear();
      held?.();
      held = undefined;
    },
    async close() {
      listener.close();
      this.cut();
      await accepting.catch(() => {});
    },
  };
}

/** How long a test may run unless it says otherwise. */
export const TEST_DEADLINE_MS = 60_000;

/**
 * Waits for `work`, failing once `ms` have passed: whatever it waits on, a
 * test fails instead of hanging.
 *
 * @param ms the deadline
 * @param what what is awaited, for the message
 * @param work a promise, or a function that starts the work
 * @returns what the work returned
 * @throws {Error} `<what> did not finish within <ms> ms` at the deadline
 */
export async function within<T>(
  ms: number,
  what: string,
  work: Promise<T> | (() => Promise<T>),
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([typeof work === "function" ? work() : work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Registers a test with a deadline of its own: it fails, rather than hangs,
 * when something it waits for never happens.
 *
 * @param name the behaviour the test checks
 * @param fn the test
 * @param ms its deadline (default {@link TEST_DEADLINE_MS})
 */
export function test(name: string, fn: () => Promise<void>, ms = TEST_DEADLINE_MS): void {
  Deno.test(name, () => within(ms, "The test", fn));
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

/** A stream that a test feeds by hand, so that it can pause a transfer at an exact byte. */
export interface HandFedStream {
  /** The stream to give to the code under test. */
  stream: ReadableStream<Uint8Array>;
  /** Makes `bytes` available to the reader. */
  push(bytes: Uint8Array): void;
  /** Ends the stream. */
  end(): void;
  /** Resolves once the reader has asked for more than it was given: it is waiting. */
  drained(): Promise<void>;
}

/**
 * A ReadableStream whose bytes the test pushes one piece at a time.
 *
 * @returns the stream and its controls
 */
export function handFedStream(): HandFedStream {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let waiting: (() => void) | undefined;
  let hungry = false;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    pull() {
      hungry = true;
      waiting?.();
      waiting = undefined;
    },
  }, { highWaterMark: 0 });
  return {
    stream,
    push(bytes) {
      hungry = false;
      controller.enqueue(bytes);
    },
    end() {
      controller.close();
    },
    drained() {
      if (hungry) return Promise.resolve();
      return new Promise((resolve) => waiting = resolve);
    },
  };
}

/**
 * The SHA-256 of some bytes.
 *
 * @param bytes the bytes
 * @returns the digest in hex
 */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Bytes of a deterministic pseudo-random pattern, for in-memory transfers.
 *
 * @param size how many
 * @param seed varies the content
 * @returns the bytes
 */
export function randomBytes(size: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/**
 * Fails unless two byte arrays are equal, naming the first difference.
 * Unlike `assert.deepEqual`, it never renders the arrays: a diff of
 * megabytes would block the event loop for minutes, deadlines included.
 *
 * @param actual the bytes got
 * @param expected the bytes wanted
 * @param what what they are, for the message
 */
export function assertBytes(actual: Uint8Array, expected: Uint8Array, what = "the bytes"): void {
  const n = Math.min(actual.length, expected.length);
  let at = 0;
  while (at < n && actual[at] === expected[at]) at++;
  if (at === n && actual.length === expected.length) return;
  throw new Error(
    `${what} differ: ${actual.length} bytes against ${expected.length} expected, ` +
      (at < n ? `first difference at offset ${at}` : `equal for the first ${n}`),
  );
}
