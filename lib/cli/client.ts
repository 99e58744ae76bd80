/**
 * The client's command line: flags, help, the progress bar, the summary and
 * exit codes. The only place that names a client flag, so the wording that
 * suggests one (`add --force`, `add --classic`) is added here.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  CLIENT_DEFAULTS,
  ClientError,
  get,
  isLink,
  list,
  printable,
  put,
  type TransferOptions,
  type TransferResult,
  VERSION,
} from "../client_mod.ts";
import {
  compiledName,
  describeUnexpected,
  EXIT,
  EXIT_FOR,
  FACE_FLAGS,
  fail,
  isParseArgsError,
  parsePort,
  parseSeconds,
  UsageError,
} from "./common.ts";
import { formatBytes, formatDuration, formatRate, localTime, ProgressBar } from "./progress.ts";
import { skippedLines, summaryOfMany, Tally } from "./transfers.ts";
import { CLIENT_FLAGS, CLIENT_HELP, clientSecurity, rememberLine } from "./security.ts";
import { promptPassword } from "./password.ts";
import { readLink } from "./trust.ts";
import { describe } from "./failure.ts";
import { DISCOVER_HELP, runDiscover, serverByName, splitTarget } from "./discover.ts";

export { describe };

const PROGRAM = "privateshare";

/**
 * The usage line printed after a mistake.
 *
 * @param program the compiled program's name; without it, the script's usage
 * @returns `Usage: client.ts HOST PORT ...`, or `Usage: privateshare-client HOST PORT ...` when compiled
 */
export function usage(program: string | undefined = compiledName()): string {
  return `Usage: ${program ?? "client.ts"} HOST PORT put PATH... | get NAME... | list [FOLDER] ` +
    "[options] (--help for more)";
}

/**
 * The text of `--help`. A compiled program's usage lines name the program
 * instead of `deno run ... client.ts`; every other line is the script's.
 *
 * @param program the compiled program's name; without it, the script's help
 * @returns the text
 */
export function help(program: string | undefined = compiledName()): string {
  const run = (permissions: string) => program ?? `deno run ${permissions} client.ts`;
  const gui = program ?? "client.ts";
  return `privateshare client ${VERSION}: put, get and list files and folders on a privateshare server.

Usage:
  ${run("--allow-net --allow-read --allow-env")} HOST PORT put PATH... [--to FOLDER] [--as NAME]
  ${
    run("--allow-net --allow-read --allow-write --allow-env")
  } HOST PORT get NAME... [--output PATH] [--force]
  ${run("--allow-net --allow-read --allow-env")} HOST PORT list [FOLDER] [--json]
  ${run("--allow-net")} discover [--json] [--timeout SECONDS]
  ${gui} --gui [--no-open]   the client's page in your browser (also with no arguments at all)

A server's link (privateshare://HOST:PORT/#sha256=..., printed by the server at start)
may stand where HOST PORT go; it pins the server's certificate.

${HELP_AFTER_USAGE}`;
}

/** The help after its usage lines, the same for the script and the compiled program. */
const HELP_AFTER_USAGE = `Options:
  --to FOLDER        put: into FOLDER on the server (it must exist there)
  --as NAME          put: store the one PATH under NAME instead of its own name
  -o, --output PATH  get: save to PATH (a file, or a folder to save into)
  -f, --force        get: overwrite a local file, or replace a local folder, of the same name
  --json             list: print JSON instead of a table
  --no-resume        put/get: start over instead of continuing an interrupted transfer
  --classic          speak the original privateshare protocol (no size, no checksum)
  --timeout SECONDS  give up when the server makes no progress this long (default ${
  CLIENT_DEFAULTS.timeoutMs / 1000
})
  -q, --quiet        no progress bar and no summary line
${CLIENT_HELP}
  -h, --help         show this help
  -V, --version      show the version

${DISCOVER_HELP}
Where get saves: NAME in the current folder; with --output, a file path, a folder
to save into (a trailing slash says it must be one), or a device or FIFO such as
/dev/null, written into. An existing file is replaced only with --force.

Folders: put of a folder sends it whole, as a new folder (an existing one on the
server is refused: put files into it with --to). Links, FIFOs and devices in it
are skipped, never followed, and each is named on stderr. get of a folder saves
it under its last name; --force replaces a local one only once the new one is
complete. An interrupted folder put or get resumes when run again: files already
complete are not sent again. Several PATHs or NAMEs go one after another; the
first failure stops the command and gives its exit code.

Exit codes: 0 success, 1 unexpected error, 2 bad arguments or missing permission,
3 refused by the server, 4 connection failed or lost, 5 verification failed,
6 local file problem, 7 the server speaks another protocol (or TLS, or not),
8 the server's certificate was not trusted, 9 no server found on this network,
130 interrupted (Ctrl-C or SIGTERM; run the same command again to resume).
`;

/**
 * Runs the client's command line and exits with its code.
 *
 * @param args the arguments after the script
 */
