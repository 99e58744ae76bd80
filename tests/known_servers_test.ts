// Known servers: a server trusted once (by certificate or fingerprint) is
// remembered, later runs need no flag and speak TLS, and a changed
// certificate is refused loudly, naming both fingerprints. Also the
// password prompt at a terminal.

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  findKnownServer,
  forgetServer,
  lookupKnownServer,
  rememberServer,
  serverKey,
} from "../lib/client/known_servers.ts";
import { CLIENT_TS, namesIn, runClient, startTestServer, tempDir } from "./helpers.ts";
import { makeCertificate, testEnv, withDeadline } from "./security_helpers.ts";

const FP_A = "AA:".repeat(31) + "AA";
const FP_B = "BB:".repeat(31) + "BB";
const CLIENT_PERMS = ["--allow-net", "--allow-read", "--allow-write", "--allow-env"];

Deno.test("the known-servers file remembers, replaces and forgets servers by address", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "sub", "known_servers");
  assert.equal(await lookupKnownServer(file, "localhost", 365), undefined, "no file yet");
  await rememberServer(file, "LocalHost", 365, FP_A.toLowerCase());
  await rememberServer(file, "::1", 365, FP_B);
  await rememberServer(file, "localhost", 366, FP_B);
  assert.equal(await lookupKnownServer(file, "localhost", 365), FP_A);
  assert.equal(await lookupKnownServer(file, "[::1]", 365), FP_B);
  assert.equal(await lookupKnownServer(file, "localhost", 367), undefined);
  await rememberServer(file, "localhost", 365, FP_B);
  assert.equal(await lookupKnownServer(file, "localhost", 365), FP_B);
  const text = await Deno.readTextFile(file);
  assert.match(text, /^# privateshare known servers/);
  assert.equal(text.split("\n").filter((l) => l.startsWith("localhost:365 ")).length, 1);
  assert.ok(text.includes(`[::1]:365 ${FP_B}`));
  assert.equal(serverKey("::1", 365), "[::1]:365");
  assert.ok(await forgetServer(file, "localhost", 365));
  assert.equal(await lookupKnownServer(file, "localhost", 365), undefined);
  assert.equal(await lookupKnownServer(file, "localhost", 366), FP_B);
  assert.deepEqual(namesIn(join(dir.path, "sub")), ["known_servers"], "no temporary left");
});

