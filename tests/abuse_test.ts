// Hostile clients: connections that never send a command, trickle it, or
// trickle an upload; a flood beyond the process's descriptors; and a
// shutdown that waits only for real transfers. The attackers are fakes that
// speak raw bytes; those "from another address" are bound to 127.0.0.2
// (node:net's localAddress; Deno.connect cannot choose its source).

import assert from "node:assert/strict";
import net from "node:net";
import { join } from "node:path";
import { get, list, Logger, put, type ServerEvent } from "../lib/mod.ts";
import { encodeCommand, encodeLine } from "../lib/protocol/ps2.ts";
import { addressKey } from "../lib/server/admission.ts";
import { namesIn, serveFolder, SERVER_TS, tempDir, until } from "./helpers.ts";

/** Rejects after `ms`, so that a test fails instead of hanging. */
function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done in ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Hostile connections: opened, fed as asked, and all destroyed at the end. */
class Attackers {
  readonly sockets: net.Socket[] = [];
  readonly closed: Promise<void>[] = [];
  #timers: ReturnType<typeof setInterval>[] = [];

  /**
   * Opens `count` connections from `from` (127.0.0.2 for another address).
   * `kind`: silent sends nothing; garbage sends half a command; trickle
   * sends a command a byte at a time, one every `everyMs`.
   */
  async open(
    port: number,
    count: number,
    kind: "silent" | "garbage" | "trickle",
    from = "127.0.0.2",
    everyMs = 1000,
  ): Promise<void> {
    const opened: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const socket = net.connect({ host: "127.0.0.1", port, localAddress: from });
      socket.on("error", () => {});
      socket.on("data", () => {});
      this.sockets.push(socket);
      this.closed.push(new Promise((resolve) => socket.on("close", () => resolve())));
      opened.push(
        new Promise((resolve, reject) => {
          socket.once("connect", () => resolve());
          socket.once("error", reject);
        }),
      );
      if (kind === "garbage") socket.write('PS/2 {"op":"li');
      if (kind === "trickle") {
        // A command long enough to trickle for minutes.
        const command = encodeCommand({ op: "put", name: "x".repeat(250), size: 1, resume: false });
        let at = 0;
        const timer = setInterval(() => {
          if (at < command.length - 1 && !socket.destroyed) {
            socket.write(command.subarray(at, ++at));
          }
        }, everyMs);
        this.#timers.push(timer);
      }
    }
    await Promise.all(opened);
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(this.closed);
  }
}

for (const from of ["127.0.0.2", "127.0.0.1"]) {
  Deno.test(`300 silent, garbage and trickling connections from ${from === "127.0.0.1" ? "the client's own" : "another"} address lock no client out`, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    await Deno.writeTextFile(join(served.path, "small.txt"), "hello");
    await using server = serveFolder(served.path);
    const attackers = new Attackers();
    try {
      await attackers.open(server.port, 100, "silent", from);
      await attackers.open(server.port, 100, "garbage", from);
      await attackers.open(server.port, 100, "trickle", from);
      const options = { host: "127.0.0.1", port: server.port, timeoutMs: 5000 };
      for (let i = 0; i < 5; i++) {
        const files = await deadline(list(options), 10_000, "list");
        assert.deepEqual(files.map((f) => f.name), ["small.txt"]);
        const got = await deadline(
          get("small.txt", { ...options, output: join(local.path, `copy-${i}`) }),
          10_000,
          "get",
        );
        assert.equal(got.size, 5);
      }
      // The client has its answer before the server's request-end: wait for all ten.
      const mine = (e: ServerEvent) => e.type === "request-end" && e.record.op !== "-";
      await until(() => server.events.filter(mine).length >= 10);
      const refused = server.events.filter((e) =>
        e.type === "request-end" && e.record.op !== "-" && e.record.outcome !== "ok"
      );
      assert.deepEqual(refused, [], "no request of the normal client was refused");
    } finally {
      await attackers.close();
    }
  });
}

Deno.test("a command trickled a byte at a time is cut at the command budget, however steady", async () => {
  await using served = await tempDir();
  await using server = serveFolder(served.path, { commandTimeoutMs: 1500 });
  const attackers = new Attackers();
  try {
    await attackers.open(server.port, 1, "trickle", "127.0.0.1", 200);
    await deadline(attackers.closed[0]!, 10_000, "the trickling connection's end");
    const end = server.events.find((e) => e.type === "request-end");
    assert.ok(end?.type === "request-end");
    assert.equal(end.record.outcome, "timeout");
    assert.match(end.record.message ?? "", /No complete command within 1\.5 s/);
  } finally {
    await attackers.close();
  }
});

