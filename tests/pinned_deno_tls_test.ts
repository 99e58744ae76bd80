// Issue 25, TLS: a pinned connection (by fingerprint, short code, or a remembered server) is
// checked by Deno's own TLS, with the pinned certificate as its only private root and one of its
// private names (127.0.0.1, localhost, ...), once the certificate is known: remembered, or read
// on a first connection closed at once. A different certificate on the second connection is
// refused by Deno's TLS itself (nothing is sent on it), then decided again by node:tls as before;
// a certificate with no private name, or one Deno's TLS refuses, still works through node:tls.

import assert from "node:assert/strict";
import { join } from "node:path";
import { rememberServer } from "../lib/client/known_servers.ts";
import { openWire } from "../lib/client/secure.ts";
import { ClientError, get, list, put, shortCode, startServer } from "../lib/mod.ts";
import {
  isPrivateName,
  privateName,
  rootsWidened,
  subjectAltNames,
} from "../lib/net/private_names.ts";
import { connect, pinnedCertificate } from "../lib/net/socket.ts";
import { pemCertificates } from "../lib/net/tls.ts";
import { permissionsFor, PROGRAMS } from "../tools/build.ts";
import {
  CLIENT_RUN_PERMS,
  namesIn,
  runClient,
  sameBytes,
  startTestServer,
  tempDir,
  until,
  writeRandomFile,
} from "./helpers.ts";
import {
  makeCertificate,
  openssl,
  otherAuthority,
  switchingFront,
  testEnv,
  tlsCounter,
  withDeadline,
} from "./security_helpers.ts";

const MiB = 1024 * 1024;

/**
 * No root beside the public ones, for the library in this process. (This machine sets
 * NODE_EXTRA_CA_CERTS to its system bundle, which holds local authorities.)
 */
const PUBLIC_ROOTS = {
  DENO_CERT: undefined,
  NODE_EXTRA_CA_CERTS: undefined,
  DENO_TLS_CA_STORE: undefined,
};

/** The same for a program a test starts (DENO_CERT stays unset: set but empty, Deno fails). */
const PUBLIC_ROOTS_ENV = { NODE_EXTRA_CA_CERTS: "", DENO_TLS_CA_STORE: "mozilla" };

/** The permissions the downloaded client is compiled with (tools/build.ts). */
const RELEASE_CLIENT_PERMS = permissionsFor(
  PROGRAMS.find((program) => program.entry === "client.ts")!,
  Deno.build.target,
);

/** The DER of a PEM certificate. */
function derOf(pem: string): Uint8Array {
  return pemCertificates(pem)[0]!;
}

/**
 * A self-signed certificate made by openssl with the given extensions (one `-addext` each), as
 * {@link makeCertificate} returns one.
 */
async function opensslCertificate(dir: string, prefix: string, extensions: string[]) {
  const certFile = join(dir, `${prefix}cert.pem`);
  const keyFile = join(dir, `${prefix}key.pem`);
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    "2",
    "-subj",
    "/CN=privateshare server",
    "-addext",
    "basicConstraints=critical,CA:FALSE",
    ...extensions.flatMap((extension) => ["-addext", extension]),
  ], dir);
  const cert = await Deno.readTextFile(certFile);
  const key = await Deno.readTextFile(keyFile);
  const { fingerprintOf } = await import("../lib/net/tls.ts");
  return { certFile, keyFile, cert, key, fingerprint: fingerprintOf(derOf(cert)) };
}

/**
 * Sets environment variables (undefined: unsets them) for the length of `body`, then puts them
 * back. Only what the library reads changes: Deno's own roots were set when it started.
 */
async function withEnv(
  vars: Record<string, string | undefined>,
  body: () => Promise<void> | void,
): Promise<void> {
  const before = Object.fromEntries(Object.keys(vars).map((name) => [name, Deno.env.get(name)]));
  for (const [name, value] of Object.entries(vars)) {
    if (value === undefined) Deno.env.delete(name);
    else Deno.env.set(name, value);
  }
  try {
    await body();
  } finally {
    for (const [name, value] of Object.entries(before)) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  }
}

/** A test of the library in this process, with only the public roots, and a deadline. */
function inProcess(ms: number, body: () => Promise<void>): () => Promise<void> {
  return withDeadline(ms, () => withEnv(PUBLIC_ROOTS, body));
}

/** Serves `root` over TLS with `cert`, in process, on 127.0.0.1. */
function tlsServer(root: string, cert: { certFile: string; keyFile: string }) {
  return startServer({
    root,
    port: 0,
    host: "127.0.0.1",
    idleTimeoutMs: 0,
    tls: { certFile: cert.certFile, keyFile: cert.keyFile },
  });
}

