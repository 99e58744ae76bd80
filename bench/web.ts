/**
 * The benchmark's web case: a file downloaded and uploaded with curl through
 * privateshare's web page, against nginx (static download, WebDAV `PUT`
 * upload) and `python3 -m http.server` (download only) in the same run, on
 * the same file; each server fresh for each measurement, so that its peak
 * memory is that transfer's. Then the phone-sized page's time to its first
 * listing of a folder of 2,000 files (web_page.ts), and on request one large
 * upload for the server's peak memory.
 *
 * @module
 */

import { join } from "node:path";
import { emptyDir, removeIfPresent, sha256File } from "./data.ts";
import { spawn } from "./processes.ts";
import { MiB, num, spread, summarize, type Summary, table } from "./stats.ts";
import {
  type HttpServer,
  type PageServer,
  startNginx,
  startPrivateshare,
  startPython,
  versionOf,
} from "./web_servers.ts";
import { type PageListing, pageListing } from "./web_page.ts";

/** One measured transfer. */
export interface WebSample {
  /** From starting the first request to the last answer, in milliseconds. */
  ms: number;
  /** The serving process's peak resident memory (VmHWM), bytes; 0 when unknown. */
  peak: number;
  /** For an nginx upload, the time to fdatasync the copy afterwards (privateshare flushes). */
  syncMs?: number;
}

/** What the web case measured. */
export interface WebResults {
  /** The file's size. */
  sizeBytes: number;
  /** Versions of curl, nginx and python3, or undefined where missing. */
  versions: { curl: string; nginx?: string; python?: string };
  /** Transfers, one sample a run, by server and direction. */
  samples: {
    nginxGet: WebSample[];
    nginxPut: WebSample[];
    pythonGet: WebSample[];
    psGet: WebSample[];
    psPut: WebSample[];
    /** Downloads to /dev/null: the servers' own speed, without the disk that curl writes. */
    nginxNull: WebSample[];
    pythonNull: WebSample[];
    psNull: WebSample[];
  };
  /** Seconds to hash the source before each privateshare upload (not in its time). */
  hashMs: number;
  /** The large file uploaded, then downloaded, when asked for. */
  large?: { sizeBytes: number; put: WebSample; get: WebSample };
  /** The page's time to its first listing. */
  page?: PageListing;
}

/** The issue's targets. */
const TARGET = { ratio: 1.5, peakBytes: 150 * MiB };
/** The folder the page lists. */
const LIST_FILES = 2000;

const decoder = new TextDecoder();

/** Runs curl and fails loudly when it does; what it printed on stdout. */
async function curl(args: string[]): Promise<string> {
  const out = await spawn("curl", ["-sS", "--fail", ...args]).output();
  if (!out.success) {
    throw new Error(
      `curl ${args.join(" ")} failed (exit ${out.code}): ${decoder.decode(out.stderr)}`,
    );
  }
  return decoder.decode(out.stdout);
}

/** Downloads to /dev/null, checking that every byte came. */
async function curlDiscard(args: string[], size: number): Promise<void> {
  const got = await curl(["-o", "/dev/null", "-w", "%{size_download}", ...args]);
  if (Number(got) !== size) throw new Error(`curl ${args.join(" ")} got ${got} of ${size} bytes`);
}

/** Times a transfer against a fresh server, and reads its peak memory before stopping it. */
async function measure(server: HttpServer, transfer: () => Promise<unknown>): Promise<WebSample> {
  try {
    const started = performance.now();
    await transfer();
    const ms = performance.now() - started;
    return { ms, peak: server.peak() ?? 0 };
  } finally {
    await server.stop();
  }
}

async function verify(path: string, sha: string, what: string): Promise<void> {
  const got = await sha256File(path);
  if (got !== sha) throw new Error(`${what}: ${path} differs from the source (SHA-256 ${got})`);
  await removeIfPresent(path);
}

/** Headers of privateshare's API: the session, and the page's own origin where it writes. */
function apiHeaders(server: PageServer): Record<string, string> {
  return { cookie: server.cookie, origin: server.base, "content-type": "application/json" };
}

async function api(
  server: PageServer,
  path: string,
  body: unknown,
): Promise<Record<string, unknown>> {
  const answer = await fetch(server.base + path, {
    method: "POST",
    headers: apiHeaders(server),
    body: JSON.stringify(body),
  });
  const text = await answer.text();
  if (!answer.ok) throw new Error(`POST ${path}: ${answer.status} ${text}`);
  return JSON.parse(text);
}

