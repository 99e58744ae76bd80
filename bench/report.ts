/**
 * The benchmark's report: what each case measured, the targets, and the
 * Markdown that bench/RESULTS.md holds.
 *
 * @module
 */

import { MiB, num, spread, summarize, type Summary, table } from "./stats.ts";
import { tlsSection } from "./tls.ts";
import { getsSection, verdict } from "./gets.ts";
import type { ReportInput } from "./results.ts";
import { foldersSection } from "./folders.ts";
import { classicListSection } from "./classic_list.ts";

/** The targets from the issue. */
const TARGET = {
  socatRatio: 1.15,
  peakBytes: 150 * MiB,
  concurrentRatio: 0.8,
  concurrentServerPeak: 600 * MiB,
  listsPerSecond: 3000,
  getsPerSecond: 2000,
  memoryGrowth: 1.10,
};

function mib(bytes: number | undefined): string {
  return bytes === undefined ? "—" : num(bytes / MiB, 0);
}

const met = verdict;

function cpu(usages: { userS: number; sysS: number; mainS: number }[]): string {
  if (usages.length === 0) return "—";
  const m = (pick: (u: { userS: number; sysS: number; mainS: number }) => number) =>
    summarize(usages.map(pick)).median;
  return `${num(m((u) => u.userS + u.sysS))} (u ${num(m((u) => u.userS))}, s ${
    num(m((u) => u.sysS))
  }; main ${num(m((u) => u.mainS))})`;
}

