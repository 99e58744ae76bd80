/**
 * The abuse case: how long a normal 4 KiB get and a list take while 300
 * hostile connections (silent, sending half a command, trickling a command a
 * byte a second) are open against a real server with default flags, from
 * another address (127.0.0.2) and from the client's own; the same without
 * attackers as the baseline of the same run; and whether any request of 16
 * normal clients at once is refused meanwhile.
 *
 * @module
 */

import net from "node:net";
import { join } from "node:path";
import { get, list } from "../lib/mod.ts";
import { encodeCommand } from "../lib/protocol/ps2.ts";
import { HOST, startServer } from "./processes.ts";

/** One situation: attackers from somewhere, or none. */
export interface AbuseSample {
  /** What was open meanwhile. */
  label: string;
  /** Milliseconds of each get. */
  getMs: number[];
  /** Milliseconds of each list. */
  listMs: number[];
  /** Requests of 16 normal clients at once, and how many failed (with why). */
  concurrent: { requests: number; failures: string[] };
}

/** What the abuse case measured. */
export interface AbuseResults {
  /** Hostile connections per situation. */
  attackers: number;
  /** Gets and lists timed per situation. */
  operations: number;
  /** Baseline first, then each attack. */
  samples: AbuseSample[];
}

const CONCURRENT_CLIENTS = 16;

/** Opens hostile connections; `close()` ends them all. */
async function attack(port: number, from: string, each: number) {
  const sockets: net.Socket[] = [];
  const timers: ReturnType<typeof setInterval>[] = [];
  const opened: Promise<void>[] = [];
  for (const kind of ["silent", "garbage", "trickle"] as const) {
    for (let i = 0; i < each; i++) {
      const socket = net.connect({ host: HOST, port, localAddress: from });
      socket.on("error", () => {});
      socket.on("data", () => {});
      sockets.push(socket);
      opened.push(new Promise((resolve) => socket.once("connect", () => resolve())));
      if (kind === "garbage") socket.write('PS/2 {"op":"li');
      if (kind === "trickle") {
        const command = encodeCommand({ op: "put", name: "x".repeat(250), size: 1, resume: false });
        let at = 0;
        timers.push(setInterval(() => {
          if (at < command.length - 1 && !socket.destroyed) {
            socket.write(command.subarray(at, ++at));
          }
        }, 1000));
      }
    }
  }
  await Promise.all(opened);
  return {
    close() {
      for (const timer of timers) clearInterval(timer);
      for (const socket of sockets) socket.destroy();
    },
  };
}

async function timeOps(port: number, name: string, out: string, count: number) {
  const getMs: number[] = [];
  const listMs: number[] = [];
  const options = { host: HOST, port, timeoutMs: 10_000 };
  for (let i = 0; i < count; i++) {
    let started = performance.now();
    await get(name, { ...options, output: join(out, name), force: true, resume: false });
    getMs.push(performance.now() - started);
    started = performance.now();
    await list(options);
    listMs.push(performance.now() - started);
  }
  return { getMs, listMs };
}

async function concurrentGets(port: number, names: string[], out: string, each: number) {
  const failures: string[] = [];
  let requests = 0;
  await Promise.all(
    Array.from({ length: CONCURRENT_CLIENTS }, async (_, client) => {
      for (let i = 0; i < each; i++) {
        const name = names[(client * each + i) % names.length]!;
        requests++;
        try {
          await get(name, {
            host: HOST,
            port,
            timeoutMs: 10_000,
            output: join(out, `c${client}-${name}`),
            force: true,
            resume: false,
          });
        } catch (error) {
          failures.push(`client ${client}: ${error instanceof Error ? error.message : error}`);
        }
      }
    }),
  );
  return { requests, failures };
}

/**
 * Runs the abuse case against a fresh server with default flags.
 *
 * @param root a folder of small files to serve
 * @param names the files in it (4 KiB each)
 * @param out a folder for the downloads
 * @param progress reports a line on stderr
 * @returns what was measured
 */
export async function abuseCase(
  root: string,
  names: string[],
  out: string,
  progress: (message: string) => void,
): Promise<AbuseResults> {
  const operations = 100;
  const each = 100;
  const server = await startServer(root, { record: false });
  const samples: AbuseSample[] = [];
  try {
    const situations = [
      { label: "no attackers (baseline)", from: undefined },
      { label: `${3 * each} attackers from another address (127.0.0.2)`, from: "127.0.0.2" },
      { label: `${3 * each} attackers from the client's own address`, from: "127.0.0.1" },
    ];
    for (const { label, from } of situations) {
      const attackers = from ? await attack(server.port, from, each) : undefined;
      try {
        // Let the server take every attacker in before timing.
        await new Promise((r) => setTimeout(r, 500));
        const timed = await timeOps(server.port, names[0]!, out, operations);
        const concurrent = await concurrentGets(server.port, names, out, 10);
        samples.push({ label, ...timed, concurrent });
        progress(`abuse: ${label}: get median ${median(timed.getMs).toFixed(1)} ms`);
      } finally {
        attackers?.close();
      }
    }
  } finally {
    await server.stop();
  }
  return { attackers: 3 * each, operations, samples };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

/**
 * The abuse case as a Markdown section of the report.
 *
 * @param results from {@link abuseCase}
 * @returns the section
 */
export function abuseSection(results: AbuseResults): string {
  const ms = (v: number) => v.toFixed(1);
  const lines = [
    "## Abuse: a normal client while hostile connections are open",
    "",
    `A real server with default flags; ${results.attackers} hostile connections (a third silent, ` +
    "a third sending half a command, a third trickling a command a byte a second), opened " +
    "before timing; then " +
    `${results.operations} gets of a 4 KiB file and ${results.operations} lists (100 files), ` +
    `one at a time, through the library in this process; then ${CONCURRENT_CLIENTS} clients ` +
    "getting 10 files each at once. Target: a get and a list under 100 ms, and no request of a " +
    `normal client refused (${CONCURRENT_CLIENTS} at once are below --max-connections and ` +
    "--max-per-address).",
    "",
    "| situation | get median (p95, max) | list median (p95, max) | concurrent requests refused | met |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const s of results.samples) {
    const met = percentile(s.getMs, 0.95) < 100 && percentile(s.listMs, 0.95) < 100 &&
      s.concurrent.failures.length === 0;
    lines.push(
      `| ${s.label} | ${ms(median(s.getMs))} ms (${ms(percentile(s.getMs, 0.95))}, ` +
        `${ms(Math.max(...s.getMs))}) | ${ms(median(s.listMs))} ms (${
          ms(percentile(s.listMs, 0.95))
        }, ${
          ms(Math.max(...s.listMs))
        }) | ${s.concurrent.failures.length} of ${s.concurrent.requests} | ${
          met ? "yes" : "**no**"
        } |`,
    );
  }
  const failures = results.samples.flatMap((s) =>
    s.concurrent.failures.map((f) => `${s.label}: ${f}`)
  );
  if (failures.length > 0) {
    lines.push("", "Refused or failed:", "", ...failures.slice(0, 10).map((f) => `- ${f}`));
  }
  return lines.join("\n") + "\n";
}
