// A Wire's budget, deadline and rate floor share one timer (issue 25): each
// still closes the connection for its own reason and with its own message, in
// whatever order they are set, and a wire with no limit, or closed, keeps no
// process alive.

import assert from "node:assert/strict";
import { TimeoutError, Wire } from "../lib/net/wire.ts";

/** A loopback pair: the Wire on one end, the raw peer on the other. */
async function pair(): Promise<{ wire: Wire; peer: Deno.Conn }> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peer = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  return { wire: new Wire(await listener.accept()), peer };
}

/** Reads from the wire until it fails, and returns the failure and how long it took. */
async function readUntilCut(wire: Wire): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  const sink = new Uint8Array(1024);
  try {
    while (await wire.readInto(sink) > 0) { /* keep reading */ }
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
  throw new Error("the read ended without being cut");
}

Deno.test("a budget set after a longer deadline cuts at the budget, with its message", async () => {
  const { wire, peer } = await pair();
  try {
    wire.setDeadline(20_000);
    wire.setBudget(200, "The budget ran out");
    const { error, ms } = await readUntilCut(wire);
    assert.ok(error instanceof TimeoutError, String(error));
    assert.equal(error.message, "The budget ran out");
    assert.ok(ms >= 160, `cut after ${ms} ms, before 0.8x the budget of 200 ms`);
  } finally {
    wire.close();
    peer.close();
  }
});

Deno.test("a budget removed leaves the deadline: the cut is the deadline's, not the budget's", async () => {
  const { wire, peer } = await pair();
  try {
    wire.setBudget(100, "The budget ran out");
    wire.setDeadline(300);
    wire.setBudget(0);
    const { error, ms } = await readUntilCut(wire);
    assert.ok(error instanceof TimeoutError, String(error));
    assert.equal(error.message, "The connection made no progress before its deadline");
    assert.ok(ms >= 240, `cut after ${ms} ms, before 0.8x the deadline of 300 ms`);
  } finally {
    wire.close();
    peer.close();
  }
});

Deno.test("a deadline set after a longer budget cuts at the deadline", async () => {
  const { wire, peer } = await pair();
  try {
    wire.setBudget(20_000, "The budget ran out");
    wire.setDeadline(200);
    const { error } = await readUntilCut(wire);
    assert.ok(error instanceof TimeoutError, String(error));
    assert.equal(error.message, "The connection made no progress before its deadline");
  } finally {
    wire.close();
    peer.close();
  }
});

Deno.test("a trickle keeps the deadline alive but is cut at the rate floor", async () => {
  const { wire, peer } = await pair();
  let cut = false;
  // A byte each time the last one was read: progress all the time, a few hundred bytes a window.
  const trickle = (async () => {
    try {
      while (!cut) {
        await peer.write(new Uint8Array([0x61]));
        await new Promise((r) => setTimeout(r, 5));
      }
    } catch {
      // The wire's side closed.
    }
  })();
  try {
    wire.setDeadline(5_000);
    wire.setRateFloor(64 * 1024, 300);
    const { error, ms } = await readUntilCut(wire);
    cut = true;
    assert.ok(error instanceof TimeoutError, String(error));
    assert.match(error.message, /moved less than 19661 bytes in 0\.3 s \(at least 65536 bytes/);
    assert.ok(ms >= 240, `cut after ${ms} ms, before 0.8x the window of 300 ms`);
  } finally {
    cut = true;
    wire.close();
    peer.close();
    await trickle;
  }
});

Deno.test("a steady stream passes the rate floor window after window", async () => {
  const { wire, peer } = await pair();
  const windowMs = 400;
  const started = performance.now();
  // A stream far over the floor, for at least three windows, then the end.
  const stream = (async () => {
    const chunk = new Uint8Array(4096);
    while (performance.now() - started < 3 * windowMs) await peer.write(chunk);
    peer.close();
  })();
  try {
    wire.setDeadline(5_000);
    wire.setRateFloor(1, windowMs);
    let got = 0;
    const sink = new Uint8Array(64 * 1024);
    for (let n; (n = await wire.readInto(sink)) > 0;) got += n;
    assert.ok(got > 0);
    assert.ok(performance.now() - started >= 3 * windowMs, "the stream outlasted three windows");
  } finally {
    wire.close();
    await stream;
  }
});

/** Runs `code` as a process of its own; returns its wall time and output. */
async function runScript(code: string): Promise<{ ms: number; out: string; success: boolean }> {
  const file = await Deno.makeTempFile({ prefix: "privateshare-wire-", suffix: ".ts" });
  await Deno.writeTextFile(file, code);
  try {
    const started = performance.now();
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net=127.0.0.1", file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
    return { ms: performance.now() - started, out, success: result.success };
  } finally {
    await Deno.remove(file);
  }
}

const SCRIPT_HEAD = `
import { Wire } from "${new URL("../lib/net/wire.ts", import.meta.url)}";
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const peer = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
const wire = new Wire(await listener.accept());
listener.close();
wire.setBudget(60_000, "The budget ran out");
wire.setDeadline(60_000);
wire.setRateFloor(4096, 60_000);
`;

Deno.test("a process whose wires have no limit left ends without waiting for their timer", async () => {
  const { ms, out, success } = await runScript(
    SCRIPT_HEAD + `
wire.setRateFloor(0, 0);
wire.setDeadline(0);
wire.setBudget(0);
// Only the connection is closed, not the wire: no limit is left to keep the process.
wire.conn.close();
peer.close();
console.log("done");
`,
  );
  assert.ok(success, out);
  assert.match(out, /done/);
  assert.ok(ms < 30_000, `the process took ${ms} ms: it waited for a limit of 60 s`);
});

Deno.test("a process whose wires are closed ends without waiting for their timer", async () => {
  const { ms, out, success } = await runScript(
    SCRIPT_HEAD + `
wire.close();
wire.setDeadline(60_000);
wire.setBudget(60_000);
wire.setRateFloor(4096, 60_000);
peer.close();
console.log("done");
`,
  );
  assert.ok(success, out);
  assert.match(out, /done/);
  assert.ok(ms < 30_000, `the process took ${ms} ms: it waited for a limit of 60 s`);
});

Deno.test("wires share the timer: each is cut at its own limit, the others go on", async () => {
  const first = await pair();
  const second = await pair();
  try {
    first.wire.setBudget(20_000, "The first budget ran out");
    second.wire.setBudget(200, "The second budget ran out");
    const cut = await readUntilCut(second.wire);
    assert.ok(cut.error instanceof TimeoutError);
    assert.equal(cut.error.message, "The second budget ran out");
    assert.equal(first.wire.closedSignal.aborted, false, "the first wire goes on");
    first.wire.setBudget(200, "The first budget ran out");
    const again = await readUntilCut(first.wire);
    assert.ok(again.error instanceof TimeoutError);
    assert.equal(again.error.message, "The first budget ran out");
  } finally {
    first.wire.close();
    second.wire.close();
    first.peer.close();
    second.peer.close();
  }
});