Deno.test("a certificate's subject alternative names are read from its DER", async () => {
  await using dir = await tempDir();
  const own = await makeCertificate(dir.path);
  assert.deepEqual(
    new Set(subjectAltNames(derOf(own.cert))),
    new Set(["localhost", "127.0.0.1", "0:0:0:0:0:0:0:1"]),
  );
  assert.equal(privateName(derOf(own.cert)), "127.0.0.1");
  const v6 = await makeCertificate(dir.path, ["files.example.com", "::1", "localhost"], "v6");
  assert.equal(privateName(derOf(v6.cert)), "0:0:0:0:0:0:0:1");
  const named = await makeCertificate(dir.path, ["files.example.com", "localhost"], "n");
  assert.equal(privateName(derOf(named.cert)), "localhost");
  const lan = await makeCertificate(dir.path, ["files.example.com", "192.168.1.20"], "lan");
  assert.equal(privateName(derOf(lan.cert)), "192.168.1.20");
  const local = await makeCertificate(dir.path, ["files.example.com", "NAS.local"], "mdns");
  assert.equal(privateName(derOf(local.cert)), "nas.local");
  const publicOnly = await makeCertificate(dir.path, ["files.example.com", "203.0.113.7"], "p");
  assert.deepEqual(subjectAltNames(derOf(publicOnly.cert)), ["files.example.com", "203.0.113.7"]);
  assert.equal(privateName(derOf(publicOnly.cert)), undefined);
  const wildcard = await makeCertificate(dir.path, ["*.local", "files.example.com"], "w");
  assert.equal(privateName(derOf(wildcard.cert)), undefined);
  // Not a certificate, cut short, or with a byte too many: nothing is read, no name is chosen.
  const der = derOf(own.cert);
  assert.equal(subjectAltNames(der.subarray(0, der.length - 1)), undefined);
  assert.equal(subjectAltNames(Uint8Array.of(...der, 0)), undefined);
  assert.equal(subjectAltNames(new Uint8Array()), undefined);
  assert.equal(privateName(der.subarray(0, 200)), undefined);
});

Deno.test("only names that public authorities may not certify qualify, at their limits", () => {
  const yes = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.0.1",
    "169.254.1.1",
    "100.64.0.1",
    "100.127.255.255",
    "0:0:0:0:0:0:0:1",
    "fc00:0:0:0:0:0:0:1",
    "fdff:0:0:0:0:0:0:1",
    "fe80:0:0:0:0:0:0:1",
    "febf:0:0:0:0:0:0:1",
    "localhost",
    "app.localhost",
    "printer.local",
    "files.internal",
    "nas",
  ];
  const no = [
    "126.255.255.255",
    "128.0.0.1",
    "9.255.255.255",
    "11.0.0.1",
    "172.15.255.255",
    "172.32.0.1",
    "192.167.255.255",
    "192.169.0.1",
    "169.253.1.1",
    "169.255.1.1",
    "100.63.255.255",
    "100.128.0.1",
    "8.8.8.8",
    "256.0.0.1",
    "0:0:0:0:0:0:0:2",
    "fbff:0:0:0:0:0:0:1",
    "fec0:0:0:0:0:0:0:1",
    "2001:db8:0:0:0:0:0:1",
    "localhost.com",
    "printer.locale",
    "printer.local.example.com",
    "files.internal.example",
    "*.local",
    "-nas",
    "nas-",
    "na s",
    "example.com",
    "",
  ];
  for (const name of yes) assert.ok(isPrivateName(name), name);
  for (const name of no) assert.ok(!isPrivateName(name), name);
});

Deno.test("roots the environment may add to Deno's TLS are noticed", async () => {
  const unset = PUBLIC_ROOTS;
  await withEnv(unset, () => assert.equal(rootsWidened(), false));
  await withEnv({ ...unset, NODE_EXTRA_CA_CERTS: " " }, () => assert.ok(!rootsWidened()));
  await withEnv({ ...unset, DENO_TLS_CA_STORE: "mozilla" }, () => assert.ok(!rootsWidened()));
  await withEnv({ ...unset, DENO_TLS_CA_STORE: " mozilla " }, () => assert.ok(!rootsWidened()));
  await withEnv({ ...unset, DENO_TLS_CA_STORE: "system" }, () => assert.ok(rootsWidened()));
  await withEnv({ ...unset, DENO_TLS_CA_STORE: "mozilla,system" }, () => assert.ok(rootsWidened()));
  await withEnv({ ...unset, DENO_CERT: "/tmp/ca.pem" }, () => assert.ok(rootsWidened()));
  await withEnv({ ...unset, NODE_EXTRA_CA_CERTS: "/tmp/ca.pem" }, () => assert.ok(rootsWidened()));
});

