/**
 * Classic lists from one client against the original server's rate: a raw
 * socket sends `list` and reads to the end, in a loop, against
 * privateshare's server and against bench/original_list_server.py (the
 * original's list, in Python) serving the same folder, loop by loop
 * alternating; and the report's lines for it.
 *
 * @module
 */

import { join } from "node:path";
import { kill, ROOT } from "../tests/helpers.ts";
import { HOST, readCpu, spawn, startServer } from "./processes.ts";
import { cpuDelta } from "./transfers.ts";
import { num, spread, summarize, table } from "./stats.ts";
import { verdict } from "./gets.ts";

/** What the classic list case measured, one entry a run. */
export interface ClassicListResults {
  /** Names in the folder listed. */
  files: number;
  /** privateshare's lists a second. */
  privateshare: number[];
  /** The original server's lists a second. */
  original: number[];
  /** privateshare's server CPU milliseconds a list. */
  privateshareCpuMs: number[];
  /** The original server's CPU milliseconds a list. */
  originalCpuMs: number[];
  /** How python3 answered `--version`. */
  python: string;
}

const LIST = new TextEncoder().encode("list");

/**
 * One classic list from a raw socket: `list`, then everything to the end.
 *
 * @param port the server's port
 * @param reply a buffer to read into
 * @returns the bytes received
 */
async function rawList(port: number, reply: Uint8Array): Promise<number> {
  const conn = await Deno.connect({ hostname: HOST, port });
  try {
    await conn.write(LIST);
    let total = 0;
    for (let n; (n = await conn.read(reply)) !== null;) total += n;
    return total;
  } finally {
    conn.close();
  }
}

/** Starts the original's list server on `folder`; resolves once it listens. */
async function startOriginal(
  folder: string,
): Promise<{ child: Deno.ChildProcess; pid: number; port: number }> {
  const child = spawn("python3", [join(ROOT, "bench", "original_list_server.py"), folder], {
    stderr: "null",
  });
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("The original list server ended before it listened");
    text += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  return { child, pid: child.pid, port: Number(text.trim()) };
}

/**
 * Runs the case: after a warm-up, `runs` rounds of a `seconds` loop against
 * each server, the order swapped every round.
 *
 * @param folder the folder both servers list
 * @param seconds how long each loop runs
 * @param runs how many rounds
 * @param progress where progress lines go
 * @returns the rates and CPU costs
 * @throws {Deno.errors.NotFound} when there is no python3
 */
export async function classicListCase(
  folder: string,
  seconds: number,
  runs: number,
  progress: (message: string) => void,
): Promise<ClassicListResults> {
  const version = await new Deno.Command("python3", { args: ["--version"] }).output();
  const python = new TextDecoder().decode(version.stdout).trim();
  const files = [...Deno.readDirSync(folder)].length;
  const ps = await startServer(folder, { record: false });
  const original = await startOriginal(folder);
  const reply = new Uint8Array(256 * 1024);
  const servers = [
    { label: "privateshare", ...ps, rate: [] as number[], cpu: [] as number[], bytes: 0 },
    {
      label: "original",
      pid: original.pid,
      port: original.port,
      rate: [] as number[],
      cpu: [] as number[],
      bytes: 0,
    },
  ];
  try {
    for (const server of servers) {
      for (let i = 0; i < 200; i++) server.bytes = await rawList(server.port, reply);
    }
    if (servers[0]!.bytes !== servers[1]!.bytes || servers[0]!.bytes === 0) {
      throw new Error(
        `The two servers' lists differ: ${servers[0]!.bytes} against ${servers[1]!.bytes} bytes`,
      );
    }
    for (let run = 0; run < runs; run++) {
      const order = run % 2 === 0 ? servers : [...servers].reverse();
      for (const server of order) {
        const before = readCpu(server.pid)!;
        const started = performance.now();
        const end = started + seconds * 1000;
        let count = 0;
        while (performance.now() < end) {
          if (await rawList(server.port, reply) !== server.bytes) {
            throw new Error(`A classic list from ${server.label} was cut short`);
          }
          count++;
        }
        const elapsed = (performance.now() - started) / 1000;
        const cpu = cpuDelta(before, readCpu(server.pid)!);
        server.rate.push(count / elapsed);
        server.cpu.push((cpu.userS + cpu.sysS) * 1000 / count);
        progress(
          `run ${run + 1}/${runs} classic list @ ${server.label}: ${num(count / elapsed, 0)}/s`,
        );
      }
    }
  } finally {
    await ps.stop();
    kill(original.child, "SIGKILL");
    await original.child.status;
  }
  return {
    files,
    privateshare: servers[0]!.rate,
    original: servers[1]!.rate,
    privateshareCpuMs: servers[0]!.cpu,
    originalCpuMs: servers[1]!.cpu,
    python,
  };
}

/**
 * The report's lines and target row for the case.
 *
 * @param results what was measured, if it ran
 * @returns the section and its target rows (target, measured, verdict)
 */
export function classicListSection(
  results: ClassicListResults | undefined,
): { lines: string[]; targets: string[][] } {
  if (!results) return { lines: [], targets: [] };
  const ps = summarize(results.privateshare);
  const original = summarize(results.original);
  const lines = [
    `## Classic lists from one client (folder of ${results.files} files, ` +
    `${results.privateshare.length} alternating runs)\n`,
    "A raw socket sends `list` and reads to the end, in a loop, against each server: " +
    "privateshare's, and bench/original_list_server.py (the original's list as " +
    `docs/PROTOCOL.md describes it, ${results.python}) serving the same folder.\n`,
    table(
      ["server", "lists/s, median (min–max)", "server CPU ms each"],
      [
        ["privateshare", spread(ps, 0), num(summarize(results.privateshareCpuMs).median, 3)],
        ["original (Python)", spread(original, 0), num(summarize(results.originalCpuMs).median, 3)],
      ],
    ),
  ];
  const ratio = ps.median / original.median;
  return {
    lines,
    targets: [[
      "classic lists ≥ the original Python server's rate",
      `${num(ratio)}× (${num(ps.median, 0)} against ${num(original.median, 0)}/s)`,
      verdict(ratio >= 1),
    ]],
  };
}
