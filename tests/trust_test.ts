// Trust on first contact at the command line (issue 23): the client takes a
// server's link where HOST PORT go (pinning its fingerprint), `--code`, or a
// yes at a terminal, and refuses, before anything is sent, a certificate
// that is not the one the link, the code or the person named. Each as a
// user runs it, under README's client permissions.

import assert from "node:assert/strict";
import { join } from "node:path";
import { lookupKnownServer } from "../lib/client/known_servers.ts";
import { formatLink, shortCode } from "../lib/mod.ts";
import {
  CLIENT_RUN_PERMS,
  CLIENT_TS,
  namesIn,
  randomBytes,
  runClient,
  startTestServer,
  tempDir,
  type TestServer,
} from "./helpers.ts";
import {
  makeCertificate,
  type TestCertificate,
  testEnv,
  withDeadline,
} from "./security_helpers.ts";

/** A fingerprint one byte off: its last byte changed. */
function oneByteOff(fingerprint: string): string {
  const last = parseInt(fingerprint.slice(-2), 16);
  return fingerprint.slice(0, -2) + ((last + 1) % 256).toString(16).padStart(2, "0").toUpperCase();
}

/** A short code one character off: its last character changed to another digit. */
function oneCharacterOff(code: string): string {
  return code.slice(0, -1) + (code.endsWith("7") ? "8" : "7");
}

/** A TLS server on loopback with a certificate made for the test, serving `a.bin`. */
async function tlsServer(
  served: string,
  cert: TestCertificate,
  args: string[] = ["--host", "127.0.0.1"],
): Promise<TestServer> {
  return await startTestServer({
    root: served,
    args: ["--cert", cert.certFile, "--key", cert.keyFile, ...args],
  });
}

/** Whether the server logged a request that carried a command since line `from`. */
function commandsSince(server: TestServer, from: number): Record<string, unknown>[] {
  return server.lines.slice(from).filter((l) => l.event === "request" && l.op !== "-");
}

Deno.test(
  "a link gets a file byte for byte from a TLS server and remembers it; a link one byte off, " +
    "or another server's, is refused (exit 8) naming both fingerprints, nothing sent",
  withDeadline(120_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    await using config = await tempDir();
    const env = testEnv(config.path);
    const cert = await makeCertificate(local.path);
    const other = await makeCertificate(local.path, undefined, "other-");
    const content = randomBytes(300_000, 23);
    await Deno.writeFile(join(served.path, "a.bin"), content);
    const server = await tlsServer(served.path, cert);
    const stranger = await tlsServer(served.path, other);
    try {
      const printed = (await server.waitFor((l) => l.event === "link")).link as string;
      const port = String(server.port);
      const file = join(config.path, "privateshare", "known_servers");

      // One byte off: refused before anything is sent, both fingerprints named.
      const offLink = formatLink({
        host: "127.0.0.1",
        port: server.port,
        fingerprint: oneByteOff(cert.fingerprint),
      });
      const before = server.lines.length;
      const off = await runClient([offLink, "get", "a.bin"], { cwd: local.path, env });
      assert.equal(off.code, 8, off.stderr);
      assert.ok(off.stderr.includes(cert.fingerprint), "names the server's fingerprint");
      assert.ok(off.stderr.includes(oneByteOff(cert.fingerprint)), "names the link's");
      assert.match(off.stderr, /another server is answering in its place/);
      assert.ok(!namesIn(local.path).includes("a.bin"), "nothing written");
      assert.equal(await lookupKnownServer(file, "127.0.0.1", server.port), undefined);

      // Another server's link: its fingerprint is right, its port is another server's.
      const swapped = formatLink({
        host: "127.0.0.1",
        port: stranger.port,
        fingerprint: cert.fingerprint,
      });
      const wrong = await runClient([swapped, "get", "a.bin"], { cwd: local.path, env });
      assert.equal(wrong.code, 8, wrong.stderr);
      assert.ok(wrong.stderr.includes(other.fingerprint), "names the server's fingerprint");
      assert.ok(wrong.stderr.includes(cert.fingerprint), "names the link's");
      assert.ok(!namesIn(local.path).includes("a.bin"), "nothing written");

      // The link as printed: byte for byte, and remembered.
      const got = await runClient([printed, "get", "a.bin"], { cwd: local.path, env });
      assert.equal(got.code, 0, got.stderr);
      assert.deepEqual(await Deno.readFile(join(local.path, "a.bin")), content);
      assert.match(got.stderr, /Remembered 127\.0\.0\.1:\d+/);
      assert.equal(await lookupKnownServer(file, "127.0.0.1", server.port), cert.fingerprint);
      await server.waitFor((l) => l.event === "request" && l.op === "get");
      assert.deepEqual(
        commandsSince(server, before).map((l) => l.op),
        ["get"],
        "the refused runs sent no command",
      );

      // Plain HOST PORT, no --tls: pinned by what the link taught.
      const again = await runClient(["127.0.0.1", port, "get", "a.bin", "-o", "b.bin"], {
        cwd: local.path,
        env,
      });
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(await Deno.readFile(join(local.path, "b.bin")), content);
      const other2 = await runClient(["127.0.0.1", String(stranger.port), "list"], {
        cwd: local.path,
        env,
      });
      assert.notEqual(other2.code, 0, "the other port was never trusted");
    } finally {
      await server.stop();
      await stranger.stop();
    }
  }),
);

