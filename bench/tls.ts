/**
 * The benchmark's TLS case: put and get of the same file over TLS (the
 * server with `--cert`/`--key`, the client with `--ca`), against socat
 * moving it over OpenSSL addresses with the same certificate, in the same
 * run; and its section of the report.
 *
 * @module
 */

import { ensureCertificate } from "../lib/mod.ts";
import { rootsWidened } from "../lib/net/private_names.ts";
import type { PsSample, TransferResults } from "./results.ts";
import { verdict } from "./gets.ts";
import { MiB, num, spread, summarize, type Summary, table } from "./stats.ts";

/** The certificate both privateshare and socat use. */
export interface BenchTls {
  /** The certificate, PEM. */
  certFile: string;
  /** Its key, PEM. */
  keyFile: string;
  /** Its fingerprint, when the client is to pin it instead of trusting the certificate. */
  pin?: string;
}

/** At most this many times socat's time over TLS. */
const TLS_TARGET = 1.3;

/** Issue 25's target for a first contact by fingerprint: at most twice socat over OpenSSL. */
const FIRST_CONTACT_TARGET = 2;

/**
 * The benchmark's certificate: made once in `dir` (for localhost and the
 * loopback addresses) and reused.
 *
 * @param dir the folder
 * @returns its files
 */
export async function benchCertificate(dir: string): Promise<BenchTls> {
  const { certFile, keyFile, fingerprint } = await ensureCertificate(dir, [
    "localhost",
    "127.0.0.1",
    "::1",
  ]);
  return { certFile, keyFile, pin: fingerprint };
}

/**
 * The server flags for TLS.
 *
 * @param tls the certificate, or undefined for plain TCP
 * @returns the flags
 */
export function serverTlsArgs(tls: BenchTls | undefined): string[] {
  return tls ? ["--cert", tls.certFile, "--key", tls.keyFile] : [];
}

/**
 * The client flags for TLS: trust the certificate (Deno's own TLS), or pin
 * its fingerprint when `pinned` (read once through node:tls, then Deno's own TLS).
 *
 * @param tls the certificate, or undefined for plain TCP
 * @param pinned pin the fingerprint instead
 * @returns the flags
 */
export function clientTlsArgs(tls: BenchTls | undefined, pinned = false): string[] {
  if (!tls) return [];
  return pinned && tls.pin ? ["--fingerprint", tls.pin] : ["--ca", tls.certFile];
}

/**
 * The report's TLS section and its targets.
 *
 * @param results the TLS transfers
 * @param runs runs of each case
 * @param pinnedGets gets with the fingerprint pinned, if measured
 * @returns Markdown lines, and target rows (target, measured, met)
 */
export function tlsSection(
  results: TransferResults,
  runs: number,
  pinnedGets: PsSample[] = [],
): { lines: string[]; targets: string[][] } {
  const pinned = pinnedGets.length ? summarize(pinnedGets.map((s) => s.ms)) : undefined;
  const size = results.sizeBytes;
  const put = summarize(results.put.map((s) => s.ms));
  const got = summarize(results.get.map((s) => s.ms));
  const socat = results.socat.length ? summarize(results.socat.map((s) => s.ms)) : undefined;
  const rate = (s: Summary) => num(size / MiB / (s.median / 1000), 0);
  const ratio = (s: Summary) => socat && s.median / socat.median;
  const cpu = (xs: { userS: number; sysS: number }[]) =>
    xs.length ? num(summarize(xs.map((u) => u.userS + u.sysS)).median) : "—";
  const seconds = (s: Summary) =>
    spread({ ...s, median: s.median / 1000, min: s.min / 1000, max: s.max / 1000 });
  const lines = [
    `## Whole transfers of ${size / MiB} MiB over TLS (${runs} run${
      runs === 1 ? "" : "s"
    }, alternating)\n`,
    table(
      [
        "case",
        "median s (min–max)",
        "MiB/s",
        "× socat OpenSSL",
        "client / sender CPU s",
        "server / receiver CPU s",
      ],
      [
        [
          "privateshare put, TLS",
          seconds(put),
          rate(put),
          num(ratio(put)),
          cpu(results.put.map((s) => s.client)),
          cpu(results.put.map((s) => s.server)),
        ],
        [
          "privateshare get, TLS",
          seconds(got),
          rate(got),
          num(ratio(got)),
          cpu(results.get.map((s) => s.client)),
          cpu(results.get.map((s) => s.server)),
        ],
        ...(pinned
          ? [[
            "privateshare get, TLS, first contact by --fingerprint",
            seconds(pinned),
            rate(pinned),
            num(ratio(pinned)),
            cpu(pinnedGets.map((s) => s.client)),
            cpu(pinnedGets.map((s) => s.server)),
          ]]
          : []),
        ...(socat
          ? [[
            "socat, OpenSSL addresses",
            seconds(socat),
            rate(socat),
            "1.00",
            cpu(results.socat.map((s) => s.sender)),
            cpu(results.socat.map((s) => s.receiver)),
          ]]
          : []),
      ],
    ),
    "The server runs with `--cert` and `--key`, the client with `--ca` (the same ECDSA P-256 " +
    "certificate; Deno's own TLS), or `--fingerprint` for the first-contact row (the " +
    "certificate read once through node:tls, the only TLS in Deno that shows it, then Deno's own " +
    "TLS with it as the only private root; node:tls throughout where DENO_CERT, " +
    "NODE_EXTRA_CA_CERTS or DENO_TLS_CA_STORE may add roots); socat with " +
    "`OPENSSL-LISTEN:...,cert=,key=` and `OPENSSL:...,cafile=`. " +
    "CPU is user + kernel seconds, medians. privateshare also hashes with SHA-256 on both ends " +
    "and fdatasyncs; socat does neither." +
    (pinned && rootsWidened()
      ? " **This run's environment may add roots (DENO_CERT, NODE_EXTRA_CA_CERTS or " +
        "DENO_TLS_CA_STORE): its first-contact row is node:tls throughout; unset them to " +
        "measure Deno's own TLS.**"
      : "") +
    "\n",
  ];
  const targets = (["put", "get"] as const).map((op) => {
    const r = ratio(op === "put" ? put : got);
    return [
      `${op} over TLS ≤ ${TLS_TARGET}× the time of socat over TLS` +
      (size === 1024 * MiB ? "" : ` (measured at ${size / MiB} MiB)`),
      r === undefined ? "socat missing" : `${num(r)}×`,
      verdict(r === undefined ? undefined : r <= TLS_TARGET),
    ];
  });
  if (pinned) {
    const r = ratio(pinned);
    targets.push([
      `get by --fingerprint (first contact) ≤ ${FIRST_CONTACT_TARGET}× the time of socat over TLS` +
      (size === 1024 * MiB ? "" : ` (measured at ${size / MiB} MiB)`),
      r === undefined ? "socat missing" : `${num(r)}×`,
      verdict(r === undefined ? undefined : r <= FIRST_CONTACT_TARGET),
    ]);
  }
  return { lines, targets };
}
