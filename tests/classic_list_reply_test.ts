// Issue 20, item 8: a classic listing is checked like a classic code. A TLS
// server's alert is not a list of names (list --classic exits 7, as get and
// put do), nor is a reply with a NUL or a slash in a name (no file name holds
// them), nor one without the `", "` after each name; a real listing still
// reads, names with other control characters included (shown escaped).

import assert from "node:assert/strict";
import { list, startServer } from "../lib/mod.ts";
import { ClientError } from "../lib/client/errors.ts";
import { fakeServer, runClient, tempDir, writeRaw } from "./helpers.ts";
import { makeCertificate, withDeadline } from "./security_helpers.ts";

Deno.test(
  "list --classic at a TLS server is a protocol error (exit 7), as get and put are",
  withDeadline(60_000, async () => {
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
    const where = ["127.0.0.1", String(server.addr.port)];
    for (const args of [["list"], ["get", "a.txt"]]) {
      const run = await runClient([...where, ...args, "--classic"], { cwd: local.path });
      assert.equal(run.code, 7, `${args[0]}: ${run.stderr}`);
      assert.match(run.stderr, /speaks TLS/);
      assert.equal(run.stdout, "", "no name printed");
    }
  }),
);

Deno.test(
  "a classic listing must be names each followed by ', ', without a NUL or a slash",
  withDeadline(30_000, async () => {
    const replies: [string, string[] | undefined][] = [
      ["a.txt, b.jpg, ", ["a.txt", "b.jpg"]],
      ["", []],
      ["a.txt, b\x1b[2J.jpg, ", ["a.txt", "b\x1b[2J.jpg"]],
      ["a.txt, b\x00.jpg, ", undefined],
      ["a.txt, b.jpg", undefined],
      ["a/b, ", undefined],
      ["\x15\x03\x03\x00\x02\x02\x28", undefined],
    ];
    for (const [reply, names] of replies) {
      await using fake = fakeServer(async (conn) => {
        await conn.read(new Uint8Array(64));
        await writeRaw(conn, reply);
      });
      const listing = list({
        host: "127.0.0.1",
        port: fake.port,
        classic: true,
        timeoutMs: 10_000,
      });
      if (names) {
        assert.deepEqual((await listing).map((f) => f.name), names, JSON.stringify(reply));
      } else {
        await assert.rejects(
          listing,
          (error: ClientError) => error instanceof ClientError && error.kind === "protocol",
          JSON.stringify(reply),
        );
      }
    }
  }),
);
