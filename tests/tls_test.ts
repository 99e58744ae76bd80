// TLS in the library: fingerprints, the certificate the server makes, and
// whole transfers over TLS in process (a real server and real sockets).

import assert from "node:assert/strict";
import { checkServerIdentity } from "node:tls";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { get, list, parseFingerprint, put, startServer } from "../lib/mod.ts";
import type { RequestRecord } from "../lib/server/events.ts";
import { looksLikeTls, type TlsError } from "../lib/net/tls.ts";
import { TlsSocketConn } from "../lib/net/tls_socket.ts";
import { connect } from "../lib/net/socket.ts";
import { namesIn, sameBytes, startRelay, tempDir, until, writeRandomFile } from "./helpers.ts";
import { makeCertificate, withDeadline } from "./security_helpers.ts";

const MiB = 1024 * 1024;

Deno.test("parseFingerprint reads a fingerprint in the forms people copy it", () => {
  const canonical = Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, "0"))
    .join(":").toUpperCase();
  for (
    const form of [
      canonical,
      canonical.toLowerCase(),
      canonical.replaceAll(":", ""),
      `sha256 Fingerprint=${canonical}`,
      `SHA256:${canonical.replaceAll(":", "").toLowerCase()}`,
      `  ${canonical}\n`,
    ]
  ) {
    assert.equal(parseFingerprint(form), canonical, form);
  }
  for (const bad of ["", "AB:CD", canonical + ":00", canonical.replace("0", "G")]) {
    assert.equal(parseFingerprint(bad), undefined, bad);
  }
});

Deno.test("looksLikeTls tells a TLS record from PS/2 and classic bytes", () => {
  assert.ok(looksLikeTls(new Uint8Array([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32])));
  assert.ok(looksLikeTls(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00])));
  for (const text of ["PS/2 {}", '{"code":"pass"}', "list", "pass", "put,a.txt"]) {
    assert.ok(!looksLikeTls(new TextEncoder().encode(text)), text);
  }
});

Deno.test(
  "a made certificate is not a CA, holds the names asked, and verifies for them only",
  withDeadline(30_000, async () => {
    await using dir = await tempDir();
    const cert = await makeCertificate(dir.path, ["localhost", "127.0.0.1", "example.test"]);
    const x509 = new X509Certificate(cert.cert);
    assert.equal(x509.ca, false);
    assert.equal(x509.fingerprint256, cert.fingerprint);
    for (const name of ["localhost", "example.test"]) {
      assert.equal(x509.checkHost(name), name, `verifies for ${name}`);
    }
    assert.equal(x509.checkIP("127.0.0.1"), "127.0.0.1");
    assert.equal(x509.checkHost("other.example"), undefined);
    const peer = { subjectaltname: x509.subjectAltName ?? "", subject: {} };
    // deno-lint-ignore no-explicit-any
    assert.equal(checkServerIdentity("example.test", peer as any), undefined);
    // deno-lint-ignore no-explicit-any
    assert.ok(checkServerIdentity("other.example", peer as any) instanceof Error);
  }),
);

Deno.test(
  "a file of 20 MiB crosses TLS both ways byte for byte, trusted by certificate and by fingerprint",
  withDeadline(60_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    const cert = await makeCertificate(local.path);
    await using server = startServer({
      root: served.path,
      port: 0,
      host: "127.0.0.1",
      idleTimeoutMs: 0,
      tls: { certFile: cert.certFile, keyFile: cert.keyFile },
    });
    const port = server.addr.port;
    const source = join(local.path, "big.bin");
    // More than the adapter reads ahead (8 MiB) and several 4 MiB chunks.
    await writeRandomFile(source, 20 * MiB + 3, 12);
    const put1 = await put(source, { host: "127.0.0.1", port, tls: { ca: cert.cert } });
    assert.equal(put1.size, 20 * MiB + 3);
    assert.ok(await sameBytes(source, join(served.path, "big.bin")));
    const fingerprint = cert.fingerprint.toLowerCase();
    const files = await list({ host: "localhost", port, tls: { fingerprint } });
    assert.deepEqual(files.map((f) => f.name), ["big.bin"]);
    const out = join(local.path, "out");
    await Deno.mkdir(out);
    const got = await get("big.bin", {
      host: "127.0.0.1",
      port,
      output: out,
      tls: { fingerprint },
    });
    assert.equal(got.sha256, put1.sha256);
    assert.ok(await sameBytes(source, join(out, "big.bin")));
    assert.deepEqual(namesIn(out), ["big.bin"]);
  }),
);