/**
 * Uploads through privateshare's API as the page does: create, one PUT of
 * every byte (curl -T), commit with the SHA-256 computed beforehand.
 */
async function psUpload(server: PageServer, src: string, name: string, size: number, sha: string) {
  const created = await api(server, "/api/uploads", { path: name, size });
  if (created.offset !== 0) throw new Error(`a new upload started at offset ${created.offset}`);
  const id = encodeURIComponent(String(created.id));
  await curl([
    ...["-T", src, "-o", "/dev/null", "-H", "Expect:", "-H", `Origin: ${server.base}`],
    ...["-b", server.cookie, `${server.base}/api/uploads/${id}?offset=0`],
  ]);
  await api(server, `/api/uploads/${id}/commit`, { sha256: sha });
}

/** The options of the web case. */
export interface WebOptions {
  /** The source file (`size` bytes) and its SHA-256. */
  src: string;
  sha: string;
  size: number;
  /** Alternating runs. */
  runs: number;
  /** The benchmark's data folder. */
  data: string;
  /** A large file to upload once for the server's peak memory, if asked for. */
  large?: { src: string; sha: string; size: number };
  progress: (what: string) => void;
}

/**
 * Runs the web case.
 *
 * @param options what to move and where
 * @returns what was measured; undefined when curl is missing (said on stderr)
 */
export async function webCase(options: WebOptions): Promise<WebResults | undefined> {
  const { src, sha, size, runs, data, progress } = options;
  const curlVersion = await versionOf("curl", ["--version"]);
  if (!curlVersion) {
    console.error(
      "bench: curl not found: install it (Debian: apt-get install curl); the web case is skipped",
    );
    return undefined;
  }
  const nginx = await versionOf("nginx", ["-v"]);
  if (!nginx) {
    console.error(
      "bench: nginx not found: install it (Debian: apt-get install nginx-light) for the web " +
        "baseline; ratios to nginx are skipped",
    );
  }
  const python = await versionOf("python3", ["--version"]);
  if (!python) {
    console.error("bench: python3 not found: the python3 -m http.server row is skipped");
  }
  const dir = join(data, "web");
  const served = join(dir, "served");
  const out = join(dir, "out");
  const up = join(dir, "nginx-up");
  await emptyDir(dir);
  await Deno.mkdir(served);
  await Deno.mkdir(out);
  const name = "web-source.bin";
  // The same file for every server, without a copy.
  await Deno.link(src, join(served, name));
  const samples: WebResults["samples"] = {
    nginxGet: [],
    nginxPut: [],
    pythonGet: [],
    psGet: [],
    psPut: [],
    nginxNull: [],
    pythonNull: [],
    psNull: [],
  };
  const hashStarted = performance.now();
  if ((await sha256File(src)) !== sha) throw new Error(`${src} changed during the benchmark`);
  const hashMs = performance.now() - hashStarted;
  const got = join(out, name);
  const say = (what: string, sample: WebSample) =>
    progress(`${what}: ${num(sample.ms / 1000)} s, peak ${num(sample.peak / MiB, 0)} MiB`);
  try {
    for (let run = 1; run <= runs; run++) {
      const tag = `run ${run}/${runs} web`;
      const starters = {
        nginx: nginx ? () => startNginx(join(dir, "nginx"), served, up) : undefined,
        python: python ? () => startPython(served) : undefined,
        ps: () => startPrivateshare(served),
      };
      for (const to of ["file", "null"] as const) {
        for (const kind of ["nginx", "python", "ps"] as const) {
          const start = starters[kind];
          if (!start) continue;
          const server: HttpServer & { cookie?: string } = await start();
          const cookie = server.cookie ? ["-b", server.cookie] : [];
          const url = kind === "ps" ? `${server.base}/files/${name}` : `${server.base}/${name}`;
          const sample = await measure(
            server,
            () =>
              to === "file"
                ? curl([...cookie, "-o", got, url])
                : curlDiscard([...cookie, url], size),
          );
          if (to === "file") await verify(got, sha, `${kind} download`);
          samples[`${kind}${to === "file" ? "Get" : "Null"}`].push(sample);
          say(`${tag} ${kind} get${to === "null" ? " to /dev/null" : ""}`, sample);
        }
      }
      if (nginx) {
        const server = await startNginx(join(dir, "nginx"), served, up);
        const dest = join(up, `upload-${run}.bin`);
        const sample = await measure(server, () =>
          curl([
            ...["-T", src, "-o", "/dev/null", "-H", "Expect:"],
            `${server.base}/up/upload-${run}.bin`,
          ]));
        const syncStarted = performance.now();
        {
          using file = await Deno.open(dest, { read: true });
          await file.syncData();
        }
        sample.syncMs = performance.now() - syncStarted;
        await verify(dest, sha, "nginx upload");
        samples.nginxPut.push(sample);
        say(`${tag} nginx put`, sample);
      }
      {
        const server = await startPrivateshare(served);
        const upload = `upload-${run}.bin`;
        const sample = await measure(server, () => psUpload(server, src, upload, size, sha));
        await verify(join(served, upload), sha, "privateshare upload");
        samples.psPut.push(sample);
        say(`${tag} privateshare put`, sample);
      }
    }
    const results: WebResults = {
      sizeBytes: size,
      versions: {
        curl: curlVersion.split(" ").slice(0, 2).join(" "),
        ...(nginx ? { nginx: nginx.replace(/^nginx version: /, "") } : {}),
        ...(python ? { python } : {}),
      },
      samples,
      hashMs,
    };
    if (options.large) {
      const { src: bigSrc, sha: bigSha, size: bigSize } = options.large;
      progress(`web: ${bigSize / MiB} MiB up and down for the server's peak memory`);
      const upServer = await startPrivateshare(served);
      const put = await measure(
        upServer,
        () => psUpload(upServer, bigSrc, "large.bin", bigSize, bigSha),
      );
      say("web large privateshare put", put);
      const downServer = await startPrivateshare(served);
      const large = join(out, "large.bin");
      const get = await measure(downServer, () =>
        curl([
          ...["-b", downServer.cookie, "-o", large],
          `${downServer.base}/files/large.bin`,
        ]));
      say("web large privateshare get", get);
      await verify(large, bigSha, "privateshare large download");
      await verify(join(served, "large.bin"), bigSha, "privateshare large upload");
      results.large = { sizeBytes: bigSize, put, get };
    }
    progress(`web: the phone-sized page lists a folder of ${LIST_FILES} files`);
    results.page = await pageListing(
      join(data, "web-list"),
      LIST_FILES,
      Math.max(5, runs),
      progress,
    );
    return results;
  } finally {
    await removeIfPresent(dir);
  }
}