Deno.test(
  "a pinned connection is Deno's own TLS: by fingerprint, by short code, remembered; node:tls " +
    "when the environment adds a root; a remembered put and get are byte for byte",
  inProcess(60_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    const cert = await makeCertificate(local.path);
    await using server = tlsServer(served.path, cert);
    const port = server.addr.port;
    const checkedBy = async (trust: Parameters<typeof connect>[4]) => {
      const conn = await connect("127.0.0.1", port, 10_000, undefined, trust);
      try {
        return pinnedCertificate(conn);
      } finally {
        conn.close();
      }
    };
    const byFingerprint = await checkedBy({ fingerprint: cert.fingerprint.toLowerCase() });
    assert.equal(byFingerprint?.checkedBy, "deno");
    assert.equal(byFingerprint?.fingerprint, cert.fingerprint);
    assert.deepEqual(byFingerprint?.certificate, derOf(cert.cert));
    const withCertificate = { fingerprint: cert.fingerprint, certificate: cert.cert };
    assert.equal((await checkedBy(withCertificate))?.checkedBy, "deno");
    assert.equal((await checkedBy({ code: shortCode(cert.fingerprint) }))?.checkedBy, "deno");
    await withEnv({ DENO_CERT: cert.certFile }, async () => {
      assert.equal((await checkedBy({ fingerprint: cert.fingerprint }))?.checkedBy, "node");
    });
    // Remembered with its certificate: the library's put and get, no flag.
    const file = join(local.path, "known_servers");
    await rememberServer(file, "127.0.0.1", port, cert.fingerprint, cert.cert);
    const options = { host: "127.0.0.1", port, knownServers: file };
    const wire = await openWire(options, 10_000);
    assert.equal(pinnedCertificate(wire.conn)?.checkedBy, "deno");
    wire.close();
    const source = join(local.path, "big.bin");
    await writeRandomFile(source, 9 * MiB + 5, 25);
    const sent = await put(source, options);
    assert.ok(await sameBytes(source, join(served.path, "big.bin")));
    const out = join(local.path, "out");
    await Deno.mkdir(out);
    const got = await get("big.bin", { ...options, output: out });
    assert.equal(got.sha256, sent.sha256);
    assert.ok(await sameBytes(source, join(out, "big.bin")));
    assert.deepEqual(namesIn(out), ["big.bin"]);
  }),
);

Deno.test(
  "Deno's TLS checks each kind of private name a certificate may hold: the IPv6 loopback, a " +
    "private address, a .local name, a name without a dot",
  inProcess(60_000, async () => {
    await using local = await tempDir();
    const cases = [["::1"], ["192.168.1.20"], ["nas.local"], ["nas"]];
    for (const names of cases) {
      const cert = await makeCertificate(local.path, ["files.example.com", ...names], names[0]);
      await using served = await tempDir();
      await using server = tlsServer(served.path, cert);
      const trust = { fingerprint: cert.fingerprint, certificate: cert.cert };
      const conn = await connect("127.0.0.1", server.addr.port, 10_000, undefined, trust);
      assert.equal(pinnedCertificate(conn)?.checkedBy, "deno", names[0]);
      conn.close();
    }
  }),
);