/** An upload that sends its command, then its body a byte every `everyMs`. */
async function tricklePut(port: number, name: string, everyMs: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encodeCommand({ op: "put", name, size: 100 * 1024 * 1024, resume: false }));
  await conn.read(new Uint8Array(256));
  await conn.write(encodeLine({ offset: 0 }));
  let stop = false;
  const running = (async () => {
    try {
      while (!stop) {
        await conn.write(new Uint8Array(1));
        await new Promise((r) => setTimeout(r, everyMs));
      }
    } catch {
      // Closed by the server: what the test waits for.
    }
  })();
  return {
    async close() {
      stop = true;
      try {
        conn.close();
      } catch {
        // Closed already.
      }
      await running;
    },
  };
}

Deno.test("trickling uploads hold no buffers: small gets and puts go on, and the trickles are dropped at the rate floor", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  await Deno.writeTextFile(join(served.path, "five.txt"), "12345");
  // A pool of two chunks, so that two hogs would spend it.
  await using server = serveFolder(served.path, {
    bufferBytes: 8 * 1024 * 1024,
    dataTimeoutMs: 2000,
    minRate: 1024,
  });
  const hogs = await Promise.all(
    [1, 2, 3, 4].map((i) => tricklePut(server.port, `hog-${i}.bin`, 300)),
  );
  try {
    const options = { host: "127.0.0.1", port: server.port, timeoutMs: 5000 };
    await Deno.writeTextFile(join(local.path, "up.txt"), "small");
    const sent = await deadline(put(join(local.path, "up.txt"), options), 10_000, "put");
    assert.equal(sent.size, 5);
    const got = await deadline(
      get("five.txt", { ...options, output: join(local.path, "five.txt") }),
      10_000,
      "get",
    );
    assert.equal(got.size, 5);
    // A byte every 300 ms keeps a no-progress deadline of 2 s alive forever;
    // the rate floor (1 KiB a second over 2 s) does not.
    await until(
      () =>
        server.events.filter((e) =>
          e.type === "request-end" && e.record.name?.startsWith("hog-") === true
        ).length === 4,
      15_000,
    );
    for (const e of server.events) {
      if (e.type !== "request-end" || !e.record.name?.startsWith("hog-")) continue;
      assert.equal(e.record.outcome, "timeout");
      assert.match(e.record.message ?? "", /moved less than 2048 bytes in 2 s/);
    }
  } finally {
    for (const hog of hogs) await hog.close();
  }
});

Deno.test("on stop, connections without a command are closed at once and delay nothing", async () => {
  await using served = await tempDir();
  const { server, events } = serveFolder(served.path);
  const attackers = new Attackers();
  try {
    await attackers.open(server.addr.port, 2, "silent", "127.0.0.1");
    await attackers.open(server.addr.port, 2, "trickle", "127.0.0.1", 100);
    await until(() => server.activeConnections === 4);
    // The grace is for transfers in flight; there are none.
    await deadline(server.close(30_000), 5000, "close");
    await deadline(Promise.all(attackers.closed), 5000, "the connections' ends");
    const stopping = events.find((e) => e.type === "stopping");
    assert.ok(stopping?.type === "stopping");
    assert.equal(stopping.active, 0, "connections without a command are no transfers in flight");
  } finally {
    await attackers.close();
    await server.close();
  }
});

Deno.test("a connection opened before the stop cannot start an upload after it", async () => {
  await using served = await tempDir();
  const { server } = serveFolder(served.path);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  try {
    await until(() => server.activeConnections === 1);
    const closing = server.close(5000);
    await conn.write(encodeCommand({ op: "put", name: "late.txt", size: 5, resume: false }))
      .catch(() => {});
    const answer = await deadline(
      conn.read(new Uint8Array(256)).catch(() => null),
      5000,
      "the answer",
    );
    assert.equal(answer, null, "closed without a pass");
    await deadline(closing, 10_000, "close");
    assert.deepEqual(namesIn(served.path), [], "nothing was created");
  } finally {
    conn.close();
  }
});

