/**
 * The processes a benchmark runs: the real privateshare server and client
 * CLIs (started as the tests start them, through tests/helpers.ts), socat,
 * and `sync`. Every child is tracked so that {@link killAll} can end it when
 * the benchmark finishes or fails, and `/proc` is read for peak resident
 * memory (VmHWM) and CPU time.
 *
 * @module
 */

import {
  CLIENT_RUN_PERMS,
  CLIENT_TS,
  denoRunArgs,
  kill,
  startTestServer,
  type TestServer,
} from "../tests/helpers.ts";

/** Where clients connect: IPv4 loopback, as socat does. */
export const HOST = "127.0.0.1";

const decoder = new TextDecoder();
const children = new Set<Deno.ChildProcess>();
let ticksPerSecond = 100;

/**
 * Reads the kernel's clock-tick rate, which /proc's CPU times are counted in.
 * Linux reports 100 almost everywhere; `getconf` says for sure.
 */
export async function initClockTicks(): Promise<void> {
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stderr: "null" }).output();
    const ticks = Number(decoder.decode(out.stdout).trim());
    if (out.success && ticks > 0) ticksPerSecond = ticks;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * Starts a child process and tracks it until it exits.
 *
 * @param command the program
 * @param args its arguments
 * @param options where its output goes
 * @returns the running child
 */
export function spawn(
  command: string,
  args: string[],
  options: { stdout?: "piped" | "null"; stderr?: "piped" | "null"; cwd?: string } = {},
): Deno.ChildProcess {
  const child = new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: options.stdout ?? "piped",
    stderr: options.stderr ?? "piped",
    ...(options.cwd ? { cwd: options.cwd } : {}),
  }).spawn();
  track(child);
  return child;
}

/** Tracks a child until it exits, so that {@link killAll} can end it. */
function track(child: Deno.ChildProcess): void {
  children.add(child);
  child.status.then(() => children.delete(child));
}

/**
 * Kills every child still running (SIGKILL) and waits for them: the
 * benchmark's cleanup, on success and on failure alike.
 */
export async function killAll(): Promise<void> {
  const running = [...children];
  for (const child of running) kill(child, "SIGKILL");
  await Promise.allSettled(running.map((child) => child.status));
}

/** What a process used: peak memory and CPU time. */
export interface Usage {
  /** Peak resident set (VmHWM) in bytes. */
  peakBytes: number;
  /** CPU seconds in user mode, all threads. */
  userS: number;
  /** CPU seconds in the kernel, all threads. */
  sysS: number;
  /** CPU seconds (user + kernel) of the main thread, where JavaScript runs. */
  mainS: number;
}

/** CPU times of a process, in seconds. */
export interface CpuTimes {
  /** User mode, all threads. */
  userS: number;
  /** Kernel, all threads. */
  sysS: number;
  /** User and kernel, main thread only. */
  mainS: number;
}

/**
 * Reads a process's CPU times from /proc.
 *
 * @param pid the process
 * @returns its times, or undefined when it has already gone
 */
export function readCpu(pid: number): CpuTimes | undefined {
  const all = readStat(`/proc/${pid}/stat`);
  const main = readStat(`/proc/${pid}/task/${pid}/stat`);
  if (all === undefined || main === undefined) return undefined;
  return { userS: all.user, sysS: all.sys, mainS: main.user + main.sys };
}

/**
 * Reads a process's peak resident set (VmHWM) from /proc.
 *
 * @param pid the process
 * @returns bytes, or undefined when it has gone (or is a zombie, which has none)
 */
export function readPeak(pid: number): number | undefined {
  const status = readProc(`/proc/${pid}/status`);
  const match = status?.match(/^VmHWM:\s+(\d+)\s+kB$/m);
  return match ? Number(match[1]) * 1024 : undefined;
}

function readStat(path: string): { user: number; sys: number } | undefined {
  const text = readProc(path);
  if (text === undefined) return undefined;
  // The command name, in parentheses, may hold spaces: count fields after it.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return {
    user: Number(fields[11]) / ticksPerSecond,
    sys: Number(fields[12]) / ticksPerSecond,
  };
}

