/**
 * What a person sees while a transfer runs: a progress bar on a terminal,
 * and the human forms of sizes, rates and durations.
 *
 * @module
 */

import type { Progress } from "../mod.ts";

/**
 * A size for a person: `0 B`, `512 B`, `1.5 KiB`, `3.2 GiB`.
 *
 * @param bytes the size
 * @returns the size with a binary unit
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
}

/**
 * A duration for a person: `0.4 s`, `12 s`, `3 min 05 s`, `2 h 07 min`.
 *
 * @param ms the duration in milliseconds
 * @returns the duration
 */
export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.round(s % 60)).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/**
 * A rate for a person: `312 MiB/s`.
 *
 * @param bytes bytes moved
 * @param ms in this many milliseconds
 * @returns the rate
 */
export function formatRate(bytes: number, ms: number): string {
  return ms > 0 ? `${formatBytes(bytes / (ms / 1000))}/s` : "-";
}

/**
 * A time for a person, in the local time zone: `2026-11-29 07:05`.
 *
 * @param ms milliseconds since the epoch
 * @returns the time
 */
export function localTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A one-line progress bar, redrawn in place at most ten times a second. */
export class ProgressBar {
  readonly #label: string;
  readonly #out: { writeSync(p: Uint8Array): number };
  readonly #width: () => number;
  readonly #started = performance.now();
  #lastDraw = 0;
  #last?: Progress;
  #drawn = false;
  #encoder = new TextEncoder();

  /**
   * Creates a ProgressBar.
   *
   * @param label what is moving, such as `put apple.jpg`
   * @param out where to draw (default stderr)
   * @param columns the width to draw in (default the console's, or 80)
   */
  constructor(
    label: string,
    out: { writeSync(p: Uint8Array): number } = Deno.stderr,
    columns?: number,
  ) {
    this.#label = label;
    this.#out = out;
    this.#width = () => {
      if (columns !== undefined) return columns;
      try {
        return Deno.consoleSize().columns;
      } catch {
        return 80;
      }
    };
  }

  /**
   * Records progress, redrawing when the last draw is old enough.
   *
   * @param progress bytes done, total, and where a resume started
   */
  update(progress: Progress): void {
    this.#last = progress;
    const now = performance.now();
    if (now - this.#lastDraw < 100 && progress.done !== progress.total) return;
    this.#lastDraw = now;
    this.#draw(progress, now);
  }

  /** Removes the bar, leaving the line clean for the summary. */
  finish(): void {
    if (this.#drawn) this.#out.writeSync(this.#encoder.encode("\r\x1b[K"));
    this.#drawn = false;
  }

  #draw(p: Progress, now: number): void {
    const ms = now - this.#started;
    const moved = p.done - p.resumedFrom;
    const rate = ms > 0 ? moved / (ms / 1000) : 0;
    const parts = [this.#label];
    if (p.filesTotal !== undefined) parts.push(`${p.files ?? 0}/${p.filesTotal} files`);
    if (p.total !== undefined && p.total > 0) {
      const fraction = Math.min(p.done / p.total, 1);
      parts.push(`${Math.floor(fraction * 100).toString().padStart(3)}%`);
      parts.push("{bar}");
      parts.push(`${formatBytes(p.done)} / ${formatBytes(p.total)}`);
      parts.push(formatRate(moved, ms));
      const left = rate > 0 ? ((p.total - p.done) / rate) * 1000 : NaN;
      if (p.done >= p.total) parts.push("verifying");
      else parts.push(Number.isFinite(left) ? `${formatDuration(left)} left` : "");
    } else {
      parts.push(formatBytes(p.done), formatRate(moved, ms));
    }
    if (p.resumedFrom > 0) parts.push(`(resumed at ${formatBytes(p.resumedFrom)})`);
    let line = parts.filter((x) => x !== "").join("  ");
    const width = Math.max(this.#width() - 1, 20);
    const room = width - (line.length - 5);
    if (line.includes("{bar}")) {
      const barWidth = Math.max(Math.min(room - 2, 30), 0);
      const fraction = Math.min(p.done / (p.total || 1), 1);
      const full = Math.round(fraction * barWidth);
      const bar = barWidth > 0 ? `[${"#".repeat(full)}${"-".repeat(barWidth - full)}]` : "";
      line = line.replace("{bar}", bar);
    }
    this.#out.writeSync(this.#encoder.encode(`\r${line.slice(0, width)}\x1b[K`));
    this.#drawn = true;
  }
}
