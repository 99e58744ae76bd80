/**
 * The pieces behind the client page's finding and trusting, in process:
 * "On this network" merges the servers discovery reports with the
 * remembered ones and probes those; the trust question is asked only about
 * a certificate that is not trusted, with the code of the one presented; a
 * look at a certificate sends nothing; a link is read into the page's fields.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ClientError, rememberServer, shortCode, TlsError } from "../lib/mod.ts";
import { Nearby, type NearbyEvent } from "../lib/gui/nearby.ts";
import type { FoundServer } from "../lib/mod.ts";
import { linkFields, trustQuestion } from "../lib/gui/trust_question.ts";
import { reachable } from "../lib/net/probe.ts";
import { peekFingerprint } from "../lib/net/socket.ts";
import { serveFolder, tempDir, until } from "./helpers.ts";
import { makeCertificate } from "./security_helpers.ts";

function found(name: string, instance: string, port: number, fingerprint: string): FoundServer {
  return {
    name,
    port,
    version: "2",
    tls: true,
    password: false,
    uploads: true,
    fingerprint,
    instance,
    addresses: ["127.0.0.1"],
  };
}

/** A port nothing listens on any more. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

Deno.test("On this network: found servers appear and go live, two of one name stay apart, names are made printable, and a remembered one found is one entry", async () => {
  await using dir = await tempDir();
  const { fingerprint } = await makeCertificate(dir.path);
  const file = join(dir.path, "known_servers");
  await rememberServer(file, "127.0.0.1", 4001, fingerprint);
  const events: NearbyEvent[] = [];
  const nearby = new Nearby((event) => events.push(event), () => [], () => file);
  await nearby.refresh();
  nearby.found([
    found("laptop", "laptop._privateshare._tcp.local.", 4001, fingerprint),
    found("laptop", "laptop (2)._privateshare._tcp.local.", 4002, fingerprint),
    found("evil\u001b[2J", "evil._privateshare._tcp.local.", 4003, fingerprint),
  ]);
  const last = events.at(-1)!.servers;
  assert.deepEqual(last.map((s) => [s.name, s.port, s.discovered, s.remembered]), [
    ["laptop", 4001, true, true],
    ["laptop", 4002, true, false],
    ["evil\\x1b[2J", 4003, true, false],
  ]);
  assert.equal(last[1]!.code, shortCode(fingerprint));
  assert.equal(last[1]!.instance, "laptop (2)._privateshare._tcp.local.");
  // Gone from discovery: the remembered one stays, probed (nothing listens there).
  nearby.found([]);
  const after = events.at(-1)!.servers;
  assert.deepEqual(after.map((s) => [s.name, s.port, s.discovered, s.remembered, s.reachable]), [
    ["127.0.0.1", 4001, false, true, false],
  ]);
  await nearby.stop();
});

Deno.test("On this network: remembered servers are the known-servers file's and the page's addresses, each probed: reachable or not", async () => {
  await using dir = await tempDir();
  const { fingerprint } = await makeCertificate(dir.path);
  await using served = serveFolder(dir.path);
  const gone = closedPort();
  const file = join(dir.path, "known_servers");
  await rememberServer(file, "127.0.0.1", gone, fingerprint);
  const events: NearbyEvent[] = [];
  const nearby = new Nearby(
    (event) => events.push(event),
    () => [{ host: "127.0.0.1", port: served.port, tls: false }],
    () => file,
  );
  await nearby.refresh();
  const servers = events.at(-1)!.servers;
  const byPort = new Map(servers.map((s) => [s.port, s]));
  assert.equal(byPort.get(served.port)?.reachable, true);
  assert.equal(byPort.get(served.port)?.tls, false);
  assert.equal(byPort.get(served.port)?.code, undefined);
  assert.equal(byPort.get(gone)?.reachable, false);
  assert.equal(byPort.get(gone)?.code, shortCode(fingerprint), "the code trusted before");
  assert.ok(events.some((e) => e.servers.some((s) => s.reachable === null)), "shown while probing");
  await nearby.stop();
});

Deno.test("the trust question is asked about a certificate not trusted, with the code of the certificate presented, and never about a pin that failed", async () => {
  await using dir = await tempDir();
  const cert = await makeCertificate(dir.path);
  await using served = serveFolder(dir.path, {
    tls: { certFile: cert.certFile, keyFile: cert.keyFile },
  });
  const server = { host: "127.0.0.1", port: served.port };
  const untrusted = new ClientError("untrusted", "not trusted", { code: "untrusted" });
  assert.deepEqual(await trustQuestion(untrusted, server), {
    trust: { code: shortCode(cert.fingerprint), fingerprint: cert.fingerprint },
  });
  for (const code of ["fingerprint", "server-changed"] as const) {
    const refused = new ClientError("untrusted", "a pin failed", { code });
    assert.deepEqual(await trustQuestion(refused, server), {}, code);
  }
  assert.deepEqual(await trustQuestion(new Error("other"), server), {});
  // Gone since: no question.
  assert.deepEqual(await trustQuestion(untrusted, { host: "127.0.0.1", port: closedPort() }), {});
  // The looks at the certificate asked the server nothing.
  await until(() => served.events.filter((e) => e.type === "request-end").length >= 1);
  const asked = served.events.flatMap((e) =>
    e.type === "request-end" && e.record.op !== "-" ? [e.record.op] : []
  );
  assert.deepEqual(asked, []);
});

Deno.test("a look at a plain server's certificate is refused as not TLS; a closed port is not reachable", async () => {
  await using dir = await tempDir();
  await using served = serveFolder(dir.path);
  await assert.rejects(
    peekFingerprint("127.0.0.1", served.port, 10_000),
    (error) => error instanceof TlsError && error.code === "not-tls",
  );
  assert.equal(await reachable("127.0.0.1", served.port, 10_000), true);
  assert.equal(await reachable("127.0.0.1", closedPort(), 10_000), false);
});

Deno.test("a pasted link becomes the page's fields; a malformed one its words", () => {
  const fingerprint = Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, "0"))
    .join(":").toUpperCase();
  const link = `privateshare://127.0.0.1:3650/#sha256=${
    btoa(String.fromCharCode(...Array.from({ length: 32 }, (_, i) => i)))
      .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "")
  }`;
  assert.deepEqual(linkFields(link), { host: "127.0.0.1", port: 3650, fingerprint });
  assert.deepEqual(linkFields("privateshare://[::1]:3650/"), { host: "::1", port: 3650 });
  assert.match((linkFields(link.slice(0, -1)) as { error: string }).error, /not a SHA-256/);
  assert.match((linkFields("privateshare://127.0.0.1/") as { error: string }).error, /no port/);
  assert.match((linkFields("") as { error: string }).error, /^Paste the link/);
  assert.match((linkFields("http://127.0.0.1:3650/") as { error: string }).error, /^Not a/);
});

Deno.test("On this network: a found server that only announces a remembered server's address neither hides that server nor takes its place", async () => {
  await using dir = await tempDir();
  const { fingerprint } = await makeCertificate(dir.path);
  const other = await makeCertificate(dir.path, undefined, "other-");
  const file = join(dir.path, "known_servers");
  const port = closedPort();
  await rememberServer(file, "127.0.0.1", port, fingerprint);
  const events: NearbyEvent[] = [];
  const nearby = new Nearby((event) => events.push(event), () => [], () => file);
  await nearby.refresh();
  // Its answers come from 127.0.0.2 (the address it is listed and connected at); its A records
  // name the remembered server's address too.
  const impostor = found("laptop", "laptop._privateshare._tcp.local.", port, other.fingerprint);
  impostor.addresses = ["127.0.0.2", "127.0.0.1"];
  nearby.found([impostor]);
  const servers = events.at(-1)!.servers;
  assert.deepEqual(
    servers.map((s) => [s.addresses[0], s.discovered, s.remembered, s.code]),
    [
      ["127.0.0.2", true, false, shortCode(other.fingerprint)],
      ["127.0.0.1", false, true, shortCode(fingerprint)],
    ],
  );
  // Found at the remembered address itself: one entry, remembered.
  nearby.found([found("laptop", "laptop._privateshare._tcp.local.", port, fingerprint)]);
  assert.deepEqual(
    events.at(-1)!.servers.map((s) => [s.addresses[0], s.discovered, s.remembered]),
    [["127.0.0.1", true, true]],
  );
  await nearby.stop();
});
