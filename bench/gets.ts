/**
 * The benchmark's cases for issue 16 that the CLI cases do not cover:
 * concurrent gets through the library from this one process (so that
 * sixteen process start-ups on two cores are not what is measured), and
 * `client.ts … list` as a whole process; and their section of the report.
 *
 * @module
 */

import { basename, join } from "node:path";
import { get } from "../lib/mod.ts";
import { emptyDir, sha256File } from "./data.ts";
import { CLIENT_RUN_PERMS, CLIENT_TS, denoRunArgs } from "../tests/helpers.ts";
import { HOST, readPeak, spawn, startServer } from "./processes.ts";
import { MiB, num, spread, summarize, type Summary, table } from "./stats.ts";

/** Aggregate throughput of concurrent gets, against one get alone. */
const CONCURRENT_RATIO = 0.8;
/** The server's peak memory while serving them. */
const CONCURRENT_PEAK = 600 * MiB;
/** `client.ts … list` as a whole process, in milliseconds (issue 16). */
const LIST_PROCESS_MS = 60;
/** `client.ts … list` as a whole process, against an empty `deno run` (issue 25). */
const LIST_PROCESS_RATIO = 1.5;

/** What the concurrent-gets case measured, one entry a run. */
export interface ConcurrentGets {
  /** Clients at once. */
  clients: number;
  /** Bytes each client gets. */
  fileBytes: number;
  /** One get alone, milliseconds. */
  singleMs: number[];
  /** All gets at once, milliseconds. */
  allMs: number[];
  /** The server's peak memory (VmHWM) in bytes, a fresh server each run. */
  serverPeak: number[];
  /** Downloads that were missing or differed. */
  failures: string[];
}

/**
 * Gets each source from a fresh server, first one alone and then all at
 * once, through the library in this process, and checks every download.
 *
 * @param sources the files (hard-linked into `served`) and their SHA-256
 * @param served the folder the server serves (emptied first)
 * @param downloads where the gets write (emptied first)
 * @param runs how many times
 * @param progress where progress lines go
 * @returns the timings
 */
export async function concurrentGetsCase(
  sources: { path: string; sha: string }[],
  served: string,
  downloads: string,
  runs: number,
  progress: (message: string) => void,
): Promise<ConcurrentGets> {
  const fileBytes = (await Deno.stat(sources[0]!.path)).size;
  const results: ConcurrentGets = {
    clients: sources.length,
    fileBytes,
    singleMs: [],
    allMs: [],
    serverPeak: [],
    failures: [],
  };
  await emptyDir(served);
  for (const source of sources) await Deno.link(source.path, join(served, basename(source.path)));
  try {
    for (let run = 0; run < runs; run++) {
      const server = await startServer(served, { record: false });
      try {
        const options = { host: HOST, port: server.port, force: true, resume: false };
        const one = (source: { path: string }) => {
          const name = basename(source.path);
          return get(name, { ...options, output: join(downloads, name) });
        };
        await emptyDir(downloads);
        let started = performance.now();
        await one(sources[0]!);
        results.singleMs.push(performance.now() - started);
        await emptyDir(downloads);
        started = performance.now();
        await Promise.all(sources.map(one));
        results.allMs.push(performance.now() - started);
        results.serverPeak.push(readPeak(server.pid)!);
      } finally {
        await server.stop();
      }
      for (const source of sources) {
        const path = join(downloads, basename(source.path));
        if (await sha256File(path) !== source.sha) {
          results.failures.push(`run ${run + 1}: ${path} differs`);
        }
      }
      progress(
        `run ${run + 1}/${runs} get alone ${num(results.singleMs.at(-1)! / 1000)} s, ` +
          `${sources.length} at once ${num(results.allMs.at(-1)! / 1000)} s`,
      );
    }
  } finally {
    await emptyDir(downloads);
    await emptyDir(served);
  }
  return results;
}

/** `client.ts … list` as whole processes, and an empty `deno run` alternating with them. */
export interface ListProcess {
  /** `client.ts HOST PORT list`, spawn to exit, milliseconds a run. */
  listMs: number[];
  /** `deno run` of an empty file beside it (the same flags and deno.json), milliseconds a run. */
  emptyMs: number[];
}

/**
 * Runs `client.ts HOST PORT list` as a whole process against a server of
 * `folder`, alternating with `deno run` of an empty file under the same
 * flags and configuration, `runs` times each, after one run of each that
 * fills Deno's caches.
 *
 * @param folder the folder to serve
 * @param emptyDir where the empty file is written (inside the project, so the same deno.json applies)
 * @param runs how many of each
 * @returns the wall times
 */
