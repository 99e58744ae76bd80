// The client against a hostile or failing server: fakes written here speak
// raw bytes (escape sequences in names and messages, a 64 KiB classic
// listing, answers that trickle, a stall mid-download, a connection dropped
// or reset while a get resumes, refusals of a resumed get). The client prints
// nothing raw, every read ends at its deadline, and a partial download
// survives every failure that does not prove its bytes wrong, then resumes
// byte for byte from the real server.
//
// Real faults: closed and reset TCP connections, a server that stops
// sending. No fault injection.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import net from "node:net";
import { join } from "node:path";
import { encodeClassicList } from "../lib/protocol/classic.ts";
import { sameBytes, serveFolder, tempDir, writeRandomFile } from "./helpers.ts";
import {
  fakeServer,
  line,
  linesOf,
  makePartial,
  partialOf,
  readCommand,
  readLine,
  recordOf,
  runCli,
  sha256Of,
  writeAll,
} from "./client_fakes.ts";

const MiB = 1024 * 1024;

// Escape, OSC title, CSI clear screen, BEL, a forged line, a C1 CSI, a
// right-to-left override, a backslash.
const HOSTILE_NAMES = [
  "\x1b]0;owned\x07title.txt",
  "clear\x1b[2J\x1b[H.txt",
  "fake.txt\n  1.00 KiB  2024-01-01 00:00  passwords.txt",
  "c1\u009b31mred.txt",
  "\u202etxt.exe",
  "back\\slash.txt",
];

