/**
 * The page API's bodies, in process: a JSON body of exactly the limit is
 * read and one byte more is refused with 413 (by its Content-Length before a
 * byte is read, and while streaming when it comes chunked); malformed JSON, a
 * JSON body that is not an object and a body cut off by the peer get 400
 * with one line; the folder picker on folders Deno keeps for `--allow-all`
 * (/proc, /dev, /sys) answers a listing with one line of error. Nothing
 * reaches the route past a refusal, nothing is printed on the terminal, and
 * no promise is left rejected (Deno's test runner fails on one).
 *
 * @module
 */

import assert from "node:assert/strict";
import { within } from "./support/deadline.ts";
import { listFolders } from "../lib/gui/system.ts";
import { json, MAX_JSON_BYTES, readJson, serveGui } from "../lib/gui/web.ts";

/** A page server whose `api/act` echoes the size of the object it read, and the real folder picker. */
function bodyGui() {
  let calls = 0;
  const gui = serveGui({
    html: "<!doctype html><title>test</title>",
    script: "",
    routes: {
      act: {
        method: "POST",
        handle: async (request) => {
          const body = await readJson(request);
          calls++;
          return json({ ok: true, length: String(body.pad ?? "").length });
        },
      },
      folders: {
        method: "POST",
        handle: async (request) => {
          const path = (await readJson(request)).path;
          return json(await listFolders(typeof path === "string" ? path : undefined));
        },
      },
    },
  });
  return Object.assign(gui, {
    calls: () => calls,
    async [Symbol.asyncDispose]() {
      await gui.shutdown();
    },
  });
}

/** The parts of a raw request to the page server. */
function head(gui: { url: string; port: number }, route: string, extra: string[]): string {
  const path = new URL(gui.url).pathname;
  return [
    `POST ${path}api/${route} HTTP/1.1`,
    `Host: 127.0.0.1:${gui.port}`,
    "Content-Type: application/json",
    "Connection: close",
    ...extra,
    "",
    "",
  ].join("\r\n");
}

/** Sends raw bytes, reads the answer to its end, and returns its status and body. */
async function raw(port: number, bytes: Uint8Array): Promise<{ status: number; body: string }> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(bytes).catch(() => {});
  // A server that waited for the body would never answer.
  const answer = await within(30_000, "The answer", readAll(conn));
  const code = /^HTTP\/1\.1 (\d{3})/.exec(answer);
  assert.ok(code, `Not an HTTP answer: ${JSON.stringify(answer.slice(0, 200))}`);
  return { status: Number(code[1]), body: answer.slice(answer.indexOf("\r\n\r\n") + 4) };
}

/** Reads one HTTP answer: its head, then as many bytes of body as its Content-Length says. */
async function readAll(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(65536);
  let answer = "";
  const decoder = new TextDecoder();
  while (true) {
    const end = answer.indexOf("\r\n\r\n");
    const length = /\r\ncontent-length: (\d+)\r\n/i.exec(answer);
    if (end >= 0 && length && answer.length >= end + 4 + Number(length[1])) break;
    let n: number | null;
    try {
      n = await conn.read(buffer);
    } catch (error) {
      // The server may reset a connection whose body it did not read to its end.
      if (error instanceof Deno.errors.ConnectionReset) break;
      throw error;
    }
    if (n === null) break;
    answer += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  return answer;
}

/** A JSON object body of exactly `size` bytes. */
function objectOf(size: number): string {
  const empty = JSON.stringify({ pad: "" });
  return JSON.stringify({ pad: "x".repeat(size - empty.length) });
}

/** Runs `body` with console.error recorded, and returns what it printed. */
async function printed(body: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  try {
    await body();
  } finally {
    console.error = original;
  }
  return lines;
}

const encoder = new TextEncoder();

Deno.test("a page's JSON body of exactly the limit is read; one byte more is refused with 413", async () => {
  await using gui = bodyGui();
  const said = await printed(async () => {
    const exact = objectOf(MAX_JSON_BYTES);
    assert.equal(encoder.encode(exact).length, MAX_JSON_BYTES);
    const ok = await fetch(`${gui.url}api/act`, { method: "POST", body: exact });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { ok: true, length: MAX_JSON_BYTES - 10 });
    assert.equal(gui.calls(), 1);

    const over = objectOf(MAX_JSON_BYTES + 1);
    const refused = await fetch(`${gui.url}api/act`, { method: "POST", body: over });
    assert.equal(refused.status, 413);
    assert.deepEqual(await refused.json(), {
      error: `Request too large: a page's request carries at most ${MAX_JSON_BYTES} bytes`,
    });
    assert.equal(gui.calls(), 1, "the route never sees a body over the limit");
  });
  assert.deepEqual(said, []);
});

