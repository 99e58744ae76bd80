// First contact in the library (issue 23): the certificate a person is asked
// about is the one that gets pinned. Between the question and the request
// the client connects again pinned to the full fingerprint it showed, so a
// server that shows another certificate the second time is refused with
// nothing sent, not the password either. Fakes that speak raw TLS.

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ClientError,
  type FirstContact,
  list,
  lookupKnownServer,
  rememberServer,
  shortCode,
} from "../lib/mod.ts";
import { tempDir, until } from "./helpers.ts";
import { makeCertificate, switchingFront, tlsCounter, withDeadline } from "./security_helpers.ts";

Deno.test(
  "a server that shows another certificate after the person said yes is refused on the " +
    "pinned connection, with nothing sent (no command, no password) and nothing remembered",
  withDeadline(60_000, async () => {
    await using dir = await tempDir();
    const shown = await makeCertificate(dir.path, undefined, "shown-");
    const swapped = await makeCertificate(dir.path, undefined, "swapped-");
    await using a = tlsCounter(shown);
    await using b = tlsCounter(swapped);
    // The first two connections (public roots, then the look at the certificate) reach the one.
    await using relay = switchingFront([a.port, a.port, b.port]);
    const file = join(dir.path, "known_servers");
    const asked: FirstContact[] = [];
    const error = await list({
      host: "127.0.0.1",
      port: relay.port,
      tls: {},
      knownServers: file,
      password: "sesame",
      confirm: (server) => {
        asked.push(server);
        return Promise.resolve(true);
      },
    }).then(() => undefined, (e) => e);
    assert.ok(error instanceof ClientError, String(error));
    assert.equal(error.kind, "untrusted");
    assert.equal(error.code, "fingerprint");
    assert.ok(error.message.includes(swapped.fingerprint), error.message);
    assert.ok(error.message.includes(shown.fingerprint), error.message);
    assert.deepEqual(asked, [{
      where: `127.0.0.1:${relay.port}`,
      fingerprint: shown.fingerprint,
      code: shortCode(shown.fingerprint),
    }]);
    assert.equal(relay.connections, 3, "public roots, the look, the pinned connection");
    await until(() => a.received.length === 2 && b.received.length === 1);
    assert.deepEqual([...a.received, ...b.received], [0, 0, 0], "not a byte was sent");
    assert.equal(await lookupKnownServer(file, "127.0.0.1", relay.port), undefined);
  }),
);

Deno.test(
  "a person who says no refuses the server, nothing sent; a remembered server is not asked about",
  withDeadline(60_000, async () => {
    await using dir = await tempDir();
    const cert = await makeCertificate(dir.path);
    await using server = tlsCounter(cert);
    const file = join(dir.path, "known_servers");
    let asked = 0;
    const confirm = () => {
      asked++;
      return Promise.resolve(false);
    };
    const options = {
      host: "127.0.0.1",
      port: server.port,
      tls: {},
      knownServers: file,
      password: "sesame",
      confirm,
    };
    const declined = await list(options).then(() => undefined, (e) => e);
    assert.ok(declined instanceof ClientError, String(declined));
    assert.equal(declined.kind, "untrusted");
    assert.equal(declined.code, "declined");
    assert.equal(asked, 1);
    await until(() => server.received.length === 2);
    assert.deepEqual(server.received, [0, 0], "not a byte was sent");

    // Remembered: pinned at once, never asked (the fake then gets the command).
    await rememberServer(file, "127.0.0.1", server.port, cert.fingerprint);
    await list({ ...options, timeoutMs: 2000 }).catch(() => {});
    assert.equal(asked, 1, "not asked again");
  }),
);

Deno.test(
  "a server that stalls the TLS handshake (the look at its certificate, or a remembered one's) " +
    "is given up on at the timeout as a connection failure, nobody asked, not called plain",
  withDeadline(60_000, async () => {
    await using dir = await tempDir();
    const cert = await makeCertificate(dir.path);
    await using real = tlsCounter(cert);
    // Accepts and never answers: the ClientHello goes unanswered.
    const stall = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of stall) held.push(conn);
    })();
    try {
      await using relay = switchingFront([real.port, (stall.addr as Deno.NetAddr).port]);
      let asked = 0;
      const error = await list({
        host: "127.0.0.1",
        port: relay.port,
        tls: {},
        timeoutMs: 500,
        confirm: () => {
          asked++;
          return Promise.resolve(true);
        },
      }).then(() => undefined, (e) => e);
      assert.ok(error instanceof ClientError, String(error));
      assert.match(error.message, /did not complete a TLS handshake in 0\.5 s/);
      // Not "does not speak TLS": that advice (drop --tls, forget the server) is not the peer's to prompt.
      assert.equal(error.kind, "connection");
      assert.notEqual(error.code, "not-tls");
      assert.equal(asked, 0);
      assert.equal(relay.connections, 2, "public roots, then the stalled look");
      // A remembered server that stalls is not said to have stopped using TLS.
      const file = join(dir.path, "known_servers");
      const stallPort = (stall.addr as Deno.NetAddr).port;
      await rememberServer(file, "127.0.0.1", stallPort, cert.fingerprint);
      const pinned = await list({
        host: "127.0.0.1",
        port: stallPort,
        knownServers: file,
        timeoutMs: 500,
      }).then(() => undefined, (e) => e);
      assert.ok(pinned instanceof ClientError, String(pinned));
      assert.match(pinned.message, /did not complete a TLS handshake in 0\.5 s/);
      assert.ok(!pinned.message.includes("does not speak TLS"), pinned.message);
      assert.equal(pinned.kind, "connection");
    } finally {
      stall.close();
      await accepting.catch(() => {});
      for (const conn of held) conn.close();
    }
  }),
);
