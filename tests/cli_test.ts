// The client and server CLIs as a person runs them: every refusal is one
// clear line with its own exit code, and nothing is lost or overwritten.

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  namesIn,
  runClient,
  runServer,
  sameBytes,
  startTestServer,
  tempDir,
  type TestServer,
  writeRandomFile,
} from "./helpers.ts";

/** Exactly one line on stderr, matching `pattern`. */
function oneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got: ${stderr}`);
  assert.match(lines[0]!, pattern);
}

async function withServer(
  spec: { write?: boolean; args?: string[] },
  body: (server: TestServer, served: string, local: string) => Promise<void>,
): Promise<void> {
  await using served = await tempDir();
  await using local = await tempDir();
  const server = await startTestServer({ root: served.path, ...spec });
  try {
    await body(server, served.path, local.path);
  } finally {
    await server.stop();
  }
}

Deno.test("put refuses a name that already exists, exit 3, and keeps the old file", async () => {
  await withServer({}, async (server, served, local) => {
    await Deno.writeTextFile(join(served, "apple.jpg"), "original");
    await Deno.writeTextFile(join(local, "apple.jpg"), "replacement");
    const run = await runClient(["localhost", String(server.port), "put", "apple.jpg"], {
      cwd: local,
    });
    assert.equal(run.code, 3);
    oneLine(run.stderr, /refused: "apple\.jpg" already exists on the server: .*--as NAME/);
    assert.equal(await Deno.readTextFile(join(served, "apple.jpg")), "original");
    // What the line advises works.
    const renamed = await runClient(
      ["localhost", String(server.port), "put", "apple.jpg", "--as", "apple-2.jpg"],
      { cwd: local },
    );
    assert.equal(renamed.code, 0, renamed.stderr);
    assert.equal(await Deno.readTextFile(join(served, "apple-2.jpg")), "replacement");
  });
});

Deno.test("put --as stores the file under another name", async () => {
  await withServer({}, async (server, served, local) => {
    await writeRandomFile(join(local, "a.bin"), 1000);
    const run = await runClient(
      ["localhost", String(server.port), "put", "a.bin", "--as", "b, c.bin", "--quiet"],
      { cwd: local },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "", "--quiet prints no summary");
    assert.ok(await sameBytes(join(local, "a.bin"), join(served, "b, c.bin")));
  });
});

Deno.test("get of a missing file is refused, exit 3, and leaves nothing behind", async () => {
  await withServer({}, async (server, _served, local) => {
    const run = await runClient(["localhost", String(server.port), "get", "nope.txt"], {
      cwd: local,
    });
    assert.equal(run.code, 3);
    oneLine(run.stderr, /No file named "nope\.txt" on the server/);
    assert.deepEqual(namesIn(local), []);
  });
});

Deno.test("a read-only server refuses put with a reason that says how to enable uploads", async () => {
  await withServer({ write: false }, async (server, served, local) => {
    const listening = server.lines.find((l) => l.event === "listening")!;
    assert.equal(listening.writable, false);
    assert.match(String(listening.message), /read-only: restart with --allow-write/);
    await Deno.writeTextFile(join(local, "a.txt"), "a");
    const run = await runClient(["localhost", String(server.port), "put", "a.txt"], {
      cwd: local,
    });
    assert.equal(run.code, 3);
    oneLine(run.stderr, /read-only: restart it with --allow-write/);
    assert.deepEqual(namesIn(served), []);
  });
});

Deno.test("invalid names are refused with invalid-name, exit 3", async () => {
  await withServer({}, async (server, served, local) => {
    await Deno.writeTextFile(join(local, "a.txt"), "a");
    for (
      const name of ["..", "../escape.txt", "a//b", "/abs", "with\\backslash", "bad\u0001name", ""]
    ) {
      const put = await runClient(
        ["localhost", String(server.port), "put", "a.txt", "--as", name],
        { cwd: local },
      );
      assert.equal(put.code, 3, `put --as ${JSON.stringify(name)}: ${put.stderr}`);
      oneLine(put.stderr, /Invalid name.*: .*use --as NAME\)$/);
    }
    const get = await runClient(["localhost", String(server.port), "get", "../etc/passwd"], {
      cwd: local,
    });
    assert.equal(get.code, 3);
    oneLine(
      get.stderr,
      /Invalid name "\.\.\/etc\/passwd": its part "\.\.": it names a folder: name a file or folder as list shows it/,
    );
    assert.deepEqual(namesIn(served), []);
  });
});

Deno.test("get refuses to overwrite a local file unless --force", async () => {
  await withServer({}, async (server, served, local) => {
    await writeRandomFile(join(served, "data.bin"), 5000);
    await Deno.writeTextFile(join(local, "data.bin"), "mine");
    const port = String(server.port);
    const refused = await runClient(["localhost", port, "get", "data.bin"], { cwd: local });
    assert.equal(refused.code, 6);
    oneLine(refused.stderr, /'data\.bin' already exists: add --force to overwrite it/);
    assert.equal(await Deno.readTextFile(join(local, "data.bin")), "mine");
    assert.ok(
      !server.lines.some((l) => l.op === "get"),
      "the server is not contacted when the local file exists",
    );

    const forced = await runClient(["localhost", port, "get", "data.bin", "--force"], {
      cwd: local,
    });
    assert.equal(forced.code, 0, forced.stderr);
    assert.ok(await sameBytes(join(served, "data.bin"), join(local, "data.bin")));
    assert.deepEqual(namesIn(local), ["data.bin"]);
  });
});

Deno.test("get --output saves to a path or into a folder", async () => {
  await withServer({}, async (server, served, local) => {
    await writeRandomFile(join(served, "x.bin"), 3000);
    const port = String(server.port);
    await Deno.mkdir(join(local, "sub"));
    const toFolder = await runClient(["localhost", port, "get", "x.bin", "-o", "sub"], {
      cwd: local,
    });
    assert.equal(toFolder.code, 0, toFolder.stderr);
    assert.ok(await sameBytes(join(served, "x.bin"), join(local, "sub", "x.bin")));
    const toPath = await runClient(["localhost", port, "get", "x.bin", "--output", "y.bin"], {
      cwd: local,
    });
    assert.equal(toPath.code, 0, toPath.stderr);
    assert.ok(await sameBytes(join(served, "x.bin"), join(local, "y.bin")));
  });
});

Deno.test("put of a missing local file fails with exit 6 and contacts no server", async () => {
  await using local = await tempDir();
  const run = await runClient(["localhost", "1", "put", "missing.bin"], { cwd: local.path });
  assert.equal(run.code, 6);
  oneLine(run.stderr, /No such file: 'missing\.bin'/);
});

Deno.test("a server that is not running gives a connection error, exit 4", async () => {
  // Bind a port, then free it, so that nothing listens there.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const run = await runClient(["127.0.0.1", String(port), "list"]);
  assert.equal(run.code, 4);
  oneLine(run.stderr, /Cannot connect to 127\.0\.0\.1:\d+ \(connection refused\)/);
  await using local = await tempDir();
  const get = await runClient(["127.0.0.1", String(port), "get", "a.txt"], { cwd: local.path });
  assert.equal(get.code, 4);
  assert.deepEqual(namesIn(local.path), [], "a get that never started leaves no partial file");
});

Deno.test("client usage errors exit 2 with a usage line", async () => {
  const cases: [string[], RegExp][] = [
    [["--quiet"], /Missing HOST/],
    [["localhost"], /Missing PORT/],
    [["localhost", "70000", "list"], /Invalid port '70000'/],
    [["localhost", "365"], /Missing operation/],
    [["localhost", "365", "delete", "x"], /Unknown operation 'delete'/],
    [["localhost", "365", "put"], /Missing PATH/],
    [["localhost", "365", "list", "a", "extra"], /Unexpected argument 'extra'/],
    [["localhost", "365", "list", "--frobnicate"], /Unknown option '--frobnicate'/],
    [["localhost", "365", "put", "a", "--force"], /--force goes with get/],
  ];
  for (const [args, pattern] of cases) {
    const run = await runClient(args);
    assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
    const lines = run.stderr.trim().split("\n");
    assert.match(lines[0]!, pattern);
    assert.match(lines[1]!, /^Usage: /);
  }
});

Deno.test("a client without --allow-write is told which permission get needs", async () => {
  const run = await runClient(["localhost", "365", "get", "a.txt"], {
    perms: ["--allow-net", "--allow-read", "--allow-env"],
  });
  assert.equal(run.code, 2);
  oneLine(run.stderr, /needs --allow-write to save 'a\.txt': run it with --allow-write/);
});

Deno.test("--help prints usage to stdout and exits 0; --version prints the version", async () => {
  const clientHelp = await runClient(["--help"]);
  assert.equal(clientHelp.code, 0);
  assert.match(clientHelp.stdout, /Exit codes: 0 success/);
  assert.match(clientHelp.stdout, /130 interrupted \(Ctrl-C or SIGTERM/);
  assert.match(clientHelp.stdout, /a trailing slash says it must be one/);
  const serverHelp = await runServer(["--help"]);
  assert.equal(serverHelp.code, 0);
  assert.match(serverHelp.stdout, /--idle-timeout SECONDS/);
  const version = await runClient(["--version"]);
  assert.match(version.stdout, /^privateshare \d+\.\d+\.\d+/);
});

Deno.test("server usage errors: missing, out-of-range and taken ports exit 2", async () => {
  const missing = await runServer(["--root", "."]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^privateshare-server: Missing PORT/);
  const range = await runServer(["65536"]);
  assert.equal(range.code, 2);
  assert.match(range.stderr, /Invalid port '65536'/);
  const word = await runServer(["http"]);
  assert.equal(word.code, 2);
  using taken = Deno.listen({ hostname: "0.0.0.0", port: 0 });
  const busy = await runServer([String(taken.addr.port)]);
  assert.equal(busy.code, 2);
  oneLine(busy.stderr, /^privateshare-server: Port \d+ is already in use: choose another port/);
  const noRoot = await runServer(["0", "--root", "/nonexistent/folder"]);
  assert.equal(noRoot.code, 2);
  assert.match(noRoot.stderr, /does not exist/);
});