Deno.test(
  "a server that shows the pinned certificate, then another with the same names, is refused by " +
    "Deno's TLS itself (not a byte sent on it) and decided again by node:tls",
  inProcess(60_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    const pinned = await makeCertificate(local.path);
    const other = await makeCertificate(local.path, undefined, "other-");
    assert.notEqual(pinned.fingerprint, other.fingerprint);
    await using server = tlsServer(served.path, pinned);
    await Deno.writeTextFile(join(served.path, "a.txt"), "a");
    await using impostor = tlsCounter(other);
    const real = server.addr.port;
    const host = "127.0.0.1";

    // Pinned, another, pinned: the second connection is refused, the third (node:tls) passes.
    {
      await using front = switchingFront([real, impostor.port, real]);
      const conn = await connect(host, front.port, 10_000, undefined, {
        fingerprint: pinned.fingerprint,
      });
      assert.equal(pinnedCertificate(conn)?.checkedBy, "node");
      conn.close();
      assert.equal(front.connections, 3);
      await until(() => impostor.received.length === 1);
      assert.deepEqual(impostor.received, [0], "nothing was sent to the other certificate");
    }
    // Pinned, then another from then on: refused as before, naming the one shown.
    for (
      const [trust, code, shown] of [
        [{ fingerprint: pinned.fingerprint }, "fingerprint", other.fingerprint],
        [{ code: shortCode(pinned.fingerprint) }, "short-code", shortCode(other.fingerprint)],
      ] as const
    ) {
      await using front = switchingFront([real, impostor.port]);
      const before = impostor.received.length;
      const refused = await list({ host, port: front.port, tls: trust }).then(
        () => undefined,
        (error) => error,
      );
      assert.ok(refused instanceof ClientError, String(refused));
      assert.equal(refused.code, code);
      assert.ok(refused.message.includes(shown), refused.message);
      assert.match(refused.message, /nothing was sent$/);
      assert.equal(front.connections, 3);
      await until(() => impostor.received.length === before + 2);
      assert.deepEqual(impostor.received.slice(before), [0, 0]);
    }
    // Remembered with its certificate, another shown: reported as changed, nothing sent.
    {
      await using front = switchingFront([impostor.port]);
      const file = join(local.path, "known_servers");
      await rememberServer(file, host, front.port, pinned.fingerprint, pinned.cert);
      const before = impostor.received.length;
      const refused = await list({ host, port: front.port, knownServers: file }).then(
        () => undefined,
        (error) => error,
      );
      assert.ok(refused instanceof ClientError, String(refused));
      assert.equal(refused.code, "server-changed");
      assert.ok(refused.message.includes(other.fingerprint), refused.message);
      await until(() => impostor.received.length === before + 2);
      assert.deepEqual(impostor.received.slice(before), [0, 0]);
    }
    // A pin one hex digit off the certificate shown: refused on the first connection.
    {
      await using front = switchingFront([real]);
      const last = pinned.fingerprint.at(-1)!;
      const off = pinned.fingerprint.slice(0, -1) + (last === "0" ? "1" : "0");
      const refused = await list({ host, port: front.port, tls: { fingerprint: off } }).then(
        () => undefined,
        (error) => error,
      );
      assert.ok(refused instanceof ClientError, String(refused));
      assert.equal(refused.code, "fingerprint");
      assert.ok(refused.message.includes(pinned.fingerprint), refused.message);
      assert.equal(front.connections, 1);
    }
  }),
);

Deno.test(
  "a certificate without a private name, or one Deno's TLS refuses (no serverAuth), still " +
    "connects through node:tls, byte for byte",
  inProcess(60_000, async () => {
    await using local = await tempDir();
    const publicName = await makeCertificate(local.path, ["files.example.com"], "public-");
    const clientOnly = await opensslCertificate(local.path, "eku-", [
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "extendedKeyUsage=clientAuth",
    ]);
    assert.equal(privateName(derOf(publicName.cert)), undefined);
    assert.equal(privateName(derOf(clientOnly.cert)), "127.0.0.1");
    for (const [cert, connections] of [[publicName, 2], [clientOnly, 3]] as const) {
      await using served = await tempDir();
      await using server = tlsServer(served.path, cert);
      await using front = switchingFront([server.addr.port]);
      const trust = { fingerprint: cert.fingerprint };
      const conn = await connect("127.0.0.1", front.port, 10_000, undefined, trust);
      assert.equal(pinnedCertificate(conn)?.checkedBy, "node");
      conn.close();
      // The first connection reads the certificate; the last is node's.
      assert.equal(front.connections, connections);
      const source = join(local.path, "file.bin");
      await writeRandomFile(source, 5 * MiB + 1, 7);
      await put(source, { host: "127.0.0.1", port: server.addr.port, tls: trust });
      assert.ok(await sameBytes(source, join(served.path, "file.bin")));
      const out = join(local.path, `out-${connections}`);
      await Deno.mkdir(out);
      await get("file.bin", { host: "127.0.0.1", port: server.addr.port, output: out, tls: trust });
      assert.ok(await sameBytes(source, join(out, "file.bin")));
    }
  }),
);

