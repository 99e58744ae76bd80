// What README promises, under exactly the permissions the released
// programs carry (tools/build.ts: the same flags `deno compile` embeds), not
// under `deno task` or --allow-all: the server checks the free space before
// a folder put, makes its TLS certificate and takes its password from the
// environment; the client trusts it by fingerprint, remembers it, and puts,
// gets and lists through it.

import assert from "node:assert/strict";
import { join } from "node:path";
import { permissionsFor, PROGRAMS } from "../tools/build.ts";
import { runClient, startTestServer, tempDir, test } from "./helpers.ts";
import { command } from "./support/folder_peer.ts";
import { testEnv } from "./security_helpers.ts";

const SERVER = permissionsFor(PROGRAMS[0]!, Deno.build.target);
const CLIENT = permissionsFor(PROGRAMS[1]!, Deno.build.target);

test("release permissions: a folder put larger than the server's free space is refused no-space before any byte moves", async () => {
  await using served = await tempDir();
  const server = await startTestServer({ root: served.path, perms: SERVER });
  try {
    {
      using c = await command(server.port, {
        op: "put-folder",
        name: "huge",
        files: 1,
        folders: 0,
        size: 2 ** 50,
      });
      const reply = await c.reply();
      assert.ok(reply.code === "cancel", JSON.stringify(reply));
      assert.equal(reply.reason, "no-space", reply.message);
    }
    {
      // The closest case that fits: one byte.
      using c = await command(server.port, {
        op: "put-folder",
        name: "small",
        files: 1,
        folders: 0,
        size: 1,
      });
      assert.equal((await c.reply()).code, "pass");
    }
    assert.deepEqual([...Deno.readDirSync(served.path)].filter((e) => !e.name.startsWith(".")), []);
  } finally {
    await server.stop();
  }
});

test("release permissions: a TLS server with a password from the environment; the client pins it by fingerprint, then needs no flag", async () => {
  await using served = await tempDir();
  await using config = await tempDir();
  await using local = await tempDir();
  const password = "correct horse battery staple";
  const env = testEnv(config.path, { PRIVATESHARE_PASSWORD: password });
  const server = await startTestServer({
    root: served.path,
    perms: SERVER,
    args: ["--tls"],
    env,
  });
  try {
    const tls = await server.waitFor((l) => l.event === "tls");
    const fingerprint = String(tls.fingerprint);
    await Deno.writeTextFile(join(local.path, "a.txt"), "hello");
    const at = ["localhost", String(server.port)];
    const put = await runClient([...at, "put", "a.txt", "--fingerprint", fingerprint], {
      cwd: local.path,
      perms: CLIENT,
      env,
    });
    assert.equal(put.code, 0, put.stderr);
    // Remembered: no flag now.
    const list = await runClient([...at, "list"], { cwd: local.path, perms: CLIENT, env });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /a\.txt/);
    await Deno.remove(join(local.path, "a.txt"));
    const get = await runClient([...at, "get", "a.txt"], { cwd: local.path, perms: CLIENT, env });
    assert.equal(get.code, 0, get.stderr);
    assert.equal(await Deno.readTextFile(join(local.path, "a.txt")), "hello");
    // One character off in the password: refused.
    const wrong = await runClient([...at, "list"], {
      cwd: local.path,
      perms: CLIENT,
      env: { ...env, PRIVATESHARE_PASSWORD: password.slice(0, -1) + "E" },
    });
    assert.equal(wrong.code, 3, wrong.stderr);
  } finally {
    await server.stop();
  }
});
