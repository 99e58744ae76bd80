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

import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { get, list } from "../lib/mod.ts";
import { abuseCase, type AbuseResults, abuseSection } from "./abuse.ts";
import { concurrentGetsCase, listProcessCase } from "./gets.ts";
import { emptyDir, ensureRandomFile, removeIfPresent, sha256File } from "./data.ts";
import {
  type ClientRun,
  type CpuTimes,
  HOST,
  initClockTicks,
  killAll,
  readCpu,
  readPeak,
  runClient,
  runSocat,
  socatVersion,
  startServer,
  syncDisks,
} from "./processes.ts";
import {
  type ConcurrentResults,
  type MemoryResults,
  type PsSample,
  type RateResults,
  report,
  type ReportInput,
  type SocatSample,
  type TransferResults,
} from "./report.ts";
import { MiB, num } from "./stats.ts";
import { ROOT } from "../tests/helpers.ts";
import { benchCertificate, type BenchTls, clientTlsArgs, serverTlsArgs } from "./tls.ts";

const USAGE = "Usage: deno task bench [--size-mib N] [--runs N] [--memory-4g] [--only LIST] " +
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
  --only LIST           cases to run, of transfer,tls,concurrent,gets,small,memory,abuse
                        (default transfer,tls,concurrent,gets,small,abuse; tls: put and get
                        over TLS against socat's OpenSSL addresses, the same certificate;
                        gets: the concurrent files got at once through the library from
                        this process, against one alone, and client.ts list as a process)
  --memory-4g           also compare peak memory for 1 GiB and 4 GiB transfers
                        (the memory case; about 12 GiB of disk for a while)
  --output PATH         where the Markdown report goes (default bench/RESULTS.md)
  --clean               remove .bench-data/ (the cached source files) at the end
  -h, --help            show this help

Test files are made in .bench-data/ (git-ignored) and reused by later runs;
served, downloaded and socat copies are removed after every run.
`;

const DATA = join(ROOT, ".bench-data");
const DIRS = {
  served: join(DATA, "served"),
  downloads: join(DATA, "downloads"),
  socat: join(DATA, "socat"),
  small: join(DATA, "small"),
  smallOut: join(DATA, "small-out"),
  concurrent: join(DATA, "concurrent"),
};
const TMPFS = "/dev/shm";
const CASES = ["transfer", "tls", "concurrent", "gets", "small", "memory", "abuse"] as const;
type CaseName = typeof CASES[number];
/** The 4 GiB memory check takes minutes and 12 GiB of disk: only on request. */
const DEFAULT_CASES: readonly CaseName[] = [
  "transfer",
  "tls",
  "concurrent",
  "gets",
  "small",
  "abuse",
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

const started = performance.now();

function progress(message: string): void {
  const seconds = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
  console.error(`[${seconds} s] ${message}`);
}

// --- whole transfers ---------------------------------------------------------

/** Puts `src` into a fresh server's empty folder and checks what it stored. */
async function measurePut(src: string, sha: string, tls?: BenchTls): Promise<PsSample> {
  await emptyDir(DIRS.served);
  await syncDisks();
  const sample = await withServer(
    DIRS.served,
    "put",
    (port) => runClient([HOST, String(port), "put", src, "--quiet", ...clientTlsArgs(tls)]),
    tls,
  );
  const stored = join(DIRS.served, basename(src));
  if (await sha256File(stored) !== sha) throw new Error(`The stored copy of ${src} differs`);
  await emptyDir(DIRS.served);
  return sample;
}

/** Gets a file from a fresh server (a hard link of `src`) and checks the download. */
async function measureGet(
  src: string,
  sha: string,
  tls?: BenchTls,
  pinned = false,
): Promise<PsSample> {
  await emptyDir(DIRS.served);
  await emptyDir(DIRS.downloads);
  const name = basename(src);
  // A link costs no disk and keeps the bytes in the page cache, as for socat.
  await Deno.link(src, join(DIRS.served, name));
  await syncDisks();
  const output = join(DIRS.downloads, name);
  const sample = await withServer(
    DIRS.served,
    "get",
    (port) =>
      runClient([
        HOST,
        String(port),
        "get",
        name,
        "--output",
        output,
        "--quiet",
        ...clientTlsArgs(tls, pinned),
      ]),
    tls,
  );
  if (await sha256File(output) !== sha) throw new Error(`The downloaded copy of ${src} differs`);
  await emptyDir(DIRS.downloads);
  await emptyDir(DIRS.served);
  return sample;
}

/**
 * Starts a fresh server (so that its lifetime peak memory belongs to this
 * one transfer), runs one client against it, and records both sides.
 */
async function withServer(
  root: string,
  op: string,
  client: (port: number) => Promise<ClientRun>,
  tls?: BenchTls,
): Promise<PsSample> {
  const server = await startServer(root, { args: serverTlsArgs(tls) });
  try {
    const before = readCpu(server.pid)!;
    const run = await client(server.port);
    const after = readCpu(server.pid)!;
    const serverPeak = readPeak(server.pid)!;
    if (run.code !== 0) {
      throw new Error(`The ${op} client failed (exit ${run.code}): ${run.stderr}`);
    }
    const record = await server.waitForRequest((line) => line.op === op);
    if (record.outcome !== "ok") throw new Error(`The server logged ${JSON.stringify(record)}`);
    return {
      ms: run.ms,
      client: run.usage,
      server: cpuDelta(before, after),
      serverPeak,
      serverMs: record.ms as number,
    };
  } finally {
    await server.stop();
  }
}

function cpuDelta(before: CpuTimes, after: CpuTimes): CpuTimes {
  return {
    userS: after.userS - before.userS,
    sysS: after.sysS - before.sysS,
    mainS: after.mainS - before.mainS,
  };
}

/** Moves `src` with socat into the socat folder and checks the copy. */
async function measureSocat(
  src: string,
  sha: string,
  buffer: number,
  tls?: BenchTls,
): Promise<SocatSample> {
  await emptyDir(DIRS.socat);
  await syncDisks();
  const dest = join(DIRS.socat, basename(src));
  const run = await runSocat(src, dest, buffer, tls);
  if (await sha256File(dest) !== sha) throw new Error(`socat's copy of ${src} differs`);
  await emptyDir(DIRS.socat);
  return run;
}

