/**
 * The HTTP servers of the benchmark's web case, each started fresh on
 * loopback for one measurement: nginx from Debian's package (static files,
 * and WebDAV `PUT` for uploads) with a configuration of the benchmark's own,
 * `python3 -m http.server`, and privateshare with its web page. Each is a
 * tracked child process (see processes.ts), so that an interrupted benchmark
 * leaves none behind.
 *
 * @module
 */

import { join } from "node:path";
import { ALL_PERMS, denoRunArgs, SERVER_TS } from "../tests/helpers.ts";
import { freePort, HOST, readPeak, spawn, waitListening } from "./processes.ts";

const decoder = new TextDecoder();

/** A running HTTP server. */
export interface HttpServer {
  /** Its base address, such as `http://127.0.0.1:8080`. */
  base: string;
  /** The peak resident memory (VmHWM) of the process that serves, in bytes. */
  peak(): number | undefined;
  /** Stops it and waits for it. */
  stop(): Promise<void>;
}

/**
 * The first line a program prints about its version, or undefined when it
 * is not installed.
 *
 * @param command the program
 * @param args what makes it print its version
 * @returns the line
 */
export async function versionOf(command: string, args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(command, { args, stdin: "null" }).output();
    // nginx prints its version on stderr.
    const text = decoder.decode(out.stdout) + decoder.decode(out.stderr);
    return text.split("\n")[0]?.trim() || command;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** The children of a process, from /proc. */
function childrenOf(pid: number): number[] {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`);
    return text.trim().split(/\s+/).filter(Boolean).map(Number);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

async function stopChild(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch (error) {
    if (!(error instanceof TypeError)) throw error; // it had already exited
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
    }
  }, 5000);
  await child.status;
  clearTimeout(timer);
}

/** Keeps what a child prints on stderr, for the error when it fails. */
function gather(stream: ReadableStream<Uint8Array>): () => string {
  let text = "";
  (async () => {
    for await (const chunk of stream) text = (text + decoder.decode(chunk)).slice(-4000);
  })().catch(() => {});
  return () => text.trim();
}

/**
 * Starts nginx with the benchmark's configuration: one worker, `sendfile`,
 * `root` served as static files, and `PUT /up/NAME` writing `upload/NAME`
 * through WebDAV (`dav_methods PUT`, no body size limit, the body's
 * temporary file in `dir`, the same file system).
 *
 * @param dir an empty folder for its configuration, logs and temporary files
 * @param root the folder it serves
 * @param upload where uploads go
 * @returns the running server; its peak is the worker's
 */
export async function startNginx(dir: string, root: string, upload: string): Promise<HttpServer> {
  const port = freePort();
  const q = (path: string) => JSON.stringify(path);
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((kind) => `  ${kind}_temp_path ${q(join(dir, kind))};`);
  const config = [
    "daemon off;",
    "worker_processes 1;",
    // As root, nginx would run its worker as nobody, who cannot write the benchmark's folders.
    ...(Deno.uid() === 0 ? ["user root;"] : []),
    `pid ${q(join(dir, "nginx.pid"))};`,
    `error_log ${q(join(dir, "error.log"))} warn;`,
    "events { worker_connections 64; }",
    "http {",
    "  access_log off;",
    "  sendfile on;",
    "  tcp_nopush on;",
    "  default_type application/octet-stream;",
    ...temp,
    "  server {",
    `    listen ${HOST}:${port};`,
    `    root ${q(root)};`,
    "    location /up/ {",
    `      alias ${q(upload + "/")};`,
    "      dav_methods PUT;",
    "      client_max_body_size 0;",
    "    }",
    "  }",
    "}",
  ].join("\n");
  await Deno.mkdir(dir, { recursive: true });
  await Deno.mkdir(upload, { recursive: true });
  const file = join(dir, "nginx.conf");
  await Deno.writeTextFile(file, config + "\n");
  const child = spawn("nginx", ["-p", dir, "-e", join(dir, "error.log"), "-c", file], {
    stdout: "null",
  });
  const errors = gather(child.stderr);
  try {
    await waitListening(port, child, "nginx");
  } catch (error) {
    await stopChild(child);
    throw new Error(`${(error as Error).message}: ${errors()}`, { cause: error });
  }
  return {
    base: `http://${HOST}:${port}`,
    peak: () => {
      const workers = childrenOf(child.pid);
      return workers.length ? Math.max(...workers.map((pid) => readPeak(pid) ?? 0)) : undefined;
    },
    stop: () => stopChild(child),
  };
}

/**
 * Starts `python3 -m http.server` serving `root`.
 *
 * @param root the folder
 * @returns the running server
 */
export async function startPython(root: string): Promise<HttpServer> {
  const port = freePort();
  const child = spawn(
    "python3",
    ["-m", "http.server", String(port), "--bind", HOST, "--directory", root],
    { stdout: "null" },
  );
  const errors = gather(child.stderr);
  try {
    await waitListening(port, child, "python3 -m http.server");
  } catch (error) {
    await stopChild(child);
    throw new Error(`${(error as Error).message}: ${errors()}`, { cause: error });
  }
  return {
    base: `http://${HOST}:${port}`,
    peak: () => readPeak(child.pid),
    stop: () => stopChild(child),
  };
}

/** privateshare's page, signed in. */
export interface PageServer extends HttpServer {
  /** The page's address with its token, as the QR code carries it. */
  url: string;
  /** `privateshare_session=ID`, the session cookie that the token gave. */
  cookie: string;
}

/**
 * Starts a privateshare server with its web page as a person does
 * (`server.ts 0 --root ROOT --host 127.0.0.1 --web-port 0`, JSON log), reads
 * the page's address from its log, and signs in with the token.
 *
 * @param root the folder it serves
 * @returns the running server and a session
 */
export async function startPrivateshare(root: string): Promise<PageServer> {
  const args = ["0", "--root", root, "--host", HOST, "--web-port", "0", "--idle-timeout", "0"];
  const child = spawn(
    Deno.execPath(),
    denoRunArgs(SERVER_TS, [...args, "--log-format", "json"], ALL_PERMS),
  );
  const errors = gather(child.stderr);
  let url: string;
  try {
    url = await pageAddress(child.stdout);
  } catch (error) {
    await stopChild(child);
    throw new Error(`privateshare did not start: ${errors()}`, { cause: error });
  }
  const base = new URL(url).origin;
  const answer = await fetch(url, { redirect: "manual" });
  await answer.body?.cancel();
  const cookie = answer.headers.get("set-cookie")?.split(";")[0];
  if (answer.status !== 303 || !cookie) {
    await stopChild(child);
    throw new Error(`privateshare's token gave ${answer.status} and no session cookie`);
  }
  return { base, url, cookie, peak: () => readPeak(child.pid), stop: () => stopChild(child) };
}

/** Reads the server's JSON log up to the page's address, and lets the rest drain. */
async function pageAddress(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let url: string | undefined;
  while (url === undefined) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the server's log ended before the page's address");
    text += value;
    const lines = text.split("\n");
    text = lines.pop()!;
    for (const line of lines) {
      const entry = JSON.parse(line);
      if (entry.event === "web-page") url = entry.url;
    }
  }
  (async () => {
    while (!(await reader.read()).done);
  })().catch(() => {});
  return url;
}
