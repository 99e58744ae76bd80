/**
 * What the client's hardening tests share: a hostile server written in the
 * test that speaks raw bytes, the client CLI as a child process with its own
 * deadline (and signals), a real partial download made by interrupting the
 * library's get, and a snapshot of a folder that shows whether anything in it
 * changed.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { ClientError, get } from "../lib/mod.ts";
import { CLIENT_TS } from "./helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A server written in the test: every connection goes to `serve`, as raw bytes. */
export interface FakeServer extends AsyncDisposable {
  /** Its port on 127.0.0.1. */
  port: number;
  /** Connections accepted so far. */
  connections: number;
}

/**
 * Starts a fake server on 127.0.0.1, port 0. Each connection is handed to
 * `serve` and closed when it returns or throws.
 *
 * @param serve what the server does with one connection
 * @returns the server; `await using` stops it and closes every connection
 */
export function fakeServer(serve: (conn: Deno.TcpConn) => Promise<void>): FakeServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.TcpConn>();
  const handlers = new Set<Promise<void>>();
  const server: FakeServer = {
    port: listener.addr.port,
    connections: 0,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const conn of open) closeQuietly(conn);
      await Promise.allSettled([...handlers]);
    },
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      server.connections++;
      open.add(conn);
      const handler = serve(conn).catch(() => {}).finally(() => {
        open.delete(conn);
        closeQuietly(conn);
      });
      handlers.add(handler);
      handler.finally(() => handlers.delete(handler));
    }
  })().catch((error) => {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  });
  return server;
}

/** Closes a connection that may be closed already. */
export function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}

/**
 * Writes all of `data`.
 *
 * @param conn the connection
 * @param data bytes, or text as UTF-8
 */
export async function writeAll(conn: Deno.Conn, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  let sent = 0;
  while (sent < bytes.length) sent += await conn.write(bytes.subarray(sent));
}

/**
 * Reads one line, a byte at a time so that nothing after it is consumed.
 *
 * @param conn the connection
 * @returns the line without its newline, or null when the peer closes (or resets) first
 */
export async function readLine(conn: Deno.Conn): Promise<string | null> {
  const bytes: number[] = [];
  const one = new Uint8Array(1);
  while (true) {
    let n: number | null;
    try {
      n = await conn.read(one);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) return null;
      throw error;
    }
    if (n === null) return null;
    if (one[0] === 0x0a) return decoder.decode(new Uint8Array(bytes));
    bytes.push(one[0]!);
  }
}

/**
 * Reads a PS/2 command line and decodes its JSON.
 *
 * @param conn the connection
 * @returns the command's fields
 */
export async function readCommand(conn: Deno.Conn): Promise<Record<string, unknown>> {
  const text = await readLine(conn);
  if (text === null) throw new Error("The client closed before its command");
  if (!text.startsWith("PS/2 ")) throw new Error(`Not a PS/2 command: ${text}`);
  return JSON.parse(text.slice(5));
}

/**
 * A JSON line, as the protocol sends it.
 *
 * @param value the message
 * @returns its line
 */
export function line(value: unknown): string {
  return JSON.stringify(value) + "\n";
}

/** How a CLI run ended. */
export interface CliResult {
  /** Exit code. */
  code: number;
  /** The signal that ended it, if one did. */
  signal: Deno.Signal | null;
  /** Everything on stdout. */
  stdout: string;
  /** Everything on stderr. */
  stderr: string;
}

/** A client CLI process that a test can signal. */
export interface Cli {
  /** Resolves when it ends. */
  output: Promise<CliResult>;
  /** Sends it a signal. */
  signal(signal: Deno.Signal): void;
}

/**
 * Starts the real client CLI with every permission; it is killed after `ms`
 * so that a client that hangs fails the test instead of stalling it.
 *
 * @param args arguments after `client.ts`
 * @param options its folder and its deadline
 * @returns the process
 */
export function spawnCli(args: string[], options: { cwd?: string; ms?: number } = {}): Cli {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--no-prompt", CLIENT_TS, ...args],
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const send = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  };
  const timer = setTimeout(() => send("SIGKILL"), options.ms ?? 60_000);
  const output = child.output().then((o) => ({
    code: o.code,
    signal: o.signal,
    stdout: decoder.decode(o.stdout),
    stderr: decoder.decode(o.stderr),
  })).finally(() => clearTimeout(timer));
  return { output, signal: send };
}

