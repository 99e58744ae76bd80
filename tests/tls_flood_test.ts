// Issue 20, item 2: a TLS handshake that never completes gives its socket
// back. Deno.listenTls keeps a connection's descriptor until its handshake
// ends, whatever closes it; the server now accepts TCP and runs node:tls on
// top, so the command deadline and the waiting pool's eviction release
// every descriptor (silent, half a ClientHello, or a whole one and then
// silent). The server runs with a real descriptor limit, the flood comes
// from 127.0.0.2 and the normal client from 127.0.0.1; the server's open
// descriptors are read from /proc.

import assert from "node:assert/strict";
import net from "node:net";
import { list } from "../lib/mod.ts";
import { SERVER_TS, tempDir, until } from "./helpers.ts";
import { makeCertificate, withDeadline } from "./security_helpers.ts";

/** The start of a ClientHello: a record header announcing 512 bytes, and 27 of them. */
const HALF_HELLO = new Uint8Array([
  0x16,
  0x03,
  0x01,
  0x02,
  0x00,
  0x01,
  0x00,
  0x01,
  0xfc,
  0x03,
  0x03,
  ...new Uint8Array(20).fill(7),
]);

/** A whole ClientHello, as Deno's own TLS client sends it, caught by a plain listener. */
async function clientHello(): Promise<Uint8Array> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connectTls({ hostname: "127.0.0.1", port: listener.addr.port });
  const handshake = client.handshake().catch(() => {});
  const conn = await listener.accept();
  const buffer = new Uint8Array(16 * 1024);
  let have = 0;
  while (have < 5 || have < 5 + ((buffer[3]! << 8) | buffer[4]!)) {
    const n = await conn.read(buffer.subarray(have));
    if (n === null) throw new Error("The TLS client closed before its ClientHello");
    have += n;
  }
  conn.close();
  client.close();
  await handshake;
  return buffer.slice(0, have);
}

/** How many descriptors a process has open. */
function openDescriptors(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
}

Deno.test(
  "a TLS server gives back the descriptors of handshakes that never complete, and serves another address meanwhile",
  withDeadline(90_000, async () => {
    await using dir = await tempDir();
    await using served = await tempDir();
    await Deno.writeTextFile(`${served.path}/a.txt`, "a");
    const certificate = await makeCertificate(dir.path);
    // 256 descriptors for the server; the flood alone is 300 connections.
    const child = new Deno.Command("prlimit", {
      args: [
        "--nofile=256:256",
        Deno.execPath(),
        "run",
        "--no-prompt",
        "--allow-net",
        "--allow-read",
        SERVER_TS,
        "0",
        "--host",
        "127.0.0.1",
        "--root",
        served.path,
        "--cert",
        certificate.certFile,
        "--key",
        certificate.keyFile,
        "--command-timeout",
        "2",
        "--log-format",
        "json",
        "--idle-timeout",
        "0",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const lines: Record<string, unknown>[] = [];
    const reading = (async () => {
      let text = "";
      for await (const chunk of child.stdout) {
        text += new TextDecoder().decode(chunk, { stream: true });
        let at;
        while ((at = text.indexOf("\n")) >= 0) {
          lines.push(JSON.parse(text.slice(0, at)));
          text = text.slice(at + 1);
        }
      }
    })();
    const sockets: net.Socket[] = [];
    try {
      await until(() => lines.some((l) => l.event === "listening"), 20_000);
      const port = lines.find((l) => l.event === "listening")!.port as number;
      const trust = { ca: certificate.cert };
      // One request first, so that what TLS loads once is open before the count.
      await list({ host: "127.0.0.1", port, timeoutMs: 10_000, tls: trust });
      const before = openDescriptors(child.pid);
      const opened: Promise<void>[] = [];
      const hello = await clientHello();
      for (let i = 0; i < 300; i++) {
        const socket = net.connect({ host: "127.0.0.1", port, localAddress: "127.0.0.2" });
        socket.on("error", () => {});
        socket.on("data", () => {});
        sockets.push(socket);
        opened.push(new Promise((resolve) => socket.once("connect", () => resolve())));
        // A third send nothing, a third half a ClientHello, a third a whole one and then
        // nothing (the server's handshake waits for the client's next flight).
        if (i % 3 === 1) socket.write(HALF_HELLO);
        if (i % 3 === 2) socket.write(hello);
      }
      await Promise.all(opened);
      // While the flood is held, a client from another address is served.
      for (let i = 0; i < 3; i++) {
        const files = await list({ host: "127.0.0.1", port, timeoutMs: 10_000, tls: trust });
        assert.deepEqual(files.map((f) => f.name), ["a.txt"]);
      }
      // The deadline closes every connection of the flood, still held open by
      // its peers: the server's descriptors fall back to what they were.
      await until(() => openDescriptors(child.pid) <= before + 2, 30_000).catch(() => {
        throw new Error(
          `The server still holds ${openDescriptors(child.pid)} descriptors (${before} before)`,
        );
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      child.kill("SIGTERM");
      await child.status;
      await reading;
    }
  }),
);