/** No byte a terminal acts on, but the newlines that end lines. */
function assertInert(text: string, what: string): void {
  // deno-lint-ignore no-control-regex
  const raw = text.match(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
  assert.equal(raw, null, `${what} holds a raw control character: ${JSON.stringify(text)}`);
}

Deno.test("list shows names with escape sequences and newlines escaped, one line each; --json keeps them exact", async () => {
  await using server = fakeServer(async (conn) => {
    assert.deepEqual(await readCommand(conn), { op: "list", folders: true });
    let text = line({ code: "pass", count: HOSTILE_NAMES.length });
    for (const name of HOSTILE_NAMES) text += line({ name, size: 1024, mtime: 0 });
    await writeAll(conn, text);
  });
  const port = String(server.port);
  const table = await runCli(["127.0.0.1", port, "list"], { ms: 30_000 });
  assert.equal(table.code, 0, table.stderr);
  assertInert(table.stdout, "list");
  const rows = linesOf(table.stdout);
  assert.equal(rows.length, HOSTILE_NAMES.length, `one line per name: ${table.stdout}`);
  assert.ok(rows[0]!.endsWith("\\x1b]0;owned\\x07title.txt"), rows[0]);
  assert.ok(rows[2]!.endsWith("fake.txt\\n  1.00 KiB  2024-01-01 00:00  passwords.txt"), rows[2]);
  assert.ok(rows[4]!.endsWith("\\u{202e}txt.exe"), rows[4]);
  assert.ok(rows[5]!.endsWith("back\\\\slash.txt"), "a backslash is doubled: unambiguous");

  const json = await runCli(["127.0.0.1", port, "list", "--json"], { ms: 30_000 });
  assert.equal(json.code, 0, json.stderr);
  assertInert(json.stdout, "list --json");
  assert.deepEqual(
    JSON.parse(json.stdout).map((f: { name: string }) => f.name),
    HOSTILE_NAMES,
    "--json gives the exact names",
  );
});

Deno.test("list --classic shows names with escape sequences escaped; --json keeps them exact", async () => {
  await using server = fakeServer(async (conn) => {
    await conn.read(new Uint8Array(32));
    await writeAll(conn, encodeClassicList(HOSTILE_NAMES));
  });
  const port = String(server.port);
  const table = await runCli(["127.0.0.1", port, "list", "--classic"], { ms: 30_000 });
  assert.equal(table.code, 0, table.stderr);
  assertInert(table.stdout, "list --classic");
  assert.equal(linesOf(table.stdout).length, HOSTILE_NAMES.length, table.stdout);
  const json = await runCli(["127.0.0.1", port, "list", "--classic", "--json"], { ms: 30_000 });
  assert.deepEqual(JSON.parse(json.stdout).map((f: { name: string }) => f.name), HOSTILE_NAMES);
});

Deno.test("a server's refusal reaches the terminal escaped, on one line", async () => {
  await using local = await tempDir();
  await using server = fakeServer(async (conn) => {
    await readCommand(conn);
    await writeAll(
      conn,
      line({
        code: "cancel",
        reason: "busy",
        message: "\x1b[2J\x1b[Hall done\nprivateshare: get 'x' verified\u009b0m",
      }),
    );
  });
  const run = await runCli(["127.0.0.1", String(server.port), "get", "x.bin"], {
    cwd: local.path,
    ms: 30_000,
  });
  assert.equal(run.code, 3, run.stderr);
  assertInert(run.stderr, "stderr");
  assert.equal(linesOf(run.stderr).length, 1, run.stderr);
  assert.match(run.stderr, /\\x1b\[2J\\x1b\[Hall done\\nprivateshare: get 'x' verified\\x9b0m/);
});

Deno.test("a classic listing of 64 KiB is read whole", async () => {
  const names = Array.from({ length: 4100 }, (_, i) => `file-${String(i).padStart(5, "0")}.dat`);
  const bytes = encodeClassicList(names);
  assert.ok(bytes.length > 64 * 1024, `${bytes.length} bytes`);
  await using server = fakeServer(async (conn) => {
    await conn.read(new Uint8Array(32));
    await writeAll(conn, bytes);
  });
  const run = await runCli([
    "127.0.0.1",
    String(server.port),
    "list",
    "--classic",
    "--timeout",
    "10",
  ], {
    ms: 60_000,
  });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(linesOf(run.stdout), names);
});

/** A server that answers one byte of `text` at a time, every 100 ms, never finishing. */
function trickle(text: string, first?: (conn: Deno.Conn) => Promise<void>) {
  return fakeServer(async (conn) => {
    await first?.(conn);
    const bytes = new TextEncoder().encode(text);
    for (let i = 0;; i = (i + 1) % bytes.length) {
      await writeAll(conn, bytes.subarray(i, i + 1));
      await new Promise((r) => setTimeout(r, 100));
    }
  });
}

Deno.test("an answer that trickles in is cut at --timeout in all: a listing, a classic listing, a reply", async () => {
  await using local = await tempDir();
  await using listing = trickle(
    '{"name":"slow.txt","size":1,"mtime":0}\n',
    async (conn) => {
      await readCommand(conn);
      await writeAll(conn, line({ code: "pass", count: 100_000 }));
    },
  );
  await using classic = trickle("slow.txt, ", async (conn) => {
    await conn.read(new Uint8Array(32));
  });
  await using reply = trickle(" ".repeat(4000), async (conn) => void await readCommand(conn));
  const runs: [string, string[]][] = [
    ["listing", ["127.0.0.1", String(listing.port), "list"]],
    ["classic listing", ["127.0.0.1", String(classic.port), "list", "--classic"]],
    ["reply", ["127.0.0.1", String(reply.port), "get", "slow.txt"]],
  ];
  await Promise.all(runs.map(async ([what, args]) => {
    // Each server makes progress ten times a second, forever: only a budget for the whole
    // answer ends the client, which is killed (failing here) if it runs past 60 s.
    const run = await runCli([...args, "--timeout", "2"], { cwd: local.path, ms: 60_000 });
    assert.equal(run.signal, null, `${what}: the client had to be killed`);
    assert.equal(run.code, 4, `${what}: ${run.stderr}`);
    assert.match(linesOf(run.stderr)[0]!, /stopped responding/, what);
  }));
  assert.deepEqual([...Deno.readDirSync(local.path)], [], "the get left nothing behind");
});

Deno.test("an answer that is not privateshare's protocol at all suggests --classic, exit 7", async () => {
  await using local = await tempDir();
  for (const answer of ["HTTP/1.1 400 Bad Request\r\n\r\n", "SSH-2.0-OpenSSH_9.6\r\n", "pass"]) {
    await using server = fakeServer(async (conn) => {
      await readCommand(conn);
      await writeAll(conn, answer);
    });
    const run = await runCli(["127.0.0.1", String(server.port), "get", "a.txt"], {
      cwd: local.path,
      ms: 30_000,
    });
    assert.equal(run.code, 7, `${JSON.stringify(answer)}: ${run.stderr}`);
    assert.equal(linesOf(run.stderr).length, 1, run.stderr);
    assert.match(run.stderr, /did not answer in the privateshare protocol: .*add --classic/);
  }
  assert.deepEqual([...Deno.readDirSync(local.path)], []);
});

/** A served folder holding `big.bin`, a download folder, and a server of the library. */
async function withFile(
  size: number,
  body: (paths: { served: string; local: string; port: number }) => Promise<void>,
): Promise<void> {
  await using served = await tempDir();
  await using local = await tempDir();
  await writeRandomFile(join(served.path, "big.bin"), size, 7);
  await using real = serveFolder(served.path);
  await body({ served: served.path, local: local.path, port: real.port });
}

/** Runs the real get again, from the real server, and checks it resumes to the same bytes. */
async function resumesWhole(paths: { served: string; local: string; port: number }) {
  const run = await runCli(["127.0.0.1", String(paths.port), "get", "big.bin"], {
    cwd: paths.local,
    ms: 60_000,
  });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /resumed at/);
  assert.ok(await sameBytes(join(paths.served, "big.bin"), join(paths.local, "big.bin")));
  assert.deepEqual([...Deno.readDirSync(paths.local)].map((e) => e.name), ["big.bin"]);
}

Deno.test("a get that stalls mid-download ends at --timeout, keeps every byte received, and resumes", async () => {
  await withFile(6 * MiB + 123, async (paths) => {
    const sent = MiB + 77; // not a whole chunk
    const source = await Deno.readFile(join(paths.served, "big.bin"));
    let release = () => {};
    const stalled = new Promise<void>((r) => release = r);
    await using staller = fakeServer(async (conn) => {
      await readCommand(conn);
      await writeAll(conn, line({ code: "pass", size: source.length, offset: 0 }));
      await writeAll(conn, source.subarray(0, sent));
      await stalled;
    });
    const run = await runCli([
      "127.0.0.1",
      String(staller.port),
      "get",
      "big.bin",
      "--timeout",
      "1",
    ], {
      cwd: paths.local,
      ms: 60_000,
    });
    release();
    assert.equal(run.code, 4, run.stderr);
    assert.match(run.stderr, /stopped responding: run the same command again to resume/);
    const partial = partialOf(paths.local, "big.bin");
    assert.equal(Deno.statSync(partial).size, sent, "every byte that arrived was written");
    assert.equal(await sha256Of(partial), await sha256Of(join(paths.served, "big.bin"), sent));
    await resumesWhole(paths);
  });
});

Deno.test("a resumed get refused as busy, timeout, internal, not-found or bad-request keeps its partial download", async () => {
  await withFile(12 * MiB, async (paths) => {
    const have = await makePartial(paths.port, "big.bin", paths.local, 5 * MiB);
    const partial = partialOf(paths.local, "big.bin");
    const before = await sha256Of(partial);
    for (const reason of ["busy", "timeout", "internal", "not-found", "bad-request"]) {
      await using refuser = fakeServer(async (conn) => {
        const command = await readCommand(conn);
        assert.equal(command.offset, have, "the get offers its partial download");
        await writeAll(conn, line({ code: "cancel", reason, message: `Refused: ${reason}` }));
      });
      const run = await runCli(["127.0.0.1", String(refuser.port), "get", "big.bin"], {
        cwd: paths.local,
        ms: 30_000,
      });
      assert.equal(run.code, 3, `${reason}: ${run.stderr}`);
      assert.equal(await sha256Of(partial), before, `${reason}: the partial is untouched`);
      assert.ok(Deno.statSync(recordOf(paths.local, "big.bin")).isFile, "its record too");
    }
    await resumesWhole(paths);
  });
});

/** Ways a connection ends while a get resumes. */
const DROPS: [string, (conn: Deno.Conn) => Promise<void>][] = [
  ["closed after the command", async (conn) => void await readCommand(conn)],
  ["closed before the command was read", () => Promise.resolve()],
  ["cut after the pass", async (conn) => {
    const command = await readCommand(conn);
    await writeAll(conn, line({ code: "pass", size: 12 * MiB, offset: command.offset }));
  }],
];

Deno.test("a connection dropped or reset while a get resumes keeps the partial and never blames the protocol", async () => {
  await withFile(12 * MiB, async (paths) => {
    await makePartial(paths.port, "big.bin", paths.local, 5 * MiB);
    const partial = partialOf(paths.local, "big.bin");
    const before = await sha256Of(partial);
    const check = async (how: string, port: number) => {
      const run = await runCli(["127.0.0.1", String(port), "get", "big.bin"], {
        cwd: paths.local,
        ms: 30_000,
      });
      assert.equal(run.code, 4, `${how}: ${run.stderr}`);
      assert.equal(linesOf(run.stderr).length, 1, run.stderr);
      assert.match(run.stderr, /run the same command again to resume/, how);
      assert.doesNotMatch(run.stderr, /classic|protocol/, how);
      assert.equal(await sha256Of(partial), before, `${how}: the partial is untouched`);
    };
    for (const [how, serve] of DROPS) {
      await using dropper = fakeServer(serve);
      await check(how, dropper.port);
    }
    // A reset (RST) rather than a close: node's socket can abort with SO_LINGER 0.
    const resetter = net.createServer((socket) => {
      socket.on("error", () => {});
      socket.once("data", () => socket.resetAndDestroy());
    });
    await new Promise<void>((r) => resetter.listen(0, "127.0.0.1", r));
    try {
      await check("reset after the command", (resetter.address() as net.AddressInfo).port);
    } finally {
      await new Promise((r) => resetter.close(r));
    }
    await resumesWhole(paths);
  });
});

Deno.test("get hashes its partial download before it connects", async () => {
  await withFile(12 * MiB, async (paths) => {
    const have = await makePartial(paths.port, "big.bin", paths.local, 5 * MiB);
    const partial = partialOf(paths.local, "big.bin");
    const expected = await sha256Of(partial);
    let offered: Record<string, unknown> | undefined;
    await using server = fakeServer(async (conn) => {
      // Once connected, the partial's bytes change (a stand-in for a server that cannot wait):
      // a client that hashed before connecting offers the bytes it had, and never reads these.
      using file = await Deno.open(partial, { write: true });
      await file.write(new Uint8Array(have));
      offered = await readCommand(conn);
      await writeAll(conn, line({ code: "cancel", reason: "busy", message: "Try again" }));
    });
    const run = await runCli(["127.0.0.1", String(server.port), "get", "big.bin"], {
      cwd: paths.local,
      ms: 30_000,
    });
    assert.equal(run.code, 3, run.stderr);
    assert.equal(offered?.offset, have);
    assert.equal(offered?.prefixSha256, expected, "the SHA-256 was taken before connecting");
    assert.notEqual(expected, createHash("sha256").update(new Uint8Array(have)).digest("hex"));
  });
});

Deno.test("a put resumed from a long prefix hashes it with no server waiting, then offers it again", async () => {
  await using local = await tempDir();
  // A sparse file: 300 MiB of zeros that cost no disk, longer than a put hashes while connected.
  const size = 300 * MiB;
  const offset = 280 * MiB;
  const path = join(local.path, "big.bin");
  using file = await Deno.open(path, { write: true, create: true });
  await file.truncate(size);
  const zeros = new Uint8Array(MiB);
  const hash = createHash("sha256");
  for (let i = 0; i < offset / MiB; i++) hash.update(zeros);
  const prefixSha256 = hash.copy().digest("hex");
  for (let i = offset / MiB; i < size / MiB; i++) hash.update(zeros);
  const whole = hash.digest("hex");
  const seen: string[] = [];
  await using server = fakeServer(async (conn) => {
    const command = await readCommand(conn);
    assert.deepEqual(command, { op: "put", name: "big.bin", size, resume: true });
    await writeAll(conn, line({ code: "pass", offset, prefixSha256 }));
    const start = await readLine(conn);
    seen.push(start === null ? "closed before its start line" : start);
    if (start === null) return;
    const body = new Uint8Array(MiB);
    for (let left = size - offset; left > 0;) {
      const n = await conn.read(body.subarray(0, Math.min(body.length, left)));
      if (n === null) throw new Error("The body ended early");
      left -= n;
    }
    const trailer = JSON.parse((await readLine(conn))!);
    seen.push(`trailer ${trailer.sha256 === whole ? "matches" : "differs"}`);
    await writeAll(conn, line({ code: "done", sha256: trailer.sha256 }));
  });
  const run = await runCli(["127.0.0.1", String(server.port), "put", "big.bin"], {
    cwd: local.path,
    ms: 60_000,
  });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /resumed at 280 MiB/);
  assert.deepEqual(seen, [
    "closed before its start line",
    JSON.stringify({ offset }),
    "trailer matches",
  ]);
});

Deno.test("a partial download of a name in any script resumes", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  const name = "中文 文件 🍎 é.bin";
  await writeRandomFile(join(served.path, name), 12 * MiB, 9);
  await using real = serveFolder(served.path);
  await makePartial(real.port, name, local.path, 5 * MiB);
  const run = await runCli(["127.0.0.1", String(real.port), "get", name], {
    cwd: local.path,
    ms: 60_000,
  });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /resumed at/);
  assert.ok(await sameBytes(join(served.path, name), join(local.path, name)));
  assert.deepEqual([...Deno.readDirSync(local.path)].map((e) => e.name), [name]);
});
