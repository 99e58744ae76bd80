// TLS through the real programs: the certificate the server makes with
// --tls, and each refusal a client meets (an untrusted certificate, a wrong
// fingerprint, a name the certificate lacks, plain against TLS and TLS
// against plain), with its exit code, and nothing written anywhere.

import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { namesIn, runClient, startTestServer, tempDir } from "./helpers.ts";
import { makeCertificate, testEnv, withDeadline } from "./security_helpers.ts";

const SERVER_PERMS = ["--allow-sys", "--allow-env"];

async function openssl(args: string[]): Promise<{ code: number; out: string }> {
  const output = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  return { code: output.code, out: text };
}

Deno.test(
  "--tls makes a certificate once in the per-user folder: key mode 600, names for localhost and " +
    "each --tls-name, the fingerprint openssl prints; the next start reuses it",
  withDeadline(90_000, async () => {
    await using served = await tempDir();
    await using config = await tempDir();
    const env = testEnv(config.path);
    const args = ["--tls", "--tls-name", "example.test", "--tls-name", "203.0.113.7"];
    const dir = join(config.path, "privateshare", "tls");
    let fingerprint: string;
    const first = await startTestServer({ root: served.path, args, perms: SERVER_PERMS, env });
    try {
      const line = await first.waitFor((l) => l.event === "tls");
      assert.equal(line.certFile, join(dir, "cert.pem"));
      assert.equal(line.created, true);
      fingerprint = line.fingerprint as string;
      assert.equal((await Deno.stat(join(dir, "key.pem"))).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
      const printed = await openssl([
        "x509",
        "-in",
        join(dir, "cert.pem"),
        "-noout",
        "-fingerprint",
        "-sha256",
      ]);
      assert.equal(printed.out.trim(), `sha256 Fingerprint=${fingerprint}`);
      const cert = new X509Certificate(await Deno.readTextFile(join(dir, "cert.pem")));
      assert.equal(cert.ca, false);
      for (const name of ["localhost", "example.test"]) {
        const check = await openssl([
          "x509",
          "-in",
          join(dir, "cert.pem"),
          "-noout",
          "-checkhost",
          name,
        ]);
        assert.match(check.out, /does match/, name);
      }
      const ip = await openssl([
        "x509",
        "-in",
        join(dir, "cert.pem"),
        "-noout",
        "-checkip",
        "203.0.113.7",
      ]);
      assert.match(ip.out, /does match/);
      const other = await openssl([
        "x509",
        "-in",
        join(dir, "cert.pem"),
        "-noout",
        "-checkhost",
        "other.example",
      ]);
      assert.match(other.out, /does NOT match/);
      // A client that holds only the certificate reaches the server by name.
      const run = await runClient(
        ["localhost", String(first.port), "list", "--ca", join(dir, "cert.pem")],
      );
      assert.equal(run.code, 0, run.stderr);
    } finally {
      await first.stop();
    }
    const second = await startTestServer({ root: served.path, args, perms: SERVER_PERMS, env });
    try {
      const line = await second.waitFor((l) => l.event === "tls");
      assert.equal(line.created, false);
      assert.equal(line.fingerprint, fingerprint);
    } finally {
      await second.stop();
    }
  }),
);

/** A TLS server with its own certificate, and a second certificate nobody serves. */
async function tlsServer(root: string, dir: string, extra: string[] = []) {
  const cert = await makeCertificate(dir, ["localhost", "127.0.0.1", "::1"]);
  const stranger = await makeCertificate(dir, ["localhost", "127.0.0.1"], "stranger-");
  const server = await startTestServer({
    root,
    args: ["--cert", cert.certFile, "--key", cert.keyFile, ...extra],
  });
  return { cert, stranger, server };
}

Deno.test(
  "a wrong --ca and a wrong --fingerprint are refused before anything is sent (exit 8), " +
    "nothing written",
  withDeadline(90_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    const { cert, stranger, server } = await tlsServer(served.path, local.path);
    try {
      await Deno.writeTextFile(join(local.path, "a.txt"), "hello");
      await Deno.writeTextFile(join(served.path, "b.txt"), "there");
      const port = String(server.port);
      const down = join(local.path, "down");
      await Deno.mkdir(down);
      for (
        const trust of [
          ["--ca", stranger.certFile],
          ["--fingerprint", stranger.fingerprint],
          ["--tls"],
        ]
      ) {
        const putRun = await runClient(["127.0.0.1", port, "put", "a.txt", ...trust], {
          cwd: local.path,
        });
        assert.equal(putRun.code, 8, putRun.stderr);
        assert.match(putRun.stderr, /nothing was sent/);
        const getRun = await runClient(["127.0.0.1", port, "get", "b.txt", ...trust], {
          cwd: down,
        });
        assert.equal(getRun.code, 8, getRun.stderr);
      }
      const wrong = await runClient([
        "127.0.0.1",
        port,
        "list",
        "--fingerprint",
        stranger.fingerprint,
      ]);
      assert.ok(wrong.stderr.includes(cert.fingerprint), "names the server's fingerprint");
      assert.ok(wrong.stderr.includes(stranger.fingerprint), "names the one expected");
      assert.match(wrong.stderr, /check the fingerprint with the server's owner/);
      assert.equal(wrong.stderr.trim().split("\n").length, 1, "one line");
      assert.deepEqual(namesIn(served.path), ["b.txt"], "nothing reached the server");
      assert.deepEqual(namesIn(down), [], "nothing was downloaded");
      assert.ok(
        !server.lines.some((l) => l.event === "request" && l.protocol !== "unknown"),
        "the server never read a command",
      );
    } finally {
      await server.stop();
    }
  }),
);

Deno.test(
  "a certificate that does not hold the name connected to is refused (exit 8), naming --tls-name",
  withDeadline(60_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    const cert = await makeCertificate(local.path, ["other.example"]);
    const server = await startTestServer({
      root: served.path,
      args: ["--cert", cert.certFile, "--key", cert.keyFile],
    });
    try {
      const run = await runClient([
        "127.0.0.1",
        String(server.port),
        "list",
        "--ca",
        cert.certFile,
      ]);
      assert.equal(run.code, 8, run.stderr);
      assert.match(run.stderr, /is not made out to '127\.0\.0\.1'.*--tls-name/);
      // The fingerprint pins the certificate whatever its names.
      const pinned = await runClient([
        "127.0.0.1",
        String(server.port),
        "list",
        "--fingerprint",
        cert.fingerprint,
      ]);
      assert.equal(pinned.code, 0, pinned.stderr);
    } finally {
      await server.stop();
    }
  }),
);

