/**
 * What the benchmark measured, case by case: the shapes that the cases fill
 * in and the report renders.
 *
 * @module
 */

import type { ClientRun, CpuTimes, Usage } from "./processes.ts";
import type { ConcurrentGets, ListProcess } from "./gets.ts";
import type { FolderResults } from "./folders.ts";
import type { ClassicListResults } from "./classic_list.ts";

/** One measured privateshare transfer. */
export interface PsSample {
  /** Wall time of the client CLI, spawn to exit, in milliseconds. */
  ms: number;
  /** The client process's peak memory and CPU time. */
  client: Usage;
  /** The server's CPU time during the transfer. */
  server: CpuTimes;
  /** The server's peak memory (VmHWM) in bytes: a fresh server, so this transfer's. */
  serverPeak: number;
  /** The server's own request time from its log, in milliseconds. */
  serverMs: number;
}

/** One measured socat transfer. */
export interface SocatSample {
  /** Wall time, sender start to both ends exited, in milliseconds. */
  ms: number;
  /** Time to fdatasync the copy afterwards, in milliseconds. */
  syncMs: number;
  /** The sending socat. */
  sender: Usage;
  /** The receiving socat. */
  receiver: Usage;
}

/** Everything the transfer case measured. */
export interface TransferResults {
  /** The file's size. */
  sizeBytes: number;
  /** One sample a run. */
  put: PsSample[];
  /** One sample a run. */
  get: PsSample[];
  /** One sample a run; empty without socat. */
  socat: SocatSample[];
  /** Runs of `client.ts --version`: the fixed cost of every CLI transfer. */
  startup: ClientRun[];
}

/** Everything the concurrent case measured, one entry a run. */
export interface ConcurrentResults {
  /** From starting the first client to the last one's exit, in milliseconds. */
  wallMs: number[];
  /** The server's peak memory in bytes. */
  serverPeak: number[];
  /** The largest client peak memory in bytes. */
  clientPeak: number[];
  /** The server's CPU time. */
  serverCpu: CpuTimes[];
  /** What went wrong, if anything: failed clients, missing or differing files. */
  failures: string[];
}

/** Rates of one small-operation loop, one entry a run. */
export interface RateResults {
  /** What the loop does. */
  label: string;
  /** Operations a second. */
  perSecond: number[];
  /** CPU milliseconds of the benchmark process (the client library) per operation. */
  clientCpuMs: number[];
  /** CPU milliseconds of the server per operation; NaN where no server is involved. */
  serverCpuMs: number[];
}

/** Peak memory of the 4 GiB check. */
export interface MemoryResults {
  /** One row a process and operation: peak bytes at 1 GiB (small) and at 4 GiB (large). */
  rows: { label: string; small: number; large: number }[];
}

/** The settings the report mentions. */
export interface ReportSettings {
  /** Runs of each case. */
  runs: number;
  /** Clients in the concurrent case. */
  clients: number;
  /** MiB each concurrent client puts. */
  clientMiB: number;
  /** Seconds each small-operation loop runs. */
  smallSeconds: number;
  /** Files in the folder that list reads. */
  smallFiles: number;
}

/** Everything a report shows; cases that did not run are undefined. */
export interface ReportInput {
  /** The settings. */
  options: ReportSettings;
  /** The benchmark's arguments. */
  args: string[];
  /** Cores, CPU, memory, system and Deno. */
  machine: string;
  /** When the benchmark started (ISO 8601). */
  date: string;
  /** The 1-minute load average at the start. */
  loadStart: string;
  /** The 1-minute load average at the end. */
  loadEnd?: string;
  /** socat's version line, undefined when socat is missing. */
  socat?: string;
  /** The socat block size used, and the times of those tried. */
  calibration?: { buffer: number; tried: { buffer: number; ms: number[] }[] };
  /** Whole transfers. */
  transfer?: TransferResults;
  /** Whole transfers over TLS, against socat's OpenSSL addresses. */
  tls?: TransferResults;
  /** Gets over TLS with the fingerprint pinned. */
  tlsPinnedGet?: PsSample[];
  /** Concurrent puts. */
  concurrent?: ConcurrentResults;
  /** Small operations, list first and get second. */
  small?: RateResults[];
  /** The 4 GiB memory check. */
  memory?: MemoryResults;
  /** Concurrent gets through the library. */
  gets?: ConcurrentGets;
  /** `client.ts … list` as a whole process, and an empty `deno run`, milliseconds a run. */
  listProcess?: ListProcess;
  /** Folders put and got whole. */
  folders?: FolderResults;
  /** Classic lists against the original server's. */
  classicList?: ClassicListResults;
  /** Why the classic lists were not measured, when they were asked for. */
  classicSkipped?: string;
}
