/**
 * The folders case of the benchmark (issue 13): a folder of 2,000 files of
 * 4 KiB in 10 subfolders put and got through the real CLIs, each against
 * `tar c | socat` into `socat | tar x` followed by a sync of the copy's file
 * system, in the same run; and a folder of one large file and 1,000 small
 * ones put whole, against a put of the large file alone. Every client time
 * includes the client's start, as a user meets it. Copies are compared file
 * by file with their sources after the first run of each.
 *
 * @module
 */

import { join } from "node:path";
import { emptyDir, ensureRandomFile, removeIfPresent, sha256File } from "./data.ts";
import { HOST, runClient, spawn, startServer } from "./processes.ts";
import { spread, summarize, table } from "./stats.ts";
import { verdict } from "./gets.ts";
import { DATA, progress } from "./setup.ts";

/** The small-files folder: 10 subfolders of 200 files of 4 KiB. */
export const FOLDER_SHAPE = { folders: 10, filesEach: 200, size: 4096 } as const;
/** Small files beside the large one in the mixed folder. */
const MIXED_SMALL = 1000;
/** Put and get of the small folder within this many times tar+socat+sync. */
const TARGET_RATIO = 3;
/** The mixed folder's put within this many times the large file's put alone. */
const MIXED_RATIO = 1.15;

/** What the folders case measured, milliseconds a run. */
export interface FolderResults {
  /** tar | socat | tar, then `sync -f` of the copy. */
  tarMs: number[];
  /** `client.ts HOST PORT put FOLDER`. */
  putMs: number[];
  /** `client.ts HOST PORT get FOLDER -o DIR`. */
  getMs: number[];
  /** The mixed folder put whole. */
  mixedMs: number[];
  /** Its large file put alone. */
  largeMs: number[];
  /** MiB of the large file. */
  largeMiB: number;
  /** Problems found (a failed run, a copy that differs). */
  failures: string[];
}

const SRC = join(DATA, "folders-src");
const SERVED = join(DATA, "folders-served");
const OUT = join(DATA, "folders-out");

/** Makes the small-files folder once: `folders-src/photos/sub-N/file-NNN.bin`. */
async function smallFolder(): Promise<string> {
  const top = join(SRC, "photos");
  for (let f = 0; f < FOLDER_SHAPE.folders; f++) {
    const sub = join(top, `sub-${f}`);
    await Deno.mkdir(sub, { recursive: true });
    for (let i = 0; i < FOLDER_SHAPE.filesEach; i++) {
      await ensureRandomFile(
        join(sub, `file-${String(i).padStart(3, "0")}.bin`),
        FOLDER_SHAPE.size,
      );
    }
  }
  return top;
}

/** Makes the mixed folder once: the large file linked in, and 1,000 small files. */
async function mixedFolder(large: string): Promise<string> {
  const top = join(SRC, "mixed");
  await Deno.mkdir(join(top, "small"), { recursive: true });
  const big = join(top, "large.bin");
  await removeIfPresent(big);
  await Deno.link(large, big);
  for (let i = 0; i < MIXED_SMALL; i++) {
    await ensureRandomFile(join(top, "small", `file-${String(i).padStart(4, "0")}.bin`), 4096);
  }
  return top;
}

/** Every file below a folder, by path, with its SHA-256. */
async function digests(dir: string, prefix = ""): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for await (const entry of Deno.readDir(dir)) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory) {
      for (const [p, d] of await digests(join(dir, entry.name), path)) found.set(p, d);
    } else {
      found.set(path, await sha256File(join(dir, entry.name)));
    }
  }
  return found;
}

async function sameTree(a: string, b: string): Promise<boolean> {
  const missing = (error: unknown) => {
    if (error instanceof Deno.errors.NotFound) return new Map<string, string>();
    throw error;
  };
  const [x, y] = await Promise.all([digests(a), digests(b).catch(missing)]);
  return x.size === y.size && [...x].every(([path, digest]) => y.get(path) === digest);
}

/** tar c | socat → socat | tar x, then a sync of the copy's file system. */
async function tarSocat(folder: string, dest: string): Promise<number> {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const receiver = spawn("sh", [
    "-c",
    `socat -u TCP-LISTEN:${port},bind=${HOST},reuseaddr - | tar x -C "$1"`,
    "sh",
    dest,
  ], { stdout: "null" });
  const receiverOut = receiver.output();
  // socat listens within milliseconds; a sender that comes too early retries.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const started = performance.now();
  const sender = spawn("sh", [
    "-c",
    `tar c -C "$1" "$2" | socat -u - TCP:${HOST}:${port},retry=20,interval=0.05`,
    "sh",
    join(folder, ".."),
    folder.split("/").at(-1)!,
  ], { stdout: "null" });
  const [sent, received] = await Promise.all([sender.output(), receiverOut]);
  if (!sent.success || !received.success) throw new Error("tar | socat failed");
  const sync = await spawn("sync", ["-f", dest], { stdout: "null" }).output();
  if (!sync.success) throw new Error("sync -f failed");
  return performance.now() - started;
}

async function client(args: string[], what: string, failures: string[]): Promise<number> {
  const run = await runClient(args);
  if (run.code !== 0) failures.push(`${what}: exit ${run.code}: ${run.stderr.trim().slice(-300)}`);
  return run.ms;
}

/**
 * Runs the folders case.
 *
 * @param runs alternating runs of each measurement
 * @param large the large file for the mixed folder (the transfer case's source)
 * @returns the times
 */