Deno.test(
  "a put over TLS cut off mid-way keeps the server's partial upload, and the next put resumes",
  withDeadline(60_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    const cert = await makeCertificate(local.path);
    await using server = startServer({
      root: served.path,
      port: 0,
      host: "127.0.0.1",
      idleTimeoutMs: 0,
      tls: { certFile: cert.certFile, keyFile: cert.keyFile },
    });
    // The server's own records of its requests, live: what a put has received, and its end.
    const records: Readonly<RequestRecord>[] = [];
    let ended = false;
    server.events.subscribe((event) => {
      if (event.type === "request-start") records.push(event.record);
      if (event.type === "request-end" && event.record.op === "put") ended = true;
    });
    const received = () => Math.max(0, ...records.map((r) => r.op === "put" ? r.bytes : 0));
    const source = join(local.path, "cut.bin");
    await writeRandomFile(source, 16 * MiB, 5);
    // Fault injection: a connection cut at an exact point cannot be made on
    // demand, so a relay holds the upload after 9 MiB and then cuts it.
    const relay = startRelay(server.addr.port, { holdAt: { direction: "up", bytes: 9 * MiB } });
    try {
      const options = { host: "127.0.0.1", port: relay.port, tls: { ca: cert.cert } };
      const first = put(source, options).then(() => "done", (error: Error) => error);
      await relay.reached("up", 9 * MiB);
      // The server has taken in a first chunk (4 MiB) of what the relay passed on.
      await until(() => received() >= 4 * MiB);
      relay.cut();
      const outcome = await first;
      assert.ok(outcome instanceof Error, "the cut put fails");
      // The server's end of the cut upload, which lets its partial go: only then may it resume.
      await until(() => ended);
      assert.ok(namesIn(served.path).some((n) => n.startsWith(".privateshare-partial-")));
      relay.release();
      const second = await put(source, { ...options, port: server.addr.port });
      assert.ok(second.resumedFrom > 0, `resumed from ${second.resumedFrom}`);
      assert.ok(await sameBytes(source, join(served.path, "cut.bin")));
    } finally {
      await relay.close();
    }
  }),
);

Deno.test(
  "a pin is the fingerprint of the certificate shown, compared exactly: one digit off at the end " +
    "or a prefix is refused, another case or no colons is the same pin",
  withDeadline(30_000, async () => {
    await using served = await tempDir();
    await using local = await tempDir();
    const cert = await makeCertificate(local.path);
    await using server = startServer({
      root: served.path,
      port: 0,
      host: "127.0.0.1",
      idleTimeoutMs: 0,
      tls: { cert: cert.cert, key: cert.key },
    });
    const port = server.addr.port;
    const pin = (fingerprint: string) =>
      connect("127.0.0.1", port, 10_000, undefined, { fingerprint });
    // The same pin, as people copy it.
    for (
      const same of [
        cert.fingerprint,
        cert.fingerprint.toLowerCase(),
        cert.fingerprint.replaceAll(":", ""),
        cert.fingerprint.replaceAll(":", "").toLowerCase(),
      ]
    ) {
      const conn = await pin(same);
      assert.ok(conn instanceof TlsSocketConn, "checked on the certificate shown");
      assert.equal(conn.fingerprint, cert.fingerprint);
      conn.close();
    }
    const last = cert.fingerprint.at(-1)!;
    const offByOne = cert.fingerprint.slice(0, -1) + (last === "0" ? "1" : "0");
    const lastPair = cert.fingerprint.slice(0, -2) +
      (cert.fingerprint.endsWith("AB") ? "CD" : "AB");
    for (const other of [offByOne, lastPair]) {
      await assert.rejects(
        pin(other),
        (error: TlsError) =>
          error.code === "fingerprint" && error.message.includes(cert.fingerprint),
        other,
      );
    }
    // A prefix (the whole but the last pair, or the first half) is no pin.
    for (const prefix of [cert.fingerprint.slice(0, -3), cert.fingerprint.slice(0, 47)]) {
      await assert.rejects(pin(prefix), (error: TlsError) => error.code === "fingerprint", prefix);
    }
  }),
);
