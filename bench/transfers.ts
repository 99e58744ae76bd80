/**
 * The whole-transfer case of the benchmark: a put and a get of one large
 * file through the real CLIs, against socat moving the same file over
 * loopback in the same run (with and without an fdatasync of its copy);
 * 16 puts at once; peak memory of a 4 GiB transfer against a 1 GiB one.
 *
 * @module
 */

import { basename, join } from "node:path";
import { emptyDir, ensureRandomFile, removeIfPresent, sha256File } from "./data.ts";
import {
  type ClientRun,
  type CpuTimes,
  HOST,
  readCpu,
  readPeak,
  runClient,
  runSocat,
  startServer,
  syncDisks,
} from "./processes.ts";
import {
  type ConcurrentResults,
  type MemoryResults,
  type PsSample,
  type SocatSample,
  type TransferResults,
} from "./results.ts";
import { MiB, num } from "./stats.ts";
import { type BenchTls, clientTlsArgs, serverTlsArgs } from "./tls.ts";
import { DATA, DIRS, progress } from "./setup.ts";

/** Puts `src` into a fresh server's empty folder and checks what it stored. */
export async function measurePut(src: string, sha: string, tls?: BenchTls): Promise<PsSample> {
  await emptyDir(DIRS.served);
  await syncDisks();
  const sample = await withServer(
    DIRS.served,
    "put",
    (port) => runClient([HOST, String(port), "put", src, "--quiet", ...clientTlsArgs(tls)]),
    tls,
  );
  const stored = join(DIRS.served, basename(src));
  if (await sha256File(stored) !== sha) throw new Error(`The stored copy of ${src} differs`);
  await emptyDir(DIRS.served);
  return sample;
}

/** Gets a file from a fresh server (a hard link of `src`) and checks the download. */
export async function measureGet(
  src: string,
  sha: string,
  tls?: BenchTls,
  pinned = false,
): Promise<PsSample> {
  await emptyDir(DIRS.served);
  await emptyDir(DIRS.downloads);
  const name = basename(src);
  // A link costs no disk and keeps the bytes in the page cache, as for socat.
  await Deno.link(src, join(DIRS.served, name));
  await syncDisks();
  const output = join(DIRS.downloads, name);
  const sample = await withServer(
    DIRS.served,
    "get",
    (port) =>
      runClient([
        HOST,
        String(port),
        "get",
        name,
        "--output",
        output,
        "--quiet",
        ...clientTlsArgs(tls, pinned),
      ]),
    tls,
  );
  if (await sha256File(output) !== sha) throw new Error(`The downloaded copy of ${src} differs`);
  await emptyDir(DIRS.downloads);
  await emptyDir(DIRS.served);
  return sample;
}

/**
 * Starts a fresh server (so that its lifetime peak memory belongs to this
 * one transfer), runs one client against it, and records both sides.
 */
export async function withServer(
  root: string,
  op: string,
  client: (port: number) => Promise<ClientRun>,
  tls?: BenchTls,
): Promise<PsSample> {
  const server = await startServer(root, { args: serverTlsArgs(tls) });
  try {
    const before = readCpu(server.pid)!;
    const run = await client(server.port);
    const after = readCpu(server.pid)!;
    const serverPeak = readPeak(server.pid)!;
    if (run.code !== 0) {
      throw new Error(`The ${op} client failed (exit ${run.code}): ${run.stderr}`);
    }
    const record = await server.waitForRequest((line) => line.op === op);
    if (record.outcome !== "ok") throw new Error(`The server logged ${JSON.stringify(record)}`);
    return {
      ms: run.ms,
      client: run.usage,
      server: cpuDelta(before, after),
      serverPeak,
      serverMs: record.ms as number,
    };
  } finally {
    await server.stop();
  }
}

export function cpuDelta(before: CpuTimes, after: CpuTimes): CpuTimes {
  return {
    userS: after.userS - before.userS,
    sysS: after.sysS - before.sysS,
    mainS: after.mainS - before.mainS,
  };
}

/** Moves `src` with socat into the socat folder and checks the copy. */
export async function measureSocat(
  src: string,
  sha: string,
  buffer: number,
  tls?: BenchTls,
): Promise<SocatSample> {
  await emptyDir(DIRS.socat);
  await syncDisks();
  const dest = join(DIRS.socat, basename(src));
  const run = await runSocat(src, dest, buffer, tls);
  if (await sha256File(dest) !== sha) throw new Error(`socat's copy of ${src} differs`);
  await emptyDir(DIRS.socat);
  return run;
}

/**
 * Tries each socat block size twice and keeps the fastest (by best time),
 * so that the baseline is socat at its best on this machine.
 */
export async function calibrateSocat(
  src: string,
  sha: string,
  buffers: number[],
): Promise<{ buffer: number; tried: { buffer: number; ms: number[] }[] }> {
  const tried = buffers.map((buffer) => ({ buffer, ms: [] as number[] }));
  if (buffers.length > 1) {
    for (let round = 0; round < 2; round++) {
      for (const entry of tried) {
        entry.ms.push((await measureSocat(src, sha, entry.buffer)).ms);
        progress(`socat -b ${entry.buffer}: ${num(entry.ms.at(-1)! / 1000)} s`);
      }
    }
  }
  const best = tried.reduce((a, b) => Math.min(...b.ms) < Math.min(...a.ms) ? b : a);
  return { buffer: best.buffer, tried };
}

