// The password guard at its exact limits: the password compared exactly
// (case, one character short or long, a newline), the wait before the
// comparison even for the right password, the threshold and length of a
// ban, a queued attempt that leaves at once when its connection closes, the
// table of addresses that never forgets a ban to make room, and the global
// slowdown when many addresses fail at once. The per-address cap of
// requests is tested here too: the N-th request from one address accepted,
// the N+1-th refused busy from any source port, another address served.

import assert from "node:assert/strict";
import { CancelError } from "../lib/protocol/errors.ts";
import { type Command, encodeCommand } from "../lib/protocol/ps2.ts";
import { type GuardEvent, PasswordGuard } from "../lib/server/guard.ts";
import { startServer } from "../lib/mod.ts";
import { serveFolder, tempDir, test } from "./helpers.ts";
import { command } from "./support/folder_peer.ts";
import { makeCertificate, rawTls } from "./security_helpers.ts";
import net from "node:net";

const list = (password?: string): Command => ({
  op: "list",
  ...(password === undefined ? {} : { password }),
});

/** The refusal's message of an attempt, or "ok". */
async function outcome(attempt: Promise<void>): Promise<string> {
  try {
    await attempt;
    return "ok";
  } catch (error) {
    if (error instanceof CancelError) return error.message;
    throw error;
  }
}

test("the guard: a password differing in case, by one character, or by a newline is refused", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  const cert = await makeCertificate(local.path);
  await using server = startServer({
    root: served.path,
    port: 0,
    host: "127.0.0.1",
    idleTimeoutMs: 0,
    tls: { cert: cert.cert, key: cert.key },
    password: "sesame",
    authLimits: { delayMs: 1, maxDelayMs: 1, banAfter: 100 },
  });
  const ask = async (password: string) =>
    JSON.parse(
      await rawTls(
        server.addr.port,
        cert.cert,
        new TextDecoder().decode(encodeCommand(list(password))),
      ),
    );
  for (const wrong of ["SESAME", "Sesame", "sesam", "sesamee", "sesame\n", " sesame", "sesame "]) {
    const answer = await ask(wrong);
    assert.equal(answer.reason, "unauthorized", JSON.stringify(wrong));
  }
  assert.equal((await ask("sesame")).code, "pass");
});

test("the guard: after a wrong password, even the right one waits out the delay before it is checked", async () => {
  const DELAY = 1500;
  const guard = new PasswordGuard("sesame", { delayMs: DELAY, maxDelayMs: DELAY });
  assert.equal(await outcome(guard.admit(list("sesamE"), "192.0.2.1")), "Wrong password");
  const started = performance.now();
  assert.equal(await outcome(guard.admit(list("sesame"), "192.0.2.1")), "ok");
  assert.ok(performance.now() - started >= 0.8 * DELAY, "the right password waited the delay");
});

test("the guard: banAfter - 1 failures do not ban, banAfter do, for banMs and no longer", async () => {
  const BAN = 1500;
  const events: GuardEvent[] = [];
  const guard = new PasswordGuard(
    "sesame",
    { delayMs: 1, maxDelayMs: 1, banAfter: 3, banMs: BAN },
    (e) => events.push(e),
  );
  const host = "192.0.2.9";
  for (let i = 0; i < 2; i++) await outcome(guard.admit(list("wrong"), host));
  assert.equal(await outcome(guard.admit(list("sesame"), host)), "ok", "two failures: no ban");
  for (let i = 0; i < 3; i++) await outcome(guard.admit(list("wrong"), host));
  assert.deepEqual(events.filter((e) => e.type === "auth-banned").length, 1);
  const bannedAt = Date.now();
  assert.match(await outcome(guard.admit(list("sesame"), host)), /Too many wrong passwords/);
  assert.equal(await outcome(guard.admit(list("sesame"), "192.0.2.10")), "ok", "others not");
  // The ban's length is the promise here: wait it out, and the right password works again.
  await new Promise((resolve) => setTimeout(resolve, BAN - (Date.now() - bannedAt) + 50));
  assert.equal(await outcome(guard.admit(list("sesame"), host)), "ok", "after banMs");
});

