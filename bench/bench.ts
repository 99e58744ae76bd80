/**
 * privateshare's benchmark: whole transfers through the real server and
 * client CLIs, timed against socat moving the same file over loopback in
 * the same run; 16 concurrent puts; small operations per second; peak
 * memory of every process. Writes a Markdown report to bench/RESULTS.md and
 * stdout; progress goes to stderr.
 *
 * ```
 * deno task bench [--size-mib 1024] [--runs 3] [--memory-4g] (--help for more)
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { abuseCase, type AbuseResults, abuseSection } from "./abuse.ts";
import { classicListCase } from "./classic_list.ts";
import { concurrentGetsCase, listProcessCase } from "./gets.ts";
import { emptyDir, ensureRandomFile, removeIfPresent, sha256File } from "./data.ts";
import { initClockTicks, killAll, socatVersion } from "./processes.ts";
import { report } from "./report.ts";
import type { ReportInput } from "./results.ts";
import { MiB, num } from "./stats.ts";
import { ROOT } from "../tests/helpers.ts";
import { benchCertificate } from "./tls.ts";
import { DATA, DIRS, progress } from "./setup.ts";
import {
  calibrateSocat,
  concurrentCase,
  measureGet,
  memoryCase,
  transferCase,
} from "./transfers.ts";
import { SMALL_FILES, smallCase, smallFiles } from "./small.ts";
import { foldersCase } from "./folders.ts";
import { heldCase, heldRoot, heldSection } from "./held.ts";
import { webCase, type WebResults, webSection } from "./web.ts";

const USAGE = "Usage: deno task bench [--size-mib N] [--runs N] [--memory-4g] [--only LIST] " +
  "[--web-upload-mib N] " +
  "(--help for more)";

const HELP = `privateshare benchmark: the real server and client CLIs against socat.

Usage:
  deno run --allow-all bench/bench.ts [options]     (or: deno task bench [options])

Options:
  --size-mib N          size of the file for put and get (default 1024)
  --runs N              alternating runs of each case (default 3)
  --clients N           clients putting at once in the concurrent case (default 16)
  --client-mib N        size each concurrent client puts (default 64)
  --small-seconds S     how long each small-operation loop runs (default 3)
  --socat-buffers LIST  socat -b sizes in bytes to try; the fastest is used
                        (default 1048576,4194304,33554432)
  --only LIST           cases to run, of transfer,tls,concurrent,gets,start,small,classic,
                        folders,memory,held,abuse,web (held: the server's peak memory while 128
                        connections each hold a folder manifest at the limits; memory runs
                        held too) (default all but memory; folders: a folder of 2,000 files
                        of 4 KiB put and got against tar|socat|tar, and one of the --size-mib
                        file and 1,000 small files against that file alone; tls: put and get
                        over TLS against socat's OpenSSL addresses, the same certificate;
                        gets: the concurrent files got at once through the library from
                        this process, against one alone; start: client.ts list as a
                        process, against an empty deno run; classic: classic lists from a
                        raw socket against bench/original_list_server.py, the original's
                        list in python3; web: the --size-mib file downloaded and uploaded
                        with curl through the web page, against nginx (Debian's nginx-light,
                        WebDAV PUT) and python3 -m http.server, and the phone-sized page's
                        first listing of 2,000 files in Chromium)
  --web-upload-mib N    in the web case, also upload one file of N MiB (such as 4096) through
                        the page and download it again, for the server's peak memory
  --memory-4g           also compare peak memory for 1 GiB and 4 GiB transfers
                        (the memory case; about 12 GiB of disk for a while)
  --output PATH         where the Markdown report goes (default bench/RESULTS.md)
  --clean               remove .bench-data/ (the cached source files) at the end
  -h, --help            show this help

Test files are made in .bench-data/ (git-ignored) and reused by later runs;
served, downloaded and socat copies are removed after every run.
`;

const CASES = [
  "transfer",
  "tls",
  "concurrent",
  "gets",
  "start",
  "small",
  "classic",
  "folders",
  "memory",
  "held",
  "abuse",
  "web",
] as const;
type CaseName = typeof CASES[number];
/** The 4 GiB memory check takes minutes and 12 GiB of disk: only on request. */
const DEFAULT_CASES: readonly CaseName[] = [
  "transfer",
  "tls",
  "concurrent",
  "gets",
  "start",
  "small",
  "classic",
  "folders",
  "held",
  "abuse",
  "web",
];

/** The benchmark's settings, from the command line. */
interface Options {
  sizeMiB: number;
  runs: number;
  clients: number;
  clientMiB: number;
  smallSeconds: number;
  socatBuffers: number[];
  only: Set<CaseName>;
  webUploadMiB: number | undefined;
  output: string;
  clean: boolean;
}