Deno.test("a chunked body is stopped at the limit: limit passes, limit+1 gets 413 while 64 MiB more wait unsent", async () => {
  await using gui = bodyGui();
  const said = await printed(async () => {
    for (const [size, expected] of [[MAX_JSON_BYTES, 200], [MAX_JSON_BYTES + 1, 413]] as const) {
      const body = encoder.encode(objectOf(size));
      // Without a Content-Length (a stream), the size is only known while reading.
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(body);
          controller.close();
        },
      });
      const answer = await fetch(`${gui.url}api/act`, { method: "POST", body: stream });
      assert.equal(answer.status, expected, `${size} bytes`);
      await answer.body?.cancel();
    }
    // A huge body, sent chunk by chunk: the answer comes after at most the
    // limit was read, while the sender still holds nearly all of it.
    const total = 64 * 1024 * 1024;
    let sent = 0;
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode('{"pad":"'));
      },
      pull(controller) {
        if (sent >= total) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    }, { highWaterMark: 0 });
    const answer = await fetch(`${gui.url}api/act`, { method: "POST", body: stream });
    assert.equal(answer.status, 413);
    assert.match((await answer.json()).error, /^Request too large/);
    assert.ok(sent < total / 4, `only a little of the body was pulled: ${sent} bytes`);
  });
  assert.deepEqual(said, []);
  assert.equal(gui.calls(), 1);
});

Deno.test("a Content-Length over the limit is refused before its body is sent", async () => {
  await using gui = bodyGui();
  for (const [length, expected] of [[MAX_JSON_BYTES + 1, 413], [64 * 1024 * 1024, 413]]) {
    // Only the head: a server that waited for the body would never answer.
    const answer = await raw(
      gui.port,
      encoder.encode(head(gui, "act", [`Content-Length: ${length}`])),
    );
    assert.equal(answer.status, expected, `Content-Length ${length}`);
    assert.match(answer.body, /"error":"Request too large: a page's request carries at most/);
  }
  assert.equal(gui.calls(), 0);
});

Deno.test("malformed JSON, a JSON value that is not an object and no body get 400 with one line", async () => {
  await using gui = bodyGui();
  const cases: [string, string][] = [
    ['{"path":"/"', "Malformed request: its body is not JSON"],
    ["{path:'/'}", "Malformed request: its body is not JSON"],
    ["", "Malformed request: its body is not JSON"],
    ['["/"]', "Malformed request: its body is not a JSON object"],
    ["null", "Malformed request: its body is not a JSON object"],
    ['"/"', "Malformed request: its body is not a JSON object"],
  ];
  const said = await printed(async () => {
    for (const [body, message] of cases) {
      for (const route of ["act", "folders"]) {
        const answer = await fetch(`${gui.url}api/${route}`, { method: "POST", body });
        assert.equal(answer.status, 400, `${route}: ${JSON.stringify(body)}`);
        assert.deepEqual(await answer.json(), { error: message });
      }
    }
    // Bytes that are not UTF-8 are not JSON either.
    const answer = await fetch(`${gui.url}api/act`, {
      method: "POST",
      body: new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]),
    });
    assert.equal(answer.status, 400);
    assert.deepEqual(await answer.json(), { error: "Malformed request: its body is not JSON" });
    // The closest right one passes.
    const right = await fetch(`${gui.url}api/act`, { method: "POST", body: "{}" });
    assert.equal(right.status, 200);
  });
  assert.deepEqual(said, []);
  assert.equal(gui.calls(), 1);
});

