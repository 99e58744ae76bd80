/**
 * The real programs as subprocesses: the server CLI on port 0 with JSON
 * logs, and either CLI run to completion. Shared with bench/.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT: string = fileURLToPath(new URL("../..", import.meta.url));
/** The server entry point. */
export const SERVER_TS: string = join(ROOT, "server.ts");
/** The client entry point. */
export const CLIENT_TS: string = join(ROOT, "client.ts");
/** Every permission a program of privateshare may need. */
export const ALL_PERMS: readonly string[] = ["--allow-net", "--allow-read", "--allow-write"];

/**
 * The client's permissions as README gives them: it needs --allow-env to find its
 * known-servers file, and refuses to run without it.
 */
export const CLIENT_RUN_PERMS: readonly string[] = [...ALL_PERMS, "--allow-env"];

const decoder = new TextDecoder();

/**
 * The tests never touch the real user's configuration folder (its
 * known-servers file, its TLS certificate, the GUI's settings): every
 * program a test starts gets a folder of its own unless the test gives one
 * (`XDG_CONFIG_HOME`), and whatever else this process starts inherits one
 * made for this run. A TLS server remembered by one test must not pin
 * another test's plain server that happens to get the same port.
 */
const RUN_CONFIG = Deno.makeTempDirSync({ prefix: "privateshare-test-config-" });
Deno.env.set("XDG_CONFIG_HOME", RUN_CONFIG);
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(RUN_CONFIG, { recursive: true });
  } catch {
    // Already gone.
  }
});

/**
 * The environment for one program a test starts: the test's own, with a
 * configuration folder of its own when the test gave none.
 *
 * @param env what the test gave
 * @returns the environment and the folder to remove afterwards, if one was made
 */
async function ownConfig(
  env: Record<string, string> | undefined,
): Promise<{ env: Record<string, string>; made?: string }> {
  if (env?.XDG_CONFIG_HOME !== undefined) return { env };
  const made = await Deno.makeTempDir({ prefix: "privateshare-test-config-" });
  return { env: { ...env, XDG_CONFIG_HOME: made }, made };
}

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
  /** More permissions (such as `--allow-sys`). */
  perms?: string[];
  /** Environment variables to set. */
  env?: Record<string, string>;
  /**
   * Keep the log lines after `listening` (default true). Without, they are
   * drained unparsed, so that a benchmark does not pay for parsing them.
   */
  record?: boolean;
  /** Called with the process as soon as it is spawned (a benchmark tracks it to kill it). */
  onSpawn?: (process: Deno.ChildProcess) => void;
  /** A command that runs deno, such as `ip netns exec NS` (default: none). */
  wrap?: string[];
}

/** The program and arguments that run deno, wrapped or not. */
function denoCommand(args: string[], wrap: string[] = []): [string, string[]] {
  const [first, ...rest] = wrap;
  return first === undefined
    ? [Deno.execPath(), args]
    : [first, [...rest, Deno.execPath(), ...args]];
}

/**
 * Starts the real server CLI on port 0 with JSON logs, and waits until it
 * listens. A server that does not come up within 20 s is killed.
 *
 * @param spec folder, permissions and flags
 * @returns the running server
 */
export async function startTestServer(spec: ServerSpec): Promise<TestServer> {
  const perms = [
    ...(spec.write === false ? ["--allow-net", "--allow-read"] : ALL_PERMS),
    ...(spec.perms ?? []),
  ];
  // Outside a test's own network namespace, no server announces itself on the host's network.
  const quiet = spec.wrap === undefined &&
    !(spec.args ?? []).some((a) => a === "--name" || a === "--no-announce");
  const args = [
    "0",
    "--root",
    spec.root,
    "--log-format",
    "json",
    ...(quiet ? ["--no-announce"] : []),
  ];
  const config = await ownConfig(spec.env);
  const [program, programArgs] = denoCommand(
    denoRunArgs(SERVER_TS, [...args, ...(spec.args ?? [])], perms),
    spec.wrap,
  );
  const process = new Deno.Command(program, {
    args: programArgs,
    env: config.env,
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
    if (config.made) await Deno.remove(config.made, { recursive: true }).catch(() => {});
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
 * @param options working folder, permissions (default: net, read, write, env) and environment
 * @returns exit code and output
 */
export async function runClient(
  args: string[],
  options: { cwd?: string; perms?: string[]; env?: Record<string, string>; wrap?: string[] } = {},
): Promise<RunResult> {
  return await runCli(
    CLIENT_TS,
    args,
    options.perms ?? CLIENT_RUN_PERMS,
    options.cwd,
    options.env,
    options.wrap,
  );
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
  return await runCli(SERVER_TS, args, perms, undefined, env);
}

/** Runs one of the CLIs to completion and collects what it printed. */
async function runCli(
  script: string,
  args: string[],
  perms: readonly string[],
  cwd?: string,
  env?: Record<string, string>,
  wrap?: string[],
): Promise<RunResult> {
  const config = await ownConfig(env);
  const [program, programArgs] = denoCommand(denoRunArgs(script, args, perms), wrap);
  const output = await new Deno.Command(program, {
    args: programArgs,
    cwd,
    env: config.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output().finally(() =>
    config.made && Deno.remove(config.made, { recursive: true }).catch(() => {})
  );
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/**
 * Reads a child's stdout line by line until one matches.
 *
 * @param reader the child's stdout, decoded
 * @param match the line waited for
 * @returns that line
 * @throws {Error} when the output ends before it
 */
export async function lineMatching(
  reader: ReadableStreamDefaultReader<string>,
  match: (line: string) => boolean,
): Promise<string> {
  let pending = "";
  for (;;) {
    const at = pending.indexOf("\n");
    if (at >= 0) {
      const line = pending.slice(0, at);
      pending = pending.slice(at + 1);
      if (match(line)) return line;
      continue;
    }
    const { value, done } = await reader.read();
    if (done) throw new Error("The program ended before the line came");
    pending += value;
  }
}