function commandLine(args: string[]): string {
  const quoted = args.map((a) => /^[\w.,=\/-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);
  return ["deno", "run", "--allow-all", "bench/bench.ts", ...quoted].join(" ");
}

/**
 * Renders the report: the header, the targets with a verdict each, then a
 * section per case.
 *
 * @param input what was measured
 * @returns Markdown
 */
export function report(input: ReportInput): string {
  const { options, transfer, concurrent, small, memory, calibration } = input;
  const head: string[] = [];
  head.push("# privateshare benchmark results\n");
  head.push(`- Date: ${input.date}`);
  head.push(`- Machine: ${input.machine}`);
  head.push(
    `- Load average (1 min) at start and end: ${input.loadStart} / ${input.loadEnd ?? "—"} ` +
      "(other processes on the machine add noise; see the min–max ranges)",
  );
  head.push(`- Command: \`${commandLine(input.args)}\``);
  if (input.socat && calibration) {
    head.push(
      `- Baseline: ${input.socat}, receiver \`socat -b ${calibration.buffer} -u ` +
        `TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr OPEN:DEST,creat,trunc\`, sender ` +
        `\`socat -b ${calibration.buffer} -u OPEN:SRC TCP:127.0.0.1:PORT\`; ` +
        (calibration.tried.length > 1
          ? `-b chosen as the fastest (best of 2) of ${
            calibration.tried.map((t) => `${t.buffer}: ${num(Math.min(...t.ms) / 1000)} s`)
              .join(", ")
          }`
          : "-b as given"),
    );
  } else if (!input.socat) {
    head.push("- Baseline: **socat not found** (install Debian's `socat`): ratios skipped");
  }
  head.push(
    "- Every privateshare time is a whole CLI run (`deno run client.ts ...`, Deno start-up " +
      "included) against a fresh server process; put and get are verified with SHA-256 " +
      "afterwards. privateshare fdatasyncs before it reports done (server for put, client " +
      "for get); socat does not, so socat is shown with and without an fdatasync of its copy.",
  );
  head.push("");
  const out: string[] = [];

  const targets: string[][] = [];
  if (transfer) {
    const size = transfer.sizeBytes;
    const at = size === 1024 * MiB ? "" : ` (measured at ${size / MiB} MiB)`;
    const put = summarize(transfer.put.map((s) => s.ms));
    const got = summarize(transfer.get.map((s) => s.ms));
    const socat = transfer.socat.length ? summarize(transfer.socat.map((s) => s.ms)) : undefined;
    const socatSync = transfer.socat.length
      ? summarize(transfer.socat.map((s) => s.ms + s.syncMs))
      : undefined;
    const rate = (s: Summary | undefined) => s && size / MiB / (s.median / 1000);
    const ratio = (a: Summary, b: Summary | undefined) => b && a.median / b.median;
    const peak = (xs: number[]) => xs.length ? Math.max(...xs) : undefined;
    out.push(`## Whole transfers of ${size / MiB} MiB (${runs(options.runs)}, alternating)\n`);
    out.push(table(
      [
        "case",
        "median s (min–max)",
        "MiB/s",
        "× socat",
        "× socat + fdatasync",
        "server / receiver peak MiB",
        "client / sender peak MiB",
      ],
      [
        [
          "privateshare put",
          spread(seconds(put)),
          num(rate(put), 0),
          num(ratio(put, socat)),
          num(ratio(put, socatSync)),
          mib(peak(transfer.put.map((s) => s.serverPeak))),
          mib(peak(transfer.put.map((s) => s.client.peakBytes))),
        ],
        [
          "privateshare get",
          spread(seconds(got)),
          num(rate(got), 0),
          num(ratio(got, socat)),
          num(ratio(got, socatSync)),
          mib(peak(transfer.get.map((s) => s.serverPeak))),
          mib(peak(transfer.get.map((s) => s.client.peakBytes))),
        ],
        ...(socat && socatSync
          ? [
            [
              "socat",
              spread(seconds(socat)),
              num(rate(socat), 0),
              "1.00",
              "—",
              mib(peak(transfer.socat.map((s) => s.receiver.peakBytes))),
              mib(peak(transfer.socat.map((s) => s.sender.peakBytes))),
            ],
            [
              "socat + fdatasync of the copy",
              spread(seconds(socatSync)),
              num(rate(socatSync), 0),
              "—",
              "1.00",
              "",
              "",
            ],
          ]
          : []),
      ],
    ));
    out.push("Peaks are VmHWM, the largest over the runs.\n");
    out.push("### Where the time goes (medians)\n");
    const startup = summarize(transfer.startup.map((r) => r.ms));
    out.push(table(
      [
        "case",
        "wall s",
        "client / sender CPU s",
        "server / receiver CPU s",
        "server's own request time s",
      ],
      [
        [
          "privateshare put",
          num(put.median / 1000),
          cpu(transfer.put.map((s) => s.client)),
          cpu(transfer.put.map((s) => s.server)),
          num(summarize(transfer.put.map((s) => s.serverMs)).median / 1000),
        ],
        [
          "privateshare get",
          num(got.median / 1000),
          cpu(transfer.get.map((s) => s.client)),
          cpu(transfer.get.map((s) => s.server)),
          num(summarize(transfer.get.map((s) => s.serverMs)).median / 1000),
        ],
        ...(socat
          ? [[
            "socat",
            num(socat.median / 1000),
            cpu(transfer.socat.map((s) => s.sender)),
            cpu(transfer.socat.map((s) => s.receiver)),
            "—",
          ]]
          : []),
        [
          "client CLI start-up (`client.ts --version`)",
          num(startup.median / 1000),
          cpu(transfer.startup.map((r) => r.usage)),
          "—",
          "—",
        ],
      ],
    ));
    out.push(
      "CPU: user + kernel seconds of all threads (u, s), and of the main thread, where " +
        "JavaScript runs (main). The server's request time runs from accepting the " +
        "connection to closing it (for put, it includes the fdatasync).\n",
    );
    for (
      const [label, summary, base, baseLabel] of [
        ["put", put, socat, "socat"],
        ["put", put, socatSync, "socat + fdatasync"],
        ["get", got, socat, "socat"],
        ["get", got, socatSync, "socat + fdatasync"],
      ] as const
    ) {
      const r = ratio(summary, base);
      targets.push([
        `${label} of 1 GiB ≤ ${TARGET.socatRatio}× the time of ${baseLabel}${at}`,
        r === undefined ? "socat missing" : `${num(r)}×`,
        met(r === undefined ? undefined : r <= TARGET.socatRatio),
      ]);
    }
    const serverPeak = Math.max(...[...transfer.put, ...transfer.get].map((s) => s.serverPeak));
    const clientPeak = Math.max(
      ...[...transfer.put, ...transfer.get].map((s) => s.client.peakBytes),
    );
    targets.push([
      `server peak RSS ≤ 150 MiB during a 1 GiB put or get${at}`,
      `${mib(serverPeak)} MiB`,
      met(serverPeak <= TARGET.peakBytes),
    ]);
    targets.push([
      `client peak RSS ≤ 150 MiB during a 1 GiB put or get${at}`,
      `${mib(clientPeak)} MiB`,
      met(clientPeak <= TARGET.peakBytes),
    ]);
  }

  if (concurrent) {
    const bytes = options.clients * options.clientMiB * MiB;
    const wall = summarize(concurrent.wallMs);
    const aggregate = bytes / MiB / (wall.median / 1000);
    const single = transfer && transfer.sizeBytes / MiB /
        (summarize(transfer.put.map((s) => s.ms)).median / 1000);
    const serverPeak = Math.max(...concurrent.serverPeak);
    out.push(
      `## ${options.clients} clients putting ${options.clientMiB} MiB each at once ` +
        `(${runs(options.runs)})\n`,
    );
    out.push(table(
      [
        "wall s (min–max)",
        "aggregate MiB/s",
        "× single put MiB/s",
        "server peak MiB",
        "largest client peak MiB",
        "server CPU s",
        "verified",
      ],
      [[
        spread(seconds(wall)),
        num(aggregate, 0),
        single ? `${num(aggregate / single)} (single put: ${num(single, 0)} MiB/s)` : "—",
        mib(serverPeak),
        mib(Math.max(...concurrent.clientPeak)),
        cpu(concurrent.serverCpu),
        concurrent.failures.length === 0
          ? `all ${options.clients * options.runs} exit 0, SHA-256 equal`
          : `**${concurrent.failures.length} failures**`,
      ]],
    ));
    for (const failure of concurrent.failures) out.push(`- ${failure.trim()}`);
    if (concurrent.failures.length) out.push("");
    targets.push([
      `${options.clients}×${options.clientMiB} MiB concurrent puts: aggregate ≥ ` +
      `${TARGET.concurrentRatio}× a single transfer's throughput`,
      single ? `${num(aggregate / single)}×` : "no single put measured",
      met(
        single && concurrent.failures.length === 0
          ? aggregate / single >= TARGET.concurrentRatio
          : undefined,
      ),
    ]);
    targets.push([
      `${options.clients}×${options.clientMiB} MiB concurrent puts: server peak ≤ 600 MiB`,
      `${mib(serverPeak)} MiB`,
      met(serverPeak <= TARGET.concurrentServerPeak),
    ]);
  }

  if (small) {
    out.push(
      `## Small operations: one client process, lib/client.ts in a loop ` +
        `(~${options.smallSeconds} s a loop, ${runs(options.runs)})\n`,
    );
    out.push(table(
      [
        "operation",
        "per second, median (min–max)",
        "ms each",
        "client CPU ms each",
        "server CPU ms each",
      ],
      small.map((r) => {
        const s = summarize(r.perSecond);
        const server = r.serverCpuMs.filter((x) => !Number.isNaN(x));
        return [
          r.label,
          spread(s, 0),
          num(1000 / s.median, 3),
          num(summarize(r.clientCpuMs).median, 3),
          server.length ? num(summarize(server).median, 3) : "—",
        ];
      }),
    ));
    out.push(
      "The last three rows are diagnostics: what a get costs without its fdatasync, a bare " +
        "connection, and the client's local file work alone. Client CPU is the benchmark " +
        "process, where the client library runs.\n",
    );
    const lists = small[0] && summarize(small[0].perSecond).median;
    const gets = small[1] && summarize(small[1].perSecond).median;
    targets.push([
      `PS/2: ≥ ${TARGET.listsPerSecond} lists/s from one client (folder of ${options.smallFiles} files)`,
      `${num(lists, 0)}/s`,
      met(lists === undefined ? undefined : lists >= TARGET.listsPerSecond),
    ]);
    targets.push([
      `PS/2: ≥ ${TARGET.getsPerSecond} gets of 4 KiB/s from one client`,
      `${num(gets, 0)}/s`,
      met(gets === undefined ? undefined : gets >= TARGET.getsPerSecond),
    ]);
  }

  if (memory) {
    out.push("## Peak memory, 1 GiB against 4 GiB\n");
    out.push(table(
      ["process", "1 GiB peak MiB", "4 GiB peak MiB", "4 GiB / 1 GiB", "within 10%"],
      memory.rows.map((r) => [
        r.label,
        mib(r.small),
        mib(r.large),
        num(r.large / r.small),
        met(r.large <= r.small * TARGET.memoryGrowth),
      ]),
    ));
    const worst = Math.max(...memory.rows.map((r) => r.large / r.small));
    targets.push([
      "peak memory of a 4 GiB transfer within 10% of a 1 GiB one",
      `worst ${num(worst)}×`,
      met(worst <= TARGET.memoryGrowth),
    ]);
  }

  // The verdicts come first: they are what a reader looks for.
  if (input.tls) {
    const section = tlsSection(input.tls, options.runs, input.tlsPinnedGet);
    out.push(...section.lines);
    targets.push(...section.targets);
  }

  const gets = getsSection(input.gets, input.listProcess);
  out.push(...gets.lines);
  targets.push(...gets.targets);
  const folders = foldersSection(input.folders);
  out.push(...folders.lines);
  targets.push(...folders.targets);
  if (input.classicSkipped) {
    targets.push([
      "classic lists ≥ the original Python server's rate",
      `not measured: ${input.classicSkipped}`,
      verdict(undefined),
    ]);
  }
  const classic = classicListSection(input.classicList);
  out.push(...classic.lines);
  targets.push(...classic.targets);

  const summary = targets.length
    ? ["## Targets\n", table(["target", "measured", "verdict"], targets)]
    : [];
  return [...head, ...summary, ...out].join("\n");
}

function runs(n: number): string {
  return n === 1 ? "1 run" : `${n} runs`;
}

function seconds(s: Summary): Summary {
  return { ...s, median: s.median / 1000, min: s.min / 1000, max: s.max / 1000 };
}