export async function listProcessCase(
  folder: string,
  emptyDir: string,
  runs: number,
): Promise<ListProcess> {
  const empty = join(emptyDir, "empty.ts");
  await Deno.writeTextFile(empty, "");
  const server = await startServer(folder, { record: false });
  try {
    const result: ListProcess = { listMs: [], emptyMs: [] };
    for (let i = 0; i < runs + 1; i++) {
      const list = await timeProcess([CLIENT_TS, HOST, String(server.port), "list"]);
      const nothing = await timeProcess([empty]);
      // The first run compiles and caches the modules; a user's second list does not.
      if (i === 0) continue;
      result.listMs.push(list);
      result.emptyMs.push(nothing);
    }
    return result;
  } finally {
    await server.stop();
    await Deno.remove(empty);
  }
}

/** Runs `deno run FLAGS SCRIPT ARGS` to its end; its wall time in milliseconds. */
async function timeProcess([script, ...args]: string[]): Promise<number> {
  const started = performance.now();
  const child = spawn(Deno.execPath(), denoRunArgs(script!, args, CLIENT_RUN_PERMS), {
    stdout: "null",
  });
  const output = await child.output();
  const ms = performance.now() - started;
  if (!output.success) {
    throw new Error(
      `deno run ${script} failed (exit ${output.code}): ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return ms;
}

/**
 * The report's lines and target rows for these cases.
 *
 * @param gets the concurrent gets, if measured
 * @param listProcess the whole-process lists and empty runs, if measured
 * @returns the section and its target rows (target, measured, verdict)
 */
export function getsSection(
  gets: ConcurrentGets | undefined,
  listProcess: ListProcess | undefined,
): { lines: string[]; targets: string[][] } {
  const lines: string[] = [];
  const targets: string[][] = [];
  if (gets) {
    const mibs = gets.fileBytes / MiB;
    const single = summarize(gets.singleMs);
    const all = summarize(gets.allMs);
    const singleRate = mibs / (single.median / 1000);
    const allRate = gets.clients * mibs / (all.median / 1000);
    const peak = Math.max(...gets.serverPeak);
    lines.push(
      `## ${gets.clients} gets of ${num(mibs, 0)} MiB at once, through the library from one ` +
        `process (${gets.allMs.length} run${gets.allMs.length === 1 ? "" : "s"})\n`,
    );
    lines.push(table(
      ["case", "wall s median (min–max)", "MiB/s", "server peak MiB", "verified"],
      [
        ["one get alone", spread(secs(single)), num(singleRate, 0), "", ""],
        [
          `${gets.clients} at once`,
          spread(secs(all)),
          num(allRate, 0),
          num(peak / MiB, 0),
          gets.failures.length ? `**${gets.failures.length} failures**` : "all SHA-256 equal",
        ],
      ],
    ));
    for (const failure of gets.failures) lines.push(`- ${failure}`);
    lines.push("");
    targets.push([
      `${gets.clients}×${num(mibs, 0)} MiB concurrent gets (library): aggregate ≥ ` +
      `${CONCURRENT_RATIO}× one get alone`,
      `${num(allRate / singleRate)}× (${num(allRate, 0)} against ${num(singleRate, 0)} MiB/s)`,
      verdict(gets.failures.length === 0 && allRate / singleRate >= CONCURRENT_RATIO),
    ]);
    targets.push([
      `${gets.clients}×${num(mibs, 0)} MiB concurrent gets: server peak ≤ 600 MiB`,
      `${num(peak / MiB, 0)} MiB`,
      verdict(peak <= CONCURRENT_PEAK),
    ]);
  }
  if (listProcess) {
    const s = summarize(listProcess.listMs);
    const e = summarize(listProcess.emptyMs);
    const ratio = s.median / e.median;
    lines.push(
      `## \`client.ts HOST PORT list\` as a whole process ` +
        `(${listProcess.listMs.length} runs, alternating with an empty \`deno run\`)\n`,
    );
    lines.push(table(["process", "median ms (min–max)"], [
      ["`client.ts HOST PORT list`", spread(s, 0)],
      ["`deno run` of an empty file, the same flags and deno.json", spread(e, 0)],
    ]));
    lines.push(
      "From spawn to exit, Deno start-up included, after one run of each that fills Deno's " +
        "caches.\n",
    );
    targets.push([
      `\`client.ts … list\` as a whole process ≤ ${LIST_PROCESS_RATIO}× an empty \`deno run\``,
      `${num(ratio)}× (${num(s.median, 0)} against ${num(e.median, 0)} ms)`,
      verdict(ratio <= LIST_PROCESS_RATIO),
    ]);
    targets.push([
      `\`client.ts … list\` as a whole process < ${LIST_PROCESS_MS} ms`,
      `${num(s.median, 0)} ms`,
      verdict(s.median < LIST_PROCESS_MS),
    ]);
  }
  return { lines, targets };
}

/**
 * A target's verdict as the report prints it.
 *
 * @param ok whether the target was met; undefined when it was not measured
 * @returns PASS, MISS (bold) or n/a
 */
export function verdict(ok: boolean | undefined): string {
  return ok === undefined ? "n/a" : ok ? "PASS" : "**MISS**";
}

function secs(s: Summary): Summary {
  return { ...s, median: s.median / 1000, min: s.min / 1000, max: s.max / 1000 };
}
