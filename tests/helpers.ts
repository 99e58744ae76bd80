/**
 * Test helpers: a real server process on port 0, the real client CLI as a
 * subprocess, temporary folders, and files of random bytes compared byte
 * for byte.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Server, type ServerEvent, type ServerOptions, startServer } from "../lib/mod.ts";

/** The repository root. */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url));
/** The server entry point. */
export const SERVER_TS: string = join(ROOT, "server.ts");
/** The client entry point. */
export const CLIENT_TS: string = join(ROOT, "client.ts");

const _decoder = new TextDecoder();

/** A server process under test. */
export interface TestServer {
  /** The port it listens on. */
  port: number;
  /** The served folder. */
  root: string;
  /** The process. */
  process: Deno.ChildProcess;
  /** Every log line so far (JSON objects). */
  lines: Record<string, unknown>[];
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number>;
  /** Waits for a log line that matches. */
  waitFor(
    match: (line: Record<string, unknown>) => boolean,
    ms?: number,
  ): Promise<Record<string, unknown>>;
  /** Stops the process (SIGTERM, then SIGKILL) and waits for it. */
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
  /** More permissions (such as `--allow-sys`). */
  perms?: string[];
  /** Environment variables to set. */
  env?: Record<string, string>;
}

/**
 * Starts the real server CLI on port 0 with JSON logs, and waits until it
 * listens.
 *
 * @param spec folder, permissions and flags
 * @returns the running server
 */
export async function startTestServer(spec: ServerSpec): Promise<TestServer> {
  const perms = [
    "--allow-net",
    "--allow-read",
    ...(spec.write === false ? [] : ["--allow-write"]),
    ...(spec.perms ?? []),
  ];
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      ...perms,
      SERVER_TS,
      "0",
      "--root",
      spec.root,
      "--log-format",
      "json",
      ...(spec.args ?? []),
    ],
    ...(spec.env ? { env: spec.env } : {}),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  const waiters: {
    match: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  let stderr = "";
  const stderrDone = (async () => {
    for await (const chunk of process.stderr) stderr += _decoder.decode(chunk);
  })();
  const stdoutDone = (async () => {
    let pending = "";
    for await (const chunk of process.stdout) {
      pending += _decoder.decode(chunk, { stream: true });
      let at: number;
      while ((at = pending.indexOf("\n")) >= 0) {
        const text = pending.slice(0, at);
        pending = pending.slice(at + 1);
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text);
        } catch {
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
  const listening = await waitFor((l) => l.event === "listening");
  const server: TestServer = {
    port: listening.port as number,
    root: spec.root,
    process,
    lines,
    exited,
    waitFor,
    async stop() {
      try {
        process.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      const timer = setTimeout(() => {
        try {
          process.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }, 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  return server;
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
 * @param options working folder, permissions (default: net, read, write) and environment
 * @returns exit code and output
 */
export async function runClient(
  args: string[],
  options: { cwd?: string; perms?: string[]; env?: Record<string, string> } = {},
): Promise<RunResult> {
  const perms = options.perms ?? ["--allow-net", "--allow-read", "--allow-write"];
  return await _run(CLIENT_TS, args, perms, options.cwd, options.env);
}

/**
 * Runs the real server CLI to completion (for argument errors and the like).
 *
 * @param args arguments after `server.ts`
 * @param perms permissions
 * @param env environment variables to set
 * @returns exit code and output
 */
export async function runServer(
  args: string[],
  perms: string[] = ["--allow-net", "--allow-read"],
  env?: Record<string, string>,
): Promise<RunResult> {
  return await _run(SERVER_TS, args, perms, undefined, env);
}

/** Runs one of the CLIs to completion and collects what it printed. */
async function _run(
  script: string,
  args: string[],
  perms: string[],
  cwd?: string,
  env?: Record<string, string>,
): Promise<RunResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...perms, script, ...args],
    cwd,
    ...(env ? { env } : {}),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stdout: _decoder.decode(output.stdout),
    stderr: _decoder.decode(output.stderr),
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
    const na = await _fill(fa, ba);
    const nb = await _fill(fb, bb);
    if (na !== nb) return false;
    if (na === 0) return true;
    for (let i = 0; i < na; i++) if (ba[i] !== bb[i]) return false;
  }
}

async function _fill(file: Deno.FsFile, buf: Uint8Array): Promise<number> {
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
