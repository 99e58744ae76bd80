/**
 * The server's command line: flags, help, the startup lines, signals and
 * exit codes. The only place that names a server flag.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  checkRoot,
  FOLDER_LIMITS,
  ListenError,
  type LogFormat,
  Logger,
  READ_ONLY_MESSAGE,
  RootError,
  type Server,
  SERVER_DEFAULTS,
  type ServerEvent,
  startServer,
  validServerName,
  VERSION,
} from "../mod.ts";
import {
  compiledName,
  describeUnexpected,
  EXIT,
  FACE_FLAGS,
  fail,
  isParseArgsError,
  parseCount,
  parsePort,
  parseSeconds,
  UsageError,
} from "./common.ts";
import { SERVER_FLAGS, SERVER_HELP, serverSecurity } from "./security.ts";
import { announceOnCli } from "./server_announce.ts";
import { linkLines } from "./server_links.ts";
import { WEB_FLAGS, WEB_HELP, webLines, webListenFailure, webOptions } from "./server_web.ts";

const PROGRAM = "privateshare-server";

const seconds = (ms: number) => ms / 1000;
const D = SERVER_DEFAULTS;
const L = FOLDER_LIMITS;

/**
 * The usage line printed after a mistake.
 *
 * @param program the compiled program's name; without it, the script's usage
 * @returns `Usage: server.ts PORT ...`, or `Usage: privateshare-server PORT ...` when compiled
 */
export function usage(program: string | undefined = compiledName()): string {
  return `Usage: ${program ?? "server.ts"} PORT [--root DIR] [--host ADDR] [--read-only] ` +
    "[--idle-timeout SECONDS] [--max-connections N] [--log-format text|json] [--tls] [--web] " +
    "(--help for more)";
}

/**
 * The text of `--help`. A compiled program's usage lines name the program
 * instead of `deno run ... server.ts`; every other line is the script's.
 *
 * @param program the compiled program's name; without it, the script's help
 * @returns the text
 */
export function help(program: string | undefined = compiledName()): string {
  const run = program ?? "deno run --allow-net --allow-read [--allow-write] server.ts";
  const gui = program ?? "server.ts";
  return `privateshare server ${VERSION}: serves one folder over TCP.

Usage:
  ${run} PORT [options]
  ${gui} --gui [--no-open]   the server's page in your browser (also with no arguments at all)

${HELP_AFTER_USAGE}`;
}

/** The help after its usage lines, the same for the script and the compiled program. */
const HELP_AFTER_USAGE =
  `Without --allow-write, or with --read-only, the server is read-only: it serves
get and list and refuses every put. With --allow-write it accepts uploads too.
Clients get and put files and whole folders, and list any folder below the root;
a folder put appears whole or not at all. With --allow-sys=statfs the server
checks its free space before it accepts a folder. Limits of one folder transfer:
  ${L.maxFiles.toLocaleString("en")} files, ${
    L.maxFolders.toLocaleString("en")
  } folders, ${L.maxDepth} levels deep, ${L.maxPathBytes} bytes a path, ${
    L.maxNamesBytes / 1024 / 1024
  } MiB of names.

Options:
  --root DIR                 folder to serve (default: the current folder)
  --host ADDR                address to listen on (default: all interfaces, IPv4 and IPv6)
  --read-only                refuse uploads even where writing is allowed
  --idle-timeout SECONDS     shut down after this long without a connection
                             (default ${seconds(D.idleTimeoutMs)}; 0 never)
  --max-connections N        requests served at once; more are refused as busy
                             (default ${D.maxConnections})
  --max-per-address N        requests served at once from one address; more are
                             refused as busy (default ${D.maxPerAddress})
  --command-timeout SECONDS  time a client has to send its whole command
                             (default ${seconds(D.commandTimeoutMs)})
  --data-timeout SECONDS     drop a transfer that makes no progress for this long, or
                             moves less than ${D.minRate / 1024} KiB a second over it (default ${
    seconds(D.dataTimeoutMs)
  })
  --partial-ttl SECONDS      remove interrupted uploads older than this
                             (default ${seconds(D.partialTtlMs)})
  --grace SECONDS            on SIGINT/SIGTERM, let transfers in flight finish this long
                             (default ${seconds(D.graceMs)})
  --classic-pause SECONDS    pause between a classic get's code and its data, so that
                             the original client reads the code alone (default ${
    seconds(D.classicPauseMs)
  })
  --log-format text|json     log lines for people or for machines (default text)
  --name NAME                the name announced on the local network, which clients
                             see and may use instead of an address, and the web page's
                             title (default: this computer's name, with --allow-sys=hostname)
  --no-announce              do not announce the server on the local network
  -h, --help                 show this help
  -V, --version              show the version
${SERVER_HELP}${WEB_HELP}
At most ${D.maxPending} connections may wait for their command; a newer one closes the
oldest of the address that holds the most of them.

Exit codes: 0 stopped normally, 1 unexpected error, 2 bad arguments or unusable port.
`;

