// What crosses the network: a relay between client and server records every
// byte both ways. Over TLS neither the password, nor a file's name, nor any
// 64-byte run of its content is among them, for put, get and list; without
// TLS they are (so the check itself can fail).

import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeCommand } from "../lib/protocol/ps2.ts";
import { get, list, put, startServer } from "../lib/mod.ts";
import { tempDir, writeRandomFile } from "./helpers.ts";
import {
  contains,
  findContentRun,
  makeCertificate,
  type Recorder,
  startRecorder,
  withDeadline,
} from "./security_helpers.ts";

const PASSWORD = "correct horse battery staple";
const NAME = "holiday-photos.bin";
const SIZE = 1024 * 1024 + 17;

type Mode = "plain" | "ca" | "fingerprint";

/** Runs put, get and list of one file through a recorder, and returns what it saw. */
async function exchange(mode: Mode): Promise<{ content: Uint8Array; recorder: Recorder }> {
  const tls = mode !== "plain";
  await using served = await tempDir();
  await using local = await tempDir();
  const cert = await makeCertificate(local.path);
  await using server = startServer({
    root: served.path,
    port: 0,
    host: "127.0.0.1",
    idleTimeoutMs: 0,
    ...(tls ? { tls: { cert: cert.cert, key: cert.key }, password: PASSWORD } : {}),
  });
  const recorder = startRecorder(server.addr.port);
  const source = join(local.path, NAME);
  await writeRandomFile(source, SIZE, 99);
  const options = {
    host: "127.0.0.1",
    port: recorder.port,
    ...(tls ? { password: PASSWORD } : {}),
    // Deno's own TLS trusting the certificate, or node:tls pinned to its fingerprint.
    ...(mode === "ca" ? { tls: { ca: cert.cert } } : {}),
    ...(mode === "fingerprint" ? { tls: { fingerprint: cert.fingerprint } } : {}),
  };
  await put(source, options);
  const out = join(local.path, "out");
  await Deno.mkdir(out);
  await get(NAME, { ...options, output: out });
  assert.deepEqual((await list(options)).map((f) => f.name), [NAME]);
  if (!tls) {
    // The client never sends a password in the clear, so a hand-written
    // command does, to show that the search below would find one.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: recorder.port });
    await conn.write(encodeCommand({ op: "list", password: PASSWORD }));
    await conn.read(new Uint8Array(1024));
    conn.close();
  }
  return { content: await Deno.readFile(source), recorder };
}

for (const mode of ["ca", "fingerprint", "plain"] as const) {
  const tls = mode !== "plain";
  Deno.test(
    tls
      ? `over TLS (trusted by ${mode}) neither the password, nor the name, nor any 64-byte run ` +
        "of the file crosses the network, for put, get and list"
      : "without TLS the password, the name and the file's bytes cross the network as they are",
    withDeadline(60_000, async () => {
      const { content, recorder } = await exchange(mode);
      await using _ = recorder;
      const up = recorder.up();
      const down = recorder.down();
      assert.ok(recorder.connections >= 3, "put, get and list went through the relay");
      assert.ok(up.length > SIZE && down.length > SIZE, "the file crossed both ways");
      const password = new TextEncoder().encode(PASSWORD);
      const name = new TextEncoder().encode(NAME);
      for (const [direction, bytes] of [["up", up], ["down", down]] as const) {
        const run = findContentRun(content, bytes);
        if (tls) {
          assert.equal(run, -1, `${direction}: file bytes at ${run} in the clear`);
          assert.ok(!contains(bytes, name), `${direction}: the name in the clear`);
        } else {
          assert.notEqual(run, -1, `${direction}: the file's bytes are seen`);
          assert.ok(contains(bytes, name), `${direction}: the name is seen`);
        }
      }
      assert.equal(contains(up, password), !tls, "the password seen only without TLS");
    }),
  );
}
