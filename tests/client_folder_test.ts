// The download folder is not trusted, and the paths people type are odd. In
// the style of croc's receive-path tests: links, FIFOs, folders and device
// nodes planted at every path the client writes or reads (the destination,
// the partial download, its record) leave everything outside the destination
// as it was, whatever the outcome. A file of the user's that looks like a
// partial download is never used or removed; two gets of one name do not
// collide; and every destination is checked before connecting, with one line
// and exit 6 for an ordinary mistake.
//
// No fault injection, except the relay from helpers.ts holding a download at
// an exact byte so that a second get or a new file meets it mid-way.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ClientError, get } from "../lib/mod.ts";
import {
  CLIENT_TS,
  namesIn,
  sameBytes,
  serveFolder,
  startRelay,
  tempDir,
  writeRandomFile,
} from "./helpers.ts";
import {
  linesOf,
  partialOf,
  recordOf,
  runCli,
  snapshot,
  spawnCli,
  within,
} from "./client_fakes.ts";

const MiB = 1024 * 1024;
const isRoot = Deno.uid() === 0;

/** Things to plant at a path. */
const PLANTS: Record<string, (path: string, outside: string) => void> = {
  "link to a file outside": (path, outside) => Deno.symlinkSync(join(outside, "victim.txt"), path),
  "link to a folder outside": (path, outside) => Deno.symlinkSync(outside, path),
  "dangling link": (path, outside) => Deno.symlinkSync(join(outside, "none.txt"), path),
  "hard link to a file outside": (path, outside) =>
    Deno.linkSync(join(outside, "victim.txt"), path),
  "FIFO": (path) => mknod(path, ["p"]),
  "folder": (path) => Deno.mkdirSync(path),
  ...(isRoot ? { "device node": (path: string) => mknod(path, ["c", "1", "3"]) } : {}),
};

function mknod(path: string, args: string[]): void {
  const out = new Deno.Command("mknod", { args: [path, ...args] }).outputSync();
  if (!out.success) throw new Error(`mknod ${path}: ${new TextDecoder().decode(out.stderr)}`);
}

/** Where to plant, and how the get names its destination. */
const SPOTS: Record<string, { at: (dl: string) => string; output: (dl: string) => string }> = {
  "the destination, named by the file": { at: (dl) => join(dl, "x.bin"), output: (dl) => dl + "/" },
  "the destination, typed": { at: (dl) => join(dl, "x.bin"), output: (dl) => join(dl, "x.bin") },
  "the partial download": { at: (dl) => partialOf(dl, "x.bin"), output: (dl) => dl + "/" },
  "its record": { at: (dl) => recordOf(dl, "x.bin"), output: (dl) => dl + "/" },
};

/** What a get may do with a plant at a spot: succeed (replacing or using it), or refuse. */
function expected(spot: string, plant: string, force: boolean): "ok" | "refused" {
  if (spot === "the partial download" || spot === "its record") return "refused";
  const typed = spot === "the destination, typed";
  if (plant === "device node") return typed ? "ok" : "refused"; // written into, when typed
  if (plant === "folder") return typed ? "ok" : "refused"; // saved into, when typed
  if (plant === "FIFO") return "refused";
  if (plant === "link to a folder outside" && typed) return "refused"; // needs a trailing slash
  return force ? "ok" : "refused";
}