Deno.test("a request stuck in the file system does not keep the server from stopping", async () => {
  // Fault injection: Deno.link never returns, as a commit on a hung network
  // mount would; such a mount cannot be made here on demand.
  const original = Deno.link;
  Deno.link = () => new Promise<void>(() => {});
  try {
    await using served = await tempDir();
    await using local = await tempDir();
    const events: ServerEvent[] = [];
    const { server } = serveFolder(served.path, { onEvent: (e) => events.push(e) });
    await Deno.writeTextFile(join(local.path, "stuck.txt"), "stuck");
    const putting = put(join(local.path, "stuck.txt"), {
      host: "127.0.0.1",
      port: server.addr.port,
      timeoutMs: 20_000,
    }).catch((error) => error);
    await until(() => events.some((e) => e.type === "request-start"));
    await until(() => namesIn(served.path).some((n) => n.startsWith(".privateshare-")));
    await new Promise((r) => setTimeout(r, 300));
    await deadline(server.close(500), 10_000, "close with a request stuck");
    const stopped = events.find((e) => e.type === "stopped");
    assert.ok(stopped?.type === "stopped");
    assert.equal(stopped.stuck, 1);
    assert.ok((await putting) instanceof Error, "the stuck put failed");
  } finally {
    Deno.link = original;
  }
});

Deno.test("out of descriptors, a normal client is still served, and the flood is logged once, not per failure", async () => {
  await using served = await tempDir();
  await Deno.writeTextFile(join(served.path, "a.txt"), "a");
  // A real descriptor limit: the server has 100, the attackers take 300.
  const child = new Deno.Command("prlimit", {
    args: [
      "--nofile=100:100",
      Deno.execPath(),
      "run",
      "--no-prompt",
      "--allow-net",
      "--allow-read",
      SERVER_TS,
      "0",
      "--host",
      "127.0.0.1",
      "--root",
      served.path,
      "--log-format",
      "json",
      "--idle-timeout",
      "0",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  const reading = (async () => {
    let text = "";
    for await (const chunk of child.stdout) {
      text += new TextDecoder().decode(chunk, { stream: true });
      let at;
      while ((at = text.indexOf("\n")) >= 0) {
        lines.push(JSON.parse(text.slice(0, at)));
        text = text.slice(at + 1);
      }
    }
  })();
  const attackers = new Attackers();
  try {
    await until(() => lines.some((l) => l.event === "listening"), 20_000);
    const port = lines.find((l) => l.event === "listening")!.port as number;
    await attackers.open(port, 300, "silent", "127.0.0.2");
    await until(() => lines.some((l) => l.event === "flood"), 10_000);
    for (let i = 0; i < 3; i++) {
      const files = await deadline(
        list({ host: "127.0.0.1", port, timeoutMs: 5000 }),
        10_000,
        "list",
      );
      assert.deepEqual(files.map((f) => f.name), ["a.txt"]);
    }
    const floods = lines.filter((l) => l.event === "flood");
    assert.ok(floods.length <= 2, `${floods.length} flood lines`);
    assert.ok(floods.some((l) => (l.acceptErrors as number) > 0), JSON.stringify(floods));
    assert.equal(lines.filter((l) => l.event === "accept-error").length, 0);
  } finally {
    await attackers.close();
    child.kill("SIGTERM");
    await child.status;
    await reading;
  }
});

Deno.test("the limits count an IPv4 address, or a whole IPv6 /64, as one address", () => {
  assert.equal(addressKey("203.0.113.7"), "203.0.113.7");
  assert.equal(addressKey("2001:db8:0:1:2:3:4:5"), "2001:db8:0:1::/64");
  assert.equal(addressKey("2001:db8:0:1::9"), addressKey("2001:DB8:0000:0001:ffff::1"));
  assert.notEqual(addressKey("2001:db8:0:1::9"), addressKey("2001:db8:0:2::9"));
  assert.equal(addressKey("::1"), "0:0:0:0::/64");
});

Deno.test("a flood of connections that end without a command is counted in one log line, not logged one by one", async () => {
  await using served = await tempDir();
  const lines: Record<string, unknown>[] = [];
  const logger = new Logger("json", (line) => lines.push(JSON.parse(line)));
  await using server = serveFolder(served.path, { onEvent: (e) => logger.handle(e) });
  for (let i = 0; i < 200; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    conn.close();
  }
  await until(() => server.events.filter((e) => e.type === "request-end").length === 200);
  await until(() => lines.some((l) => l.event === "flood"), 5000);
  const requests = lines.filter((l) => l.event === "request").length;
  assert.ok(requests <= 25, `${requests} request lines for 200 connections without a command`);
  const flood = lines.find((l) => l.event === "flood")!;
  assert.equal(requests + (flood.withoutCommand as number), 200, JSON.stringify(flood));
});