Deno.test(
  "a malformed link exits 2 with its one line; a link and --fingerprint or --code that " +
    "disagree exit 2; a plain link is HOST PORT",
  withDeadline(60_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    const cert = await makeCertificate(local.path);
    await Deno.writeTextFile(join(served.path, "a.txt"), "hello");
    const link = formatLink({ host: "127.0.0.1", port: 9, fingerprint: cert.fingerprint });
    const bad = await runClient([`${link.slice(0, -1)}B`, "list"]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /^privateshare: The link's fingerprint is not a SHA-256/);
    assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
    const noPort = await runClient(["privateshare://127.0.0.1/", "list"]);
    assert.equal(noPort.code, 2, noPort.stderr);
    assert.match(noPort.stderr, /names no port/);

    const differ = await runClient([link, "list", "--fingerprint", oneByteOff(cert.fingerprint)]);
    assert.equal(differ.code, 2, differ.stderr);
    assert.match(differ.stderr, /The link's fingerprint .* and --fingerprint .* differ/);
    const agree = await runClient([
      link,
      "list",
      "--fingerprint",
      cert.fingerprint,
      "--timeout",
      "5",
    ]);
    assert.notEqual(agree.code, 2, "agreeing values are taken");
    const stranger = await makeCertificate(local.path, undefined, "stranger-");
    const caDiffers = await runClient([link, "list", "--ca", stranger.certFile]);
    assert.equal(caDiffers.code, 2, caDiffers.stderr);
    assert.match(caDiffers.stderr, /and the certificate in --ca .* differ/);
    const caAgrees = await runClient([link, "list", "--ca", cert.certFile, "--timeout", "5"]);
    assert.notEqual(caAgrees.code, 2, caAgrees.stderr);
    const code = oneCharacterOff(shortCode(cert.fingerprint));
    const codeDiffers = await runClient([link, "list", "--code", code]);
    assert.equal(codeDiffers.code, 2, codeDiffers.stderr);
    assert.match(codeDiffers.stderr, /is not the code of the link's fingerprint/);

    const plain = await startTestServer({ root: served.path, args: ["--host", "127.0.0.1"] });
    try {
      const printed = (await plain.waitFor((l) => l.event === "link")).link as string;
      const listed = await runClient([printed, "list"]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /a\.txt/);
    } finally {
      await plain.stop();
    }
  }),
);

Deno.test(
  "--code with the server's code trusts and remembers it; one character off is refused " +
    "(exit 8) naming both codes; a malformed code exits 2; without a terminal, exit 8 " +
    "naming --code",
  withDeadline(90_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    await using config = await tempDir();
    const env = testEnv(config.path);
    const cert = await makeCertificate(local.path);
    await Deno.writeTextFile(join(served.path, "a.txt"), "hello");
    const server = await tlsServer(served.path, cert);
    try {
      const code = (await server.waitFor((l) => l.event === "code")).code as string;
      const port = String(server.port);
      const file = join(config.path, "privateshare", "known_servers");
      const before = server.lines.length;

      const untrusted = await runClient(["127.0.0.1", port, "list", "--tls"], { env });
      assert.equal(untrusted.code, 8, untrusted.stderr);
      assert.match(untrusted.stderr, /give --code with the code the server prints/);
      assert.match(untrusted.stderr, /--fingerprint/);
      assert.match(untrusted.stderr, /link/);
      assert.ok(!untrusted.stderr.includes(code), "the code seen is not offered to copy");

      const off = oneCharacterOff(code);
      const wrong = await runClient(["127.0.0.1", port, "list", "--code", off], { env });
      assert.equal(wrong.code, 8, wrong.stderr);
      assert.ok(wrong.stderr.includes(code), "names the server's code");
      assert.ok(wrong.stderr.includes(off), "names the code given");
      assert.match(wrong.stderr, /nothing was sent/);

      const malformed = await runClient(["127.0.0.1", port, "list", "--code", `${code}0`], {
        env,
      });
      assert.equal(malformed.code, 2, malformed.stderr);
      assert.match(malformed.stderr, /Invalid --code/);
      assert.equal(await lookupKnownServer(file, "127.0.0.1", server.port), undefined);

      // Typed as a person may: lower case, no dash.
      const right = await runClient(
        ["127.0.0.1", port, "list", "--code", code.replace("-", "").toLowerCase()],
        { env },
      );
      assert.equal(right.code, 0, right.stderr);
      assert.match(right.stdout, /a\.txt/);
      assert.equal(await lookupKnownServer(file, "127.0.0.1", server.port), cert.fingerprint);
      await server.waitFor((l) => l.event === "request" && l.op === "list");
      assert.deepEqual(commandsSince(server, before).map((l) => l.op), ["list"]);

      const later = await runClient(["127.0.0.1", port, "list"], { env });
      assert.equal(later.code, 0, later.stderr);
    } finally {
      await server.stop();
    }
  }),
);

/** Runs the client on a pseudo-terminal (util-linux `script`), answering its question. */
async function atTerminal(
  args: string[],
  env: Record<string, string>,
  answer: string,
  typedAhead?: string,
): Promise<{ code: number; output: string }> {
  const command = [
    Deno.execPath(),
    "run",
    "--no-prompt",
    ...CLIENT_RUN_PERMS,
    CLIENT_TS,
    ...args,
  ].map((word) => `'${word}'`).join(" ");
  const child = new Deno.Command("script", {
    args: ["-qec", command, "/dev/null"],
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  // Typed at once, before the client has asked anything: it waits in the terminal.
  if (typedAhead !== undefined) await writer.write(new TextEncoder().encode(typedAhead));
  let output = "";
  let answered = false;
  const reading = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      output += chunk;
      if (!answered && /Does the server show [0-9A-Z]{4}-[0-9A-Z]{4}\? \[y\/N\]/.test(output)) {
        answered = true;
        // Ctrl-C goes alone, as a person presses it: an Enter after it would race the signal.
        await writer.write(new TextEncoder().encode(answer === "\u0003" ? answer : `${answer}\r`));
      }
    }
  })();
  const status = await child.status;
  await reading;
  await writer.close().catch(() => {});
  await child.stderr.cancel();
  return { code: status.code, output };
}