export async function transferCase(
  src: string,
  sha: string,
  sizeBytes: number,
  runs: number,
  socatBuffer: number | undefined,
  tls?: BenchTls,
): Promise<TransferResults> {
  const label = tls ? "TLS " : "";
  const results: TransferResults = { sizeBytes, put: [], get: [], socat: [], startup: [] };
  const kinds = socatBuffer === undefined ? ["put", "get"] : ["put", "socat", "get"];
  for (let run = 0; run < runs; run++) {
    // Each run starts one step further along, so that no case always
    // follows the same one.
    const order = kinds.map((_, i) => kinds[(i + run) % kinds.length]!);
    for (const kind of order) {
      if (kind === "put") {
        const sample = await measurePut(src, sha, tls);
        results.put.push(sample);
        progress(`run ${run + 1}/${runs} ${label}put: ${num(sample.ms / 1000)} s`);
      } else if (kind === "get") {
        const sample = await measureGet(src, sha, tls);
        results.get.push(sample);
        progress(`run ${run + 1}/${runs} ${label}get: ${num(sample.ms / 1000)} s`);
      } else {
        const sample = await measureSocat(src, sha, socatBuffer!, tls);
        results.socat.push(sample);
        progress(
          `run ${run + 1}/${runs} ${label}socat: ${num(sample.ms / 1000)} s ` +
            `(+ fdatasync ${num(sample.syncMs / 1000)} s)`,
        );
      }
    }
  }
  // The fixed cost in every CLI transfer: starting Deno and loading client.ts.
  if (!tls) { for (let i = 0; i < 5; i++) results.startup.push(await runClient(["--version"])); }
  return results;
}

// --- concurrent puts ---------------------------------------------------------

export async function concurrentCase(
  sources: { path: string; sha: string }[],
  runs: number,
): Promise<ConcurrentResults> {
  const results: ConcurrentResults = {
    wallMs: [],
    serverPeak: [],
    clientPeak: [],
    serverCpu: [],
    failures: [],
  };
  for (let run = 0; run < runs; run++) {
    await emptyDir(DIRS.served);
    await syncDisks();
    const server = await startServer(DIRS.served);
    let clients: ClientRun[];
    try {
      const before = readCpu(server.pid)!;
      const started = performance.now();
      // 50 ms polls: these clients live for seconds, and 17 processes
      // polled every 20 ms would take a noticeable share of two cores.
      clients = await Promise.all(
        sources.map((s) => runClient([HOST, String(server.port), "put", s.path, "--quiet"], 50)),
      );
      results.wallMs.push(performance.now() - started);
      results.serverCpu.push(cpuDelta(before, readCpu(server.pid)!));
      results.serverPeak.push(readPeak(server.pid)!);
    } finally {
      await server.stop();
    }
    results.clientPeak.push(Math.max(...clients.map((c) => c.usage.peakBytes)));
    for (const [i, client] of clients.entries()) {
      if (client.code !== 0) {
        results.failures.push(`run ${run + 1} client ${i}: exit ${client.code}: ${client.stderr}`);
      }
    }
    for (const source of sources) {
      const stored = join(DIRS.served, basename(source.path));
      let sha: string | undefined;
      try {
        sha = await sha256File(stored);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      if (sha !== source.sha) results.failures.push(`run ${run + 1}: ${stored} missing or differs`);
    }
    await emptyDir(DIRS.served);
    progress(
      `run ${run + 1}/${runs} ${sources.length} concurrent puts: ` +
        `${num(results.wallMs.at(-1)! / 1000)} s`,
    );
  }
  return results;
}

// --- 4 GiB memory check ------------------------------------------------------

export async function memoryCase(transfer: TransferResults | undefined): Promise<MemoryResults> {
  const peaks = async (sizeMiB: number, reuse: TransferResults | undefined) => {
    if (reuse && reuse.sizeBytes === sizeMiB * MiB) {
      return {
        putServer: Math.max(...reuse.put.map((s) => s.serverPeak)),
        putClient: Math.max(...reuse.put.map((s) => s.client.peakBytes)),
        getServer: Math.max(...reuse.get.map((s) => s.serverPeak)),
        getClient: Math.max(...reuse.get.map((s) => s.client.peakBytes)),
      };
    }
    const src = join(DATA, `source-${sizeMiB}MiB.bin`);
    progress(`making ${sizeMiB} MiB of random bytes for the memory check`);
    await ensureRandomFile(src, sizeMiB * MiB);
    const sha = await sha256File(src);
    const put = await measurePut(src, sha);
    progress(`memory check: put ${sizeMiB} MiB: ${num(put.ms / 1000)} s`);
    const got = await measureGet(src, sha);
    progress(`memory check: get ${sizeMiB} MiB: ${num(got.ms / 1000)} s`);
    if (sizeMiB > 1024) {
      // Too big to keep between runs; making it again is quicker than the check.
      await removeIfPresent(src);
    }
    return {
      putServer: put.serverPeak,
      putClient: put.client.peakBytes,
      getServer: got.serverPeak,
      getClient: got.client.peakBytes,
    };
  };
  const small = await peaks(1024, transfer);
  const large = await peaks(4096, undefined);
  return {
    rows: [
      { label: "put: server", small: small.putServer, large: large.putServer },
      { label: "put: client", small: small.putClient, large: large.putClient },
      { label: "get: server", small: small.getServer, large: large.getServer },
      { label: "get: client", small: small.getClient, large: large.getClient },
    ],
  };
}