function parseOptions(args: string[]): Options | undefined {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      "size-mib": { type: "string" },
      runs: { type: "string" },
      clients: { type: "string" },
      "client-mib": { type: "string" },
      "small-seconds": { type: "string" },
      "socat-buffers": { type: "string" },
      only: { type: "string" },
      "memory-4g": { type: "boolean" },
      "web-upload-mib": { type: "string" },
      output: { type: "string" },
      clean: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return undefined;
  }
  if (positionals.length > 0) throw new UsageError(`Unexpected argument '${positionals[0]}'`);
  const only = new Set<CaseName>();
  for (const name of (values.only ?? DEFAULT_CASES.join(",")).split(",")) {
    if (!(CASES as readonly string[]).includes(name)) {
      throw new UsageError(`Unknown case '${name}' in --only: give some of ${CASES.join(",")}`);
    }
    only.add(name as CaseName);
  }
  if (values["memory-4g"]) only.add("memory");
  if (only.has("memory")) only.add("held");
  const buffers = (values["socat-buffers"] ?? "1048576,4194304,33554432").split(",")
    .map((text) => count("--socat-buffers", text));
  return {
    sizeMiB: count("--size-mib", values["size-mib"] ?? "1024"),
    runs: count("--runs", values.runs ?? "3"),
    clients: count("--clients", values.clients ?? "16"),
    clientMiB: count("--client-mib", values["client-mib"] ?? "64"),
    smallSeconds: positive("--small-seconds", values["small-seconds"] ?? "3"),
    socatBuffers: buffers,
    only,
    webUploadMiB: values["web-upload-mib"] === undefined
      ? undefined
      : count("--web-upload-mib", values["web-upload-mib"]),
    output: values.output ?? join(ROOT, "bench", "RESULTS.md"),
    clean: values.clean ?? false,
  };
}

class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

function count(flag: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new UsageError(`Invalid ${flag} '${text}': give a whole number, 1 or more`);
  }
  return Number(text);
}

function positive(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value <= 0) {
    throw new UsageError(`Invalid ${flag} '${text}': give a number above 0`);
  }
  return value;
}

// --- machine facts -----------------------------------------------------------