function seconds(s: Summary): string {
  return spread({ ...s, median: s.median / 1000, min: s.min / 1000, max: s.max / 1000 });
}

function verdict(pass: boolean | undefined): string {
  return pass === undefined ? "—" : pass ? "PASS" : "**MISS**";
}

/**
 * The report's section, with its targets.
 *
 * @param results what was measured
 * @param runs runs of each transfer
 * @returns Markdown
 */
export function webSection(results: WebResults, runs: number): string {
  const { samples, sizeBytes } = results;
  const size = sizeBytes / MiB;
  const sum = (xs: WebSample[]) => xs.length ? summarize(xs.map((s) => s.ms)) : undefined;
  const peak = (xs: WebSample[]) => xs.length ? Math.max(...xs.map((s) => s.peak)) : undefined;
  const base = {
    get: sum(samples.nginxGet),
    put: sum(samples.nginxPut),
    null: sum(samples.nginxNull),
  };
  const synced = samples.nginxPut.length
    ? summarize(samples.nginxPut.map((s) => s.ms + (s.syncMs ?? 0)))
    : undefined;
  const row = (label: string, xs: WebSample[], against: Summary | undefined) => {
    const s = sum(xs);
    if (!s) return [label, "not measured", "—", "—", "—"];
    return [
      label,
      seconds(s),
      num(size / (s.median / 1000), 0),
      against ? num(s.median / against.median) : "—",
      num((peak(xs) ?? 0) / MiB, 0),
    ];
  };
  const ratio = (xs: WebSample[], against: Summary | undefined) => {
    const s = sum(xs);
    return s && against ? s.median / against.median : undefined;
  };
  const lines = [
    `## Web page: ${size} MiB with curl, against nginx and python3 (${runs} run${
      runs === 1 ? "" : "s"
    }, alternating)`,
    "",
    `${results.versions.curl}; nginx ${
      results.versions.nginx ?? "**not found** (Debian: `apt-get install nginx-light`)"
    }; ` +
    `${results.versions.python ?? "python3 **not found**"}. Each server is started fresh on ` +
    "127.0.0.1 for each transfer; its peak is the VmHWM of the process that serves (nginx's " +
    "worker). Every copy is checked by SHA-256 afterwards.",
    "",
    table(["case", "median s (min–max)", "MiB/s", "× nginx", "server peak MiB"], [
      row("nginx download (static, sendfile)", samples.nginxGet, base.get),
      row("python3 -m http.server download", samples.pythonGet, base.get),
      row("privateshare download (`GET /files/NAME`, session cookie)", samples.psGet, base.get),
      row("nginx download to /dev/null", samples.nginxNull, base.null),
      row("python3 -m http.server download to /dev/null", samples.pythonNull, base.null),
      row("privateshare download to /dev/null", samples.psNull, base.null),
      row("nginx upload (WebDAV `PUT`)", samples.nginxPut, base.put),
      [
        "nginx upload + fdatasync of the copy",
        synced ? seconds(synced) : "—",
        synced ? num(size / (synced.median / 1000), 0) : "—",
        synced && base.put ? num(synced.median / base.put.median) : "—",
        "—",
      ],
      ["python3 -m http.server upload", "n/a (it has no upload)", "—", "—", "—"],
      row(
        "privateshare upload (create, `PUT ?offset=0`, commit)",
        samples.psPut,
        base.put,
      ),
    ]),
    "Downloads: `curl -o FILE URL` (privateshare's with `-b privateshare_session=ID`, the cookie " +
    "its token gave), and again with `-o /dev/null` (every byte counted by curl's " +
    "`%{size_download}`), where the disk that curl writes does not hide the server's own speed. " +
    "Uploads: nginx `curl -T FILE /up/NAME` (`dav_methods PUT`, " +
    "`client_max_body_size 0`, its body's temporary file in the benchmark's folder); privateshare " +
    "`POST /api/uploads`, `curl -T FILE -H Origin:… /api/uploads/ID?offset=0`, " +
    "`POST /api/uploads/ID/commit` with the SHA-256, all three in its time; the SHA-256 itself is " +
    `computed beforehand and not timed (${num(results.hashMs / 1000)} s here; the page hashes as ` +
    "it reads). Both uploads send no `Expect: 100-continue` (as browsers do). privateshare " +
    "flushes before the commit answers; nginx does not, hence the row with an fdatasync.",
    "",
  ];
  const targets: string[][] = [];
  for (
    const [op, xs, against] of [
      ["download", samples.psGet, base.get],
      ["upload", samples.psPut, base.put],
    ] as const
  ) {
    const r = ratio(xs, against);
    targets.push([
      `${op} of ${size} MiB ≤ ${TARGET.ratio}× nginx's time`,
      r === undefined ? "nginx missing" : `${num(r)}×`,
      verdict(r === undefined ? undefined : r <= TARGET.ratio),
    ]);
    const p = peak(xs);
    targets.push([
      `server peak RSS ≤ ${TARGET.peakBytes / MiB} MiB during the ${op}`,
      p === undefined ? "—" : `${num(p / MiB, 0)} MiB`,
      verdict(p === undefined ? undefined : p <= TARGET.peakBytes),
    ]);
  }
  if (results.large) {
    const { sizeBytes: big } = results.large;
    for (const op of ["upload", "download"] as const) {
      const sample = results.large[op === "upload" ? "put" : "get"];
      const article = op === "upload" ? "an" : "a";
      targets.push([
        `server peak RSS ≤ ${TARGET.peakBytes / MiB} MiB during ${article} ${op} of ${
          big / MiB
        } MiB ` +
        `(${num(sample.ms / 1000)} s, ${num(big / MiB / (sample.ms / 1000), 0)} MiB/s, one run)`,
        `${num(sample.peak / MiB, 0)} MiB`,
        verdict(sample.peak <= TARGET.peakBytes),
      ]);
    }
  }
  if (results.page) {
    const p = summarize(results.page.ms);
    targets.push([
      `phone-sized page: first listing of ${results.page.files} files (${results.page.how})`,
      `${num(p.median)} ms (${num(p.min)}–${num(p.max)}, ${p.count} runs)`,
      "—",
    ]);
  }
  lines.push("### Targets\n", table(["target", "measured", "verdict"], targets));
  if (results.page) lines.push(results.page.note, "");
  return lines.join("\n");
}
