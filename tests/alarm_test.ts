// Alarms share one timer (issue 25): each still runs at its own time, in
// order, once per setting; a cleared one never runs; one moved later runs at
// the later time only.

import assert from "node:assert/strict";
import { Alarm } from "../lib/net/alarm.ts";

/** An alarm that records its name in `rang` and resolves its promise when it runs. */
function alarm(name: string, rang: string[]): { alarm: Alarm; ran: Promise<number> } {
  let resolve!: (at: number) => void;
  const ran = new Promise<number>((r) => resolve = r);
  return {
    alarm: new Alarm(() => {
      rang.push(name);
      resolve(performance.now());
    }),
    ran,
  };
}

Deno.test("alarms run in the order of their times, and a cleared one never", async () => {
  const rang: string[] = [];
  const [a, b, c, d] = ["a", "b", "c", "d"].map((name) => alarm(name, rang));
  const now = performance.now();
  a!.alarm.set(now + 300);
  b!.alarm.set(now + 100);
  c!.alarm.set(now + 200);
  d!.alarm.set(now + 150);
  d!.alarm.clear();
  d!.alarm.clear();
  const at = await a!.ran;
  await Promise.all([b!.ran, c!.ran]);
  assert.deepEqual(rang, ["b", "c", "a"]);
  assert.ok(at - now >= 240, `a ran after ${at - now} ms, before 0.8x its 300 ms`);
  assert.equal(d!.alarm.at, Infinity);
});

Deno.test("an alarm moved later runs once, at the later time", async () => {
  const rang: string[] = [];
  const first = alarm("first", rang);
  const marker = alarm("marker", rang);
  const now = performance.now();
  first.alarm.set(now + 100);
  first.alarm.set(now + 400);
  marker.alarm.set(now + 200);
  await marker.ran;
  assert.deepEqual(rang, ["marker"], "the alarm moved later did not run at its first time");
  const at = await first.ran;
  assert.ok(at - now >= 320, `it ran after ${at - now} ms, before 0.8x its 400 ms`);
  assert.deepEqual(rang, ["marker", "first"]);
});

Deno.test("an alarm set earlier than the shared timer runs at its own time", async () => {
  const rang: string[] = [];
  const late = alarm("late", rang);
  const early = alarm("early", rang);
  const now = performance.now();
  late.alarm.set(now + 20_000);
  early.alarm.set(now + 100);
  await early.ran;
  assert.deepEqual(rang, ["early"]);
  late.alarm.clear();
});

Deno.test("an alarm set again from its own run runs again", async () => {
  let count = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => done = r);
  const again: Alarm = new Alarm(() => {
    count++;
    if (count < 3) again.set(performance.now() + 20);
    else done();
  });
  again.set(performance.now() + 20);
  await finished;
  assert.equal(count, 3);
  assert.equal(again.at, Infinity);
});
