/**
 * The server page's "Phones and browsers" without a browser: the web page's
 * port is the privateshare port + 1, or any free one when that one is taken
 * (and the one taken is told); a privateshare port in use is still refused
 * with its own message; the panel holds, for each address, the page's address
 * and a QR code of it, without the token on a password server.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ListenError, type Server } from "../lib/mod.ts";
import {
  preferredWebPort,
  type StartedServer,
  startServerWithWeb,
  webPanel,
} from "../lib/gui/web_page_panel.ts";
import { serverConfig } from "../lib/gui/server_config.ts";
import { tempDir } from "./support/data.ts";
import { makeCertificate } from "./security_helpers.ts";

const HOST = "127.0.0.1";

Deno.test("the web page's port is the privateshare port + 1, any free one for 0 and 65535", () => {
  assert.equal(preferredWebPort(3650), 3651);
  assert.equal(preferredWebPort(1), 2);
  assert.equal(preferredWebPort(65534), 65535);
  assert.equal(preferredWebPort(65535), 0);
  assert.equal(preferredWebPort(0), 0);
});

Deno.test("Phones and browsers is on by default, and a saved choice is kept", () => {
  assert.equal(serverConfig({}).web, true);
  assert.equal(serverConfig({ web: false }).web, false);
  assert.equal(serverConfig({ web: true }).web, true);
  assert.equal(serverConfig({ web: "false" }).web, true, "not a boolean: the default");
});

/** A free loopback port, whose next one is free too, as far as can be told now. */
function freePair(): number {
  for (let i = 0; i < 50; i++) {
    const probe = Deno.listen({ hostname: HOST, port: 0 });
    const port = probe.addr.port;
    probe.close();
    if (port >= 65535) continue;
    try {
      Deno.listen({ hostname: HOST, port: port + 1 }).close();
      return port;
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    }
  }
  throw new Error("No two free ports side by side");
}

async function closed(started: StartedServer): Promise<void> {
  await started.server.close(0);
}

Deno.test("the page is on the port + 1 when it is free, with nothing told", async () => {
  await using root = await tempDir();
  const port = freePair();
  const started = startServerWithWeb({ root: root.path, port, host: HOST }, true);
  try {
    assert.equal(started.server.addr.port, port);
    assert.equal(started.server.web?.addr.port, port + 1);
    assert.equal(started.server.web?.addr.hostname, HOST, "where the server listens");
    assert.equal(started.taken, undefined);
  } finally {
    await closed(started);
  }
});

Deno.test("with the port + 1 taken the page takes another free port and tells which was taken", async () => {
  await using root = await tempDir();
  const port = freePair();
  using _holder = Deno.listen({ hostname: HOST, port: port + 1 });
  const started = startServerWithWeb({ root: root.path, port, host: HOST }, true);
  try {
    assert.equal(started.server.addr.port, port);
    const web = started.server.web?.addr.port ?? 0;
    assert.ok(web > 0 && web !== port + 1 && web !== port, `web port ${web}`);
    assert.equal(started.taken, port + 1);
  } finally {
    await closed(started);
  }
});

Deno.test("a privateshare port in use is refused with its own port named, page or not", async () => {
  await using root = await tempDir();
  const port = freePair();
  using _holder = Deno.listen({ hostname: HOST, port });
  for (const web of [true, false]) {
    assert.throws(
      () => startServerWithWeb({ root: root.path, port, host: HOST }, web),
      (error) =>
        error instanceof ListenError && error.code === "in-use" &&
        error.message.startsWith(`Port ${port} is already in use`),
    );
  }
  // The port + 1 was never kept: it is free again.
  Deno.listen({ hostname: HOST, port: port + 1 }).close();
});

Deno.test("off, no page is served and the panel is empty", async () => {
  await using root = await tempDir();
  const started = startServerWithWeb({ root: root.path, port: 0, host: HOST }, false);
  try {
    assert.equal(started.server.web, undefined);
    assert.equal(webPanel(started.server, ["192.0.2.7"]), null);
  } finally {
    await closed(started);
  }
});

function svgOf(dataUrl: string): string {
  const prefix = "data:image/svg+xml;base64,";
  assert.ok(dataUrl.startsWith(prefix), dataUrl.slice(0, 40));
  return atob(dataUrl.slice(prefix.length));
}

Deno.test("the panel holds each address's page address and its QR code; no token with a password", async () => {
  await using root = await tempDir();
  let started = startServerWithWeb({ root: root.path, port: 0, host: HOST }, true);
  let server: Server = started.server;
  try {
    const panel = webPanel(server, ["192.0.2.7", "2001:db8::1"]);
    assert.ok(panel);
    assert.equal(panel.port, server.web!.addr.port);
    assert.equal(panel.secure, false);
    assert.deepEqual(panel.addresses.map((a) => a.host), ["192.0.2.7", "2001:db8::1"]);
    const token = server.web!.token;
    assert.deepEqual(panel.addresses.map((a) => a.url), [
      `http://192.0.2.7:${panel.port}/?t=${token}`,
      `http://[2001:db8::1]:${panel.port}/?t=${token}`,
    ]);
    for (const { qr } of panel.addresses) assert.match(svgOf(qr), /^<svg [^>]*role="img"/);
    assert.notEqual(panel.addresses[0]!.qr, panel.addresses[1]!.qr);
    assert.deepEqual(webPanel(server, [])?.addresses, [], "no address: no code");
  } finally {
    await closed(started);
  }
  await using keys = await tempDir();
  const cert = await makeCertificate(keys.path);
  started = startServerWithWeb(
    {
      root: root.path,
      port: 0,
      host: HOST,
      tls: { cert: cert.cert, key: cert.key },
      password: "correct horse",
    },
    true,
  );
  server = started.server;
  try {
    const panel = webPanel(server, ["192.0.2.7"]);
    assert.equal(panel?.secure, true);
    assert.equal(panel?.addresses[0]?.url, `https://192.0.2.7:${panel?.port}/`);
  } finally {
    await closed(started);
  }
});