export async function foldersCase(runs: number, large: string): Promise<FolderResults> {
  progress("folders: preparing 2,000 files of 4 KiB in 10 subfolders");
  const photos = await smallFolder();
  const mixed = await mixedFolder(large);
  const largeMiB = (await Deno.stat(large)).size / 1024 ** 2;
  const results: FolderResults = {
    tarMs: [],
    putMs: [],
    getMs: [],
    mixedMs: [],
    largeMs: [],
    largeMiB,
    failures: [],
  };
  await emptyDir(SERVED);
  await emptyDir(OUT);
  const upload = await startServer(SERVED, { record: false });
  const download = await startServer(SRC, { record: false, args: ["--read-only"] });
  const at = (server: { port: number }) => [HOST, String(server.port)];
  try {
    for (let run = 0; run < runs; run++) {
      await emptyDir(OUT);
      results.tarMs.push(await tarSocat(photos, OUT));
      if (run === 0 && !await sameTree(photos, join(OUT, "photos"))) {
        results.failures.push("tar | socat: the copy differs");
      }
      await emptyDir(SERVED);
      results.putMs.push(await client([...at(upload), "put", photos], "put", results.failures));
      if (run === 0 && !await sameTree(photos, join(SERVED, "photos"))) {
        results.failures.push("put: the copy differs");
      }
      await emptyDir(OUT);
      results.getMs.push(
        await client([...at(download), "get", "photos", "-o", OUT], "get", results.failures),
      );
      if (run === 0 && !await sameTree(photos, join(OUT, "photos"))) {
        results.failures.push("get: the copy differs");
      }
      progress(
        `folders run ${run + 1}/${runs}: tar+socat ${results.tarMs.at(-1)!.toFixed(0)} ms, ` +
          `put ${results.putMs.at(-1)!.toFixed(0)} ms, get ${results.getMs.at(-1)!.toFixed(0)} ms`,
      );
    }
    for (let run = 0; run < runs; run++) {
      await emptyDir(SERVED);
      results.largeMs.push(
        await client([...at(upload), "put", large], "large put", results.failures),
      );
      await emptyDir(SERVED);
      results.mixedMs.push(
        await client([...at(upload), "put", mixed], "mixed put", results.failures),
      );
      if (run === 0 && !await sameTree(mixed, join(SERVED, "mixed"))) {
        results.failures.push("mixed put: the copy differs");
      }
      progress(
        `mixed run ${run + 1}/${runs}: large alone ${results.largeMs.at(-1)!.toFixed(0)} ms, ` +
          `folder ${results.mixedMs.at(-1)!.toFixed(0)} ms`,
      );
    }
  } finally {
    await upload.stop();
    await download.stop();
    await removeIfPresent(SERVED);
    await removeIfPresent(OUT);
  }
  return results;
}

/**
 * The folders section of the report and its targets.
 *
 * @param results what was measured
 * @returns Markdown lines and target rows
 */
export function foldersSection(
  results: FolderResults | undefined,
): { lines: string[]; targets: string[][] } {
  if (!results) return { lines: [], targets: [] };
  const tar = summarize(results.tarMs).median;
  const put = summarize(results.putMs).median;
  const get = summarize(results.getMs).median;
  const mixed = summarize(results.mixedMs).median;
  const large = summarize(results.largeMs).median;
  const ok = results.failures.length === 0;
  const files = FOLDER_SHAPE.folders * FOLDER_SHAPE.filesEach;
  const lines = [
    `## Folders: ${files} files of 4 KiB in ${FOLDER_SHAPE.folders} subfolders, through the CLIs\n`,
    table(["measurement", "ms, median (min–max)", "files a second", "ratio to tar+socat+sync"], [
      [
        "tar c | socat → socat | tar x, then sync -f",
        spread(summarize(results.tarMs), 0),
        rate(files, tar),
        "1.00×",
      ],
      [
        "client.ts put FOLDER (start-up included)",
        spread(summarize(results.putMs), 0),
        rate(files, put),
        `${(put / tar).toFixed(2)}×`,
      ],
      [
        "client.ts get FOLDER (start-up included)",
        spread(summarize(results.getMs), 0),
        rate(files, get),
        `${(get / tar).toFixed(2)}×`,
      ],
    ]),
    `A folder of one ${results.largeMiB.toFixed(0)} MiB file and ${MIXED_SMALL} files of 4 KiB, ` +
    `put whole: ${mixed.toFixed(0)} ms, against ${large.toFixed(0)} ms for the large file alone ` +
    `(${(mixed / large).toFixed(2)}×).\n`,
    ...results.failures.map((failure) => `- **${failure}**`),
  ];
  const targets = [
    [
      `put of a folder of ${files}×4 KiB ≤ ${TARGET_RATIO}× tar+socat+sync`,
      `${(put / tar).toFixed(2)}× (${put.toFixed(0)} ms)`,
      verdict(ok && put / tar <= TARGET_RATIO),
    ],
    [
      `get of a folder of ${files}×4 KiB ≤ ${TARGET_RATIO}× tar+socat+sync`,
      `${(get / tar).toFixed(2)}× (${get.toFixed(0)} ms)`,
      verdict(ok && get / tar <= TARGET_RATIO),
    ],
    [
      `folder of 1 large + ${MIXED_SMALL} small files: the large file at single-file speed (≤ ${MIXED_RATIO}× its put alone)`,
      `${(mixed / large).toFixed(2)}×`,
      verdict(ok && mixed / large <= MIXED_RATIO),
    ],
  ];
  return { lines, targets };
}

function rate(files: number, ms: number): string {
  return (files / (ms / 1000)).toFixed(0);
}