function readProc(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    // The process exited (Deno reaps its children at once, so no zombie stays).
    if (error instanceof Deno.errors.NotFound) return undefined;
    if ((error as { code?: string }).code === "ESRCH") return undefined;
    throw error;
  }
}

/**
 * Polls a short-lived process's /proc entries and keeps the last values
 * seen, because they vanish the moment it exits.
 */
export class Watch {
  readonly #pid: number;
  readonly #timer: ReturnType<typeof setInterval>;
  #usage: Usage = { peakBytes: 0, userS: 0, sysS: 0, mainS: 0 };

  /**
   * @param pid the process, watched from now until {@link stop}
   * @param intervalMs how often to look
   */
  constructor(pid: number, intervalMs = 20) {
    this.#pid = pid;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  #sample(): void {
    const peak = readPeak(this.#pid);
    if (peak !== undefined) this.#usage.peakBytes = Math.max(this.#usage.peakBytes, peak);
    const cpu = readCpu(this.#pid);
    if (cpu !== undefined) this.#usage = { ...this.#usage, ...cpu };
  }

  /**
   * Stops watching.
   *
   * @returns the last values seen
   */
  stop(): Usage {
    clearInterval(this.#timer);
    this.#sample();
    return { ...this.#usage };
  }
}

/** A run of a client CLI. */
export interface ClientRun {
  /** Wall time from spawn to exit, in milliseconds. */
  ms: number;
  /** Exit code. */
  code: number;
  /** What it printed to stderr. */
  stderr: string;
  /** Peak memory and CPU time. */
  usage: Usage;
}

/**
 * Runs the real client CLI (`client.ts ARGS`) and watches it.
 *
 * @param args arguments after `client.ts`
 * @param intervalMs how often to poll its /proc entries
 * @returns its time, exit code, stderr and usage
 */
export async function runClient(args: string[], intervalMs = 20): Promise<ClientRun> {
  const started = performance.now();
  const child = spawn(Deno.execPath(), denoRunArgs(CLIENT_TS, args, CLIENT_RUN_PERMS));
  const watch = new Watch(child.pid, intervalMs);
  let output: Deno.CommandOutput;
  let ms: number;
  let usage: Usage;
  try {
    output = await child.output();
    ms = performance.now() - started;
  } finally {
    usage = watch.stop();
  }
  return {
    ms,
    code: output.code,
    stderr: decoder.decode(output.stderr),
    usage,
  };
}

/** A running privateshare server process. */
export interface BenchServer {
  /** Its process id. */
  pid: number;
  /** The port it listens on. */
  port: number;
  /** Its JSON log lines so far. */
  lines: Record<string, unknown>[];
  /**
   * Waits for a request log line that matches.
   *
   * @param match the test
   * @param ms how long to wait (default 5 s)
   */
  waitForRequest(
    match: (line: Record<string, unknown>) => boolean,
    ms?: number,
  ): Promise<Record<string, unknown>>;
  /** Stops it (SIGTERM, then SIGKILL after 5 s) and waits for it. */
  stop(): Promise<void>;
}

/**
 * Starts the real server CLI on port 0 with JSON logs and no idle shutdown,
 * serving `root`, and waits until it listens.
 *
 * @param root the folder to serve
 * @param options `record: false` to keep no log lines after "listening"; more server flags
 * @returns the running server
 */
export async function startServer(
  root: string,
  options: { record?: boolean; args?: string[] } = {},
): Promise<BenchServer> {
  const server: TestServer = await startTestServer({
    root,
    args: ["--idle-timeout", "0", ...(options.args ?? [])],
    record: options.record ?? true,
    onSpawn: track,
  });
  return {
    pid: server.process.pid,
    port: server.port,
    lines: server.lines,
    waitForRequest: (match, ms = 5000) =>
      server.waitFor((line) => line.event === "request" && match(line), ms),
    stop: server.stop,
  };
}

/** A socat transfer. */
export interface SocatRun {
  /** Wall time from starting the sender until both ends exited, in milliseconds. */
  ms: number;
  /** Time to fdatasync the received file afterwards, in milliseconds. */
  syncMs: number;
  /** The sending process. */
  sender: Usage;
  /** The receiving process. */
  receiver: Usage;
}

/**
 * Whether socat can be run, and its version line.
 *
 * @returns the version line, or undefined when socat is missing
 */
export async function socatVersion(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("socat", { args: ["-V"], stderr: "null" }).output();
    const line = decoder.decode(out.stdout).split("\n").find((l) => l.startsWith("socat version"));
    return line?.replace(/ on .*$/, "") ?? "socat";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Moves a file over loopback TCP with socat into `dest`: a receiver that
 * listens and writes the file, then a sender that reads the file and
 * connects. The clock runs from starting the sender until both have
 * exited; the receiver is started and listening before.
 *
 * @param src the file to send
 * @param dest where the receiver writes it
 * @param bufferBytes socat's `-b` block size, on both ends
 * @param tls a certificate and key for OpenSSL addresses (the sender trusts the certificate)
 * @returns the times and usage of both ends, and the time to fdatasync
 *   `dest` afterwards (what privateshare does before it reports done)
 */
export async function runSocat(
  src: string,
  dest: string,
  bufferBytes: number,
  tls?: { certFile: string; keyFile: string },
): Promise<SocatRun> {
  for (const path of [src, dest, ...(tls ? [tls.certFile, tls.keyFile] : [])]) {
    // socat's address syntax gives these characters meaning.
    if (/[,:!\s]/.test(path)) throw new Error(`socat cannot take the path '${path}'`);
  }
  const port = freePort();
  const receiver = spawn("socat", [
    "-b",
    String(bufferBytes),
    "-u",
    tls
      ? `OPENSSL-LISTEN:${port},bind=${HOST},reuseaddr,cert=${tls.certFile},key=${tls.keyFile},verify=0`
      : `TCP-LISTEN:${port},bind=${HOST},reuseaddr`,
    `OPEN:${dest},creat,trunc`,
  ], { stdout: "null" });
  const receiverOut = receiver.output();
  const receiverWatch = new Watch(receiver.pid);
  try {
    await waitListening(port, receiver);
  } catch (error) {
    kill(receiver, "SIGKILL");
    await receiverOut;
    receiverWatch.stop();
    throw error;
  }
  const started = performance.now();
  const sender = spawn("socat", [
    "-b",
    String(bufferBytes),
    "-u",
    `OPEN:${src}`,
    tls ? `OPENSSL:${HOST}:${port},cafile=${tls.certFile}` : `TCP:${HOST}:${port}`,
  ], { stdout: "null" });
  const senderWatch = new Watch(sender.pid);
  const [sent, received] = await Promise.all([sender.output(), receiverOut]);
  const ms = performance.now() - started;
  const senderUsage = senderWatch.stop();
  const receiverUsage = receiverWatch.stop();
  for (const [name, out] of [["sender", sent], ["receiver", received]] as const) {
    if (!out.success) {
      throw new Error(`socat ${name} failed (exit ${out.code}): ${decoder.decode(out.stderr)}`);
    }
  }
  const syncStarted = performance.now();
  using file = await Deno.open(dest, { read: true });
  await file.syncData();
  return {
    ms,
    syncMs: performance.now() - syncStarted,
    sender: senderUsage,
    receiver: receiverUsage,
  };
}

/** A port free on loopback a moment ago (a bench's baseline takes a port number, not port 0). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Waits until something listens on `port`, by reading /proc/net/tcp, so no connection is spent.
 *
 * @param port the port
 * @param child the process that is to listen
 * @param name what it is, for the error
 */
export async function waitListening(
  port: number,
  child: Deno.ChildProcess,
  name = "socat receiver",
): Promise<void> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const pattern = new RegExp(`^\\s*\\d+: [0-9A-F]+:${hexPort} [0-9A-F]+:0000 0A `, "m");
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = performance.now() + 5000;
  while (performance.now() < deadline) {
    if (pattern.test(Deno.readTextFileSync("/proc/net/tcp"))) return;
    if (exited) throw new Error(`${name} exited before listening on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error(`${name} did not listen on port ${port} within 5 s`);
}

/** Flushes every file system's dirty data (`sync`), so that earlier writes do not land in a measurement. */
export async function syncDisks(): Promise<void> {
  await new Deno.Command("sync", { stdout: "null", stderr: "null" }).output();
}
