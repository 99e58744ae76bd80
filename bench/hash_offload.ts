/**
 * An experiment for issue 16: does SHA-256 in a Worker, while the main
 * thread moves bytes, make a receive faster on this machine? socat sends a
 * file over loopback; this process receives it through the library's own
 * `receiveBody` into a file, fdatasyncs it and takes the digest, with the
 * hash on the main thread, in a worker (each chunk copied and the copy
 * transferred, so that the pool's buffer is free as soon as it is
 * written), or not at all (the floor). Alternating runs, medians.
 *
 * ```
 * deno run --allow-all bench/hash_offload.ts [--size-mib 512] [--runs 5]
 * ```
 *
 * @module
 */

import type { Hash } from "node:crypto";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Wire } from "../lib/net/wire.ts";
import { newHash, receiveBody } from "../lib/transfer/body.ts";
import { CHUNK_SIZE, ChunkPool, SPENT_BUFFER_SIZE } from "../lib/transfer/pool.ts";
import { ensureRandomFile, removeIfPresent, sha256File } from "./data.ts";
import { HOST, initClockTicks, readCpu, readPeak, spawn } from "./processes.ts";
import { MiB, num, spread, summarize, table } from "./stats.ts";
import { ROOT } from "../tests/helpers.ts";

/** Most bytes queued for the worker before the receive waits for it. */
const QUEUE_LIMIT = 16 * MiB;

/** A running SHA-256 in a worker, with the update/digest shape the library uses. */
class WorkerHash {
  #worker = new Worker(new URL("./hash_offload_worker.ts", import.meta.url), { type: "module" });
  #queued = 0;
  #drained: (() => void)[] = [];
  #digest: ((hex: string) => void) | undefined;
  /** Peak bytes queued. */
  peakQueued = 0;

  constructor() {
    this.#worker.onmessage = (event: MessageEvent<number | string>) => {
      if (typeof event.data === "string") {
        this.#digest?.(event.data);
        return;
      }
      this.#queued -= event.data;
      if (this.#queued <= QUEUE_LIMIT) { for (const wake of this.#drained.splice(0)) wake(); }
    };
  }