async function machine(): Promise<string> {
  let model = "unknown CPU";
  try {
    const cpuinfo = await Deno.readTextFile("/proc/cpuinfo");
    model = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? model;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const memory = Deno.systemMemoryInfo().total / 1024 ** 3;
  return `${navigator.hardwareConcurrency} cores (${model}), ${num(memory, 1)} GiB RAM, ` +
    `${Deno.build.os} ${Deno.osRelease()}, Deno ${Deno.version.deno}`;
}

async function loadAverage(): Promise<string> {
  try {
    return (await Deno.readTextFile("/proc/loadavg")).split(" ")[0] ?? "?";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "?";
    throw error;
  }
}

// --- main --------------------------------------------------------------------

async function main(args: string[]): Promise<number> {
  let options: Options | undefined;
  try {
    options = parseOptions(args);
  } catch (error) {
    const code = (error as { code?: string })?.code;
    if (error instanceof UsageError || code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`bench: ${(error as Error).message}\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  if (!options) return 0;
  await initClockTicks();
  const input: ReportInput = {
    options: { ...options, smallFiles: SMALL_FILES },
    args,
    machine: await machine(),
    date: new Date().toISOString(),
    loadStart: await loadAverage(),
  };
  const socat = await socatVersion();
  if (socat) {
    input.socat = socat;
  } else {
    console.error(
      "bench: socat not found: install it (Debian: apt-get install socat) for the baseline; " +
        "ratios to socat are skipped",
    );
  }
  await Deno.mkdir(DATA, { recursive: true });

  if (options.only.has("transfer")) {
    const size = options.sizeMiB * MiB;
    const src = join(DATA, `source-${options.sizeMiB}MiB.bin`);
    progress(`preparing ${src}`);
    await ensureRandomFile(src, size);
    const sha = await sha256File(src);
    let buffer: number | undefined;
    if (socat) {
      input.calibration = await calibrateSocat(src, sha, options.socatBuffers);
      buffer = input.calibration.buffer;
      progress(`socat baseline uses -b ${buffer}`);
    }
    input.transfer = await transferCase(src, sha, size, options.runs, buffer);
  }

  if (options.only.has("tls")) {
    const size = options.sizeMiB * MiB;
    const src = join(DATA, `source-${options.sizeMiB}MiB.bin`);
    await ensureRandomFile(src, size);
    const sha = await sha256File(src);
    const tls = await benchCertificate(join(DATA, "tls"));
    progress(`TLS with ${tls.certFile}`);
    input.tls = await transferCase(
      src,
      sha,
      size,
      options.runs,
      input.calibration?.buffer ?? (socat ? options.socatBuffers[0] : undefined),
      tls,
    );
    input.tlsPinnedGet = [];
    for (let run = 0; run < options.runs; run++) {
      const sample = await measureGet(src, sha, tls, true);
      input.tlsPinnedGet.push(sample);
      progress(`run ${run + 1}/${options.runs} TLS get, pinned: ${num(sample.ms / 1000)} s`);
    }
  }

  if (options.only.has("concurrent") || options.only.has("gets")) {
    progress(`preparing ${options.clients} files of ${options.clientMiB} MiB`);
    const sources = [];
    for (let i = 0; i < options.clients; i++) {
      const path = join(
        DIRS.concurrent,
        `client-${String(i).padStart(2, "0")}-${options.clientMiB}MiB.bin`,
      );
      await ensureRandomFile(path, options.clientMiB * MiB);
      sources.push({ path, sha: await sha256File(path) });
    }
    if (options.only.has("concurrent")) {
      input.concurrent = await concurrentCase(sources, options.runs);
    }
    if (options.only.has("gets")) {
      progress(`${sources.length} gets at once through the library`);
      input.gets = await concurrentGetsCase(
        sources,
        DIRS.served,
        DIRS.downloads,
        options.runs,
        progress,
      );
    }
  }

  if (options.only.has("start")) {
    progress("client.ts list as a whole process, against an empty deno run");
    await smallFiles();
    input.listProcess = await listProcessCase(DIRS.small, DATA, Math.max(5, options.runs * 3));
  }

  if (options.only.has("small")) {
    progress("small operations");
    input.small = await smallCase(options.smallSeconds, options.runs);
  }

  if (options.only.has("classic")) {
    progress("classic lists against the original's, in Python");
    await smallFiles();
    try {
      input.classicList = await classicListCase(
        DIRS.small,
        options.smallSeconds,
        Math.max(5, options.runs * 2),
        progress,
      );
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      input.classicSkipped = "python3, which runs the original's list, was not found";
      console.error(
        "bench: python3 not found: install it (Debian: apt-get install python3) for the " +
          "classic list baseline; that case is skipped",
      );
    }
  }

  if (options.only.has("folders")) {
    const src = join(DATA, `source-${options.sizeMiB}MiB.bin`);
    await ensureRandomFile(src, options.sizeMiB * MiB);
    input.folders = await foldersCase(options.runs, src);
  }

  if (options.only.has("memory")) {
    progress("memory check: 1 GiB against 4 GiB");
    input.memory = await memoryCase(input.transfer);
  }

  let held = "";
  if (options.only.has("held")) {
    progress("held memory: 128 connections each holding a manifest at the limits");
    held = heldSection(await heldCase(heldRoot(DATA), progress));
  }

  let abuse: AbuseResults | undefined;
  if (options.only.has("abuse")) {
    progress("abuse: a normal client among 300 hostile connections");
    const names = await smallFiles();
    await emptyDir(DIRS.smallOut);
    abuse = await abuseCase(DIRS.small, names, DIRS.smallOut, progress);
  }

  let web: WebResults | undefined;
  if (options.only.has("web")) {
    const size = options.sizeMiB * MiB;
    const src = join(DATA, `source-${options.sizeMiB}MiB.bin`);
    await ensureRandomFile(src, size);
    let large;
    if (options.webUploadMiB !== undefined) {
      const path = join(DATA, `source-${options.webUploadMiB}MiB.bin`);
      progress(`preparing ${path}`);
      await ensureRandomFile(path, options.webUploadMiB * MiB);
      large = { src: path, sha: await sha256File(path), size: options.webUploadMiB * MiB };
    }
    progress("web: downloads and uploads with curl, against nginx and python3");
    web = await webCase({
      src,
      sha: await sha256File(src),
      size,
      runs: options.runs,
      data: DATA,
      ...(large ? { large } : {}),
      progress,
    });
  }

  input.loadEnd = await loadAverage();
  await Deno.writeTextFile(
    options.output,
    report(input) + (held ? "\n" + held : "") + (abuse ? "\n" + abuseSection(abuse) : "") +
      (web ? "\n" + webSection(web, options.runs) : ""),
  );
  // Formatted as `deno fmt` would, so that `deno task check` stays clean
  // after a benchmark rewrites the report.
  const fmt = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", options.output],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!fmt.success) {
    console.error(`bench: deno fmt of the report failed: ${new TextDecoder().decode(fmt.stderr)}`);
  }
  console.log(await Deno.readTextFile(options.output));
  progress(`report written to ${options.output}`);
  if (options.clean) await removeIfPresent(DATA);
  return 0;
}

/** Ends every child process and removes the copies (the cached sources stay). */
async function cleanup(): Promise<void> {
  await killAll();
  for (
    const dir of [
      DIRS.served,
      DIRS.downloads,
      DIRS.socat,
      DIRS.smallOut,
      join(DATA, "folders-served"),
      join(DATA, "folders-out"),
      join(DATA, "web"),
    ]
  ) {
    await removeIfPresent(dir);
  }
}

if (import.meta.main) {
  // An interrupted benchmark must not leave servers, clients, socat or
  // gigabytes of copies behind.
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    console.error("bench: interrupted: stopping child processes and removing copies");
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let code = 1;
  try {
    code = await main(Deno.args);
  } catch (error) {
    // After an interrupt, the killed children's failures are no news.
    if (!interrupted) {
      console.error(`bench: failed: ${error instanceof Error ? error.stack : error}`);
    }
  } finally {
    await cleanup();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  Deno.exit(code);
}