/**
 * Runs the server's command line and exits with its code.
 *
 * @param args the arguments after the script
 */
export async function main(args: string[]): Promise<void> {
  try {
    Deno.exit(await run(args));
  } catch (error) {
    if (error instanceof UsageError) {
      fail(PROGRAM, error.message, EXIT.usage, error.showUsage ? usage() : undefined);
    }
    if (isParseArgsError(error)) fail(PROGRAM, error.message, EXIT.usage, usage());
    fail(PROGRAM, describeUnexpected(error), EXIT.internal);
  }
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      root: { type: "string" },
      host: { type: "string" },
      "read-only": { type: "boolean" },
      "idle-timeout": { type: "string" },
      "max-connections": { type: "string" },
      "max-per-address": { type: "string" },
      "command-timeout": { type: "string" },
      "data-timeout": { type: "string" },
      "partial-ttl": { type: "string" },
      grace: { type: "string" },
      "classic-pause": { type: "string" },
      "log-format": { type: "string" },
      name: { type: "string" },
      "no-announce": { type: "boolean" },
      ...SERVER_FLAGS,
      ...WEB_FLAGS,
      ...FACE_FLAGS,
    },
  });
  if (values.help) {
    console.log(help());
    return EXIT.ok;
  }
  if (values.version) {
    console.log(`privateshare-server ${VERSION}`);
    return EXIT.ok;
  }
  if (args.length === 0 || values.gui || values["no-open"]) {
    if (args.some((a) => a !== "--gui" && a !== "--no-open")) {
      throw new UsageError("--gui takes no other arguments: the page asks for the rest");
    }
    const { runServerGui } = await import("../gui/server_gui.ts");
    return await runServerGui({ open: !values["no-open"], program: PROGRAM });
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
  const timing = {
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
    maxPerAddress: parseCount(
      "--max-per-address",
      values["max-per-address"],
      SERVER_DEFAULTS.maxPerAddress,
    ),
    classicPauseMs: parseSeconds(
      "--classic-pause",
      values["classic-pause"],
      SERVER_DEFAULTS.classicPauseMs,
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
  };
  const graceMs = parseSeconds("--grace", values.grace, SERVER_DEFAULTS.graceMs);
  if (values.name !== undefined && !validServerName(values.name)) {
    throw new UsageError(
      `Invalid --name '${values.name}': give a name of 1 to 63 bytes, without control characters`,
    );
  }
  const web = webOptions(values, port, values.host, values.name);
  // With --web the name is also the page's title.
  if (values.name !== undefined && values["no-announce"] && !web) {
    throw new UsageError("--name is the name announced: give it or --no-announce, not both");
  }
  const log = new Logger(format as LogFormat);

  if (Deno.permissions.querySync({ name: "read", path: root }).state !== "granted") {
    throw new UsageError(`Serving '${root}' needs --allow-read: run deno with --allow-read`);
  }
  if (Deno.permissions.querySync({ name: "net" }).state !== "granted") {
    throw new UsageError("Listening needs --allow-net: run deno with --allow-net");
  }
  try {
    checkRoot(root);
  } catch (error) {
    if (!(error instanceof RootError)) throw error;
    if (error.code === "missing") {
      throw new UsageError(`${error.message}: give an existing folder to --root`);
    }
    throw new UsageError(error.message, error.code !== "denied");
  }
  // Read-only is the library's option; without write permission it is forced
  // on, and a client that tries to upload is told how to turn uploads on.
  const writeGranted =
    Deno.permissions.querySync({ name: "write", path: root }).state === "granted";
  const readOnly = values["read-only"] === true || !writeGranted;
  const mode = !readOnly
    ? "accepting uploads"
    : writeGranted
    ? "read-only (--read-only)"
    : "read-only: restart with --allow-write to accept uploads";

  const security = await serverSecurity(values);
  let server: Server;
  let signalName: string | undefined;
  const onEvent = (event: ServerEvent) => {
    if (event.type === "started") {
      const where = event.host === "::" || event.host === "0.0.0.0" ? "all interfaces" : event.host;
      log.event(
        "listening",
        `privateshare ${VERSION} serving '${event.root}' on port ${event.port} (${where}), ${mode}`,
        { port: event.port, host: event.host, root: event.root, writable: !event.readOnly },
      );
      log.event(
        "idle-timeout",
        event.idleTimeoutMs > 0
          ? `Will stop after ${
            seconds(event.idleTimeoutMs)
          } s without a connection (--idle-timeout 0 to keep running)`
          : "No idle shutdown: running until stopped",
        { idleSeconds: seconds(event.idleTimeoutMs) },
      );
      const links = linkLines(
        event.host,
        event.port,
        security.fingerprint,
        values["tls-name"] ?? [],
      );
      for (const line of [...security.lines, ...links]) {
        log.event(line.event, line.message, line.fields);
      }
    } else if (event.type === "stopping" && signalName !== undefined) {
      log.event(
        "stopping",
        `${signalName}: not accepting connections; letting ${event.active} connection(s) ` +
          `finish for up to ${seconds(event.graceMs)} s`,
        { signal: signalName, active: event.active, graceSeconds: seconds(event.graceMs) },
      );
    } else {
      log.handle(event);
    }
  };
  try {
    server = startServer({
      ...timing,
      root,
      port,
      ...(values.host !== undefined ? { host: values.host } : {}),
      readOnly,
      readOnlyMessage: writeGranted
        ? READ_ONLY_MESSAGE
        : "This server is read-only: restart it with --allow-write to accept uploads",
      bufferBytes: SERVER_DEFAULTS.bufferBytes,
      onEvent,
      ...security.options,
      ...(web ? { web } : {}),
    });
  } catch (error) {
    if (!(error instanceof ListenError)) throw error;
    const failure = webListenFailure(error, web, values["web-port"] !== undefined);
    if (failure) throw failure;
    const flag = error.code === "address"
      ? "--host"
      : error.code === "tls"
      ? "--cert and --key"
      : "";
    throw new UsageError(flag ? `${error.message}: check ${flag}` : error.message, false);
  }

  const password = security.options.password !== undefined;
  for (const line of await webLines(server, security.fingerprint, password, log.format)) {
    log.event(line.event, line.message, line.fields);
  }
  const announcement = values["no-announce"]
    ? undefined
    : await announceOnCli(server, values.name, security, log);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(signal, () => {
        signalName ??= signal;
        // Clients see it go at once, not when the last transfer ends.
        announcement?.close();
        server.close(graceMs);
      });
    } catch {
      // Not every signal exists on every system (Windows has no SIGTERM).
    }
  }
  await server.finished;
  await announcement?.close();
  // The last lines (stopped, ...) go out unless the log's reader is stuck.
  await log.flush(2000);
  return EXIT.ok;
}
