/**
 * An experiment for issue 25: where a receiving side's kernel time goes
 * (a get's client, a put's server). socat sends a file over loopback; this
 * process receives it through the library's own `receiveBody` into a fresh
 * file, fdatasyncs it and takes the digest, writing in different ways.
 * Alternating runs, medians of wall time and of this process's CPU (all
 * threads: user, kernel; and the main thread).
 *
 * ```
 * deno run --allow-all bench/receive_sink.ts [--size-mib 512] [--runs 5] [--ways a,b] [--cold] [--pause S]
 * ```
 *
 * @module
 */

import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { Wire } from "../lib/net/wire.ts";
import { type BodySink, newHash, receiveBody } from "../lib/transfer/body.ts";
import { ChunkPool } from "../lib/transfer/pool.ts";
import { ensureRandomFile, removeIfPresent } from "./data.ts";
import { HOST, initClockTicks, readCpu, spawn } from "./processes.ts";
import { MiB, num } from "./stats.ts";
import { ROOT } from "../tests/helpers.ts";

/** How a way writes what it received. */
type Way = (file: Deno.FsFile) => BodySink;

/** Writes in pieces of at most `piece` bytes, each its own asynchronous write. */
function pieces(file: Deno.FsFile, piece: number): BodySink {
  return {
    async write(p: Uint8Array): Promise<number> {
      return await file.write(p.subarray(0, Math.min(p.length, piece)));
    },
  };
}

const WAYS: Record<string, Way> = {
  // What the library does: the FsFile itself, one asynchronous write a chunk.
  async: (file) => file,
  // The same bytes written on the main thread, right after they were hashed.
  sync: (file) => ({ write: (p) => Promise.resolve(file.writeSync(p)) }),
  async1m: (file) => pieces(file, MiB),
  async2m: (file) => pieces(file, 2 * MiB),
  async256k: (file) => pieces(file, 256 * 1024),
  async64k: (file) => pieces(file, 64 * 1024),
  async128k: (file) => pieces(file, 128 * 1024),
  async512k: (file) => pieces(file, 512 * 1024),
  sync64k: (file) => ({
    write: (p) => Promise.resolve(file.writeSync(p.subarray(0, Math.min(p.length, 64 * 1024)))),
  }),
  // No write at all: the floor of receiving and hashing.
  none: () => ({ write: (p) => Promise.resolve(p.length) }),
};

/**
 * Writes `size` bytes to a scratch file in `dir` and removes it at once,
 * before it is flushed, so that the next writer gets memory used a moment
 * ago. On this VM (Firecracker, the balloon's free page reporting) memory
 * free for a few seconds goes back to the host, and its next first touch
 * costs the guest's kernel about 2 s a GiB more (RESULTS.md, issue 25). A
 * tmpfs scratch file does not do it (measured: no faster after it).
 */
async function warmFreeMemory(dir: string, size: number): Promise<void> {
  const path = join(dir, ".receive-sink-warm");
  {
    using file = await Deno.open(path, { write: true, create: true, truncate: true });
    const block = new Uint8Array(8 * MiB);
    for (let left = size; left > 0; left -= block.length) {
      let part = block.subarray(0, Math.min(block.length, left));
      while (part.length > 0) part = part.subarray(await file.write(part));
    }
  }
  await Deno.remove(path);
}

interface Sample {
  ms: number;
  syncMs: number;
  user: number;
  sys: number;
  main: number;
}

async function once(
  src: string,
  size: number,
  way: Way,
  dest: string,
  cold: boolean,
  pauseS: number,
): Promise<Sample> {
  await removeIfPresent(dest);
  await new Deno.Command("sync").output();
  // Memory free this long has gone back to the host (RESULTS.md, issue 25).
  if (pauseS > 0) await new Promise((resolve) => setTimeout(resolve, pauseS * 1000));
  if (!cold) await warmFreeMemory(dirname(dest), size);
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const before = readCpu(Deno.pid)!;
  const started = performance.now();
  const sender = spawn("socat", ["-b", String(MiB), "-u", `OPEN:${src}`, `TCP:${HOST}:${port}`], {
    stdout: "null",
  });
  const conn = await listener.accept();
  listener.close();
  const wire = new Wire(conn);
  const file = await Deno.open(dest, { read: true, write: true, createNew: true });
  const hash = newHash();
  const pool = new ChunkPool(64 * MiB);
  const got = await receiveBody(wire, way(file), undefined, { pool, hash });
  const synced = performance.now();
  await file.syncData();
  hash.digest("hex");
  const ms = performance.now() - started;
  file.close();
  wire.close();
  await sender.output();
  const after = readCpu(Deno.pid)!;
  if (got !== size) throw new Error(`Received ${got} of ${size} bytes`);
  return {
    ms,
    syncMs: performance.now() - synced,
    user: after.userS - before.userS,
    sys: after.sysS - before.sysS,
    main: after.mainS - before.mainS,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      "size-mib": { type: "string", default: "512" },
      runs: { type: "string", default: "5" },
      ways: { type: "string", default: Object.keys(WAYS).join(",") },
      dir: { type: "string", default: join(ROOT, ".bench-data") },
      // Without warmFreeMemory before each run (bench/data.ts says why it matters here).
      cold: { type: "boolean", default: false },
      // Seconds to wait before each run, after the previous run's file is removed.
      pause: { type: "string", default: "0" },
    },
  });
  await initClockTicks();
  const sizeMiB = Number(values["size-mib"]);
  const size = sizeMiB * MiB;
  const src = join(values.dir, `source-${sizeMiB}MiB.bin`);
  await Deno.mkdir(values.dir, { recursive: true });
  await ensureRandomFile(src, size);
  const names = values.ways.split(",");
  const samples = new Map<string, Sample[]>(names.map((n) => [n, []]));
  const load = () => Deno.loadavg()[0]!.toFixed(2);
  console.log(
    `${sizeMiB} MiB, ${values.runs} runs, ${values.cold ? "cold" : "warm"} memory, ` +
      `pause ${values.pause} s, load ${load()}`,
  );
  for (let run = 0; run < Number(values.runs); run++) {
    for (const name of names) {
      const way = WAYS[name];
      if (!way) throw new Error(`Unknown way '${name}'`);
      samples.get(name)!.push(
        await once(
          src,
          size,
          way,
          join(values.dir, "receive-sink.out"),
          values.cold,
          Number(values.pause),
        ),
      );
    }
  }
  await removeIfPresent(join(values.dir, "receive-sink.out"));
  console.log(`load at the end ${load()}`);
  console.log("| way | wall s | fdatasync s | user s | kernel s | main s |");
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const [name, list] of samples) {
    const m = (f: (s: Sample) => number) => num(median(list.map(f)), 2);
    console.log(
      `| ${name} | ${m((s) => s.ms / 1000)} | ${m((s) => s.syncMs / 1000)} | ${
        m((s) => s.user)
      } | ${m((s) => s.sys)} | ${m((s) => s.main)} |`,
    );
  }
}
