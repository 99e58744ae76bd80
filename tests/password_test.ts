// The password: compared in constant time, refused the same way whatever
// the command asked, only ever inside TLS, never for classic requests, and
// guessing slowed per address while other addresses are served.

import assert from "node:assert/strict";
import { join } from "node:path";
import { type Command, encodeCommand } from "../lib/protocol/ps2.ts";
import { list, type ServerEvent, startServer } from "../lib/mod.ts";
import { passwordMatches } from "../lib/exchange/auth.ts";
import { addressKey } from "../lib/server/admission.ts";
import { namesIn, runClient, runServer, startTestServer, tempDir } from "./helpers.ts";
import {
  makeCertificate,
  rawTls,
  startRecorder,
  testEnv,
  withDeadline,
} from "./security_helpers.ts";

Deno.test("passwordMatches compares whole passwords, and a missing one never matches", () => {
  assert.ok(passwordMatches("sesame", "sesame"));
  assert.ok(!passwordMatches("sesam", "sesame"));
  assert.ok(!passwordMatches("sesame ", "sesame"));
  assert.ok(!passwordMatches("", "sesame"));
  assert.ok(!passwordMatches(undefined, "sesame"));
  assert.ok(passwordMatches("pässwörd 密码", "pässwörd 密码"));
});

Deno.test("failures are counted per IPv4 address and per IPv6 /64 network", () => {
  assert.equal(addressKey("192.0.2.7"), "192.0.2.7");
  assert.equal(addressKey("::ffff:192.0.2.7"), "192.0.2.7");
  assert.equal(addressKey("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  assert.equal(addressKey("2001:db8:1:2::9"), "2001:db8:1:2::/64");
  assert.equal(addressKey("2001:db8::1"), "2001:db8:0:0::/64");
  assert.equal(addressKey("::1"), "0:0:0:0::/64");
});

const ps2 = (command: Command) => new TextDecoder().decode(encodeCommand(command));

/** A TLS server with a password, as the CLI runs it. */
async function passwordServer(root: string, dir: string, extra: string[] = []) {
  const cert = await makeCertificate(dir);
  const passwordFile = join(dir, "password");
  await Deno.writeTextFile(passwordFile, "sesame\n");
  const server = await startTestServer({
    root,
    args: [
      "--cert",
      cert.certFile,
      "--key",
      cert.keyFile,
      "--password-file",
      passwordFile,
      ...extra,
    ],
  });
  return { cert, server, passwordFile };
}

Deno.test(
  "a wrong or missing password is refused (exit 3) for put, get and list, and nothing is written",
  withDeadline(120_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    const { cert, server } = await passwordServer(served.path, local.path);
    try {
      await Deno.writeTextFile(join(served.path, "secret.txt"), "top secret");
      await Deno.writeTextFile(join(local.path, "up.txt"), "upload");
      const wrongFile = join(local.path, "wrong");
      await Deno.writeTextFile(wrongFile, "open sesame");
      const down = join(local.path, "down");
      await Deno.mkdir(down);
      const port = String(server.port);
      const trust = ["--ca", cert.certFile];
      const cases = [
        { password: ["--password-file", wrongFile], says: /The server refused: Wrong password/ },
        {
          password: [],
          says: /needs a password: set PRIVATESHARE_PASSWORD or give --password-file/,
        },
      ];
      for (const { password, says } of cases) {
        for (
          const [op, cwd] of [[["put", "up.txt"], local.path], [["get", "secret.txt"], down], [[
            "list",
          ], down]] as const
        ) {
          const run = await runClient(["127.0.0.1", port, ...op, ...trust, ...password], { cwd });
          assert.equal(run.code, 3, `${op[0]}: ${run.stderr}`);
          assert.match(run.stderr, says);
          assert.ok(!run.stdout.includes("secret"), "the listing is not shown");
        }
      }
      assert.deepEqual(namesIn(served.path), ["secret.txt"], "nothing was uploaded");
      assert.deepEqual(namesIn(down), [], "nothing was downloaded, no partial file");
      // A client exits as soon as it reads its refusal, before the server has
      // logged it: wait for the sixth refusal's line, then check the count.
      const refused = (l: Record<string, unknown>) => l.reason === "unauthorized";
      await server.waitFor(() => server.lines.filter(refused).length >= 6);
      const refusals = server.lines.filter(refused);
      assert.equal(refusals.length, 6, JSON.stringify(server.lines));
      const logged = server.lines.filter((l) => l.event === "auth-failed");
      assert.deepEqual(logged.map((l) => l.failures), [1, 2, 3], "each wrong password is logged");
      assert.ok(logged.every((l) => l.address === "127.0.0.1"));
      // The right password works, from the environment too.
      const good = await runClient(["127.0.0.1", port, "get", "secret.txt", ...trust], {
        cwd: down,
        perms: ["--allow-net", "--allow-read", "--allow-write", "--allow-env"],
        env: testEnv(local.path, { PRIVATESHARE_PASSWORD: "sesame" }),
      });
      assert.equal(good.code, 0, good.stderr);
      assert.equal(await Deno.readTextFile(join(down, "secret.txt")), "top secret");
    } finally {
      await server.stop();
    }
  }),
);

Deno.test(
  "a refusal for the password is the same whether or not the file exists, and names nothing",
  withDeadline(60_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    const cert = await makeCertificate(local.path);
    await Deno.writeTextFile(join(served.path, "there.txt"), "x");
    await using server = startServer({
      root: served.path,
      port: 0,
      host: "127.0.0.1",
      idleTimeoutMs: 0,
      tls: { cert: cert.cert, key: cert.key },
      password: "sesame",
      authLimits: { delayMs: 1 },
    });
    const port = server.addr.port;
    const answers = [];
    for (const name of ["there.txt", "missing.txt"]) {
      for (const password of [undefined, "guess"]) {
        const command: Command = { op: "get", name, offset: 0 };
        const answer = await rawTls(
          port,
          cert.cert,
          ps2({ ...command, ...password ? { password } : {} }),
        );
        assert.ok(!answer.includes(name), answer);
        answers.push(JSON.parse(answer));
      }
    }
    assert.deepEqual(answers[0], answers[2], "no password: the same answer for both names");
    assert.deepEqual(answers[1], answers[3], "a wrong password: the same answer for both names");
    for (const answer of answers) assert.equal(answer.reason, "unauthorized");
    assert.deepEqual(namesIn(served.path), ["there.txt"]);
  }),
);