Deno.test(
  "the client program puts and gets byte for byte by --fingerprint, then remembered: Deno's TLS " +
    "with README's permissions (two connections, then one, also with --fingerprint); node:tls " +
    "(one each) where roots may be added or cannot be seen (without --allow-env)",
  withDeadline(120_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    const cert = await makeCertificate(local.path);
    const server = await startTestServer({
      root: served.path,
      args: ["--cert", cert.certFile, "--key", cert.keyFile],
    });
    try {
      const cases = [
        // label, permissions, environment, connections for --fingerprint and for remembered
        ["readme", CLIENT_RUN_PERMS, PUBLIC_ROOTS_ENV, 2, 1],
        // The downloaded client's own set (and the gui-client task's variables).
        ["release", RELEASE_CLIENT_PERMS, PUBLIC_ROOTS_ENV, 2, 1],
        ["extra-roots", CLIENT_RUN_PERMS, { NODE_EXTRA_CA_CERTS: cert.certFile }, 1, 1],
        ["no-env", ["--allow-net", "--allow-read", "--allow-write"], PUBLIC_ROOTS_ENV, 1, 1],
      ] as const;
      for (const [label, perms, roots, first, later] of cases) {
        await using front = switchingFront([server.port]);
        const where = ["127.0.0.1", String(front.port)];
        const env = testEnv(local.path, roots);
        const work = join(local.path, label);
        await Deno.mkdir(work);
        const name = `${label}.bin`;
        await writeRandomFile(join(work, name), 6 * MiB + 3, label.length);
        const run = (args: string[]) =>
          runClient([...where, ...args], { cwd: work, perms: [...perms], env });
        const putRun = await run(["put", name, "--fingerprint", cert.fingerprint]);
        assert.equal(putRun.code, 0, `${label}: ${putRun.stderr}`);
        assert.equal(front.connections, first, label);
        assert.ok(await sameBytes(join(work, name), join(served.path, name)));
        await Deno.remove(join(work, name));
        // Without --allow-env the known-servers file cannot be found: the pin is given again.
        const remembered = label !== "no-env";
        const getRun = await run(
          remembered ? ["get", name] : ["get", name, "--fingerprint", cert.fingerprint],
        );
        assert.equal(getRun.code, 0, `${label}: ${getRun.stderr}`);
        assert.equal(front.connections, first + later, label);
        assert.ok(await sameBytes(join(served.path, name), join(work, name)));
        // --fingerprint naming the remembered certificate uses the one remembered: one connection.
        const again = await run(["list", "--fingerprint", cert.fingerprint.toLowerCase()]);
        assert.equal(again.code, 0, `${label}: ${again.stderr}`);
        assert.equal(front.connections, first + later + 1, label);
        if (remembered) {
          const known = await Deno.readTextFile(join(local.path, "privateshare", "known_servers"));
          const line = known.split("\n").find((l) => l.startsWith(`127.0.0.1:${front.port} `));
          assert.ok(line?.split(" ")[2], `${label}: remembered with its certificate`);
        }
      }
    } finally {
      await server.stop();
    }
  }),
);

Deno.test(
  "a first contact by --fingerprint with a root added (DENO_CERT, NODE_EXTRA_CA_CERTS) or " +
    "unseen (no --allow-env): a certificate that root signed for 127.0.0.1 on the " +
    "second connection gets nothing",
  withDeadline(120_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    await Deno.writeTextFile(join(served.path, "a.txt"), "a");
    const pinned = await makeCertificate(local.path);
    const other = await otherAuthority(local.path);
    const server = await startTestServer({
      root: served.path,
      args: ["--cert", pinned.certFile, "--key", pinned.keyFile],
    });
    await using impostor = tlsCounter(other.leaf);
    try {
      const cases: [readonly string[], Record<string, string>][] = [
        [CLIENT_RUN_PERMS, { DENO_CERT: other.caFile, NODE_EXTRA_CA_CERTS: "" }],
        [CLIENT_RUN_PERMS, { NODE_EXTRA_CA_CERTS: other.caFile }],
        [["--allow-net", "--allow-read"], { DENO_CERT: other.caFile, NODE_EXTRA_CA_CERTS: "" }],
      ];
      for (const [perms, roots] of cases) {
        // The pinned certificate first, the other authority's from the second connection on.
        await using front = switchingFront([server.port, impostor.port]);
        const run = await runClient(
          [
            "127.0.0.1",
            String(front.port),
            "list",
            "--fingerprint",
            pinned.fingerprint,
            "--timeout",
            "10",
          ],
          { cwd: local.path, perms: [...perms], env: testEnv(local.path, roots) },
        );
        const label = `${perms.join(" ")} ${JSON.stringify(roots)}`;
        // node:tls compares the certificate on the one connection it makes: the pinned server's.
        assert.equal(run.code, 0, `${label}: ${run.stderr}`);
        assert.match(run.stdout, /a\.txt/, label);
        assert.equal(front.connections, 1, label);
      }
      assert.equal(impostor.connections, 0, "the other authority's server was never reached");
    } finally {
      await server.stop();
    }
  }),
);