Deno.test(
  "at a terminal the client shows the server's code and asks: y trusts and remembers it, " +
    "n refuses (exit 8) and Ctrl-C stops (130), nothing sent",
  withDeadline(90_000, async () => {
    const script = await new Deno.Command("script", { args: ["--version"] }).output().catch(
      () => undefined,
    );
    if (!script?.success) {
      console.log("skipped: no 'script' (util-linux) to give the client a terminal");
      return;
    }
    await using served = await tempDir();
    await using local = await tempDir();
    await using config = await tempDir();
    const env = testEnv(config.path);
    const cert = await makeCertificate(local.path);
    await Deno.writeTextFile(join(served.path, "a.txt"), "hello");
    const server = await tlsServer(served.path, cert);
    try {
      const code = (await server.waitFor((l) => l.event === "code")).code as string;
      const port = String(server.port);
      const file = join(config.path, "privateshare", "known_servers");
      const before = server.lines.length;

      const no = await atTerminal(["127.0.0.1", port, "list", "--tls"], env, "n");
      assert.equal(no.code, 8, no.output);
      assert.ok(no.output.includes(`Does the server show ${code}?`), no.output);
      assert.match(no.output, /was not trusted; nothing was sent/);
      assert.equal(await lookupKnownServer(file, "127.0.0.1", server.port), undefined);

      // A "y" typed before the question is not its answer: the "n" typed after it is.
      const ahead = await atTerminal(["127.0.0.1", port, "list", "--tls"], env, "n", "y\r");
      assert.equal(ahead.code, 8, ahead.output);
      assert.match(ahead.output, /What was typed before this question is not its answer/);
      assert.equal(await lookupKnownServer(file, "127.0.0.1", server.port), undefined);

      // Ctrl-C while asked stops, as anywhere else (130), with nothing sent.
      const interrupted = await atTerminal(["127.0.0.1", port, "list", "--tls"], env, "\u0003");
      assert.equal(interrupted.code, 130, interrupted.output);
      assert.match(interrupted.output, /Interrupted/);
      assert.equal(await lookupKnownServer(file, "127.0.0.1", server.port), undefined);

      const yes = await atTerminal(["127.0.0.1", port, "list", "--tls"], env, "y");
      assert.equal(yes.code, 0, yes.output);
      assert.match(yes.output, /a\.txt/);
      assert.equal(await lookupKnownServer(file, "127.0.0.1", server.port), cert.fingerprint);
      await server.waitFor((l) => l.event === "request" && l.op === "list");
      assert.deepEqual(
        commandsSince(server, before).map((l) => l.op),
        ["list"],
        "the answers n (typed ahead of y or not) and Ctrl-C sent no command",
      );

      // Remembered: no question the next time.
      const later = await runClient(["127.0.0.1", port, "list"], { env });
      assert.equal(later.code, 0, later.stderr);
    } finally {
      await server.stop();
    }
  }),
);