Deno.test(
  "a client never sends a password without TLS (exit 2, no connection made), and a server given " +
    "one without TLS refuses to start (exit 2)",
  withDeadline(60_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    const passwordFile = join(local.path, "password");
    await Deno.writeTextFile(passwordFile, "sesame");
    const server = await startTestServer({ root: served.path });
    // Records every byte: the refusal must come before any connection.
    await using recorder = startRecorder(server.port);
    try {
      await Deno.writeTextFile(join(local.path, "a.txt"), "hello");
      for (const op of [["put", "a.txt"], ["list"]]) {
        const run = await runClient(
          ["127.0.0.1", String(recorder.port), ...op, "--password-file", passwordFile],
          { cwd: local.path },
        );
        assert.equal(run.code, 2, run.stderr);
        assert.match(run.stderr, /password is only ever sent inside TLS.*add --tls/);
      }
      const fromEnv = await runClient(["127.0.0.1", String(recorder.port), "list"], {
        perms: ["--allow-net", "--allow-env"],
        env: testEnv(local.path, { PRIVATESHARE_PASSWORD: "sesame" }),
      });
      assert.equal(fromEnv.code, 2, fromEnv.stderr);
      assert.equal(recorder.connections, 0, "no connection was made");
      assert.deepEqual(namesIn(served.path), []);
    } finally {
      await server.stop();
    }
    for (const start of [["--password-file", passwordFile], []]) {
      const run = await runServer(
        ["0", "--root", served.path, ...start],
        ["--allow-net", "--allow-read", "--allow-env"],
        testEnv(local.path, start.length ? {} : { PRIVATESHARE_PASSWORD: "sesame" }),
      );
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /A password needs TLS .*: add --tls/);
      assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
    }
  }),
);

