/**
 * The client program's start-up, focused: `client.ts HOST PORT list` and
 * `client.ts --version` as whole processes, against a bare `deno run` of
 * `console.log(1)`, alternating run by run; optionally for other checkouts
 * of privateshare too (say `git archive HEAD | tar -x -C /tmp/base`), so
 * that a change is measured against its baseline in the same minute.
 *
 * ```
 * deno run --allow-all bench/startup.ts [--runs 15] [--repo LABEL=PATH ...]
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "../tests/helpers.ts";
import { HOST, killAll, startServer } from "./processes.ts";
import { smallFiles } from "./small.ts";
import { DIRS } from "./setup.ts";
import { num, summarize, table } from "./stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "15" },
    repo: { type: "string", multiple: true, default: [] },
  },
});
const runs = Number(values.runs);
const repos: [string, string][] = [
  ["this", ROOT],
  ...values.repo.map((r) => r.split("=", 2) as [string, string]),
];

const empty = await Deno.makeTempFile({ suffix: ".ts" });
await Deno.writeTextFile(empty, "console.log(1);\n");

/** Runs one command to its end; returns its wall time in milliseconds. */
async function time(args: string[], cwd?: string): Promise<number> {
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "null",
    stderr: "piped",
    ...(cwd ? { cwd } : {}),
  }).output();
  const ms = performance.now() - started;
  if (!out.success) {
    throw new Error(`${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return ms;
}

await smallFiles();
const server = await startServer(DIRS.small, { record: false });
try {
  const cases: [string, string[], string | undefined][] = [["deno run console.log(1)", [
    "run",
    empty,
  ], undefined]];
  for (const [label, path] of repos) {
    const client = join(path, "client.ts");
    cases.push([
      `${label}: client.ts --version`,
      ["run", "--allow-all", client, "--version"],
      path,
    ]);
    cases.push([
      `${label}: client.ts HOST PORT list`,
      ["run", "--allow-all", client, HOST, String(server.port), "list"],
      path,
    ]);
  }
  const times = new Map<string, number[]>(cases.map(([label]) => [label, []]));
  // One run of each first: it fills Deno's module and code caches.
  for (const [, args, cwd] of cases) await time(args, cwd);
  for (let i = 0; i < runs; i++) {
    for (const [label, args, cwd] of cases) times.get(label)!.push(await time(args, cwd));
  }
  const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  console.log(`${runs} runs each, alternating; load average ${load}\n`);
  console.log(table(
    ["process", "median ms", "min", "max"],
    [...times].map(([label, ms]) => {
      const s = summarize(ms);
      return [label, num(s.median, 0), num(s.min, 0), num(s.max, 0)];
    }),
  ));
} finally {
  await server.stop();
  await killAll();
  await Deno.remove(empty);
}
