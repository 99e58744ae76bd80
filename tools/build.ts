/**
 * How privateshare's two programs are compiled with `deno compile`: their
 * entry points, the permissions they carry on each system, and the systems
 * a release is built for. `deno task compile` and `deno task release` both
 * compile through here.
 *
 * Nothing is added with `--include`: the GUI's pages, scripts and styles
 * (lib/gui/assets/) are imported as text modules, and the GUI's code with a
 * literal `import("../gui/...")`, so `deno compile` embeds them with the
 * rest of the module graph (each program only its own page); and neither
 * program reads a file of its own at run time (the only file the GUI reads
 * is its settings, in the user's config folder).
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { browserOpener, ENV_VARIABLES } from "../lib/gui/system.ts";
import { PASSWORD_VARIABLE } from "../lib/cli/password.ts";
import { ROOT_VARIABLES } from "../lib/net/private_names.ts";

/** The repository root. */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url));

/** One of the two programs. */
export interface Program {
  /** The file name of the compiled program, without `.exe`. */
  readonly name: string;
  /** Its entry point, relative to the repository root. */
  readonly entry: string;
  /**
   * The permissions it needs on every system; {@link permissionsFor} adds
   * those its GUI needs, which depend on the system.
   */
  readonly permissions: readonly string[];
}

/**
 * The two programs. The server needs the network to listen, read to serve
 * its folder, and write to accept uploads (it is read-only with
 * `--read-only`); its page shows the addresses clients can use, from the
 * network interfaces, and a certificate it makes for `--tls` names this
 * computer (its host name and addresses); it checks its disk's free space
 * before it accepts a folder (`statfs`). Both read the password from
 * `PRIVATESHARE_PASSWORD` when it is set. The client needs the network to connect, read to put
 * a file, and write to save a download, and the list of network interfaces
 * to look for servers on each network.
 */
export const PROGRAMS: readonly Program[] = [
  {
    name: "privateshare-server",
    entry: "server.ts",
    permissions: [
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-sys=hostname,networkInterfaces,statfs",
    ],
  },
  {
    name: "privateshare-client",
    entry: "client.ts",
    // The interfaces: to look for servers on each network (also one without a default route),
    // and to take answers only from this computer's own subnets.
    permissions: ["--allow-net", "--allow-read", "--allow-write", "--allow-sys=networkInterfaces"],
  },
];

/** The systems a release is built for, as `deno compile --target` names them. */
export const TARGETS: readonly string[] = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
];

/**
 * Whether a target is a Windows one, whose programs end in `.exe`.
 *
 * @param target a `deno compile --target` name
 * @returns true for Windows
 */
export function isWindows(target: string): boolean {
  return target.includes("windows");
}

/**
 * The file name of a compiled program for a target.
 *
 * @param program the program
 * @param target the target
 * @returns `privateshare-server`, or `privateshare-server.exe` on Windows
 */
export function programFile(program: Program, target: string): string {
  return isWindows(target) ? `${program.name}.exe` : program.name;
}

/**
 * The permissions a program is compiled with for a target: its own, and
 * those its GUI needs when the program is started with no arguments (as
 * when double-clicked): to run the one program that opens the browser on
 * that system, and to read the environment variables that locate the home
 * and settings folders, the password's, and those that may add TLS roots
 * (so that a pinned server is checked with Deno's own TLS when none does).
 * Nothing else: no other program, variable or system information, no
 * libraries.
 *
 * @param program the program
 * @param target a `deno compile --target` name
 * @returns the `--allow-*` flags
 * @example
 * ```ts
 * permissionsFor(PROGRAMS[1]!, "aarch64-apple-darwin");
 * // [..., "--allow-run=open", "--allow-env=HOME,USERPROFILE,XDG_CONFIG_HOME,APPDATA,PRIVATESHARE_PASSWORD,DENO_CERT,..."]
 * ```
 */
export function permissionsFor(program: Program, target: string): string[] {
  return [
    ...program.permissions,
    `--allow-run=${browserOpener(targetOs(target))}`,
    `--allow-env=${[...ENV_VARIABLES, PASSWORD_VARIABLE, ...ROOT_VARIABLES].join(",")}`,
  ];
}