test("the guard: attempts queued behind a slowed one leave at once when their connection closes", async () => {
  const guard = new PasswordGuard("sesame", { delayMs: 600_000, maxDelayMs: 600_000 });
  const host = "192.0.2.3";
  await outcome(guard.admit(list("wrong"), host));
  const waiting = new AbortController();
  const queued = new AbortController();
  const first = outcome(guard.admit(list("sesame"), host, waiting.signal));
  const second = outcome(guard.admit(list("sesame"), host, queued.signal));
  queued.abort();
  assert.match(await second, /closed while its password waited/);
  waiting.abort();
  assert.match(await first, /closed while its password waited/);
  guard.close();
});

test("the guard: a full table forgets addresses that are not banned, never a ban", async () => {
  const guard = new PasswordGuard("sesame", {
    delayMs: 1,
    maxDelayMs: 1,
    banAfter: 2,
    banMs: 600_000,
    maxAddresses: 3,
  });
  const fail = (host: string) => outcome(guard.admit(list("wrong"), host));
  await fail("192.0.2.1");
  await fail("192.0.2.1"); // banned
  await fail("192.0.2.2");
  await fail("192.0.2.3"); // the table is full (3)
  for (let i = 4; i < 40; i++) await fail(`192.0.2.${i}`);
  assert.match(await outcome(guard.admit(list("sesame"), "192.0.2.1")), /Too many wrong/);
  // A table of bans only: a newcomer is still checked, and the bans stay.
  await fail("192.0.2.50");
  await fail("192.0.2.50");
  await fail("192.0.2.51");
  await fail("192.0.2.51");
  assert.equal(await outcome(guard.admit(list("sesame"), "192.0.2.60")), "ok");
  assert.equal(await outcome(guard.admit(list("sesamE"), "192.0.2.60")), "Wrong password");
  for (const banned of ["192.0.2.1", "192.0.2.50", "192.0.2.51"]) {
    assert.match(await outcome(guard.admit(list("sesame"), banned)), /Too many wrong/, banned);
  }
});

test("the guard: when globalFailures addresses fail within a minute, every attempt waits the delay", async () => {
  const DELAY = 1000;
  const guard = new PasswordGuard("sesame", {
    delayMs: DELAY,
    maxDelayMs: DELAY,
    globalFailures: 3,
  });
  await outcome(guard.admit(list("wrong"), "192.0.2.1"));
  await outcome(guard.admit(list("wrong"), "192.0.2.2"));
  // One short of the limit: a new address is not slowed.
  let started = performance.now();
  assert.equal(await outcome(guard.admit(list("sesame"), "192.0.2.7")), "ok");
  assert.ok(performance.now() - started < DELAY, "not slowed below the limit");
  await outcome(guard.admit(list("wrong"), "192.0.2.3"));
  started = performance.now();
  assert.equal(await outcome(guard.admit(list("sesame"), "192.0.2.8")), "ok");
  assert.ok(performance.now() - started >= 0.8 * DELAY, "slowed at the limit");
});

test("--max-per-address N: the N-th request from one address is served, the N+1-th busy from any port, another address served", async () => {
  await using served = await tempDir();
  const N = 3;
  await using server = serveFolder(served.path, { maxPerAddress: N, commandTimeoutMs: 30_000 });
  const holders = [];
  for (let i = 0; i < N; i++) {
    const held = await command(server.port, { op: "put", name: `h${i}`, size: 5, resume: false });
    holders.push(held);
    assert.equal((await held.reply()).code, "pass", `request ${i + 1} of ${N}`);
  }
  const ports = new Set(holders.map((h) => (h.conn.localAddr as Deno.NetAddr).port));
  assert.equal(ports.size, N, "each from its own source port");
  {
    using over = await command(server.port, { op: "list" });
    const reply = await over.reply();
    assert.equal(reply.code === "cancel" && reply.reason, "busy");
    assert.match(reply.code === "cancel" ? reply.message : "", /from your address/);
  }
  const other = await new Promise<string>((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port: server.port, localAddress: "127.0.0.2" });
    let answer = "";
    socket.on("data", (chunk) => answer += chunk.toString());
    socket.on("error", reject);
    socket.on("close", () => resolve(answer));
    socket.on("connect", () => socket.write(encodeCommand({ op: "list" })));
  });
  assert.match(other, /"code":"pass"/, "another address is served");
  for (const h of holders) h[Symbol.dispose]();
});
