/**
 * privateshare server: serves one folder on a TCP port.
 *
 * ```
 * deno run --allow-net --allow-read [--allow-write] server.ts PORT [options]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  describeUnexpected,
  EXIT,
  fail,
  isParseArgsError,
  parseCount,
  parsePort,
  parseSeconds,
  UsageError,
} from "./lib/cli.ts";
import { type LogFormat, Logger } from "./lib/log.ts";
import { VERSION } from "./lib/protocol.ts";
import { SERVER_DEFAULTS, startServer } from "./lib/server.ts";

const PROGRAM = "privateshare-server";
const USAGE = "Usage: server.ts PORT [--root DIR] [--host ADDR] [--idle-timeout SECONDS] " +
  "[--max-connections N] [--log-format text|json] (--help for more)";

const HELP = `privateshare server ${VERSION}: serves one folder over TCP.

Usage:
  deno run --allow-net --allow-read [--allow-write] server.ts PORT [options]

Without --allow-write the server is read-only: it serves get and list and
refuses every put. With --allow-write it accepts uploads too.

Options:
  --root DIR               folder to serve (default: the current folder)
  --host ADDR              address to listen on (default: all interfaces, IPv4 and IPv6)
  --idle-timeout SECONDS   shut down after this long without a connection (default 300; 0 never)
  --max-connections N      connections served at once; more are refused as busy (default ${SERVER_DEFAULTS.maxConnections})
  --command-timeout SECONDS  drop a client that sends no command for this long (default ${
  SERVER_DEFAULTS.commandTimeoutMs / 1000
})
  --data-timeout SECONDS   drop a transfer that makes no progress for this long (default ${
  SERVER_DEFAULTS.dataTimeoutMs / 1000
})
  --partial-ttl SECONDS    remove interrupted uploads older than this (default ${
  SERVER_DEFAULTS.partialTtlMs / 1000
})
  --grace SECONDS          on SIGINT/SIGTERM, let transfers finish this long (default 30)
  --log-format text|json   log lines for people or for machines (default text)
  -h, --help               show this help
  -V, --version            show the version

Exit codes: 0 stopped normally, 1 unexpected error, 2 bad arguments or unusable port.
`;

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      root: { type: "string" },
      host: { type: "string" },
      "idle-timeout": { type: "string" },
      "max-connections": { type: "string" },
      "command-timeout": { type: "string" },
      "data-timeout": { type: "string" },
      "partial-ttl": { type: "string" },
      grace: { type: "string" },
      "log-format": { type: "string" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "V" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return EXIT.ok;
  }
  if (values.version) {
    console.log(`privateshare-server ${VERSION}`);
    return EXIT.ok;
  }
  if (positionals.length > 1) {
    throw new UsageError(`Unexpected argument '${positionals[1]}': give only PORT and options`);
  }
  const port = parsePort(positionals[0]);
  const format = values["log-format"] ?? "text";
  if (format !== "text" && format !== "json") {
    throw new UsageError(`Invalid --log-format '${format}': give text or json`);
  }
  const root = values.root ?? ".";
  const options = {
    root,
    port,
    host: values.host,
    idleTimeoutMs: parseSeconds(
      "--idle-timeout",
      values["idle-timeout"],
      SERVER_DEFAULTS.idleTimeoutMs,
    ),
    maxConnections: parseCount(
      "--max-connections",
      values["max-connections"],
      SERVER_DEFAULTS.maxConnections,
    ),
    commandTimeoutMs: parseSeconds(
      "--command-timeout",
      values["command-timeout"],
      SERVER_DEFAULTS.commandTimeoutMs,
    ),
    dataTimeoutMs: parseSeconds(
      "--data-timeout",
      values["data-timeout"],
      SERVER_DEFAULTS.dataTimeoutMs,
    ),
    partialTtlMs: parseSeconds(
      "--partial-ttl",
      values["partial-ttl"],
      SERVER_DEFAULTS.partialTtlMs,
    ),
    bufferBytes: SERVER_DEFAULTS.bufferBytes,
  };
  const graceMs = parseSeconds("--grace", values.grace, 30_000);
  const log = new Logger(format as LogFormat);

  if (Deno.permissions.querySync({ name: "read", path: root }).state !== "granted") {
    throw new UsageError(`Serving '${root}' needs --allow-read: run deno with --allow-read`);
  }
  if (Deno.permissions.querySync({ name: "net" }).state !== "granted") {
    throw new UsageError("Listening needs --allow-net: run deno with --allow-net");
  }
  try {
    if (!Deno.statSync(root).isDirectory) throw new UsageError(`'${root}' is not a folder`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(
        `The folder '${root}' does not exist: give an existing folder to --root`,
      );
    }
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new UsageError(`Cannot serve '${root}': ${error.message}`, false);
    }
    throw error;
  }
  const writable = Deno.permissions.querySync({ name: "write", path: root }).state === "granted";

  let server;
  try {
    server = startServer({ ...options, writable, log });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new UsageError(
        `Port ${port} is already in use: choose another port or stop the program using it`,
        false,
      );
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new UsageError(
        `Port ${port} needs administrator rights here: choose a port above 1023`,
        false,
      );
    }
    if (error instanceof Deno.errors.AddrNotAvailable) {
      throw new UsageError(
        `Address '${options.host}' is not one of this computer's: check --host`,
        false,
      );
    }
    throw error;
  }
  const where = server.addr.hostname === "::" || server.addr.hostname === "0.0.0.0"
    ? "all interfaces"
    : server.addr.hostname;
  log.event(
    "listening",
    `privateshare ${VERSION} serving '${server.store.root}' on port ${server.addr.port} (${where}), ` +
      (writable ? "accepting uploads" : "read-only: restart with --allow-write to accept uploads"),
    { port: server.addr.port, host: server.addr.hostname, root: server.store.root, writable },
  );
  log.event(
    "idle-timeout",
    options.idleTimeoutMs > 0
      ? `Shutting down after ${
        options.idleTimeoutMs / 1000
      } s without a connection (--idle-timeout 0 to keep running)`
      : "No idle shutdown: running until stopped",
    { idleSeconds: options.idleTimeoutMs / 1000 },
  );

  const stop = (signal: string) => {
    log.event(
      "stopping",
      `${signal}: not accepting connections; letting ${server.activeConnections} connection(s) ` +
        `finish for up to ${graceMs / 1000} s`,
      { signal, active: server.activeConnections, graceSeconds: graceMs / 1000 },
    );
    server.close(graceMs);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(signal, () => stop(signal));
    } catch {
      // Not every signal exists on every system (Windows has no SIGTERM).
    }
  }
  await server.finished;
  log.event("stopped", "Server stopped");
  return EXIT.ok;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    if (error instanceof UsageError) {
      fail(PROGRAM, error.message, EXIT.usage, error.showUsage ? USAGE : undefined);
    }
    if (isParseArgsError(error)) fail(PROGRAM, error.message, EXIT.usage, USAGE);
    fail(
      PROGRAM,
      describeUnexpected(error),
      EXIT.internal,
    );
  }
}
