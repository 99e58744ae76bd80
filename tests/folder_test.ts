// The served folder is not trusted: links, FIFOs and look-alike files that
// someone else placed in it never redirect what the server creates, reads
// or deletes; an unreadable file is not a server bug; a folder without hard
// links still takes uploads.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { get, list, put } from "../lib/mod.ts";
import { encodeCommand, encodeLine } from "../lib/protocol/ps2.ts";
import { openExisting } from "../lib/transfer/files.ts";
import {
  namesIn,
  runClient,
  sameBytes,
  serveFolder,
  SERVER_TS,
  tempDir,
  until,
  writeRandomFile,
} from "./helpers.ts";

const decoder = new TextDecoder();

/** Rejects after `ms`, so that a test fails instead of hanging. */
function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done in ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** The hidden path that privateshare 0.1 used for a put of `name` and `size`: predictable. */
function oldPartialPath(root: string, name: string, size: number): string {
  const key = createHash("sha256").update(`${name}\0${size}`).digest("hex").slice(0, 32);
  return join(root, `.privateshare-partial-${key}`);
}

/** A name of the current partial pattern for `name` and `size`, as an attacker can form it. */
function lookalikePartialPath(root: string, name: string, size: number, n: number): string {
  const key = createHash("sha256").update(`${name}\0${size}`).digest("hex").slice(0, 32);
  return join(root, `.privateshare-partial-${key}-${String(n).repeat(32)}`);
}

function mkfifo(path: string): void {
  const made = new Deno.Command("mkfifo", { args: [path] }).outputSync();
  assert.equal(made.code, 0, decoder.decode(made.stderr));
}

function isRoot(): boolean {
  return Deno.uid() === 0;
}

/** A raw PS/2 put with resume; returns the server's first reply and its verdict. */
async function rawPut(port: number, name: string, data: Uint8Array) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encodeCommand({ op: "put", name, size: data.length, resume: true }));
    const lines = readLines(conn);
    const pass = JSON.parse((await lines.next()).value!);
    assert.equal(pass.code, "pass", JSON.stringify(pass));
    await conn.write(encodeLine({ offset: 0 }));
    await conn.write(data);
    await conn.write(encodeLine({ sha256: createHash("sha256").update(data).digest("hex") }));
    const verdict = JSON.parse((await lines.next()).value!);
    return { pass, verdict };
  } finally {
    conn.close();
  }
}

async function* readLines(conn: Deno.Conn): AsyncGenerator<string> {
  let text = "";
  const buffer = new Uint8Array(4096);
  while (true) {
    let at;
    while ((at = text.indexOf("\n")) >= 0) {
      yield text.slice(0, at);
      text = text.slice(at + 1);
    }
    const n = await conn.read(buffer);
    if (n === null) return;
    text += decoder.decode(buffer.subarray(0, n));
  }
}

Deno.test("a put never writes through a link planted where its temporary file could be, and hands out no digest of the link's target", async () => {
  await using served = await tempDir();
  await using outside = await tempDir();
  const victim = join(outside.path, "victim.txt");
  await Deno.writeTextFile(victim, "the victim's own bytes, which must stay as they are");
  const before = await Deno.readFile(victim);
  const data = new TextEncoder().encode("uploaded!");
  // The old predictable temporary path, and names of today's pattern.
  await Deno.symlink(victim, oldPartialPath(served.path, "up.txt", data.length));
  await Deno.symlink(victim, lookalikePartialPath(served.path, "up.txt", data.length, 1));
  await using server = serveFolder(served.path);
  const { pass, verdict } = await deadline(rawPut(server.port, "up.txt", data), 10_000, "put");
  assert.equal(pass.offset, 0);
  assert.equal(pass.prefixSha256, undefined, "no digest of anything the server did not write");
  assert.equal(verdict.code, "done", JSON.stringify(verdict));
  assert.deepEqual(await Deno.readFile(victim), before, "the link's target is untouched");
  const committed = await Deno.lstat(join(served.path, "up.txt"));
  assert.ok(committed.isFile && !committed.isSymlink, "the upload is a regular file");
  assert.equal(await Deno.readTextFile(join(served.path, "up.txt")), "uploaded!");
});