/**
 * Tries each socat block size twice and keeps the fastest (by best time),
 * so that the baseline is socat at its best on this machine.
 */
async function calibrateSocat(
  src: string,
  sha: string,
  buffers: number[],
): Promise<{ buffer: number; tried: { buffer: number; ms: number[] }[] }> {
  const tried = buffers.map((buffer) => ({ buffer, ms: [] as number[] }));
  if (buffers.length > 1) {
    for (let round = 0; round < 2; round++) {
      for (const entry of tried) {
        entry.ms.push((await measureSocat(src, sha, entry.buffer)).ms);
        progress(`socat -b ${entry.buffer}: ${num(entry.ms.at(-1)! / 1000)} s`);
      }
    }
  }
  const best = tried.reduce((a, b) => Math.min(...b.ms) < Math.min(...a.ms) ? b : a);
  return { buffer: best.buffer, tried };
}

async function transferCase(
  src: string,
  sha: string,
  sizeBytes: number,
  runs: number,
  socatBuffer: number | undefined,
  tls?: BenchTls,
): Promise<TransferResults> {
  const label = tls ? "TLS " : "";
  const results: TransferResults = { sizeBytes, put: [], get: [], socat: [], startup: [] };
  const kinds = socatBuffer === undefined ? ["put", "get"] : ["put", "socat", "get"];
  for (let run = 0; run < runs; run++) {
    // Each run starts one step further along, so that no case always
    // follows the same one.
    const order = kinds.map((_, i) => kinds[(i + run) % kinds.length]!);
    for (const kind of order) {
      if (kind === "put") {
        const sample = await measurePut(src, sha, tls);
        results.put.push(sample);
        progress(`run ${run + 1}/${runs} ${label}put: ${num(sample.ms / 1000)} s`);
      } else if (kind === "get") {
        const sample = await measureGet(src, sha, tls);
        results.get.push(sample);
        progress(`run ${run + 1}/${runs} ${label}get: ${num(sample.ms / 1000)} s`);
      } else {
        const sample = await measureSocat(src, sha, socatBuffer!, tls);
        results.socat.push(sample);
        progress(
          `run ${run + 1}/${runs} ${label}socat: ${num(sample.ms / 1000)} s ` +
            `(+ fdatasync ${num(sample.syncMs / 1000)} s)`,
        );
      }
    }
  }
  // The fixed cost in every CLI transfer: starting Deno and loading client.ts.
  if (!tls) { for (let i = 0; i < 5; i++) results.startup.push(await runClient(["--version"])); }
  return results;
}

// --- concurrent puts ---------------------------------------------------------