Deno.test("planted links, FIFOs, folders and device nodes change nothing outside the destination", async () => {
  await using base = await tempDir();
  const served = join(base.path, "served");
  const outside = join(base.path, "outside");
  Deno.mkdirSync(served);
  Deno.mkdirSync(outside);
  await writeRandomFile(join(served, "x.bin"), 300_000, 3);
  Deno.writeTextFileSync(join(outside, "victim.txt"), "the victim's file, as it was\n");
  await using server = serveFolder(served);
  // Every case runs, and every broken promise is listed at the end.
  const problems: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
  };
  let round = 0;
  for (const [spot, where] of Object.entries(SPOTS)) {
    for (const [plant, make] of Object.entries(PLANTS)) {
      // A FIFO typed as the destination is written into: another test gives it a reader.
      if (spot === "the destination, typed" && plant === "FIFO") continue;
      for (const force of [false, true]) {
        const label = `${plant} at ${spot}${force ? ", --force" : ""}`;
        const dl = join(base.path, `dl${round++}`);
        Deno.mkdirSync(dl);
        make(where.at(dl), outside);
        const outsideBefore = await snapshot(outside);
        const plantedBefore = await snapshot(dl);
        let outcome: "ok" | "refused" | "failed";
        try {
          await within(
            30_000,
            get("x.bin", { host: "127.0.0.1", port: server.port, output: where.output(dl), force }),
          );
          outcome = "ok";
        } catch (error) {
          const local = error instanceof ClientError && error.kind === "local";
          check(local, `${label}: not a local refusal: ${error}`);
          outcome = local ? "refused" : "failed";
        }
        const want = expected(spot, plant, force);
        check(outcome === want, `${label}: ${outcome}, expected ${want}`);
        check(await snapshot(outside) === outsideBefore, `${label}: something outside changed`);
        if (outcome !== "ok") {
          check(await snapshot(dl) === plantedBefore, `${label}: the download folder changed`);
          continue;
        }
        // What was downloaded is a regular file at the destination (or inside the typed
        // folder), or went into the device; nothing of the client's is left beside it.
        const typed = spot === "the destination, typed";
        const device = typed && plant === "device node";
        const dest = typed && plant === "folder" ? join(dl, "x.bin", "x.bin") : join(dl, "x.bin");
        let info: Deno.FileInfo;
        try {
          info = Deno.lstatSync(dest);
        } catch (error) {
          check(false, `${label}: ${error}`);
          continue;
        }
        check(device ? info.isCharDevice === true : info.isFile, `${label}: ${dest} is not a file`);
        if (!device && info.isFile) {
          check(await sameBytes(join(served, "x.bin"), dest), `${label}: wrong bytes`);
        }
        check(!namesIn(dl).some((n) => n.includes("privateshare")), `${label}: leftovers`);
      }
    }
  }
  assert.deepEqual(problems, [], `${problems.length} of ${round} cases broke a promise`);
  if (!isRoot) console.log("(device nodes not planted: mknod needs root)");
});

/** A served folder with `x.bin`, a download folder, and the server. */
async function withServer(
  size: number,
  body: (paths: { served: string; dl: string; port: number }) => Promise<void>,
): Promise<void> {
  await using served = await tempDir();
  await using dl = await tempDir();
  await writeRandomFile(join(served.path, "x.bin"), size, 5);
  await using server = serveFolder(served.path);
  await body({ served: served.path, dl: dl.path, port: server.port });
}

Deno.test("a user's own file named like a partial download is never used or removed", async () => {
  await withServer(100_000, async ({ dl, port }) => {
    const mine = partialOf(dl, "x.bin");
    Deno.writeTextFileSync(mine, "I downloaded this file under this very name\n");
    const before = await snapshot(dl);
    for (
      const args of [["get", "x.bin"], ["get", "x.bin", "--force"], ["get", "x.bin", "--no-resume"]]
    ) {
      const run = await runCli(["127.0.0.1", String(port), ...args], { cwd: dl, ms: 30_000 });
      assert.equal(run.code, 6, `${args.join(" ")}: ${run.stderr}`);
      assert.equal(linesOf(run.stderr).length, 1, run.stderr);
      assert.match(
        run.stderr,
        /'\.x\.bin\.privateshare-partial' is in the way: .*move or remove it, or save elsewhere with --output/,
      );
      assert.equal(await snapshot(dl), before, `${args.join(" ")}: the user's file is intact`);
    }
    // Saved elsewhere, the download works.
    const other = await runCli(["127.0.0.1", String(port), "get", "x.bin", "-o", "y.bin"], {
      cwd: dl,
      ms: 30_000,
    });
    assert.equal(other.code, 0, other.stderr);
  });
});

