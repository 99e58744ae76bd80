/**
 * The held-memory case: the server's peak resident memory while 128
 * connections each hold the largest message a client may send, a folder
 * manifest at the limits (100,000 folders and 100,000 files, 16 MB of
 * paths) sent but for its last line, against README's bound (the 512 MiB
 * pool plus 512 KiB a request, above the server's own memory at rest).
 *
 * @module
 */

import net from "node:net";
import { join } from "node:path";
import { encodeCommand } from "../lib/protocol/ps2.ts";
import { HOST, readPeak, startServer } from "./processes.ts";
import { MiB, num } from "./stats.ts";

/** What the held-memory case measured. */
export interface HeldResults {
  /** Connections holding a manifest. */
  connections: number;
  /** Bytes of each manifest sent (all but its last line). */
  manifestBytes: number;
  /** Entries of each manifest. */
  entries: number;
  /** The server's peak resident memory before the connections, bytes. */
  idleBytes: number;
  /** Its peak resident memory while they held their manifests, bytes. */
  peakBytes: number;
  /** README's bound for these connections, bytes, above `idleBytes`. */
  boundBytes: number;
  /** The answers after the manifests: refusals by reason, and those still held. */
  answers: Record<string, number>;
}

const CONNECTIONS = 128;
const FOLDERS = 100_000;
const FILES = 100_000;
const PATH_CHARS = 80;
/** README: the pool, and 512 KiB a request. */
const POOL_BYTES = 512 * MiB;
const PER_REQUEST = 512 * 1024;
/** Source addresses: --max-per-address (32) from each. */
const SOURCES = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"];

/** The manifest's lines but the last: folders first, then files, paths of 80 bytes. */
function manifest(): Uint8Array {
  const lines: string[] = [];
  const path = (kind: string, i: number) =>
    (kind + String(i).padStart(7, "0") + "-").padEnd(PATH_CHARS, "x");
  for (let i = 0; i < FOLDERS; i++) {
    lines.push(JSON.stringify({ path: path("d", i), type: "folder" }));
  }
  for (let i = 0; i < FILES; i++) lines.push(JSON.stringify({ path: path("f", i), size: 1 }));
  lines.pop();
  return new TextEncoder().encode(lines.join("\n") + "\n");
}

/** One connection: sends the command and the manifest but its last line; records the answers. */
function holder(port: number, from: string, name: string, body: Uint8Array) {
  const socket = net.connect({ host: HOST, port, localAddress: from });
  let answer = "";
  let sent = false;
  const settled = new Promise<void>((resolve) => {
    socket.on("error", () => resolve());
    socket.on("close", () => resolve());
    socket.on("connect", () => {
      socket.write(
        encodeCommand({ op: "put-folder", name, files: FILES, folders: FOLDERS, size: FILES }),
      );
      socket.write(body, () => {
        sent = true;
        resolve();
      });
    });
  });
  socket.on("data", (chunk) => answer += chunk.toString());
  return {
    settled,
    get sent() {
      return sent;
    },
    /** The reason of a refusal, `held` while the server still reads, or `closed`. */
    outcome(): string {
      const cancel = answer.split("\n").map((l) => l && JSON.parse(l)).find((r) =>
        r?.code === "cancel"
      );
      if (cancel) return cancel.reason;
      return socket.destroyed ? "closed" : "held";
    },
    close: () => socket.destroy(),
  };
}

/**
 * Runs the case against a real server.
 *
 * @param root an empty folder to serve
 * @param progress reports what is going on
 * @returns what was measured
 */
export async function heldCase(
  root: string,
  progress: (what: string) => void,
): Promise<HeldResults> {
  await Deno.mkdir(root, { recursive: true });
  const server = await startServer(root, { record: false });
  const holders: ReturnType<typeof holder>[] = [];
  try {
    const idleBytes = readPeak(server.pid) ?? 0;
    const body = manifest();
    progress(`held memory: ${CONNECTIONS} connections each send ${num(body.length / MiB, 1)} MiB`);
    let peakBytes = idleBytes;
    const sample = setInterval(() => {
      peakBytes = Math.max(peakBytes, readPeak(server.pid) ?? 0);
    }, 50);
    for (let i = 0; i < CONNECTIONS; i++) {
      holders.push(holder(server.port, SOURCES[i % SOURCES.length]!, `held-${i}`, body));
    }
    await Promise.all(holders.map((h) => h.settled));
    // What the kernel still buffers reaches the server within moments: let it read on a while.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    clearInterval(sample);
    peakBytes = Math.max(peakBytes, readPeak(server.pid) ?? 0);
    const answers: Record<string, number> = {};
    for (const h of holders) answers[h.outcome()] = (answers[h.outcome()] ?? 0) + 1;
    return {
      connections: CONNECTIONS,
      manifestBytes: body.length,
      entries: FOLDERS + FILES,
      idleBytes,
      peakBytes,
      boundBytes: POOL_BYTES + CONNECTIONS * PER_REQUEST,
      answers,
    };
  } finally {
    for (const h of holders) h.close();
    await server.stop();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

/**
 * The report's section.
 *
 * @param results what was measured
 * @returns Markdown
 */
export function heldSection(results: HeldResults): string {
  const growth = results.peakBytes - results.idleBytes;
  const pass = growth <= results.boundBytes;
  const answers = Object.entries(results.answers).map(([k, v]) => `${k} ${v}`).join(", ");
  return [
    "## Held memory: 128 connections each holding a manifest at the limits",
    "",
    `A real server with default flags; ${results.connections} connections (32 from each of ` +
    `${SOURCES.join(", ")}) each send a put-folder of ${results.entries.toLocaleString("en")} ` +
    `entries (paths of ${PATH_CHARS} bytes, 16 MB in all) and its manifest but for the last ` +
    `line (${num(results.manifestBytes / MiB, 1)} MiB each), then wait. Target: the server's ` +
    "peak resident memory grows by at most README's bound, the 512 MiB pool plus 512 KiB a " +
    `request (${num(results.boundBytes / MiB, 0)} MiB for ${results.connections}).`,
    "",
    "| at rest | peak | growth | bound | answers | verdict |",
    "| --- | --- | --- | --- | --- | --- |",
    `| ${num(results.idleBytes / MiB, 0)} MiB | ${num(results.peakBytes / MiB, 0)} MiB | ` +
    `${num(growth / MiB, 0)} MiB | ${num(results.boundBytes / MiB, 0)} MiB | ${answers} | ` +
    `${pass ? "PASS" : "**MISS**"} |`,
    "",
  ].join("\n");
}

/** Where the case's folder goes, under the benchmark's data folder. */
export function heldRoot(data: string): string {
  return join(data, "held-served");
}