Deno.test(
  "a server that moved (another address, the certificate remembered) is trusted without asking " +
    "and remembered there too; another certificate at the new address is still refused (exit 8)",
  withDeadline(120_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    await using config = await tempDir();
    const env = testEnv(config.path);
    const cert = await makeCertificate(local.path);
    const other = await makeCertificate(local.path, undefined, "other-");
    await Deno.writeFile(join(served.path, "a.bin"), randomBytes(70_001, 3));
    const file = join(config.path, "privateshare", "known_servers");
    const before = await tlsServer(served.path, cert);
    try {
      const first = await runClient(
        ["127.0.0.1", String(before.port), "list", "--code", shortCode(cert.fingerprint)],
        { cwd: local.path, env },
      );
      assert.equal(first.code, 0, first.stderr);
    } finally {
      await before.stop();
    }
    // The same server at another port, as after a new address; no terminal, nothing given.
    const moved = await tlsServer(served.path, cert);
    try {
      const run = await runClient(["127.0.0.1", String(moved.port), "get", "a.bin", "--tls"], {
        cwd: local.path,
        env,
      });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(
        await Deno.readFile(join(local.path, "a.bin")),
        await Deno.readFile(join(served.path, "a.bin")),
      );
      assert.equal(await lookupKnownServer(file, "127.0.0.1", moved.port), cert.fingerprint);
    } finally {
      await moved.stop();
    }
    // Another certificate at yet another address: nothing remembers it, nobody to ask.
    const stranger = await tlsServer(served.path, other);
    try {
      const run = await runClient(["127.0.0.1", String(stranger.port), "list", "--tls"], {
        cwd: local.path,
        env,
      });
      assert.equal(run.code, 8, run.stderr);
      assert.match(run.stderr, /--code/);
      assert.equal(await lookupKnownServer(file, "127.0.0.1", stranger.port), undefined);
    } finally {
      await stranger.stop();
    }
  }),
);