Deno.test("a body cut off before its Content-Length gets 400 with one line, and no stack trace", async () => {
  const gui = bodyGui();
  const said = await printed(async () => {
    for (const route of ["act", "folders"]) {
      // The peer stops sending 92 bytes short of its Content-Length, and waits for the answer.
      using conn = await Deno.connect({ hostname: "127.0.0.1", port: gui.port });
      await conn.write(encoder.encode(head(gui, route, ["Content-Length: 100"]) + '{"path":'));
      await conn.closeWrite();
      const answer = await within(30_000, "The answer", readAll(conn));
      assert.match(answer, /^HTTP\/1\.1 400 /, route);
      assert.ok(
        answer.endsWith('{"error":"Malformed request: its body was cut off"}'),
        JSON.stringify(answer),
      );
    }
    // A peer that goes away altogether: the page server winds down cleanly after it.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: gui.port });
    await conn.write(encoder.encode(head(gui, "act", ["Content-Length: 100"]) + '{"pad":'));
    conn.close();
    // The server still answers the next request, and the right one passes.
    const answer = await fetch(`${gui.url}api/act`, { method: "POST", body: '{"pad":""}' });
    assert.equal(answer.status, 200);
    await answer.body?.cancel();
    await gui.shutdown();
  });
  assert.deepEqual(said, [], "nothing printed for a peer that went away");
  assert.equal(gui.calls(), 1);
});

Deno.test({
  name: "the folder picker on /proc, /dev and /sys answers one line of error, not a 500",
  // The GUI's permissions (Deno opens these folders only to --allow-all).
  permissions: { net: true, read: true, env: true },
}, async () => {
  await using gui = bodyGui();
  const said = await printed(async () => {
    for (const path of ["/proc/1/fd", "/proc", "/dev", "/sys", "/dev/fd"]) {
      const answer = await fetch(`${gui.url}api/folders`, {
        method: "POST",
        body: JSON.stringify({ path }),
      });
      assert.equal(answer.status, 200, path);
      const listing = await answer.json();
      assert.equal(listing.path, path);
      assert.deepEqual(listing.folders, []);
      assert.equal(
        listing.error,
        `'${path}' is a system folder privateshare may not open: choose another folder`,
      );
      assert.ok(listing.parent, "the picker can go up from it");
    }
    // A path the system refuses (too long for it) is one line too.
    const long = `/${"x".repeat(5000)}`;
    const refused = await fetch(`${gui.url}api/folders`, {
      method: "POST",
      body: JSON.stringify({ path: long }),
    });
    assert.equal(refused.status, 200);
    const error = (await refused.json()).error;
    assert.ok(error.startsWith(`Cannot read '${long}': File name too long`), error.slice(0, 80));
    assert.ok(!error.includes("\n"));
    // The closest readable folder lists.
    const home = await fetch(`${gui.url}api/folders`, {
      method: "POST",
      body: JSON.stringify({ path: "/" }),
    });
    const listing = await home.json();
    assert.equal(listing.error, undefined);
    assert.ok(listing.folders.includes("tmp"));
  });
  assert.deepEqual(said, []);
});

Deno.test("a failure no route expected reaches the page and the terminal as one line, not a stack trace", async () => {
  const gui = serveGui({
    html: "",
    script: "",
    routes: {
      fail: {
        method: "POST",
        handle: () => {
          throw new RangeError("Something unforeseen\n    at somewhere (file.ts:1:1)");
        },
      },
    },
  });
  const said = await printed(async () => {
    const answer = await fetch(`${gui.url}api/fail`, { method: "POST", body: "{}" });
    assert.equal(answer.status, 500);
    assert.deepEqual(await answer.json(), {
      error: "The program could not answer: Something unforeseen",
    });
    await gui.shutdown();
  });
  assert.deepEqual(said, ["privateshare: a request of the page failed: Something unforeseen"]);
});