Deno.test("a second get of the same name into the same folder says another download is running, exit 6", async () => {
  await withServer(24 * MiB, async ({ served, dl, port }) => {
    const relay = startRelay(port, { holdAt: { direction: "down", bytes: 5 * MiB } });
    try {
      const first = spawnCli(["127.0.0.1", String(relay.port), "get", "x.bin"], {
        cwd: dl,
        ms: 60_000,
      });
      await within(30_000, relay.reached("down", 5 * MiB));
      const second = await runCli(["127.0.0.1", String(port), "get", "x.bin"], {
        cwd: dl,
        ms: 30_000,
      });
      assert.equal(second.code, 6, second.stderr);
      assert.equal(linesOf(second.stderr).length, 1, second.stderr);
      assert.match(second.stderr, /Another download to 'x\.bin' is running: wait for it to end/);
      relay.release();
      const done = await first.output;
      assert.equal(done.code, 0, done.stderr);
    } finally {
      await relay.close();
    }
    assert.ok(await sameBytes(join(served, "x.bin"), join(dl, "x.bin")));
    assert.deepEqual(namesIn(dl), ["x.bin"]);
  });
});

Deno.test("a file that appears at the destination during a download is left alone; the finished download is kept for --force", async () => {
  await withServer(12 * MiB, async ({ served, dl, port }) => {
    const relay = startRelay(port, { holdAt: { direction: "down", bytes: 5 * MiB } });
    try {
      const first = spawnCli(["127.0.0.1", String(relay.port), "get", "x.bin"], {
        cwd: dl,
        ms: 60_000,
      });
      await within(30_000, relay.reached("down", 5 * MiB));
      Deno.writeTextFileSync(join(dl, "x.bin"), "made meanwhile");
      relay.release();
      const done = await first.output;
      assert.equal(done.code, 6, done.stderr);
      assert.match(
        done.stderr,
        /'x\.bin' appeared while downloading and was left alone: add --force/,
      );
    } finally {
      await relay.close();
    }
    assert.equal(Deno.readTextFileSync(join(dl, "x.bin")), "made meanwhile");
    const forced = await runCli(["127.0.0.1", String(port), "get", "x.bin", "--force"], {
      cwd: dl,
      ms: 30_000,
    });
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /resumed at 12\.0 MiB/, "nothing was downloaded twice");
    assert.ok(await sameBytes(join(served, "x.bin"), join(dl, "x.bin")));
    assert.deepEqual(namesIn(dl), ["x.bin"]);
  });
});

Deno.test("get writes into a device, FIFO or its own stdout when given one, and never replaces it", async () => {
  await withServer(3 * MiB + 5, async ({ served, dl, port }) => {
    for (const force of [[], ["--force"]]) {
      const run = await runCli(
        ["127.0.0.1", String(port), "get", "x.bin", "-o", "/dev/null", ...force],
        { cwd: dl, ms: 30_000 },
      );
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, "", "the summary stays out of the device");
      assert.match(run.stderr, /-> '\/dev\/null': .* verified sha256/);
      assert.ok(Deno.lstatSync("/dev/null").isCharDevice, "/dev/null is still a device");
    }
    // Its own stdout (a pipe here): the file alone, the summary on stderr.
    const piped = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        CLIENT_TS,
        "127.0.0.1",
        String(port),
        "get",
        "x.bin",
        "-o",
        "/dev/stdout",
      ],
      cwd: dl,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(piped.code, 0, new TextDecoder().decode(piped.stderr));
    assert.deepEqual(piped.stdout, Deno.readFileSync(join(served, "x.bin")));
    assert.match(new TextDecoder().decode(piped.stderr), /-> '\/dev\/stdout': .* verified sha256/);
    const fifo = join(dl, "pipe");
    mknod(fifo, ["p"]);
    const reader = (async () => {
      const file = await Deno.open(fifo, { read: true });
      return await new Response(file.readable).bytes();
    })();
    const run = await runCli(["127.0.0.1", String(port), "get", "x.bin", "-o", fifo], {
      cwd: dl,
      ms: 30_000,
    });
    assert.equal(run.code, 0, run.stderr);
    const got = await within(30_000, reader);
    assert.ok(got.length === 3 * MiB + 5, `the FIFO's reader got ${got.length} bytes`);
    assert.deepEqual(got, Deno.readFileSync(join(served, "x.bin")));
    assert.ok(Deno.lstatSync(fifo).isFifo);
    assert.deepEqual(namesIn(dl), ["pipe"], "no partial file for a stream");
  });
});

