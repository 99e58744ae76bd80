/**
 * How long a classic get must pause between its `pass` and its data, so
 * that the original client, which reads the code with one receive of at
 * most 32 bytes and compares it with "pass", gets the code alone: gets of a
 * 4 KiB file with the original client's read pattern, while busy loops keep
 * both cores loaded, for several pauses. The original client is Python; its
 * pattern is replayed by python3 when there is one, else by Deno.
 *
 * ```
 * deno run --allow-all bench/classic_pause.ts [--gets 200] [--loads 0,2,4] [--pauses 0,2,5,10,20,50]
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { startServer } from "../lib/mod.ts";

/** Exact gets out of `gets`, for one pause under one load. */
export interface PauseResult {
  /** The server's pause, ms. */
  pauseMs: number;
  /** Busy loops running. */
  load: number;
  /** Gets whose first receive was "pass" alone and whose data was whole. */
  exact: number;
  /** Gets tried. */
  gets: number;
  /** Median time of one get, ms. */
  medianMs: number;
  /** Who played the original client: python3 or deno. */
  client: string;
}

/** The original client.py's get, as far as the code goes: one recv(32), compared with "pass". */
const PYTHON_CLIENT = `
import socket, sys, time
port, name, size, gets = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
exact, times = 0, []
for _ in range(gets):
    started = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port))
    s.send(("get," + name).encode())
    code = s.recv(32)
    got = 0
    while True:
        data = s.recv(65536)
        if not data:
            break
        got += len(data)
    s.close()
    times.append((time.perf_counter() - started) * 1000)
    if code == b"pass" and got == size:
        exact += 1
times.sort()
print(exact, times[len(times) // 2])
`;

async function hasPython(): Promise<boolean> {
  try {
    return (await new Deno.Command("python3", { args: ["-c", "pass"] }).output()).success;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** The same pattern in Deno, where there is no python3. */
async function denoGets(port: number, name: string, size: number, gets: number) {
  let exact = 0;
  const times: number[] = [];
  for (let i = 0; i < gets; i++) {
    const started = performance.now();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode(`get,${name}`));
    const first = new Uint8Array(32);
    const n = await conn.read(first) ?? 0;
    let got = 0;
    const rest = new Uint8Array(65536);
    while (true) {
      const m = await conn.read(rest);
      if (m === null) break;
      got += m;
    }
    conn.close();
    times.push(performance.now() - started);
    if (new TextDecoder().decode(first.subarray(0, n)) === "pass" && got === size) exact++;
  }
  times.sort((a, b) => a - b);
  return { exact, medianMs: times[Math.floor(times.length / 2)]! };
}

/** Starts `count` processes that spin until killed. */
function busyLoops(count: number): Deno.ChildProcess[] {
  return Array.from({ length: count }, () =>
    new Deno.Command(Deno.execPath(), {
      args: ["eval", "for (;;) {}"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn());
}

/**
 * Measures exact classic gets for each pause under each load.
 *
 * @param options gets per case, loads (busy loops) and pauses (ms)
 * @returns one result per pause and load
 */
export async function measureClassicPause(
  options: { gets: number; loads: number[]; pauses: number[] },
): Promise<PauseResult[]> {
  const dir = await Deno.makeTempDir({ prefix: "privateshare-pause-" });
  const size = 4096;
  await Deno.writeFile(join(dir, "four.bin"), crypto.getRandomValues(new Uint8Array(size)));
  const python = await hasPython();
  const results: PauseResult[] = [];
  try {
    for (const load of options.loads) {
      const loops = busyLoops(load);
      try {
        for (const pauseMs of options.pauses) {
          await using server = startServer({
            root: dir,
            port: 0,
            host: "127.0.0.1",
            readOnly: true,
            idleTimeoutMs: 0,
            classicPauseMs: pauseMs,
          });
          let run: { exact: number; medianMs: number };
          if (python) {
            const out = await new Deno.Command("python3", {
              args: [
                "-c",
                PYTHON_CLIENT,
                String(server.addr.port),
                "four.bin",
                String(size),
                String(options.gets),
              ],
              stdout: "piped",
            }).output();
            const [exact, median] = new TextDecoder().decode(out.stdout).trim().split(" ");
            run = { exact: Number(exact), medianMs: Number(median) };
          } else {
            run = await denoGets(server.addr.port, "four.bin", size, options.gets);
          }
          results.push({
            pauseMs,
            load,
            gets: options.gets,
            ...run,
            client: python ? "python3" : "deno",
          });
          console.error(
            `load ${load}, pause ${pauseMs} ms: ${run.exact}/${options.gets} exact, ` +
              `median ${run.medianMs.toFixed(1)} ms`,
          );
        }
      } finally {
        for (const loop of loops) loop.kill("SIGKILL");
        await Promise.all(loops.map((loop) => loop.status));
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return results;
}

/**
 * The results as a Markdown table.
 *
 * @param results from {@link measureClassicPause}
 * @returns the table
 */
export function pauseTable(results: PauseResult[]): string {
  const lines = [
    "| busy loops | pause | exact gets | median get |",
    "| ---------- | ----- | ---------- | ---------- |",
  ];
  for (const r of results) {
    lines.push(
      `| ${r.load} | ${r.pauseMs} ms | ${r.exact} of ${r.gets} | ${r.medianMs.toFixed(1)} ms |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      gets: { type: "string" },
      loads: { type: "string" },
      pauses: { type: "string" },
    },
  });
  const list = (text: string) => text.split(",").map(Number);
  const results = await measureClassicPause({
    gets: Number(values.gets ?? "200"),
    loads: list(values.loads ?? "0,2,4"),
    pauses: list(values.pauses ?? "0,2,5,10,20,50"),
  });
  console.log(pauseTable(results));
}
