// TLS through the real programs: the certificate the server makes with
// --tls, and each refusal a client meets (an untrusted certificate, a wrong
// fingerprint, a name the certificate lacks, plain against TLS and TLS
// against plain), with its exit code, and nothing written anywhere.

import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import {
  denoRunArgs,
  kill,
  namesIn,
  runClient,
  SERVER_TS,
  startTestServer,
  tempDir,
} from "./helpers.ts";
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

/** README's permissions for `server --tls` (with read and write everywhere). */
const TLS_RUN_PERMS = ["--allow-net", "--allow-read", "--allow-write", ...SERVER_PERMS];

/**
 * Runs the server CLI to a refusal: exit 2 and one line on stderr. A server
 * that starts listening instead fails the test at once (it is stopped).
 */
async function refused(args: string[], env: Record<string, string>): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: denoRunArgs(SERVER_TS, ["0", ...args, "--log-format", "json"], TLS_RUN_PERMS),
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const decoder = new TextDecoder();
  let stdout = "";
  const listening = (async () => {
    for await (const chunk of child.stdout) {
      stdout += decoder.decode(chunk, { stream: true });
      if (stdout.includes('"event":"listening"')) return true;
    }
    return false;
  })();
  const stderr = new Response(child.stderr).text();
  if (await listening) {
    kill(child, "SIGTERM");
    await child.status;
    assert.fail(`The server started with ${args.join(" ")}: ${await stderr}`);
  }
  const { code } = await child.status;
  const text = await stderr;
  assert.equal(code, 2, `${args.join(" ")}: ${text}${stdout}`);
  assert.equal(text.trim().split("\n").length, 1, text);
  return text;
}

/** Starts the server CLI and waits until it says it speaks TLS; then stops it. */
async function accepted(root: string, args: string[], env: Record<string, string>) {
  const server = await startTestServer({ root, args, perms: SERVER_PERMS, env });
  try {
    return await server.waitFor((l) => l.event === "tls");
  } finally {
    await server.stop();
  }
}

Deno.test(
  "--key is refused (exit 2, one line saying chmod 600 FILE) when group or others may read or " +
    "write it (640, 604, 620, 660), accepted at 600, and left as it was",
  { ignore: Deno.build.os === "windows" },
  withDeadline(90_000, async () => {
    await using served = await tempDir();
    await using keys = await tempDir();
    const cert = await makeCertificate(keys.path);
    const env = testEnv(keys.path);
    const args = ["--root", served.path, "--cert", cert.certFile, "--key", cert.keyFile];
    for (const mode of [0o640, 0o604, 0o620, 0o660]) {
      await Deno.chmod(cert.keyFile, mode);
      const stderr = await refused(args, env);
      assert.ok(stderr.includes(`run chmod 600 '${cert.keyFile}'`), stderr);
      assert.ok(stderr.includes(`mode ${mode.toString(8)}`), stderr);
      assert.equal((await Deno.stat(cert.keyFile)).mode! & 0o777, mode, "not changed");
    }
    await Deno.chmod(cert.keyFile, 0o600);
    const line = await accepted(served.path, args.slice(2), env);
    assert.equal(line.fingerprint, cert.fingerprint);
  }),
);

