/**
 * The client's page and the known-servers file, as the command line uses
 * it: a page that cannot find the file does nothing without a fingerprint,
 * and a server remembered as TLS is never spoken to in plain TCP, TLS
 * ticked or not. The real program is started with `--gui --no-open`; its
 * API is called as the page calls it; the server is a plain impostor that
 * records every byte it is sent.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { rememberServer } from "../lib/mod.ts";
import { CLIENT_TS, tempDir } from "./helpers.ts";
import { makeCertificate, withDeadline } from "./security_helpers.ts";

/** The first byte of a TLS handshake record (a ClientHello). */
const TLS_HANDSHAKE = 0x16;

/** A plain TCP impostor: records what each connection sends first, answers `cancel`, closes. */
function impostor() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received: Uint8Array[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      const buffer = new Uint8Array(16 * 1024);
      const n = await conn.read(buffer).catch(() => null);
      received.push(buffer.slice(0, n ?? 0));
      await conn.write(new TextEncoder().encode("cancel")).catch(() => 0);
      conn.close();
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    received,
    async [Symbol.asyncDispose]() {
      listener.close();
      await serving.catch(() => {});
    },
  };
}

/** The client's GUI under these permissions; its address once printed. */
async function clientGui(perms: string[], env: Record<string, string>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...perms, CLIENT_TS, "--gui", "--no-open"],
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let printed = "";
  let url: string | undefined;
  while (url === undefined) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`The GUI printed no address; it printed: ${printed}`);
    printed += value;
    url = /http:\/\/127\.0\.0\.1:\d+\/\S+\//.exec(printed)?.[0];
  }
  const draining = (async () => {
    while (!(await reader.read()).done);
  })();
  const call = async (route: string, body: Record<string, unknown>, headers = {}) => {
    const answer = await fetch(`${url}api/${route}`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
    });
    return { status: answer.status, body: await answer.json() as Record<string, unknown> };
  };
  return {
    call,
    url,
    async [Symbol.asyncDispose]() {
      await fetch(`${url}api/quit`, { method: "POST" }).then((r) => r.body?.cancel());
      await child.status;
      await draining;
    },
  };
}

const BASE_PERMS = ["--allow-net", "--allow-read", "--allow-write"];

Deno.test(
  "a client page that cannot find its known-servers file (no --allow-env) connects nowhere " +
    "unless given the fingerprint, TLS ticked or not",
  withDeadline(60_000, async () => {
    await using fake = impostor();
    await using local = await tempDir();
    const { fingerprint } = await makeCertificate(local.path);
    await using gui = await clientGui(BASE_PERMS, {});
    const server = { host: "127.0.0.1", port: fake.port };
    for (const trust of [{}, { tls: "1" }, { tls: true }]) {
      const listed = await gui.call("list", { ...server, ...trust });
      assert.equal(listed.status, 400, JSON.stringify(trust));
      assert.match(String(listed.body.error), /Cannot find your known-servers file/);
      assert.equal(String(listed.body.error).split("\n").length, 1);
      assert.doesNotMatch(String(listed.body.error), /--[a-z]/, "the page names no flag");
      const got = await gui.call("get", { ...server, ...trust, id: "g1", name: "a", folder: "/" });
      assert.equal(got.status, 400);
      assert.match(String(got.body.error), /Cannot find your known-servers file/);
      const query = new URLSearchParams({ host: server.host, port: String(server.port) });
      const put = await fetch(`${gui.url}api/put?${query}&id=p1&name=a.txt`, {
        method: "POST",
        headers: { "x-file-size": "5", ...(trust.tls ? { "x-tls": "1" } : {}) },
        body: "hello",
      });
      assert.equal(put.status, 400);
      assert.match(String((await put.json()).error), /Cannot find your known-servers file/);
    }
    assert.equal(fake.received.length, 0, "nothing connected to the server");
    // The twin: with the fingerprint the page needs no file, and speaks TLS.
    const pinned = await gui.call("list", { ...server, fingerprint });
    assert.equal(pinned.status, 200, JSON.stringify(pinned.body));
    assert.ok(pinned.body.error, "the impostor is refused");
    assert.equal(fake.received.length, 1);
    assert.equal(fake.received[0]![0], TLS_HANDSHAKE, "a TLS ClientHello, nothing in the clear");
  }),
);

Deno.test(
  "a server remembered as TLS is spoken to in TLS by the client page, TLS ticked or not, and " +
    "never sent a command in the clear; one not remembered is spoken to in plain TCP",
  withDeadline(60_000, async () => {
    await using remembered = impostor();
    await using stranger = impostor();
    await using config = await tempDir();
    const { fingerprint } = await makeCertificate(config.path);
    const file = join(config.path, "privateshare", "known_servers");
    await rememberServer(file, "127.0.0.1", remembered.port, fingerprint);
    await using gui = await clientGui(
      [...BASE_PERMS, "--allow-env"],
      { XDG_CONFIG_HOME: config.path, HOME: config.path },
    );
    for (const trust of [{}, { tls: "1" }]) {
      const listed = await gui.call("list", { host: "127.0.0.1", port: remembered.port, ...trust });
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      assert.ok(listed.body.error, "the impostor is refused");
    }
    // "On this network" probes a remembered server: a connection that sends nothing at all.
    const spoken = remembered.received.filter((bytes) => bytes.length > 0);
    assert.equal(spoken.length, 2);
    for (const bytes of spoken) {
      assert.equal(bytes[0], TLS_HANDSHAKE, "a TLS ClientHello, nothing in the clear");
    }
    // The twin: the same request to a server not remembered goes out in plain TCP.
    const plain = await gui.call("list", { host: "127.0.0.1", port: stranger.port });
    assert.ok(plain.body.error, "the impostor is refused");
    assert.equal(stranger.received.length, 1);
    assert.notEqual(stranger.received[0]![0], TLS_HANDSHAKE);
  }),
);
