/**
 * One put or get command of the client's command line, of several files
 * and folders: one progress display for the whole command, one line on
 * stderr for each entry a folder put left out, and one summary line.
 *
 * @module
 */

import { printable, type Progress, type TransferResult } from "../client_mod.ts";
import { formatBytes, formatDuration, formatRate, type ProgressBar } from "./progress.ts";

/** What a command moved so far, fed to one progress bar. */
export class Tally {
  readonly #bar: ProgressBar | undefined;
  readonly #items: number;
  readonly #started = performance.now();
  /** Results so far, in order. */
  readonly results: TransferResult[] = [];
  #bytes = 0;
  #files = 0;
  #resumed = 0;

  /**
   * Creates a Tally.
   *
   * @param bar the progress bar, if one is drawn
   * @param items how many PATHs or NAMEs the command has
   */
  constructor(bar: ProgressBar | undefined, items: number) {
    this.#bar = bar;
    this.#items = items;
  }

  /**
   * The progress of the current item, as the whole command's.
   *
   * @param p the item's progress
   */
  progress = (p: Progress): void => {
    if (!this.#bar) return;
    const many = this.#items > 1 || p.filesTotal !== undefined;
    const later = this.#items - this.results.length - 1;
    const fileDone = p.total !== undefined && p.done >= p.total ? 1 : 0;
    this.#bar.update({
      done: this.#bytes + p.done,
      ...(p.total !== undefined ? { total: this.#bytes + p.total } : {}),
      resumedFrom: this.#resumed + p.resumedFrom,
      ...(many
        ? {
          files: this.#files + (p.files ?? fileDone),
          filesTotal: this.#files + (p.filesTotal ?? 1) + later,
        }
        : {}),
    });
  };

  /**
   * Adds a finished item.
   *
   * @param result what it did
   */
  add(result: TransferResult): void {
    this.results.push(result);
    this.#bytes += result.size;
    this.#files += result.files ?? 1;
    this.#resumed += result.resumedFrom;
  }

  /** Milliseconds since the command started. */
  get ms(): number {
    return performance.now() - this.#started;
  }
}

/**
 * The lines for what a folder put left out, one per entry, for stderr.
 *
 * @param program the program's name
 * @param result what the put did
 * @returns the lines, escaped for the terminal
 */
export function skippedLines(program: string, result: TransferResult): string[] {
  return (result.skipped ?? []).map((s) =>
    `${program}: skipped '${printable(`${result.path.replace(/\/+$/, "")}/${s.path}`)}': ${s.why}`
  );
}

/**
 * The summary of a command of several items, or of a folder: how many
 * files and bytes were verified, and what was skipped.
 *
 * @param op put or get
 * @param results what each item did
 * @param ms how long the command took
 * @returns one line
 */
export function summaryOfMany(op: "put" | "get", results: TransferResult[], ms: number): string {
  const [only] = results;
  const what = results.length > 1
    ? `${results.length} items`
    : op === "put"
    ? `'${printable(only!.name)}'`
    : `'${printable(only!.name)}' -> '${printable(only!.path)}'`;
  let files = 0;
  let bytes = 0;
  let moved = 0;
  let kept = 0;
  let links = 0;
  let others = 0;
  let verified = true;
  for (const r of results) {
    files += r.files ?? 1;
    bytes += r.size;
    moved += r.moved;
    kept += r.kept ?? 0;
    if (r.type !== "folder" && !r.sha256) verified = false;
    for (const s of r.skipped ?? []) s.kind === "link" ? links++ : others++;
  }
  const check = verified ? "verified (SHA-256)" : "not all verified (classic protocol)";
  const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  const already = kept > 0 ? `, ${plural(kept, "file", "files")} already there` : "";
  const skipped = [
    ...(links > 0 ? [plural(links, "link", "links")] : []),
    ...(others > 0 ? [plural(others, "other entry", "other entries")] : []),
  ];
  return `${op} ${what}: ${plural(files, "file", "files")}, ${formatBytes(bytes)} ${check} ` +
    `in ${formatDuration(ms)} (${formatRate(moved, ms)}${already})` +
    (skipped.length > 0 ? `; skipped ${skipped.join(" and ")}` : "");
}