  /** Queues a copy of `chunk`: the caller may reuse its buffer at once. */
  update(chunk: Uint8Array): this {
    const copy = chunk.slice();
    this.#queued += copy.length;
    this.peakQueued = Math.max(this.peakQueued, this.#queued);
    this.#worker.postMessage(copy, [copy.buffer]);
    return this;
  }

  /** Resolves once the queue is at most {@link QUEUE_LIMIT} bytes. */
  drain(): Promise<void> {
    if (this.#queued <= QUEUE_LIMIT) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  /** The digest of everything queued. */
  digest(): Promise<string> {
    return new Promise((resolve) => {
      this.#digest = resolve;
      this.#worker.postMessage("digest");
    });
  }

  close(): void {
    this.#worker.terminate();
  }
}

/**
 * A running SHA-256 in a worker that reads the pool's own buffers, which
 * live in shared memory: no copy. Contiguous updates are sent as one range
 * of at least {@link RANGE_BYTES}; a buffer goes back to the pool only once
 * the worker has hashed every range of it ({@link SharedPool}).
 */
class SharedHash {
  #worker = new Worker(new URL("./hash_offload_worker.ts", import.meta.url), { type: "module" });
  #pending = new Map<ArrayBufferLike, number>();
  #order: ArrayBufferLike[] = [];
  #waiting = new Map<ArrayBufferLike, (() => void)[]>();
  #range: Uint8Array | undefined;
  #digest: ((hex: string) => void) | undefined;

  constructor() {
    this.#worker.onmessage = (event: MessageEvent<number | string>) => {
      if (typeof event.data === "string") {
        this.#digest?.(event.data);
        return;
      }
      const buffer = this.#order.shift()!;
      const left = this.#pending.get(buffer)! - 1;
      if (left > 0) {
        this.#pending.set(buffer, left);
        return;
      }
      this.#pending.delete(buffer);
      for (const wake of this.#waiting.get(buffer) ?? []) wake();
      this.#waiting.delete(buffer);
    };
  }

  update(chunk: Uint8Array): this {
    const range = this.#range;
    if (
      range && range.buffer === chunk.buffer &&
      range.byteOffset + range.length === chunk.byteOffset
    ) {
      this.#range = new Uint8Array(range.buffer, range.byteOffset, range.length + chunk.length);
    } else {
      this.flush();
      this.#range = chunk;
    }
    if (this.#range!.length >= RANGE_BYTES) this.flush();
    return this;
  }

  /** Sends the range gathered so far. */
  flush(): void {
    const range = this.#range;
    this.#range = undefined;
    if (!range || range.length === 0) return;
    this.#pending.set(range.buffer, (this.#pending.get(range.buffer) ?? 0) + 1);
    this.#order.push(range.buffer);
    this.#worker.postMessage(range);
  }

  /** Calls `then` once the worker is done with every range of `buffer`. */
  whenDone(buffer: ArrayBufferLike, then: () => void): void {
    if (this.#range?.buffer === buffer) this.flush();
    if (!this.#pending.has(buffer)) return then();
    const list = this.#waiting.get(buffer) ?? [];
    list.push(then);
    this.#waiting.set(buffer, list);
  }

  digest(): Promise<string> {
    this.flush();
    return new Promise((resolve) => {
      this.#digest = resolve;
      this.#worker.postMessage("digest");
    });
  }

  close(): void {
    this.#worker.terminate();
  }
}

/** The budget of every pool here: 16 chunks. */
const POOL_BYTES = 64 * MiB;

/** Ranges of at least this many bytes go to the worker in one message. */
const RANGE_BYTES = 1 * MiB;

/** A pool of shared-memory chunks that come back only when the worker is done with them. */
class SharedPool extends ChunkPool {
  hash: SharedHash;
  #free: Uint8Array[] = [];
  #busy = new Set<Uint8Array>();
  #made = 0;

  constructor(budget: number, hash: SharedHash) {
    super(budget);
    this.hash = hash;
  }

  override take(size: number): Uint8Array {
    if (size < CHUNK_SIZE) return new Uint8Array(new SharedArrayBuffer(Math.max(size, 1)));
    let buffer = this.#free.pop();
    if (!buffer) {
      // Bounded as the library's pool is: past the budget, small buffers of the transfer's own.
      if ((this.#made + 1) * CHUNK_SIZE > this.budget) {
        return new Uint8Array(new SharedArrayBuffer(SPENT_BUFFER_SIZE));
      }
      this.#made++;
      buffer = new Uint8Array(new SharedArrayBuffer(CHUNK_SIZE));
    }
    this.#busy.add(buffer);
    return buffer;
  }

  /** Chunks made so far. */
  get made(): number {
    return this.#made;
  }

  override release(buffer: Uint8Array): void {
    if (!this.#busy.delete(buffer)) return;
    this.hash.whenDone(buffer.buffer, () => this.#free.push(buffer));
  }
}

type Mode = "main" | "worker" | "shared" | "none";

/** Receives one socat send of `src` into `dest`; returns ms, CPU and the digest. */
async function receiveOnce(
  src: string,
  dest: string,
  size: number,
  mode: Mode,
  workers: { worker: WorkerHash; shared: SharedHash },
) {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const before = readCpu(Deno.pid)!;
  const started = performance.now();
  const sender = spawn("socat", ["-b", "4194304", "-u", `OPEN:${src}`, `TCP:${HOST}:${port}`]);
  const conn = await listener.accept();
  listener.close();
  const wire = new Wire(conn);
  const file = await Deno.open(dest, { write: true, create: true, truncate: true });
  const worker = mode === "worker" ? workers.worker : undefined;
  const shared = mode === "shared" ? workers.shared : undefined;
  const pool = shared ? new SharedPool(POOL_BYTES, shared) : new ChunkPool(POOL_BYTES);
  const hash = mode === "main"
    ? newHash()
    : worker
    ? worker as unknown as Hash
    : shared
    ? shared as unknown as Hash
    : { update: () => {} } as unknown as Hash;
  let digest = "";
  try {
    await receiveBody(wire, file, size, { pool, hash });
    await file.syncData();
    if (mode === "main") digest = (hash as Hash).digest("hex");
    if (worker) digest = await worker.digest();
    if (shared) digest = await shared.digest();
  } finally {
    file.close();
    wire.close();
  }
  await sender.output();
  const ms = performance.now() - started;
  const after = readCpu(Deno.pid)!;
  return {
    ms,
    cpuS: after.userS + after.sysS - before.userS - before.sysS,
    mainS: after.mainS - before.mainS,
    digest,
    peakQueued: worker?.peakQueued ?? (pool instanceof SharedPool ? pool.made * CHUNK_SIZE : 0),
  };
}

async function main(): Promise<void> {
  await initClockTicks();
  const { values } = parseArgs({
    args: Deno.args,
    options: { "size-mib": { type: "string" }, runs: { type: "string" } },
  });
  const sizeMiB = Number(values["size-mib"] ?? "512");
  const runs = Number(values.runs ?? "5");
  const data = join(ROOT, ".bench-data");
  const src = join(data, `source-${sizeMiB}MiB.bin`);
  await ensureRandomFile(src, sizeMiB * MiB);
  const sha = await sha256File(src);
  const dest = join(data, "hash-offload.bin");
  const modes: Mode[] = ["main", "worker", "shared", "none"];
  const samples = new Map(modes.map((m) => [m, [] as Awaited<ReturnType<typeof receiveOnce>>[]]));
  // Started once and reused, as a server would; their start-up is not timed.
  const workers = { worker: new WorkerHash(), shared: new SharedHash() };
  try {
    for (let run = 0; run < runs; run++) {
      for (const [i] of modes.entries()) {
        const mode = modes[(i + run) % modes.length]!;
        const sample = await receiveOnce(src, dest, sizeMiB * MiB, mode, workers);
        if (mode !== "none" && sample.digest !== sha) throw new Error(`${mode}: digest differs`);
        samples.get(mode)!.push(sample);
        console.error(`run ${run + 1} ${mode}: ${num(sample.ms / 1000)} s`);
        await removeIfPresent(dest);
      }
    }
  } finally {
    workers.worker.close();
    workers.shared.close();
    await removeIfPresent(dest);
  }
  const mainMedian = summarize(samples.get("main")!.map((s) => s.ms)).median;
  console.log(table(
    [
      "hash",
      "wall s median (min–max)",
      "× main",
      "CPU s",
      "main-thread CPU s",
      "held for the worker, peak MiB",
    ],
    modes.map((mode) => {
      const xs = samples.get(mode)!;
      const s = summarize(xs.map((x) => x.ms));
      return [
        mode,
        spread({ ...s, median: s.median / 1000, min: s.min / 1000, max: s.max / 1000 }),
        num(s.median / mainMedian),
        num(summarize(xs.map((x) => x.cpuS)).median),
        num(summarize(xs.map((x) => x.mainS)).median),
        mode === "worker" || mode === "shared"
          ? num(Math.max(...xs.map((x) => x.peakQueued)) / MiB, 0)
          : "—",
      ];
    }),
  ));
  console.log(
    `\n${sizeMiB} MiB, ${runs} runs; this process's peak RSS ${
      num(readPeak(Deno.pid)! / MiB, 0)
    } MiB`,
  );
}

if (import.meta.main) await main();