Deno.test({
  name:
    "a look-alike partial upload that the server did not make (another owner, more links) is never resumed nor deleted",
  ignore: !isRoot(),
  async fn() {
    await using served = await tempDir();
    const data = new Uint8Array(64 * 1024).fill(9);
    const foreign = lookalikePartialPath(served.path, "x.bin", data.length, 2);
    await Deno.writeTextFile(foreign, "someone else's secret");
    await Deno.chown(foreign, 65534, 65534);
    const linked = lookalikePartialPath(served.path, "x.bin", data.length, 3);
    await Deno.writeTextFile(join(served.path, "mine.txt"), "a file with two names");
    await Deno.link(join(served.path, "mine.txt"), linked);
    await using server = serveFolder(served.path);
    const { pass, verdict } = await deadline(rawPut(server.port, "x.bin", data), 10_000, "put");
    assert.equal(pass.offset, 0);
    assert.equal(pass.prefixSha256, undefined);
    assert.equal(verdict.code, "done");
    assert.equal(await Deno.readTextFile(foreign), "someone else's secret");
    assert.equal(await Deno.readTextFile(linked), "a file with two names");
  },
});

Deno.test("a FIFO planted in the folder never hangs a put, a get or a list", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  const data = new TextEncoder().encode("through no pipe");
  mkfifo(oldPartialPath(served.path, "p.txt", data.length));
  mkfifo(lookalikePartialPath(served.path, "p.txt", data.length, 4));
  mkfifo(join(served.path, "pipe"));
  await using server = serveFolder(served.path);
  const { verdict } = await deadline(rawPut(server.port, "p.txt", data), 10_000, "put");
  assert.equal(verdict.code, "done");
  const options = { host: "127.0.0.1", port: server.port, timeoutMs: 5000 };
  const names = (await deadline(list(options), 10_000, "list")).map((f) => f.name);
  assert.deepEqual(names, ["p.txt"]);
  await assert.rejects(
    deadline(get("pipe", { ...options, output: local.path }), 10_000, "get"),
    /No file named "pipe"/,
  );
  // A second put of the same name is not refused as busy by a hung first one.
  await Deno.remove(join(served.path, "p.txt"));
  assert.equal(
    (await deadline(rawPut(server.port, "p.txt", data), 10_000, "put")).verdict.code,
    "done",
  );
});

Deno.test("opening a name that became a FIFO returns at once, and the handle shows it is no file", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "swapped");
  mkfifo(path);
  const file = await deadline(openExisting(path), 5000, "open");
  try {
    assert.equal((await file.facts()).isFile, false);
  } finally {
    await file.close();
  }
  await Deno.symlink(join(dir.path, "elsewhere"), join(dir.path, "link"));
  await assert.rejects(openExisting(join(dir.path, "link")), (e) => {
    return (e as { code?: string }).code === "ELOOP";
  });
});

Deno.test("the sweep removes only the server's own stale temporaries, never a user's file that looks like one", async () => {
  await using served = await tempDir();
  // Two real interrupted uploads: the server's own partial files.
  {
    await using first = serveFolder(served.path);
    for (const name of ["stale.bin", "fresh.bin"]) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: first.port });
      await conn.write(encodeCommand({ op: "put", name, size: 1000, resume: true }));
      await conn.read(new Uint8Array(256));
      await conn.write(encodeLine({ offset: 0 }));
      await conn.write(new Uint8Array(500));
      conn.close();
    }
    await until(() => first.events.filter((e) => e.type === "request-end").length === 2);
  }
  const partials = namesIn(served.path);
  assert.equal(partials.length, 2, `two partials: ${partials}`);
  const users = [
    ".privateshare-settings.json",
    ".privateshare-partial-notes",
    ".privateshare-tmp-x",
    `.privateshare-partial-${"ab".repeat(16)}`,
    "user.txt",
  ];
  const hourAgo = new Date(Date.now() - 3600_000);
  for (const name of users) {
    await Deno.writeTextFile(join(served.path, name), "the user's own");
    await Deno.utime(join(served.path, name), hourAgo, hourAgo);
  }
  // Which partial is which: the key is the same hash of name and size as before.
  const staleKey = createHash("sha256").update("stale.bin\x001000").digest("hex").slice(0, 32);
  const stale = partials.find((n) => n.includes(staleKey))!;
  await Deno.utime(join(served.path, stale), hourAgo, hourAgo);
  await using server = serveFolder(served.path, { partialTtlMs: 60_000 });
  await until(() => server.events.some((e) => e.type === "partials-removed"));
  const removed = server.events.find((e) => e.type === "partials-removed");
  assert.deepEqual(removed, { type: "partials-removed", count: 1 });
  const fresh = partials.find((n) => n !== stale)!;
  assert.deepEqual(namesIn(served.path), [...users, fresh].sort());
});

