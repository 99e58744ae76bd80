// A server's start lines (issue 23): a TLS server prints its short code and
// one link per address it can be reached at, each link pinning the
// fingerprint it prints; a plain server prints links without one and says
// how to turn TLS on. The real server CLI, as a user runs it.

import assert from "node:assert/strict";
import { formatLink, parseLink, shortCode } from "../lib/mod.ts";
import { startTestServer, tempDir, type TestServer } from "./helpers.ts";
import { makeCertificate, type TestCertificate, withDeadline } from "./security_helpers.ts";

/** A TLS server with a certificate made for the test. */
async function tlsServer(
  served: string,
  cert: TestCertificate,
  args: string[],
): Promise<TestServer> {
  return await startTestServer({
    root: served,
    args: ["--cert", cert.certFile, "--key", cert.keyFile, ...args],
  });
}

Deno.test(
  "a TLS server prints its code and one link per address, the link's fingerprint the one printed",
  withDeadline(60_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    const cert = await makeCertificate(local.path);
    const bound = await tlsServer(served.path, cert, ["--host", "127.0.0.1"]);
    try {
      const tls = await bound.waitFor((l) => l.event === "tls");
      assert.equal(tls.fingerprint, cert.fingerprint);
      const code = await bound.waitFor((l) => l.event === "code");
      assert.equal(code.code, shortCode(cert.fingerprint));
      assert.match(code.message as string, /^Code: [0-9A-Z]{4}-[0-9A-Z]{4} \(clients that meet/);
      const link = await bound.waitFor((l) => l.event === "link");
      assert.deepEqual(parseLink(link.link as string), {
        host: "127.0.0.1",
        port: bound.port,
        fingerprint: cert.fingerprint,
      });
      assert.equal(
        bound.lines.filter((l) => l.event === "link").length,
        1,
        "one address, one link",
      );
      assert.ok(!bound.lines.some((l) => l.event === "no-tls"));
    } finally {
      await bound.stop();
    }

    // On every interface without --allow-sys: localhost, and the flag that shows the others.
    const all = await tlsServer(served.path, cert, []);
    try {
      const links = await all.waitFor((l) => l.event === "links");
      assert.match(links.message as string, /--allow-sys=networkInterfaces/);
      const only = all.lines.filter((l) => l.event === "link").map((l) => l.link);
      assert.deepEqual(only, [formatLink({
        host: "localhost",
        port: all.port,
        fingerprint: cert.fingerprint,
      })]);
    } finally {
      await all.stop();
    }

    // With it: the machine's own addresses (none of them loopback), each link pinning the same.
    const wide = await startTestServer({
      root: served.path,
      args: ["--cert", cert.certFile, "--key", cert.keyFile],
      perms: ["--allow-sys=networkInterfaces"],
    });
    try {
      await wide.waitFor((l) => l.event === "password");
      await wide.waitFor((l) => l.event === "link");
      assert.ok(!wide.lines.some((l) => l.event === "links"), "no flag named");
      for (const line of wide.lines.filter((l) => l.event === "link")) {
        const parsed = parseLink(line.link as string);
        assert.equal(parsed.fingerprint, cert.fingerprint);
        assert.equal(parsed.port, wide.port);
        // localhost only where the machine has no other address (a bare network namespace).
        assert.doesNotMatch(parsed.host, /^(127\.|::1$)/);
      }
    } finally {
      await wide.stop();
    }
  }),
);

Deno.test(
  "a plain server prints its links without a fingerprint and says how to turn TLS on",
  withDeadline(30_000, async () => {
    await using served = await tempDir();
    const server = await startTestServer({ root: served.path, args: ["--host", "127.0.0.1"] });
    try {
      const link = await server.waitFor((l) => l.event === "link");
      assert.equal(link.link, `privateshare://127.0.0.1:${server.port}/`);
      const hint = await server.waitFor((l) => l.event === "no-tls");
      assert.match(hint.message as string, /start with --tls to encrypt/);
      assert.ok(!server.lines.some((l) => l.event === "code"));
    } finally {
      await server.stop();
    }
  }),
);

Deno.test(
  "a TLS server made with --tls-name prints a link for each name first, pinning its certificate",
  withDeadline(60_000, async () => {
    await using served = await tempDir();
    await using tlsDir = await tempDir();
    const server = await startTestServer({
      root: served.path,
      // README's --tls permissions: the computer's names and the configuration folder.
      perms: ["--allow-sys", "--allow-env"],
      args: [
        "--host",
        "127.0.0.1",
        "--tls",
        "--tls-dir",
        tlsDir.path,
        "--tls-name",
        "203.0.113.7",
        "--tls-name",
        "files.example.org",
      ],
    });
    try {
      const tls = await server.waitFor((l) => l.event === "tls");
      const fingerprint = tls.fingerprint as string;
      await server.waitFor((l) => l.event === "link" && String(l.link).includes("127.0.0.1"));
      const links = server.lines.filter((l) => l.event === "link").map((l) => l.link as string);
      assert.deepEqual(links, [
        formatLink({ host: "203.0.113.7", port: server.port, fingerprint }),
        formatLink({ host: "files.example.org", port: server.port, fingerprint }),
        formatLink({ host: "127.0.0.1", port: server.port, fingerprint }),
      ]);
    } finally {
      await server.stop();
    }
  }),
);