Deno.test(
  "a server trusted once by fingerprint is remembered: later runs need no flag, and a changed " +
    "certificate is refused naming both fingerprints (exit 8), nothing sent",
  withDeadline(120_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    const cert = await makeCertificate(local.path);
    const server = await startTestServer({
      root: served.path,
      args: ["--cert", cert.certFile, "--key", cert.keyFile],
    });
    try {
      const env = testEnv(local.path);
      const file = join(local.path, "privateshare", "known_servers");
      const port = String(server.port);
      const client = (args: string[]) =>
        runClient(["localhost", port, ...args], { cwd: local.path, perms: CLIENT_PERMS, env });
      await Deno.writeTextFile(join(local.path, "a.txt"), "hello");

      const first = await client(["put", "a.txt", "--fingerprint", cert.fingerprint]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(
        first.stderr,
        /Remembered localhost:\d+ .* later runs need no --ca or --fingerprint/,
      );
      assert.equal(await lookupKnownServer(file, "localhost", server.port), cert.fingerprint);

      // The certificate itself is kept, as ssh keeps a host key.
      const line = (await Deno.readTextFile(file)).split("\n").find((l) =>
        l.startsWith(`localhost:${port} `)
      )!;
      assert.equal(line.split(" ").length, 3, line);
      assert.equal(
        (await findKnownServer(file, "localhost", server.port))?.certificate !== undefined,
        true,
      );

      const later = await client(["list"]);
      assert.equal(later.code, 0, later.stderr);
      assert.match(later.stdout, /a\.txt/);
      assert.equal(later.stderr, "", "nothing more to say");

      // The server's certificate "changes": the file now remembers another
      // one, with the certificate itself, and then with its fingerprint only.
      const stranger = await makeCertificate(local.path, ["localhost"], "stranger-");
      await rememberServer(file, "localhost", server.port, stranger.fingerprint, stranger.cert);
      const swapped = await client(["list"]);
      assert.equal(swapped.code, 8, swapped.stderr);
      assert.ok(swapped.stderr.includes(stranger.fingerprint), swapped.stderr);
      assert.ok(swapped.stderr.includes(cert.fingerprint), swapped.stderr);
      await rememberServer(file, "localhost", server.port, FP_A);
      const before = server.lines.length;
      await Deno.writeTextFile(join(local.path, "b.txt"), "more");
      const changed = await client(["put", "b.txt"]);
      assert.equal(changed.code, 8, changed.stderr);
      assert.match(changed.stderr, /has CHANGED since it was remembered/);
      assert.ok(changed.stderr.includes(FP_A), "names the remembered fingerprint");
      assert.ok(changed.stderr.includes(cert.fingerprint), "names the new fingerprint");
      assert.match(changed.stderr, /run again with --fingerprint NEW/);
      assert.deepEqual(namesIn(served.path), ["a.txt"], "nothing was sent");
      assert.ok(
        !server.lines.slice(before).some((l) => l.event === "request" && l.op !== "-"),
        "the server read no command",
      );

      // A server trusted through its own certificate (--ca) is remembered too.
      const byCa = await runClient(["127.0.0.1", port, "list", "--ca", cert.certFile], {
        perms: CLIENT_PERMS,
        env,
      });
      assert.equal(byCa.code, 0, byCa.stderr);
      assert.equal(await lookupKnownServer(file, "127.0.0.1", server.port), cert.fingerprint);

      // Trusting the new certificate explicitly replaces the remembered one.
      const trusted = await client(["list", "--fingerprint", cert.fingerprint]);
      assert.equal(trusted.code, 0, trusted.stderr);
      assert.ok(trusted.stderr.includes(`was ${FP_A}`), trusted.stderr);
      assert.equal(await lookupKnownServer(file, "localhost", server.port), cert.fingerprint);
    } finally {
      await server.stop();
    }
  }),
);

Deno.test(
  "a remembered server that no longer speaks TLS is refused (exit 7), naming the file",
  withDeadline(60_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    const server = await startTestServer({ root: served.path });
    try {
      const file = join(local.path, "known");
      await rememberServer(file, "127.0.0.1", server.port, FP_A);
      const run = await runClient(
        ["127.0.0.1", String(server.port), "list", "--known-servers", file],
      );
      assert.equal(run.code, 7, run.stderr);
      assert.match(run.stderr, /does not speak TLS, though '.*known' remembers it as a TLS server/);
      assert.match(run.stderr, /remove its line from/);
    } finally {
      await server.stop();
    }
  }),
);

Deno.test(
  "at a terminal the client asks for the password the server needs, without echoing it",
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
    const cert = await makeCertificate(local.path);
    const passwordFile = join(local.path, "password");
    await Deno.writeTextFile(passwordFile, "s3same\n");
    await Deno.writeTextFile(join(served.path, "a.txt"), "hello");
    const server = await startTestServer({
      root: served.path,
      args: ["--cert", cert.certFile, "--key", cert.keyFile, "--password-file", passwordFile],
    });
    try {
      const command = [
        Deno.execPath(),
        "run",
        "--no-prompt",
        "--allow-net",
        "--allow-read",
        CLIENT_TS,
        "127.0.0.1",
        String(server.port),
        "list",
        "--ca",
        cert.certFile,
      ].join(" ");
      // `script` runs the client on a pseudo-terminal, as a person would.
      const child = new Deno.Command("script", {
        args: ["-qec", command, "/dev/null"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = child.stdin.getWriter();
      let output = "";
      const reading = (async () => {
        for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
          output += chunk;
          if (output.includes("Password for 127.0.0.1:") && !output.includes("\u0000sent")) {
            output += "\u0000sent";
            await writer.write(new TextEncoder().encode("s3same\r"));
          }
        }
      })();
      const status = await child.status;
      await reading;
      await writer.close().catch(() => {});
      await child.stderr.cancel();
      assert.equal(status.code, 0, output);
      assert.match(output, /a\.txt/);
      assert.ok(!output.includes("s3same"), "the password was not echoed");
    } finally {
      await server.stop();
    }
  }),
);