Deno.test("--force onto a folder saves inside it; a folder named like the file is never replaced", async () => {
  await withServer(1000, async ({ served, dl, port }) => {
    Deno.mkdirSync(join(dl, "sub"));
    const into = await runCli(["127.0.0.1", String(port), "get", "x.bin", "-o", "sub", "--force"], {
      cwd: dl,
      ms: 30_000,
    });
    assert.equal(into.code, 0, into.stderr);
    assert.ok(await sameBytes(join(served, "x.bin"), join(dl, "sub", "x.bin")));
    Deno.mkdirSync(join(dl, "x.bin"));
    const onto = await runCli(["127.0.0.1", String(port), "get", "x.bin", "--force"], {
      cwd: dl,
      ms: 30_000,
    });
    assert.equal(onto.code, 6, onto.stderr);
    assert.match(onto.stderr, /'x\.bin' is a folder, not a file, and is never replaced/);
    assert.deepEqual(namesIn(join(dl, "x.bin")), []);
  });
});

Deno.test("a destination that cannot be used is one line, exit 6, before connecting, leaving nothing", async () => {
  await withServer(1000, async ({ dl }) => {
    // Nothing listens on this port: a get that connected would exit 4, not 6.
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = String(closed.addr.port);
    closed.close();
    Deno.writeTextFileSync(join(dl, "file.txt"), "a file, not a folder");
    let unwritable = join(dl, "locked");
    Deno.mkdirSync(unwritable, { mode: 0o555 });
    Deno.chmodSync(unwritable, 0o555);
    try {
      Deno.writeTextFileSync(join(unwritable, "probe"), "");
      Deno.removeSync(join(unwritable, "probe"));
      unwritable = "/sys/kernel"; // root writes anywhere: a folder no one can write to instead
    } catch (error) {
      if (!(error instanceof Deno.errors.PermissionDenied)) throw error;
    }
    const cases: [string[], RegExp][] = [
      [["-o", "newdir/"], /The folder 'newdir\/' does not exist: create it first/],
      [["-o", ""], /The output path is empty: give a file name or a folder/],
      [["-o", "missing/x.bin"], /The folder 'missing' does not exist: create it first/],
      [["-o", "file.txt/"], /'file\.txt\/' is not a folder/],
      [["-o", unwritable + "/"], /Cannot write in '.*': permission denied/],
    ];
    const before = await snapshot(dl);
    for (const [args, message] of cases) {
      const run = await runCli(["127.0.0.1", port, "get", "x.bin", ...args], {
        cwd: dl,
        ms: 30_000,
      });
      assert.equal(run.code, 6, `${args.join(" ")}: ${run.stderr}`);
      assert.equal(linesOf(run.stderr).length, 1, run.stderr);
      assert.match(run.stderr, message);
      assert.equal(await snapshot(dl), before, `${args.join(" ")}: left something behind`);
    }
    Deno.chmodSync(join(dl, "locked"), 0o755);
  });
});