Deno.test("a file the server may not read is neither listed nor served, is refused with its own reason, and is logged once", async () => {
  await using served = await tempDir();
  await using local = await tempDir();
  await Deno.writeTextFile(join(served.path, "ok.txt"), "fine");
  await Deno.writeTextFile(join(served.path, "secret.bin"), "nobody's");
  await Deno.chmod(join(served.path, "secret.bin"), 0o000);
  // Root reads every file: the server then runs without the two capabilities
  // that let it (a real permission failure, not a simulated one).
  const prefix = isRoot() ? ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] : [];
  const child = new Deno.Command(prefix[0] ?? Deno.execPath(), {
    args: [
      ...prefix.slice(1),
      ...(prefix.length ? [Deno.execPath()] : []),
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
      "--log-format",
      "json",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  const reading = (async () => {
    let text = "";
    for await (const chunk of child.stdout) {
      text += decoder.decode(chunk, { stream: true });
      let at;
      while ((at = text.indexOf("\n")) >= 0) {
        lines.push(JSON.parse(text.slice(0, at)));
        text = text.slice(at + 1);
      }
    }
  })();
  try {
    await until(() => lines.some((l) => l.event === "listening"), 20_000);
    const port = String(lines.find((l) => l.event === "listening")!.port);
    const listed = await runClient(["127.0.0.1", port, "list", "--json"]);
    assert.deepEqual(JSON.parse(listed.stdout).map((f: { name: string }) => f.name), ["ok.txt"]);
    for (let i = 0; i < 2; i++) {
      const got = await runClient(["127.0.0.1", port, "get", "secret.bin"], { cwd: local.path });
      assert.equal(got.code, 3, got.stderr);
      assert.match(got.stderr, /may not read "secret\.bin"/);
      assert.doesNotMatch(got.stderr, /internal|see its log|report/i);
    }
    await until(() => lines.filter((l) => l.event === "request").length >= 3);
    const notes = lines.filter((l) => l.event === "folder-unreadable");
    assert.equal(notes.length, 1, JSON.stringify(notes));
    assert.equal(notes[0]!.name, "secret.bin");
    assert.deepEqual(namesIn(local.path), []);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await reading;
  }
});

Deno.test("without hard links (link() fails with EPERM), puts are still committed, never over an existing file", async () => {
  // Fault injection: Deno.link fails as it does on FAT32, exFAT and many SMB
  // and FUSE mounts, which cannot be mounted here on demand.
  const original = Deno.link;
  let calls = 0;
  Deno.link = () => {
    calls++;
    const error = new Deno.errors.PermissionDenied("Operation not permitted (os error 1)");
    return Promise.reject(Object.assign(error, { code: "EPERM" }));
  };
  try {
    await using served = await tempDir();
    await using local = await tempDir();
    await using server = serveFolder(served.path);
    const options = { host: "127.0.0.1", port: server.port, timeoutMs: 10_000 };
    for (const [name, size] of [["a.bin", 5 * 1024 * 1024], ["b.bin", 10]] as const) {
      await writeRandomFile(join(local.path, name), size, size);
      const result = await put(join(local.path, name), options);
      assert.equal(result.size, size);
      assert.ok(await sameBytes(join(local.path, name), join(served.path, name)));
    }
    await assert.rejects(put(join(local.path, "b.bin"), options), /already exists/);
    assert.ok(calls >= 1, "link() was tried");
    assert.deepEqual(namesIn(served.path), ["a.bin", "b.bin"], "no temporary file is left");
    const notices = server.events.filter((e) => e.type === "folder");
    assert.equal(notices.length, 1, "the log says it once");
    assert.match(JSON.stringify(notices[0]), /no-hard-links/);
  } finally {
    Deno.link = original;
  }
});