async function concurrentCase(
  sources: { path: string; sha: string }[],
  runs: number,
): Promise<ConcurrentResults> {
  const results: ConcurrentResults = {
    wallMs: [],
    serverPeak: [],
    clientPeak: [],
    serverCpu: [],
    failures: [],
  };
  for (let run = 0; run < runs; run++) {
    await emptyDir(DIRS.served);
    await syncDisks();
    const server = await startServer(DIRS.served);
    let clients: ClientRun[];
    try {
      const before = readCpu(server.pid)!;
      const started = performance.now();
      // 50 ms polls: these clients live for seconds, and 17 processes
      // polled every 20 ms would take a noticeable share of two cores.
      clients = await Promise.all(
        sources.map((s) => runClient([HOST, String(server.port), "put", s.path, "--quiet"], 50)),
      );
      results.wallMs.push(performance.now() - started);
      results.serverCpu.push(cpuDelta(before, readCpu(server.pid)!));
      results.serverPeak.push(readPeak(server.pid)!);
    } finally {
      await server.stop();
    }
    results.clientPeak.push(Math.max(...clients.map((c) => c.usage.peakBytes)));
    for (const [i, client] of clients.entries()) {
      if (client.code !== 0) {
        results.failures.push(`run ${run + 1} client ${i}: exit ${client.code}: ${client.stderr}`);
      }
    }
    for (const source of sources) {
      const stored = join(DIRS.served, basename(source.path));
      let sha: string | undefined;
      try {
        sha = await sha256File(stored);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      if (sha !== source.sha) results.failures.push(`run ${run + 1}: ${stored} missing or differs`);
    }
    await emptyDir(DIRS.served);
    progress(
      `run ${run + 1}/${runs} ${sources.length} concurrent puts: ` +
        `${num(results.wallMs.at(-1)! / 1000)} s`,
    );
  }
  return results;
}

// --- small operations --------------------------------------------------------

const SMALL_FILES = 100;
const SMALL_SIZE = 4096;

/** The small case's files, made once and reused. */
async function smallFiles(): Promise<string[]> {
  await Deno.mkdir(DIRS.small, { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < SMALL_FILES; i++) {
    const name = `file-${String(i).padStart(3, "0")}.bin`;
    names.push(name);
    await ensureRandomFile(join(DIRS.small, name), SMALL_SIZE);
  }
  return names;
}

async function smallCase(seconds: number, runs: number): Promise<RateResults[]> {
  const names = await smallFiles();
  const target = names[0]!;
  const expected = await Deno.readFile(join(DIRS.small, target));
  await emptyDir(DIRS.smallOut);
  let tmpfsDir: string | undefined;
  try {
    tmpfsDir = await Deno.makeTempDir({ dir: TMPFS, prefix: "privateshare-bench-" });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  // Its log lines are drained but not parsed: this process is the client
  // being measured, and parsing thousands of lines would count against it.
  const server = await startServer(DIRS.small, { record: false });
  try {
    const options = { host: HOST, port: server.port };
    const doList = async () => {
      const files = await list(options);
      if (files.length !== SMALL_FILES) throw new Error(`list gave ${files.length} files`);
    };
    const getTo = (dir: string) => async () => {
      const result = await get(target, {
        ...options,
        output: join(dir, target),
        force: true,
        resume: false,
      });
      if (result.size !== SMALL_SIZE) throw new Error(`get gave ${result.size} bytes`);
    };
    const connectOnly = async () => {
      const conn = await Deno.connect({ hostname: HOST, port: server.port });
      conn.close();
    };
    const localPath = join(DIRS.smallOut, "local.bin");
    const localPartial = join(DIRS.smallOut, ".local.bin.partial");
    // What get does with the local file, without the network: the cost the
    // client library adds to every get.
    const localOnly = async () => {
      const file = await Deno.open(localPartial, { read: true, write: true, create: true });
      await file.truncate(0);
      await file.stat();
      await file.write(expected);
      await file.syncData();
      file.close();
      await Deno.rename(localPartial, localPath);
    };
    const loops: { label: string; op: () => Promise<void>; serverSide: boolean }[] = [
      { label: `list (${SMALL_FILES} files)`, op: doList, serverSide: true },
      { label: "get 4 KiB", op: getTo(DIRS.smallOut), serverSide: true },
      ...(tmpfsDir
        ? [{
          label: "get 4 KiB, output on tmpfs (no disk: fdatasync and ext4 free)",
          op: getTo(tmpfsDir),
          serverSide: true,
        }]
        : []),
      { label: "TCP connect + close only", op: connectOnly, serverSide: true },
      {
        label: "get's local file work only (create, write 4 KiB, fdatasync, rename)",
        op: localOnly,
        serverSide: false,
      },
    ];
    for (const loop of loops) for (let i = 0; i < 50; i++) await loop.op();
    const results = loops.map((loop) => ({
      label: loop.label,
      perSecond: [] as number[],
      clientCpuMs: [] as number[],
      serverCpuMs: [] as number[],
    }));
    for (let run = 0; run < runs; run++) {
      for (const [i, loop] of loops.entries()) {
        const result = results[i]!;
        const clientBefore = readCpu(Deno.pid)!;
        const serverBefore = readCpu(server.pid)!;
        const started = performance.now();
        const end = started + seconds * 1000;
        let count = 0;
        while (performance.now() < end) {
          await loop.op();
          count++;
        }
        const elapsed = (performance.now() - started) / 1000;
        const client = cpuDelta(clientBefore, readCpu(Deno.pid)!);
        const server_ = cpuDelta(serverBefore, readCpu(server.pid)!);
        result.perSecond.push(count / elapsed);
        result.clientCpuMs.push((client.userS + client.sysS) * 1000 / count);
        result.serverCpuMs.push(
          loop.serverSide ? (server_.userS + server_.sysS) * 1000 / count : NaN,
        );
        progress(`run ${run + 1}/${runs} ${loop.label}: ${num(count / elapsed, 0)}/s`);
      }
    }
    const got = await Deno.readFile(join(DIRS.smallOut, target));
    if (got.length !== expected.length || got.some((b, i) => b !== expected[i])) {
      throw new Error("The 4 KiB file got in the loop differs from the served one");
    }
    return results;
  } finally {
    await server.stop();
    await removeIfPresent(DIRS.smallOut);
    if (tmpfsDir) await removeIfPresent(tmpfsDir);
  }
}

// --- 4 GiB memory check ------------------------------------------------------

async function memoryCase(transfer: TransferResults | undefined): Promise<MemoryResults> {
  const peaks = async (sizeMiB: number, reuse: TransferResults | undefined) => {
    if (reuse && reuse.sizeBytes === sizeMiB * MiB) {
      return {
        putServer: Math.max(...reuse.put.map((s) => s.serverPeak)),
        putClient: Math.max(...reuse.put.map((s) => s.client.peakBytes)),
        getServer: Math.max(...reuse.get.map((s) => s.serverPeak)),
        getClient: Math.max(...reuse.get.map((s) => s.client.peakBytes)),
      };
    }
    const src = join(DATA, `source-${sizeMiB}MiB.bin`);
    progress(`making ${sizeMiB} MiB of random bytes for the memory check`);
    await ensureRandomFile(src, sizeMiB * MiB);
    const sha = await sha256File(src);
    const put = await measurePut(src, sha);
    progress(`memory check: put ${sizeMiB} MiB: ${num(put.ms / 1000)} s`);
    const got = await measureGet(src, sha);
    progress(`memory check: get ${sizeMiB} MiB: ${num(got.ms / 1000)} s`);
    if (sizeMiB > 1024) {
      // Too big to keep between runs; making it again is quicker than the check.
      await removeIfPresent(src);
    }
    return {
      putServer: put.serverPeak,
      putClient: put.client.peakBytes,
      getServer: got.serverPeak,
      getClient: got.client.peakBytes,
    };
  };
  const small = await peaks(1024, transfer);
  const large = await peaks(4096, undefined);
  return {
    rows: [
      { label: "put: server", small: small.putServer, large: large.putServer },
      { label: "put: client", small: small.putClient, large: large.putClient },
      { label: "get: server", small: small.getServer, large: large.getServer },
      { label: "get: client", small: small.getClient, large: large.getClient },
    ],
  };
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

  if (options.only.has("gets")) {
    progress("client.ts list as a whole process");
    await smallFiles();
    input.listProcessMs = await listProcessCase(DIRS.small, Math.max(5, options.runs * 3));
  }

  if (options.only.has("small")) {
    progress("small operations");
    input.small = await smallCase(options.smallSeconds, options.runs);
  }

  if (options.only.has("memory")) {
    progress("memory check: 1 GiB against 4 GiB");
    input.memory = await memoryCase(input.transfer);
  }

  let abuse: AbuseResults | undefined;
  if (options.only.has("abuse")) {
    progress("abuse: a normal client among 300 hostile connections");
    const names = await smallFiles();
    await emptyDir(DIRS.smallOut);
    abuse = await abuseCase(DIRS.small, names, DIRS.smallOut, progress);
  }

  input.loadEnd = await loadAverage();
  await Deno.writeTextFile(
    options.output,
    report(input) + (abuse ? "\n" + abuseSection(abuse) : ""),
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
  for (const dir of [DIRS.served, DIRS.downloads, DIRS.socat, DIRS.smallOut]) {
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