export async function main(args: string[]): Promise<void> {
  const interrupt = new AbortController();
  const stopListening = listenForInterrupts(interrupt);
  try {
    Deno.exit(await run(args, interrupt.signal));
  } catch (error) {
    if (error instanceof UsageError || isParseArgsError(error)) {
      const line = error instanceof UsageError && !error.showUsage ? undefined : usage();
      fail(PROGRAM, escapeControls(error.message), EXIT.usage, line);
    }
    if (error instanceof ClientError) {
      fail(PROGRAM, escapeControls(describe(error)), EXIT_FOR[error.kind]);
    }
    fail(PROGRAM, escapeControls(describeUnexpected(error)), EXIT.internal);
  } finally {
    stopListening();
  }
}

/**
 * On Ctrl-C or SIGTERM, cancels the operation through its signal, so that a
 * transfer writes what it received and says how to resume. A second signal
 * ends the program at once.
 */
function listenForInterrupts(interrupt: AbortController): () => void {
  const onSignal = () => {
    if (!interrupt.signal.aborted) return interrupt.abort();
    fail(PROGRAM, "Interrupted again: stopped at once", EXIT.interrupted);
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  return () => {
    for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
  };
}

async function run(args: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      as: { type: "string" },
      to: { type: "string" },
      output: { type: "string", short: "o" },
      force: { type: "boolean", short: "f" },
      json: { type: "boolean" },
      "no-resume": { type: "boolean" },
      classic: { type: "boolean" },
      timeout: { type: "string" },
      quiet: { type: "boolean", short: "q" },
      ...CLIENT_FLAGS,
      ...FACE_FLAGS,
    },
  });
  if (values.help) {
    console.log(help());
    return EXIT.ok;
  }
  if (values.version) {
    console.log(`privateshare ${VERSION}`);
    return EXIT.ok;
  }
  if (args.length === 0 || values.gui || values["no-open"]) {
    if (args.some((a) => a !== "--gui" && a !== "--no-open")) {
      throw new UsageError("--gui takes no other arguments: the page asks for the rest");
    }
    const { runClientGui } = await import("../gui/client_gui.ts");
    return await runClientGui({ open: !values["no-open"], program: PROGRAM, summary });
  }
  if (positionals[0] === "discover" && positionals.length === 1) {
    return await runDiscover(values, signal, terminalSafeJson);
  }
  // A server's link stands where HOST PORT go, and pins its certificate.
  const link = positionals[0] !== undefined && isLink(positionals[0])
    ? readLink(positionals[0])
    : undefined;
  const { name, portText, byName, op, items } = link
    ? {
      name: link.host,
      portText: String(link.port),
      byName: false,
      op: positionals[1],
      items: positionals.slice(2),
    }
    : splitTarget(positionals);
  if (!byName) parsePort(portText);
  if (op === undefined) throw new UsageError("Missing operation: give put, get or list");
  if (op !== "put" && op !== "get" && op !== "list") {
    throw new UsageError(`Unknown operation '${op}': give put, get or list`);
  }
  if (op !== "list" && items.length === 0) {
    throw new UsageError(
      `Missing ${op === "put" ? "PATH" : "NAME"}: ${op} takes one or more files or folders`,
    );
  }
  if (op === "list" && items[1] !== undefined) {
    throw new UsageError(`Unexpected argument '${items[1]}': list takes one FOLDER`);
  }
  if (values.as !== undefined && items.length > 1) {
    throw new UsageError("--as names one PATH: put several without it, or with --to");
  }
  const misplaced = (flag: string, ops: string) => {
    throw new UsageError(`${flag} goes with ${ops}, not with ${op}`);
  };
  if (values.as !== undefined && op !== "put") misplaced("--as", "put");
  if (values.to !== undefined && op !== "put") misplaced("--to", "put");
  if (values.output !== undefined && op !== "get") misplaced("--output", "get");
  if (values.force && op !== "get") misplaced("--force", "get");
  if (values.json && op !== "list") misplaced("--json", "list");

  const security = await clientSecurity(values, link);
  let [host, port] = [name, 0];
  if (byName) {
    const found = await serverByName(name, compiledName() ?? "client.ts", signal);
    [host, port] = [found.addresses[0]!, found.port];
    // A server that announces TLS is spoken to in TLS; trust is still its certificate.
    if (found.tls && !values.classic) security.tls ??= {};
  } else {
    port = parsePort(portText);
  }
  const options: TransferOptions = {
    host,
    port,
    classic: values.classic ?? false,
    timeoutMs: parseSeconds("--timeout", values.timeout, CLIENT_DEFAULTS.timeoutMs),
    resume: !values["no-resume"],
    signal,
    ...security,
    onRemember: (note) => console.error(`${PROGRAM}: ${rememberLine(note)}`),
  };
  const quiet = values.quiet ?? false;

  if (op === "list") {
    const folder = items[0];
    const files = await askingPassword(
      options,
      () => list({ ...options, ...(folder !== undefined ? { folder } : {}) }),
    );
    if (values.json) {
      console.log(terminalSafeJson(files));
    } else if (files.length === 0) {
      console.error("(no files)");
    } else {
      for (const f of files) {
        const size = f.size === undefined ? "" : formatBytes(f.size).padStart(10);
        const time = f.mtime === undefined ? "" : localTime(f.mtime);
        const name = f.type === "folder"
          ? `${printable(f.name)}/  (${f.files} ${f.files === 1 ? "file" : "files"})`
          : printable(f.name);
        console.log([size, time, name].filter((x) => x !== "").join("  "));
      }
    }
    return EXIT.ok;
  }

  const label = items.length === 1
    ? `${op} ${printable(items[0]!)}`
    : `${op} ${items.length} items`;
  const bar = !quiet && Deno.stderr.isTerminal() ? new ProgressBar(label) : undefined;
  const tally = new Tally(bar, items.length);
  options.onProgress = tally.progress;
  // Several downloads go into one folder, which must exist.
  const output = values.output !== undefined && items.length > 1 && !values.output.endsWith("/")
    ? `${values.output}/`
    : values.output;
  try {
    for (const item of items) {
      const result = await askingPassword(
        options,
        () =>
          op === "put"
            ? put(item, {
              ...options,
              ...(values.as !== undefined ? { as: values.as } : {}),
              ...(values.to !== undefined ? { to: values.to } : {}),
            })
            : get(item, {
              ...options,
              ...(output !== undefined ? { output } : {}),
              force: values.force ?? false,
            }),
      );
      tally.add(result);
      const lines = skippedLines(PROGRAM, result);
      if (lines.length > 0) bar?.finish();
      for (const line of lines) console.error(escapeControls(line));
    }
  } finally {
    bar?.finish();
  }
  if (quiet) return EXIT.ok;
  const [first] = tally.results;
  const line = items.length === 1 && first!.type !== "folder"
    ? summary(op, first!)
    : summaryOfMany(op, tally.results, tally.ms);
  // Written into a device or pipe (`-o /dev/stdout`), the summary stays out of the data.
  if (tally.results.some((r) => r.streamed)) console.error(line);
  else console.log(line);
  return EXIT.ok;
}