Deno.test(
  "a plain client at a TLS server is told to add --tls, and a TLS client at a plain server that " +
    "it does not speak TLS (exit 7, no hang, nothing written)",
  withDeadline(90_000, async () => {
    await using served = await tempDir();
    await using plainServed = await tempDir();
    await using local = await tempDir();
    const { cert, server } = await tlsServer(served.path, local.path);
    const plain = await startTestServer({ root: plainServed.path });
    try {
      await Deno.writeTextFile(join(local.path, "a.txt"), "hello");
      const down = join(local.path, "down");
      await Deno.mkdir(down);
      for (const op of [["put", "a.txt"], ["get", "a.txt"], ["list"]]) {
        const cwd = op[0] === "put" ? local.path : down;
        const run = await runClient(["127.0.0.1", String(server.port), ...op, "--timeout", "20"], {
          cwd,
        });
        assert.equal(run.code, 7, run.stderr);
        assert.match(run.stderr, /speaks TLS: add --tls/);
        assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
        const back = await runClient(
          ["127.0.0.1", String(plain.port), ...op, "--ca", cert.certFile, "--timeout", "20"],
          { cwd },
        );
        assert.equal(back.code, 7, back.stderr);
        assert.match(back.stderr, /does not speak TLS: remove --tls/);
      }
      assert.deepEqual(namesIn(served.path), []);
      assert.deepEqual(namesIn(plainServed.path), []);
      assert.deepEqual(namesIn(down), [], "nothing downloaded, no partial file");
      const logged = await plain.waitFor((l) => l.event === "request");
      assert.match(String(logged.message), /TLS client/);
    } finally {
      await server.stop();
      await plain.stop();
    }
  }),
);
