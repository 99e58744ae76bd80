// Issue 20 items 5 and 6, issue 21 behaviour 4: a pinned server is its
// certificate and nothing else, whatever roots the environment adds
// (DENO_CERT naming another CA that signed a `localhost` certificate); a
// remembered server stays pinned when --tls is given; and a client that
// cannot read its known-servers file says so and stops, rather than speak
// plain TCP to a server it remembers as TLS. Clients run as a user runs
// them, with README's permissions; the impostors record what they receive.

import assert from "node:assert/strict";
import { join } from "node:path";
import { rememberServer } from "../lib/client/known_servers.ts";
import { runClient, startTestServer, tempDir } from "./helpers.ts";
import {
  countingServer,
  makeCertificate,
  otherAuthority,
  testEnv,
  withDeadline,
} from "./security_helpers.ts";

/** README's client permissions (put and get; list needs no --allow-write). */
const CLIENT_PERMS = ["--allow-net", "--allow-read", "--allow-write", "--allow-env"];

Deno.test(
  "a pinned server is its certificate only: with DENO_CERT naming another CA, a `localhost` " +
    "certificate it signed is refused (exit 8) and nothing is sent, remembered or --fingerprint",
  withDeadline(120_000, async () => {
    await using dir = await tempDir();
    const { caFile, leaf } = await otherAuthority(dir.path);
    const real = await makeCertificate(dir.path);
    await using fake = countingServer(
      Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: leaf.cert, key: leaf.key }),
    );
    const file = join(dir.path, "privateshare", "known_servers");
    await rememberServer(file, "127.0.0.1", fake.port, real.fingerprint, real.cert);
    const env = testEnv(dir.path, { DENO_CERT: caFile, PRIVATESHARE_PASSWORD: "sesame" });
    await Deno.writeTextFile(join(dir.path, "a.txt"), "secret");
    for (
      const args of [
        ["put", "a.txt"],
        ["list", "--tls"],
        ["list", "--fingerprint", real.fingerprint],
      ]
    ) {
      const run = await runClient(["127.0.0.1", String(fake.port), ...args], {
        cwd: dir.path,
        perms: CLIENT_PERMS,
        env,
      });
      assert.equal(run.code, 8, `${args.join(" ")}: ${run.stderr}`);
      assert.ok(run.stderr.includes(real.fingerprint), run.stderr);
    }
    await waitFor(() => fake.received.length === fake.connections && fake.connections >= 3);
    assert.deepEqual(fake.received, [0, 0, 0], "not a byte, nor the password, was sent");
  }),
);

Deno.test(
  "a remembered server stays pinned with --tls: its own certificate connects, another is " +
    "reported as changed (exit 8), never checked against public roots",
  withDeadline(120_000, async () => {
    await using served = await tempDir();
    await using dir = await tempDir();
    await Deno.writeTextFile(join(served.path, "a.txt"), "a");
    const cert = await makeCertificate(dir.path);
    const server = await startTestServer({
      root: served.path,
      args: ["--cert", cert.certFile, "--key", cert.keyFile],
    });
    try {
      const file = join(dir.path, "privateshare", "known_servers");
      const env = testEnv(dir.path);
      const port = String(server.port);
      await rememberServer(file, "localhost", server.port, cert.fingerprint);
      const own = await runClient(["localhost", port, "list", "--tls"], {
        perms: CLIENT_PERMS,
        env,
      });
      assert.equal(own.code, 0, own.stderr);
      assert.match(own.stdout, /a\.txt/);
      // Remembered with another fingerprint, one digit off at the end.
      const last = cert.fingerprint.at(-1)!;
      const other = cert.fingerprint.slice(0, -1) + (last === "0" ? "1" : "0");
      await rememberServer(file, "localhost", server.port, other);
      const changed = await runClient(["localhost", port, "list", "--tls"], {
        perms: CLIENT_PERMS,
        env,
      });
      assert.equal(changed.code, 8, changed.stderr);
      assert.match(changed.stderr, /has CHANGED since it was remembered/);
      // The same fingerprint in lower case and without colons is the same pin.
      await rememberServer(file, "localhost", server.port, cert.fingerprint.toLowerCase());
      const same = await runClient(["localhost", port, "list", "--tls"], {
        perms: CLIENT_PERMS,
        env,
      });
      assert.equal(same.code, 0, same.stderr);
    } finally {
      await server.stop();
    }
  }),
);

Deno.test(
  "with README's permissions a client that cannot read its known-servers file says so and stops: " +
    "never plain TCP to a server it remembers as TLS",
  withDeadline(120_000, async () => {
    await using home = await tempDir();
    const cert = await makeCertificate(home.path);
    await using impostor = countingServer(Deno.listen({ hostname: "127.0.0.1", port: 0 }));
    const file = join(home.path, ".config", "privateshare", "known_servers");
    await rememberServer(file, "127.0.0.1", impostor.port, cert.fingerprint, cert.cert);
    await Deno.writeTextFile(join(home.path, "a.txt"), "secret");
    // Deno's own cache stays where it is.
    const denoDir = Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME")!, ".cache", "deno");
    const env = {
      HOME: home.path,
      XDG_CONFIG_HOME: "",
      PRIVATESHARE_PASSWORD: "",
      DENO_DIR: denoDir,
    };
    const where = ["127.0.0.1", String(impostor.port)];
    const cases: [string[], string[], RegExp][] = [
      [["put", "a.txt"], ["--allow-net", "--allow-read"], /--allow-env/],
      [["get", "b.txt"], ["--allow-net", "--allow-read", "--allow-write"], /--allow-env/],
      [["list"], ["--allow-net"], /--allow-env/],
      // With the environment but not the file.
      [["list"], ["--allow-net", "--allow-env"], /needs --allow-read to read the known-servers/],
    ];
    for (const [args, perms, advice] of cases) {
      const run = await runClient([...where, ...args], { cwd: home.path, perms, env });
      assert.notEqual(run.code, 0, `${args.join(" ")} ${perms.join(" ")}: ${run.stderr}`);
      assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
      assert.match(run.stderr, advice);
    }
    assert.equal(impostor.connections, 0, "the impostor was never contacted");
    // With README's permissions the file is read and the server spoken to in TLS only.
    const run = await runClient([...where, "list", "--timeout", "3"], {
      cwd: home.path,
      perms: ["--allow-net", "--allow-env", "--allow-read"],
      env,
    });
    // The impostor reads the ClientHello and stalls: a connection failure (exit 4), not "does
    // not speak TLS", whose advice (forget the remembered server) a stalling peer must not prompt.
    assert.equal(run.code, 4, run.stderr);
    assert.match(run.stderr, /did not complete a TLS handshake in 3 s.*nothing was sent/);
    await waitFor(() => impostor.received.length === impostor.connections);
    assert.equal(impostor.received.length, 1, "one TLS ClientHello, no command");
  }),
);

/** Waits until `check` holds (a fake's last connection is recorded after the client exits). */
async function waitFor(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 20));
}
