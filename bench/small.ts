/**
 * The small-operations case of the benchmark: lists and gets of 4 KiB per
 * second from one client, in process, against one server.
 *
 * @module
 */

import { join } from "node:path";
import { get, list } from "../lib/mod.ts";
import { emptyDir, ensureRandomFile, removeIfPresent } from "./data.ts";
import { HOST, readCpu, startServer } from "./processes.ts";
import { type RateResults } from "./results.ts";
import { num } from "./stats.ts";
import { cpuDelta } from "./transfers.ts";
import { DIRS, progress, TMPFS } from "./setup.ts";

export const SMALL_FILES = 100;
export const SMALL_SIZE = 4096;

/** The small case's files, made once and reused. */
export async function smallFiles(): Promise<string[]> {
  await Deno.mkdir(DIRS.small, { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < SMALL_FILES; i++) {
    const name = `file-${String(i).padStart(3, "0")}.bin`;
    names.push(name);
    await ensureRandomFile(join(DIRS.small, name), SMALL_SIZE);
  }
  return names;
}

export async function smallCase(seconds: number, runs: number): Promise<RateResults[]> {
  const names = await smallFiles();
  const target = names[0]!;
  const expected = await Deno.readFile(join(DIRS.small, target));
  await emptyDir(DIRS.smallOut);
  let tmpfsDir: string | undefined;
  try {
    tmpfsDir = await Deno.makeTempDir({ dir: TMPFS, prefix: "privateshare-bench-" });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  // Its log lines are drained but not parsed: this process is the client
  // being measured, and parsing thousands of lines would count against it.
  const server = await startServer(DIRS.small, { record: false });
  try {
    const options = { host: HOST, port: server.port };
    const doList = async () => {
      const files = await list(options);
      if (files.length !== SMALL_FILES) throw new Error(`list gave ${files.length} files`);
    };
    const getTo = (dir: string) => async () => {
      const result = await get(target, {
        ...options,
        output: join(dir, target),
        force: true,
        resume: false,
      });
      if (result.size !== SMALL_SIZE) throw new Error(`get gave ${result.size} bytes`);
    };
    const connectOnly = async () => {
      const conn = await Deno.connect({ hostname: HOST, port: server.port });
      conn.close();
    };
    const localPath = join(DIRS.smallOut, "local.bin");
    const localPartial = join(DIRS.smallOut, ".local.bin.partial");
    // What get does with the local file, without the network: the cost the
    // client library adds to every get.
    const localOnly = async () => {
      const file = await Deno.open(localPartial, { read: true, write: true, create: true });
      await file.truncate(0);
      await file.stat();
      await file.write(expected);
      await file.syncData();
      file.close();
      await Deno.rename(localPartial, localPath);
    };
    const loops: { label: string; op: () => Promise<void>; serverSide: boolean }[] = [
      { label: `list (${SMALL_FILES} files)`, op: doList, serverSide: true },
      { label: "get 4 KiB", op: getTo(DIRS.smallOut), serverSide: true },
      ...(tmpfsDir
        ? [{
          label: "get 4 KiB, output on tmpfs (no disk: fdatasync and ext4 free)",
          op: getTo(tmpfsDir),
          serverSide: true,
        }]
        : []),
      { label: "TCP connect + close only", op: connectOnly, serverSide: true },
      {
        label: "get's local file work only (create, write 4 KiB, fdatasync, rename)",
        op: localOnly,
        serverSide: false,
      },
    ];
    for (const loop of loops) for (let i = 0; i < 50; i++) await loop.op();
    const results = loops.map((loop) => ({
      label: loop.label,
      perSecond: [] as number[],
      clientCpuMs: [] as number[],
      serverCpuMs: [] as number[],
    }));
    for (let run = 0; run < runs; run++) {
      for (const [i, loop] of loops.entries()) {
        const result = results[i]!;
        const clientBefore = readCpu(Deno.pid)!;
        const serverBefore = readCpu(server.pid)!;
        const started = performance.now();
        const end = started + seconds * 1000;
        let count = 0;
        while (performance.now() < end) {
          await loop.op();
          count++;
        }
        const elapsed = (performance.now() - started) / 1000;
        const client = cpuDelta(clientBefore, readCpu(Deno.pid)!);
        const server_ = cpuDelta(serverBefore, readCpu(server.pid)!);
        result.perSecond.push(count / elapsed);
        result.clientCpuMs.push((client.userS + client.sysS) * 1000 / count);
        result.serverCpuMs.push(
          loop.serverSide ? (server_.userS + server_.sysS) * 1000 / count : NaN,
        );
        progress(`run ${run + 1}/${runs} ${loop.label}: ${num(count / elapsed, 0)}/s`);
      }
    }
    const got = await Deno.readFile(join(DIRS.smallOut, target));
    if (got.length !== expected.length || got.some((b, i) => b !== expected[i])) {
      throw new Error("The 4 KiB file got in the loop differs from the served one");
    }
    return results;
  } finally {
    await server.stop();
    await removeIfPresent(DIRS.smallOut);
    if (tmpfsDir) await removeIfPresent(tmpfsDir);
  }
}
