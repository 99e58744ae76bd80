/**
 * Per-request cost, focused: one client (this checkout's library, in this
 * process) in a tight loop of PS/2 lists and 4 KiB gets against a server
 * process from this checkout and, alternating loop by loop, from other
 * checkouts (say `git archive HEAD | tar -x -C /tmp/base`), so that a
 * server change is measured against its baseline in the same minute.
 *
 * ```
 * deno run --allow-all bench/requests.ts [--seconds 2] [--runs 5] [--repo LABEL=PATH ...]
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { get, list } from "../lib/mod.ts";
import { ROOT } from "../tests/helpers.ts";
import { removeIfPresent } from "./data.ts";
import { HOST, killAll, readCpu, spawn } from "./processes.ts";
import { SMALL_FILES, smallFiles } from "./small.ts";
import { DIRS, TMPFS } from "./setup.ts";
import { num, summarize, table } from "./stats.ts";
import { cpuDelta } from "./transfers.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "2" },
    runs: { type: "string", default: "5" },
    repo: { type: "string", multiple: true, default: [] },
    ops: { type: "string", default: "list,get-tmpfs,get-disk" },
  },
});
const seconds = Number(values.seconds);
const runs = Number(values.runs);
const repos: [string, string][] = [
  ["this", ROOT],
  ...values.repo.map((r) => r.split("=", 2) as [string, string]),
];

/** Starts `PATH/server.ts` on port 0 serving `root`; its log is read and dropped. */
async function startServerOf(path: string, root: string): Promise<{ pid: number; port: number }> {
  // A benchmark's server never announces itself on the host's network; a
  // checkout from before announcing has no such flag (and does not announce).
  const cli = await Deno.readTextFile(join(path, "lib", "cli", "server.ts"));
  const quiet = cli.includes('"no-announce"') ? ["--no-announce"] : [];
  const child = spawn(Deno.execPath(), [
    "run",
    "--allow-all",
    join(path, "server.ts"),
    "0",
    "--root",
    root,
    "--log-format",
    "json",
    "--idle-timeout",
    "0",
    ...quiet,
  ], { stderr: "null" });
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`The server of ${path} ended before it listened`);
    text += decoder.decode(value, { stream: true });
  }
  const port = Number(JSON.parse(text.slice(0, text.indexOf("\n"))).port);
  (async () => {
    while (!(await reader.read()).done) {
      // Drained, so that a full pipe never stalls the server.
    }
  })();
  return { pid: child.pid, port };
}

const names = await smallFiles();
const target = names[0]!;
const tmpfs = await Deno.makeTempDir({ dir: TMPFS, prefix: "privateshare-requests-" });
const disk = await Deno.makeTempDir({ dir: DIRS.small + "-out", prefix: "requests-" }).catch(
  async () => {
    await Deno.mkdir(DIRS.small + "-out", { recursive: true });
    return await Deno.makeTempDir({ dir: DIRS.small + "-out", prefix: "requests-" });
  },
);
try {
  const servers = [];
  for (const [label, path] of repos) {
    servers.push({ label, ...(await startServerOf(path, DIRS.small)) });
  }
  const encoder = new TextEncoder();
  const rawGet = encoder.encode(`PS/2 ${JSON.stringify({ op: "get", name: target, offset: 0 })}\n`);
  const rawList = encoder.encode(`PS/2 ${JSON.stringify({ op: "list" })}\n`);
  const rawClassicList = encoder.encode("list");
  const reply = new Uint8Array(64 * 1024);
  // The server's side alone: a raw socket sends the command and reads to the end.
  const raw = (command: Uint8Array) => async (port: number) => {
    const conn = await Deno.connect({ hostname: HOST, port });
    try {
      await conn.write(command);
      let total = 0;
      for (let n; (n = await conn.read(reply)) !== null;) total += n;
      if (total === 0) throw new Error("The server sent nothing");
    } finally {
      conn.close();
    }
  };
  const ops: Record<string, (port: number) => Promise<void>> = {
    "raw-get": raw(rawGet),
    "raw-list": raw(rawList),
    "raw-classic-list": raw(rawClassicList),
    list: async (port) => {
      const files = await list({ host: HOST, port });
      if (files.length !== SMALL_FILES) throw new Error(`list gave ${files.length} files`);
    },
    "get-tmpfs": async (port) => {
      await get(target, { host: HOST, port, output: join(tmpfs, target), force: true });
    },
    "get-disk": async (port) => {
      await get(target, { host: HOST, port, output: join(disk, target), force: true });
    },
  };
  const chosen = values.ops.split(",");
  const rows = new Map<string, { rate: number[]; server: number[]; client: number[] }>();
  for (const op of chosen) {
    for (const s of servers) {
      rows.set(`${op} @ ${s.label}`, { rate: [], server: [], client: [] });
      for (let i = 0; i < 100; i++) await ops[op]!(s.port);
    }
  }
  for (let run = 0; run < runs; run++) {
    for (const op of chosen) {
      for (const s of servers) {
        const clientBefore = readCpu(Deno.pid)!;
        const serverBefore = readCpu(s.pid)!;
        const started = performance.now();
        const end = started + seconds * 1000;
        let count = 0;
        while (performance.now() < end) {
          await ops[op]!(s.port);
          count++;
        }
        const elapsed = (performance.now() - started) / 1000;
        const c = cpuDelta(clientBefore, readCpu(Deno.pid)!);
        const v = cpuDelta(serverBefore, readCpu(s.pid)!);
        const row = rows.get(`${op} @ ${s.label}`)!;
        row.rate.push(count / elapsed);
        row.client.push((c.userS + c.sysS) * 1000 / count);
        row.server.push((v.userS + v.sysS) * 1000 / count);
      }
    }
  }
  const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  console.log(`${runs} runs of ${seconds} s each, alternating; load average ${load}\n`);
  console.log(table(
    ["loop @ server", "per second, median (min–max)", "server CPU ms each", "client CPU ms each"],
    [...rows].map(([label, r]) => {
      const s = summarize(r.rate);
      return [
        label,
        `${num(s.median, 0)} (${num(s.min, 0)}–${num(s.max, 0)})`,
        num(summarize(r.server).median, 3),
        num(summarize(r.client).median, 3),
      ];
    }),
  ));
} finally {
  await killAll();
  await removeIfPresent(tmpfs);
  await removeIfPresent(disk);
}