/**
 * Runs the real client CLI to its end, or kills it after `ms`.
 *
 * @param args arguments after `client.ts`
 * @param options its folder and its deadline
 * @returns how it ended
 */
export async function runCli(
  args: string[],
  options: { cwd?: string; ms?: number } = {},
): Promise<CliResult> {
  return await spawnCli(args, options).output;
}

/**
 * The lines of an output, without the trailing newline.
 *
 * @param text stderr
 * @returns its lines
 */
export function linesOf(text: string): string[] {
  return text.trimEnd().split("\n");
}

/**
 * Makes a real partial download: the library's get into `folder`, stopped
 * through its signal once at least `bytes` arrived.
 *
 * @param port the server's port on 127.0.0.1
 * @param name the name to get
 * @param folder where the download goes
 * @param bytes stop after this many bytes
 * @returns the size of the partial download
 */
export async function makePartial(
  port: number,
  name: string,
  folder: string,
  bytes: number,
): Promise<number> {
  const stop = new AbortController();
  try {
    await get(name, {
      host: "127.0.0.1",
      port,
      output: folder + "/",
      signal: stop.signal,
      timeoutMs: 30_000,
      onProgress: (p) => {
        if (p.done >= bytes) stop.abort();
      },
    });
  } catch (error) {
    if (!(error instanceof ClientError && error.kind === "aborted")) throw error;
    return Deno.statSync(partialOf(folder, name)).size;
  }
  throw new Error(`The get of '${name}' finished before ${bytes} bytes`);
}

/**
 * The partial download of a name in a folder.
 *
 * @param folder the download folder
 * @param name the destination's name
 * @returns its path
 */
export function partialOf(folder: string, name: string): string {
  return join(folder, `.${name}.privateshare-partial`);
}

/**
 * The record beside a partial download.
 *
 * @param folder the download folder
 * @param name the destination's name
 * @returns its path
 */
export function recordOf(folder: string, name: string): string {
  return partialOf(folder, name) + ".json";
}

/**
 * SHA-256 of a file's first `length` bytes (all of it by default).
 *
 * @param path the file
 * @param length bytes to hash
 * @returns hex digest
 */
export async function sha256Of(path: string, length = Infinity): Promise<string> {
  using file = await Deno.open(path);
  const hash = createHash("sha256");
  const buf = new Uint8Array(1 << 20);
  let left = length;
  while (left > 0) {
    const n = await file.read(buf.subarray(0, Math.min(buf.length, left)));
    if (n === null) break;
    hash.update(buf.subarray(0, n));
    left -= n;
  }
  return hash.digest("hex");
}

/**
 * Everything about a folder's entries that a write could change: kind,
 * inode, size, modification time, a link's target, a file's SHA-256, and
 * the same for what is inside its folders (links are not followed). Not the
 * link count: removing a hard link elsewhere changes it, not the file.
 *
 * @param dir the folder
 * @returns a comparable description
 */
export async function snapshot(dir: string): Promise<string> {
  const entries: string[] = [];
  const walk = async (at: string, prefix: string) => {
    for (const entry of [...Deno.readDirSync(at)].sort((a, b) => a.name < b.name ? -1 : 1)) {
      const path = join(at, entry.name);
      const info = Deno.lstatSync(path);
      const kind = info.isSymlink
        ? `link -> ${Deno.readLinkSync(path)}`
        : info.isDirectory
        ? "folder"
        : info.isFifo
        ? "fifo"
        : info.isCharDevice
        ? "char device"
        : info.isFile
        ? `file ${await sha256Of(path)}`
        : "other";
      entries.push(
        `${prefix}${entry.name}: ${kind} ino ${info.ino} size ${info.size} ` +
          `mtime ${info.mtime?.getTime()}`,
      );
      if (info.isDirectory) await walk(path, `${prefix}${entry.name}/`);
    }
  };
  await walk(dir, "");
  return entries.join("\n");
}

/**
 * Rejects when `promise` takes longer than `ms`: the deadline of an
 * in-process test, so that it fails rather than hangs.
 *
 * @param ms the deadline
 * @param promise what to wait for
 * @returns its value
 */
export async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Not done within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
