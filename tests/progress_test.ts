// What a person sees while a transfer runs: the progress bar, drawn into a
// fake terminal, and the human forms of sizes, durations and rates.

import assert from "node:assert/strict";
import { formatBytes, formatDuration, formatRate, ProgressBar } from "../lib/cli/progress.ts";
import { Tally } from "../lib/cli/transfers.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** A fake terminal: every write, decoded. */
function terminal(): { writeSync(p: Uint8Array): number; writes: string[] } {
  const decoder = new TextDecoder();
  const writes: string[] = [];
  return {
    writes,
    writeSync(p: Uint8Array) {
      writes.push(decoder.decode(p));
      return p.length;
    },
  };
}

/** The text of one redraw: after the carriage return, before the erase to the end of line. */
function frame(write: string): string {
  assert.ok(write.startsWith("\r"), "a redraw starts at the beginning of the line");
  assert.ok(write.endsWith("\x1b[K"), "a redraw erases what a longer line left");
  return write.slice(1, -3);
}

/**
 * A bar draws at most every 100 ms, counted from the process's start: the
 * first frame of a test must not fall inside that first tenth of a second.
 */
async function pastStartup(): Promise<void> {
  const wait = 150 - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

Deno.test("the bar shows the percent, a bar, the bytes of the total, and the label", async () => {
  await pastStartup();
  const out = terminal();
  const bar = new ProgressBar("put apple.jpg", out, 100);
  bar.update({ done: 512 * KiB, total: 2 * MiB, resumedFrom: 0 });
  assert.equal(out.writes.length, 1);
  const line = frame(out.writes[0]!);
  assert.match(line, /^put apple\.jpg {2} 25% {2}\[#{8}-{22}\] {2}512 KiB \/ 2\.00 MiB {2}/);
  assert.ok(line.length <= 99, "the line fits the terminal, less one column");
});

Deno.test("the percent of a resumed transfer counts the bytes it resumed from", async () => {
  await pastStartup();
  const out = terminal();
  const bar = new ProgressBar("get big.bin", out, 120);
  // 600 of 1000 bytes are in place: 500 from before, 100 moved in this run.
  bar.update({ done: 600, total: 1000, resumedFrom: 500 });
  const line = frame(out.writes[0]!);
  assert.match(line, /^get big\.bin {2} 60% {2}\[#{18}-{12}\] {2}600 B \/ 1000 B /);
  assert.match(line, /\(resumed at 500 B\)$/);
});

Deno.test("the bar says verifying once every byte has moved, at 100%", async () => {
  await pastStartup();
  const out = terminal();
  const bar = new ProgressBar("put a", out, 120);
  bar.update({ done: 0, total: 3000, resumedFrom: 0 });
  // Within 100 ms of the last frame only the final state is drawn.
  bar.update({ done: 1000, total: 3000, resumedFrom: 0 });
  assert.equal(out.writes.length, 1, "redrawn at most ten times a second");
  bar.update({ done: 3000, total: 3000, resumedFrom: 0 });
  assert.equal(out.writes.length, 2, "the end is always drawn");
  const line = frame(out.writes[1]!);
  assert.match(line, /^put a {2}100% {2}\[#{30}\] {2}2\.93 KiB \/ 2\.93 KiB {2}.* {2}verifying$/);
});

Deno.test("a transfer of unknown size (a classic get) shows bytes and rate, with no percent", async () => {
  await pastStartup();
  const out = terminal();
  const bar = new ProgressBar("get old.txt", out, 120);
  bar.update({ done: 5 * MiB, resumedFrom: 0 });
  const line = frame(out.writes[0]!);
  assert.match(line, /^get old\.txt {2}5\.00 MiB {2}\S+/);
  assert.ok(!line.includes("%"));
});

Deno.test("the line is cut to the terminal's width; finish erases it only if it was drawn", async () => {
  await pastStartup();
  const out = terminal();
  const bar = new ProgressBar("put " + "x".repeat(200), out, 40);
  bar.finish();
  assert.deepEqual(out.writes, [], "nothing drawn, nothing to erase");
  bar.update({ done: 1, total: 2, resumedFrom: 0 });
  assert.equal(frame(out.writes[0]!).length, 39);
  bar.finish();
  assert.equal(out.writes[1], "\r\x1b[K");
  bar.finish();
  assert.equal(out.writes.length, 2, "erased once");
});

Deno.test("formatBytes: bytes below 1 KiB, then binary units with three significant digits", () => {
  const cases: [number, string][] = [
    [0, "0 B"],
    [1, "1 B"],
    [512, "512 B"],
    [1023, "1023 B"],
    [KiB, "1.00 KiB"],
    [1536, "1.50 KiB"],
    [10 * KiB, "10.0 KiB"],
    [100 * KiB, "100 KiB"],
    [MiB, "1.00 MiB"],
    [40 * MiB, "40.0 MiB"],
    [3.2 * GiB, "3.20 GiB"],
    [5 * 1024 * GiB, "5.00 TiB"],
    [2 ** 53 - 1, "8.00 PiB"],
  ];
  for (const [bytes, text] of cases) assert.equal(formatBytes(bytes), text, `${bytes} bytes`);
});

Deno.test("formatDuration: tenths under 10 s, seconds under a minute, then minutes and hours", () => {
  const cases: [number, string][] = [
    [0, "0.0 s"],
    [400, "0.4 s"],
    [3_100, "3.1 s"],
    [12_000, "12 s"],
    [59_400, "59 s"],
    [60_000, "1 min 00 s"],
    [185_000, "3 min 05 s"],
    [3_600_000, "1 h 00 min"],
    [7_620_000, "2 h 07 min"],
  ];
  for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, `${ms} ms`);
});

Deno.test("formatRate: bytes per second, and a dash when no time has passed", () => {
  assert.equal(formatRate(MiB, 1000), "1.00 MiB/s");
  assert.equal(formatRate(330 * MiB, 1000), "330 MiB/s");
  assert.equal(formatRate(GiB, 3100), "330 MiB/s");
  assert.equal(formatRate(100, 0), "-");
});

Deno.test("a command of several files or a folder shows its files done of the total", async () => {
  await pastStartup();
  const out = terminal();
  const bar = new ProgressBar("put 2 items", out, 120);
  bar.update({ done: 1 * MiB, total: 4 * MiB, resumedFrom: 0, files: 3, filesTotal: 12 });
  const line = frame(out.writes[0]!);
  assert.match(
    line,
    /^put 2 items {2}3\/12 files {2} 25% {2}\[#+-+\] {2}1\.00 MiB \/ 4\.00 MiB {2}/,
  );
});

Deno.test("one display for a whole command: items done are added to the current one", async () => {
  await pastStartup();
  const out = terminal();
  const tally = new Tally(new ProgressBar("get 3 items", out, 120), 3);
  tally.add({ name: "a", path: "a", size: 2 * MiB, moved: 2 * MiB, resumedFrom: 0, ms: 1 });
  // The second, a folder of 10 files, 4 of them in place; one item is still to come.
  tally.progress({ done: 1 * MiB, total: 2 * MiB, resumedFrom: 0, files: 4, filesTotal: 10 });
  const line = frame(out.writes[0]!);
  assert.match(line, /^get 3 items {2}5\/12 files {2} 75% .* 3\.00 MiB \/ 4\.00 MiB {2}/);
});