/**
 * The system a target runs on, as `Deno.build.os` names it.
 *
 * @param target a `deno compile --target` name
 * @returns `windows`, `darwin`, or `linux` for the rest (they open pages alike)
 */
export function targetOs(target: string): "windows" | "darwin" | "linux" {
  return isWindows(target) ? "windows" : target.includes("apple-darwin") ? "darwin" : "linux";
}

/** What to compile: a program, where to, and for which system. */
export interface CompileSpec {
  /** The program. */
  program: Program;
  /** The output file. */
  output: string;
  /** A `--target`; the system it runs on when absent. */
  target?: string;
}

/**
 * The arguments of `deno` that compile a program.
 *
 * `--quiet` is compiled into the program too (Deno's own log level: error):
 * where the browser opener is not installed, as on a Linux server without
 * xdg-utils, the runtime would otherwise print "Failed to resolve 'xdg-open'
 * for allow-run" at every start. The program's own output is not affected.
 *
 * @param spec the program, output and target
 * @returns the arguments, starting with `compile`
 * @example
 * ```ts
 * const args = compileArgs({ program: PROGRAMS[0]!, output: "dist/privateshare-server" });
 * // ["compile", "--quiet", "--no-prompt", "--allow-net", ..., "--output", ...]
 * ```
 */
export function compileArgs(spec: CompileSpec): string[] {
  return [
    "compile",
    "--quiet",
    "--no-prompt",
    ...permissionsFor(spec.program, spec.target ?? Deno.build.target),
    ...(spec.target !== undefined ? ["--target", spec.target] : []),
    "--output",
    spec.output,
    spec.program.entry,
  ];
}

/**
 * Whether an error is `parseArgs` refusing the command line.
 *
 * @param error what was thrown
 * @returns true for an unknown option, a missing value and the like
 */
export function isParseArgsError(error: unknown): error is TypeError {
  return error instanceof TypeError &&
    String((error as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS");
}

/** `deno compile` failed; the message holds its last words. */
export class CompileError extends Error {
  /**
   * Creates a CompileError.
   *
   * @param message one line: what failed and what to do
   * @param output everything `deno compile` printed
   * @param runtimeMissing whether it failed because it could not download its runtime
   */
  constructor(message: string, readonly output: string, readonly runtimeMissing: boolean) {
    super(message);
    this.name = "CompileError";
  }
}

/**
 * Compiles a program with the `deno` that runs this script, in the
 * repository root. `deno compile` downloads its runtime (`denort`) for the
 * target unless `DENORT_BIN` names one.
 *
 * @param spec the program, output and target
 * @param signal stops the compile
 * @throws {CompileError} when `deno compile` fails
 */
export async function compile(spec: CompileSpec, signal?: AbortSignal): Promise<void> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: compileArgs(spec),
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    ...(signal ? { signal } : {}),
  }).output();
  if (code === 0) return;
  const decoder = new TextDecoder();
  const output = decoder.decode(stdout) + decoder.decode(stderr);
  const { text, runtimeMissing } = explain(output);
  throw new CompileError(
    `deno compile of ${spec.program.entry}${spec.target ? ` for ${spec.target}` : ""} ` +
      `failed (exit ${code}): ${text}`,
    output,
    runtimeMissing,
  );
}

/**
 * One line from what `deno compile` printed: its error and deepest cause,
 * and what to do when it could not download its runtime (quiet, it names
 * the runtime's address only in the error's causes).
 */
function explain(output: string): { text: string; runtimeMissing: boolean } {
  const lines = output.split("Stack backtrace:")[0]!.split("\n").map((line) => line.trim());
  const error = lines.find((line) => line.startsWith("error:"))?.slice(6).trim() ??
    lines.filter((line) => line !== "").at(-1) ?? "no output";
  const causes = lines.filter((line) => /^\d+: /.test(line)).map((line) =>
    line.replace(/^\d+: /, "")
  );
  const download = /(https?:\/\/[^\s()]*denort[^\s()]*)/.exec(output);
  if (download && causes.length > 0) {
    return {
      text: `it could not download its runtime from ${download[1]} (${causes.at(-1)}): ` +
        "allow it to reach Deno's servers, or set DENORT_BIN to a denort binary for this target",
      runtimeMissing: true,
    };
  }
  return { text: causes.length > 0 ? `${error} (${causes.at(-1)})` : error, runtimeMissing: false };
}