Deno.test(
  "--key in a folder that group or others may write to (770, 757, 777) is refused with chmod " +
    "go-w, also behind a link; a folder writable by its owner only (755) and a sticky one (1777) " +
    "are accepted",
  { ignore: Deno.build.os === "windows" },
  withDeadline(120_000, async () => {
    await using served = await tempDir();
    await using top = await tempDir();
    const keys = join(top.path, "keys");
    await Deno.mkdir(keys);
    const cert = await makeCertificate(keys);
    const env = testEnv(top.path);
    const args = ["--root", served.path, "--cert", cert.certFile, "--key", cert.keyFile];
    for (const mode of [0o770, 0o757, 0o777]) {
      await Deno.chmod(keys, mode);
      const stderr = await refused(args, env);
      assert.ok(stderr.includes(`run chmod go-w '${keys}'`), stderr);
      assert.deepEqual(namesIn(keys), ["cert.pem", "key.pem"]);
    }
    // A link from a safe folder to a key in an open folder: the target's folder counts.
    const safe = join(top.path, "safe");
    await Deno.mkdir(safe, { mode: 0o700 });
    await Deno.symlink(cert.keyFile, join(safe, "key.pem"));
    const linked = await refused(
      ["--root", served.path, "--cert", cert.certFile, "--key", join(safe, "key.pem")],
      env,
    );
    assert.ok(linked.includes(`run chmod go-w '${keys}'`), linked);
    for (const mode of [0o755, 0o1777]) {
      await Deno.chmod(keys, mode);
      const line = await accepted(served.path, args.slice(2), env);
      assert.equal(line.fingerprint, cert.fingerprint, mode.toString(8));
    }
  }),
);

Deno.test(
  "a --tls-dir or default TLS folder that group or others may write to (770, 777, 757, a sticky " +
    "1777) is refused with chmod 700 DIR and nothing is made in it; 700 and 755 are accepted",
  { ignore: Deno.build.os === "windows" },
  withDeadline(120_000, async () => {
    await using served = await tempDir();
    await using config = await tempDir();
    const env = testEnv(config.path);
    const dir = join(config.path, "tls");
    await Deno.mkdir(dir);
    const defaultDir = join(config.path, "privateshare", "tls");
    await Deno.mkdir(defaultDir, { recursive: true });
    for (const mode of [0o770, 0o777, 0o757, 0o1777]) {
      for (const [folder, args] of [[dir, ["--tls-dir", dir]], [defaultDir, ["--tls"]]] as const) {
        await Deno.chmod(folder, mode);
        const stderr = await refused(["--root", served.path, ...args], env);
        assert.ok(stderr.includes(`run chmod 700 '${folder}'`), stderr);
        assert.deepEqual(namesIn(folder), [], "nothing made in a refused folder");
        assert.equal((await Deno.stat(folder)).mode! & 0o7777, mode, "its mode not changed");
      }
    }
    for (const mode of [0o700, 0o755]) {
      await Deno.chmod(dir, mode);
      const line = await accepted(served.path, ["--tls-dir", dir], env);
      assert.equal(line.certFile, join(dir, "cert.pem"));
      assert.equal((await Deno.stat(join(dir, "key.pem"))).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(dir)).mode! & 0o777, mode);
      await Deno.remove(join(dir, "cert.pem"));
      await Deno.remove(join(dir, "key.pem"));
    }
  }),
);

Deno.test(
  "a key made earlier in the TLS folder and since opened to group or others (640, 604, 620) is " +
    "refused with chmod 600 FILE; a pair others planted in an open folder is not used",
  { ignore: Deno.build.os === "windows" },
  withDeadline(120_000, async () => {
    await using served = await tempDir();
    await using config = await tempDir();
    const env = testEnv(config.path);
    const dir = join(config.path, "privateshare", "tls");
    const made = await accepted(served.path, ["--tls"], env);
    const keyFile = join(dir, "key.pem");
    for (const mode of [0o640, 0o604, 0o620]) {
      await Deno.chmod(keyFile, mode);
      const stderr = await refused(["--root", served.path, "--tls"], env);
      assert.ok(stderr.includes(`run chmod 600 '${keyFile}'`), stderr);
    }
    await Deno.chmod(keyFile, 0o600);
    assert.equal((await accepted(served.path, ["--tls"], env)).fingerprint, made.fingerprint);
    // Someone else's complete pair in a folder they may write to.
    const open = join(config.path, "open");
    await Deno.mkdir(open);
    await makeCertificate(open);
    await Deno.chmod(open, 0o777);
    const stderr = await refused(["--root", served.path, "--tls-dir", open], env);
    assert.ok(stderr.includes(`run chmod 700 '${open}'`), stderr);
  }),
);