/**
 * Runs an operation; when the server needs a password that was not given,
 * or refuses one typed, asks for it at the terminal (three tries) and runs
 * it again.
 */
async function askingPassword<T>(options: TransferOptions, run: () => Promise<T>): Promise<T> {
  const given = options.password !== undefined;
  for (let tries = 0;; tries++) {
    try {
      return await run();
    } catch (error) {
      const code = (error as ClientError).code;
      const ask = tries < 3 &&
        (code === "password-needed" || (code === "password-wrong" && !given));
      if (!(error instanceof ClientError) || !ask || !Deno.stdin.isTerminal()) throw error;
      if (code === "password-wrong") console.error(`${PROGRAM}: ${error.message}`);
      const password = await promptPassword(`Password for ${options.host}:${options.port}: `);
      if (password === undefined) throw error;
      options.password = password;
    }
  }
}

/**
 * The line printed after a transfer (of a folder: its files and bytes).
 *
 * @param op put or get
 * @param r what the transfer did
 * @returns one line
 */
export function summary(op: "put" | "get", r: TransferResult): string {
  if (r.type === "folder") return summaryOfMany(op, [r], r.ms);
  const where = op === "put"
    ? `'${printable(r.name)}'`
    : `'${printable(r.name)}' -> '${printable(r.path)}'`;
  const resumed = r.resumedFrom > 0 ? `, resumed at ${formatBytes(r.resumedFrom)}` : "";
  const check = r.sha256
    ? `verified sha256 ${r.sha256.slice(0, 16)}…`
    : "not verified: classic protocol";
  return `${op} ${where}: ${formatBytes(r.size)} in ${formatDuration(r.ms)} ` +
    `(${formatRate(r.moved, r.ms)}${resumed}), ${check}`;
}

// What a terminal acts on: C0 and C1 controls, DEL, bidirectional overrides and
// isolates, line and paragraph separators.
// deno-lint-ignore no-control-regex
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * A message for the terminal: a server's refusal may carry any text, so each
 * control character in it is escaped as {@link printable} escapes it. Unlike
 * a name, a message is read rather than copied, so its backslashes (in a
 * quoted name, say) stay as they are.
 */
function escapeControls(message: string): string {
  return message.replace(CONTROLS, (c) => printable(c));
}

/**
 * JSON that reads back exactly and is still safe on a terminal: the C1
 * controls, bidirectional overrides and line separators that JSON allows raw
 * in a string are written as `\u` escapes, which mean the same characters.
 */
function terminalSafeJson(value: unknown): string {
  // JSON escapes every C0 control in a string already (and its own newlines are layout).
  return JSON.stringify(value, null, 2).replace(
    /[\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
