// The server's log never blocks or ends serving: a stalled reader costs
// dropped lines (counted, reported), a closed one stops the log only.

import assert from "node:assert/strict";
import { Logger } from "../lib/mod.ts";
import { encodeCommand } from "../lib/protocol/ps2.ts";
import { SERVER_TS, tempDir } from "./helpers.ts";

const decoder = new TextDecoder();

/** Rejects after `ms`, so that a test fails instead of hanging. */
function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** One PS/2 list over a raw connection; resolves with the bytes of the answer. */
async function rawList(port: number): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encodeCommand({ op: "list" }));
    const buffer = new Uint8Array(4096);
    let total = 0;
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) return total;
      total += n;
    }
  } finally {
    conn.close();
  }
}

/** Starts the server CLI with stdout piped, and reads its first line (the port). */
async function spawnServer(root: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--allow-net",
      "--allow-read",
      SERVER_TS,
      "0",
      "--host",
      "127.0.0.1",
      "--root",
      root,
      "--log-format",
      "json",
      "--idle-timeout",
      "0",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await deadline(reader.read(), 20_000, "the listening line");
    if (done) throw new Error("The server ended before it listened");
    text += decoder.decode(value, { stream: true });
  }
  const port = JSON.parse(text.slice(0, text.indexOf("\n"))).port as number;
  return { child, reader, port, rest: text.slice(text.indexOf("\n") + 1) };
}

Deno.test("the log drops what a stalled output cannot take, counts it, and reports it when the output flows again", async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => release = resolve);
  const written: string[] = [];
  const logger = new Logger("json", {
    queueBytes: 1000,
    output: {
      async write(p: Uint8Array) {
        await gate;
        written.push(decoder.decode(p));
        return p.length;
      },
    },
  });
  for (let i = 0; i < 100; i++) logger.event("test", `line ${i}`);
  const dropped = logger.dropped;
  assert.ok(dropped > 50, `only ${dropped} of 100 lines dropped with a 1000-byte queue`);
  release();
  assert.equal(await logger.flush(5000), true);
  const lines = written.join("").trim().split("\n").map((l) => JSON.parse(l));
  const report = lines.at(-1)!;
  assert.equal(report.event, "log-dropped");
  assert.equal(report.dropped, dropped);
  assert.equal(lines.length - 1 + dropped, 100, "every line is written or counted as dropped");
});

Deno.test("a server whose log reader stalls goes on serving", async () => {
  await using served = await tempDir();
  const { child, reader, port } = await spawnServer(served.path);
  try {
    // Nobody reads stdout from here on: its pipe fills after 64 KiB of log,
    // about 250 requests.
    for (let i = 0; i < 1500; i++) {
      await deadline(rawList(port), 10_000, `list ${i + 1} of 1500`);
    }
    // Reading again, the log catches up.
    let text = "";
    while (!text.includes('"op":"list"')) {
      const { value, done } = await deadline(reader.read(), 10_000, "the log");
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    assert.match(text, /"event":"request"/);
  } finally {
    child.kill("SIGKILL");
    await reader.cancel().catch(() => {});
    await child.stderr.cancel();
    await child.status;
  }
});

Deno.test("a server whose log output is closed goes on serving and exits 0 when stopped", async () => {
  await using served = await tempDir();
  await Deno.writeTextFile(`${served.path}/a.txt`, "a");
  const { child, reader, port } = await spawnServer(served.path);
  try {
    await reader.cancel();
    for (let i = 0; i < 20; i++) {
      assert.ok(await deadline(rawList(port), 10_000, `list ${i + 1}`) > 0);
    }
    child.kill("SIGTERM");
    const status = await deadline(child.status, 10_000, "exit after SIGTERM");
    assert.equal(status.code, 0);
    const stderr = await new Response(child.stderr).text();
    const said = stderr.split("\n").filter((l) => l.includes("the log's output failed"));
    assert.equal(said.length, 1, `stderr: ${stderr}`);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Exited already.
    }
    await child.stderr.cancel().catch(() => {});
    await child.status;
  }
});