Deno.test(
  "a server with a password refuses classic requests, which cannot carry one",
  withDeadline(60_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    const { cert, server, passwordFile } = await passwordServer(served.path, local.path);
    try {
      await Deno.writeTextFile(join(served.path, "a.txt"), "hello");
      assert.equal(await rawTls(server.port, cert.cert, "list"), "cancel");
      assert.equal(await rawTls(server.port, cert.cert, "get,a.txt"), "cancel");
      const line = await server.waitFor((l) => l.protocol === "classic" && l.op === "get");
      assert.equal(line.reason, "unauthorized");
      // privateshare's own client speaking classic over TLS is refused too.
      const down = join(local.path, "down");
      await Deno.mkdir(down);
      const run = await runClient(
        [
          "127.0.0.1",
          String(server.port),
          "get",
          "a.txt",
          "--classic",
          "--ca",
          cert.certFile,
          "--password-file",
          passwordFile,
        ],
        { cwd: down },
      );
      assert.equal(run.code, 3, run.stderr);
      assert.deepEqual(namesIn(down), []);
    } finally {
      await server.stop();
    }
  }),
);

Deno.test(
  "repeated wrong passwords from one address are slowed and then banned, while another address " +
    "is served at once",
  withDeadline(120_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    const cert = await makeCertificate(local.path);
    await Deno.writeTextFile(join(served.path, "a.txt"), "hello");
    const events: ServerEvent[] = [];
    const DELAY = 6000;
    await using server = startServer({
      root: served.path,
      port: 0,
      host: "127.0.0.1",
      idleTimeoutMs: 0,
      commandTimeoutMs: 60_000,
      tls: { cert: cert.cert, key: cert.key },
      password: "sesame",
      authLimits: { delayMs: DELAY, maxDelayMs: DELAY, banAfter: 3, banMs: 600_000 },
      onEvent: (event) => events.push(event),
    });
    const port = server.addr.port;
    // The guesser connects from 127.0.0.2; the honest client from 127.0.0.1.
    const guess = (password: string) =>
      rawTls(port, cert.cert, ps2({ op: "list", password }), "127.0.0.2").then(JSON.parse);
    const honest = () =>
      list({ host: "127.0.0.1", port, tls: { ca: cert.cert }, password: "sesame" });

    const first = await guess("one");
    assert.equal(first.message, "Wrong password");
    const failedAt = performance.now();
    // The second guess waits out the delay; meanwhile the honest client is served.
    let answered = false;
    const second = guess("two").then((answer) => {
      answered = true;
      return answer;
    });
    for (let i = 0; i < 3; i++) {
      assert.deepEqual((await honest()).map((f) => f.name), ["a.txt"]);
    }
    assert.equal(answered, false, "the honest client was served while the guess waited");
    assert.equal((await second).message, "Wrong password");
    // A lower bound only: the server waits at least the delay after a failure.
    assert.ok(performance.now() - failedAt >= DELAY / 2, "the second guess was slowed");
    // The third failure in a row bans the address, even for the right password.
    await guess("three");
    const banned = await guess("sesame");
    assert.match(banned.message, /Too many wrong passwords from your address: try again in 10 min/);
    assert.deepEqual((await honest()).map((f) => f.name), ["a.txt"], "others still served");
    const failed = events.filter((e) => e.type === "auth-failed");
    assert.deepEqual(failed.map((e) => e.type === "auth-failed" && e.failures), [1, 2]);
    assert.ok(failed.every((e) => e.type === "auth-failed" && e.address === "127.0.0.2"));
    const bans = events.filter((e) => e.type === "auth-banned");
    assert.equal(bans.length, 1);
  }),
);
