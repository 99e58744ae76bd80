// The web page's uploads (docs/PROTOCOL.md "Uploads") against a real server on loopback: fetch
// with the session cookie and the page's Origin, and raw TCP for a browser that is cut off or
// stalls. Every byte is checked, nothing half-written or unverified appears, nothing is replaced,
// and every path rule of the store holds.

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  assertBytes,
  type LibraryServer,
  randomBytes,
  servePage,
  sha256Hex,
  tempDir,
  test,
  until,
} from "./helpers.ts";
import { openSession } from "./support/web_raw.ts";

/** An answer of the page's API: its status and JSON body, whose fields each test reads. */
// deno-lint-ignore no-explicit-any
type Answer = { status: number; json: any };

/** A browser session on a server's page. */
interface Page {
  origin: string;
  cookie: string;
  port: number;
  /** Calls the page's API; the answer's status and JSON body. */
  api(method: string, path: string, body?: unknown): Promise<Answer>;
  /** Sends bytes to an upload. */
  put(id: string, offset: number, bytes: Uint8Array): Promise<Answer>;
}

/** Opens the page's address with its token, as a phone does from the QR code. */
async function openPage(lib: LibraryServer): Promise<Page> {
  const web = lib.server.web!;
  const cookie = await openSession(web.url("127.0.0.1"));
  const origin = `http://127.0.0.1:${web.addr.port}`;
  const call = async (method: string, path: string, body?: BodyInit, type?: string) => {
    const response = await fetch(origin + path, {
      method,
      headers: { cookie, origin, ...(type ? { "content-type": type } : {}) },
      ...(body !== undefined ? { body } : {}),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined };
  };
  return {
    origin,
    cookie,
    port: web.addr.port,
    api: (method, path, body) =>
      call(method, path, body === undefined ? undefined : JSON.stringify(body), "application/json"),
    put: (id, offset, bytes) =>
      call("PUT", `/api/uploads/${id}?offset=${offset}`, bytes as Uint8Array<ArrayBuffer>),
  };
}

/** Uploads a file whole: begin, bytes, commit. */
async function upload(page: Page, path: string, bytes: Uint8Array, onExists?: string) {
  const begun = await page.api("POST", "/api/uploads", {
    path,
    size: bytes.length,
    ...(onExists ? { onExists } : {}),
  });
  if (begun.status !== 200) return begun;
  const put = await page.put(begun.json.id, 0, bytes);
  assert.equal(put.status, 200, JSON.stringify(put.json));
  assert.equal(put.json.offset, bytes.length);
  return await page.api("POST", `/api/uploads/${begun.json.id}/commit`, {
    sha256: sha256Hex(bytes),
  });
}

/** The server's own hidden files in a folder (partials, temporaries). */
function hidden(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith(".privateshare"))
    .sort();
}

/** The names a user sees in a folder. */
function visible(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => !n.startsWith(".privateshare"))
    .sort();
}

/** The size of the one partial upload in a folder. */
function partialSize(dir: string): number {
  const partials = hidden(dir).filter((n) => n.startsWith(".privateshare-partial-"));
  assert.equal(partials.length, 1, `one partial: ${partials}`);
  return Deno.statSync(join(dir, partials[0]!)).size;
}

/**
 * A browser's PUT over raw TCP: the headers (a Content-Length of `declared`, or chunked when
 * undefined) and `bytes` of the body; the connection is left open for the caller to close.
 */
async function rawPut(
  page: Page,
  id: string,
  offset: number,
  declared: number | undefined,
  bytes: Uint8Array,
): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: page.port });
  const length = declared === undefined
    ? "transfer-encoding: chunked"
    : `content-length: ${declared}`;
  const head = `PUT /api/uploads/${id}?offset=${offset} HTTP/1.1\r\n` +
    `host: 127.0.0.1:${page.port}\r\norigin: ${page.origin}\r\ncookie: ${page.cookie}\r\n` +
    `${length}\r\n\r\n`;
  await writeAllTo(conn, new TextEncoder().encode(head));
  if (declared === undefined) {
    await writeAllTo(conn, new TextEncoder().encode(`${bytes.length.toString(16)}\r\n`));
    await writeAllTo(conn, bytes);
    await writeAllTo(conn, new TextEncoder().encode("\r\n0\r\n\r\n"));
  } else {
    await writeAllTo(conn, bytes);
  }
  return conn;
}

async function writeAllTo(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/** Reads a raw HTTP answer's status line. */
async function statusOf(conn: Deno.Conn): Promise<number> {
  const buffer = new Uint8Array(4096);
  let text = "";
  while (!text.includes("\r\n")) {
    const n = await conn.read(buffer);
    if (n === null) break;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]);
}

/** Whether the server ended a PUT request (the cut or stalled body is handled). */
function putsEnded(lib: LibraryServer): number {
  return lib.events.filter((e) => e.type === "request-end" && e.record.op === "put").length;
}

test("an upload arrives byte for byte, verified, and leaves no partial behind", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const bytes = randomBytes(3 * 1024 * 1024 + 17, 7);
  const done = await upload(page, "photo.jpg", bytes);
  assert.equal(done.status, 200, JSON.stringify(done.json));
  assert.deepEqual(done.json, { path: "photo.jpg", sha256: sha256Hex(bytes) });
  assertBytes(await Deno.readFile(join(dir.path, "photo.jpg")), bytes);
  assert.deepEqual(hidden(dir.path), []);
  const put = lib.events.find((e) => e.type === "request-end" && e.record.op === "put");
  assert.ok(put?.type === "request-end");
  assert.equal(put.record.name, "photo.jpg");
  assert.equal(put.record.bytes, bytes.length);
  assert.equal(put.record.protocol, "web");
});

test("bodies of no byte, one byte and around the 1 MiB read buffer arrive byte for byte", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const MiB = 1024 * 1024;
  for (const size of [0, 1, MiB - 1, MiB, MiB + 1, 2 * MiB + 3]) {
    const bytes = randomBytes(size, size % 251);
    const done = await upload(page, `size-${size}.bin`, bytes);
    assert.equal(done.status, 200, `${size}: ${JSON.stringify(done.json)}`);
    assertBytes(await Deno.readFile(join(dir.path, `size-${size}.bin`)), bytes);
  }
  // A body that arrives in small pieces, as from a slow phone: each read takes what has arrived.
  const bytes = randomBytes(MiB + 5, 9);
  const begun = await page.api("POST", "/api/uploads", { path: "pieces.bin", size: bytes.length });
  let at = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at += 7000));
    },
  });
  const put = await fetch(`${page.origin}/api/uploads/${begun.json.id}?offset=0`, {
    method: "PUT",
    headers: { cookie: page.cookie, origin: page.origin },
    body,
    duplex: "half",
  } as RequestInit);
  assert.deepEqual(await put.json(), { offset: bytes.length });
  const done = await page.api("POST", `/api/uploads/${begun.json.id}/commit`, {
    sha256: sha256Hex(bytes),
  });
  assert.equal(done.status, 200, JSON.stringify(done.json));
  assertBytes(await Deno.readFile(join(dir.path, "pieces.bin")), bytes);
  assert.deepEqual(hidden(dir.path), []);
});

test("a cut-off upload resumes from the offset the server reports", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const bytes = randomBytes(2 * 1024 * 1024, 3);
  const begun = await page.api("POST", "/api/uploads", { path: "video.mp4", size: bytes.length });
  assert.equal(begun.json.offset, 0);
  const half = bytes.length / 2;
  const conn = await rawPut(page, begun.json.id, 0, bytes.length, bytes.subarray(0, half));
  await until(() => partialSize(dir.path) === half);
  conn.close();
  await until(() => putsEnded(lib) === 1);
  const ended = lib.events.find((e) => e.type === "request-end" && e.record.op === "put");
  assert.ok(ended?.type === "request-end" && ended.record.outcome === "closed");
  // The page lost its ID (reloaded): asking again, the same session gets what the server holds.
  const again = await page.api("POST", "/api/uploads", { path: "video.mp4", size: bytes.length });
  assert.equal(again.status, 200, JSON.stringify(again.json));
  assert.equal(again.json.offset, half);
  assert.equal(again.json.prefixSha256, sha256Hex(bytes.subarray(0, half)));
  assert.equal((await page.put(begun.json.id, half, bytes.subarray(half))).status, 404);
  const rest = await page.put(again.json.id, half, bytes.subarray(half));
  assert.equal(rest.json.offset, bytes.length);
  const resumed = lib.events.filter((e) => e.type === "request-end" && e.record.op === "put")[1];
  assert.ok(resumed?.type === "request-end" && resumed.record.resumedFrom === half);
  const done = await page.api("POST", `/api/uploads/${again.json.id}/commit`, {
    sha256: sha256Hex(bytes),
  });
  assert.equal(done.status, 200, JSON.stringify(done.json));
  assertBytes(await Deno.readFile(join(dir.path, "video.mp4")), bytes);
  assert.deepEqual(hidden(dir.path), []);
});

test("a prefix that differs from the page's file is restarted from zero", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const old = randomBytes(100_000, 1);
  const bytes = randomBytes(100_000, 2);
  const first = await page.api("POST", "/api/uploads", { path: "a.bin", size: bytes.length });
  assert.equal((await page.put(first.json.id, 0, old.subarray(0, 40_000))).json.offset, 40_000);
  const again = await page.api("POST", "/api/uploads", { path: "a.bin", size: bytes.length });
  assert.equal(again.json.offset, 40_000);
  assert.notEqual(again.json.prefixSha256, sha256Hex(bytes.subarray(0, 40_000)));
  const restarted = await page.api("POST", `/api/uploads/${again.json.id}/restart`);
  assert.deepEqual(restarted, { status: 200, json: { offset: 0 } });
  assert.equal(partialSize(dir.path), 0);
  assert.equal((await page.put(again.json.id, 0, bytes)).json.offset, bytes.length);
  const done = await page.api("POST", `/api/uploads/${again.json.id}/commit`, {
    sha256: sha256Hex(bytes),
  });
  assert.equal(done.status, 200);
  assertBytes(await Deno.readFile(join(dir.path, "a.bin")), bytes);
});

test("a wrong SHA-256 is refused 422 and nothing is kept, partial included", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const bytes = randomBytes(50_000, 4);
  const begun = await page.api("POST", "/api/uploads", { path: "a.txt", size: bytes.length });
  await page.put(begun.json.id, 0, bytes);
  // One bit off in the digest.
  const good = sha256Hex(bytes);
  const wrong = good.slice(0, -1) + (good.endsWith("0") ? "1" : "0");
  const refused = await page.api("POST", `/api/uploads/${begun.json.id}/commit`, { sha256: wrong });
  assert.equal(refused.status, 422);
  assert.equal(refused.json.code, "corrupt");
  assert.deepEqual(visible(dir.path), []);
  assert.deepEqual(hidden(dir.path), []);
  const after = await page.api("POST", `/api/uploads/${begun.json.id}/commit`, { sha256: good });
  assert.equal(after.status, 404);
});

test("a commit before every byte arrived says how much the server holds, and keeps it", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const bytes = randomBytes(10_000, 5);
  const begun = await page.api("POST", "/api/uploads", { path: "a.txt", size: bytes.length });
  await page.put(begun.json.id, 0, bytes.subarray(0, 9_999));
  const early = await page.api("POST", `/api/uploads/${begun.json.id}/commit`, {
    sha256: sha256Hex(bytes),
  });
  assert.equal(early.status, 409);
  assert.equal(early.json.offset, 9_999);
  assert.deepEqual(visible(dir.path), []);
  assert.equal(partialSize(dir.path), 9_999);
});

test("a name that exists is refused 409 and the file is untouched; Keep both takes a (2)", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(join(dir.path, "a.txt"), "mine");
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const bytes = randomBytes(1000, 6);
  const refused = await page.api("POST", "/api/uploads", { path: "a.txt", size: bytes.length });
  assert.equal(refused.status, 409);
  assert.equal(refused.json.code, "exists");
  assert.equal(await Deno.readTextFile(join(dir.path, "a.txt")), "mine");
  const both = await upload(page, "a.txt", bytes, "keep-both");
  assert.equal(both.status, 200, JSON.stringify(both.json));
  assert.equal(both.json.path, "a (2).txt");
  assert.equal(await Deno.readTextFile(join(dir.path, "a.txt")), "mine");
  assertBytes(await Deno.readFile(join(dir.path, "a (2).txt")), bytes);
  const third = await upload(page, "a.txt", bytes, "keep-both");
  assert.equal(third.json.path, "a (3).txt");
  const wrong = await page.api("POST", "/api/uploads", {
    path: "a.txt",
    size: 1,
    onExists: "keep",
  });
  assert.equal(wrong.status, 400);
});

test("a name taken while the upload ran is refused 409 at commit, never replaced", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const bytes = randomBytes(1000, 6);
  const begun = await page.api("POST", "/api/uploads", { path: "a.txt", size: bytes.length });
  await page.put(begun.json.id, 0, bytes);
  await Deno.writeTextFile(join(dir.path, "a.txt"), "theirs");
  const refused = await page.api("POST", `/api/uploads/${begun.json.id}/commit`, {
    sha256: sha256Hex(bytes),
  });
  assert.equal(refused.status, 409);
  assert.equal(await Deno.readTextFile(join(dir.path, "a.txt")), "theirs");
  assert.deepEqual(hidden(dir.path), []);
});

test("a body over the size is refused 413 and nothing past the size is written", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const bytes = randomBytes(20_001, 8);
  const size = 20_000;
  const begun = await page.api("POST", "/api/uploads", { path: "a.bin", size });
  // Declared too large: refused before a byte is read.
  const declared = await page.put(begun.json.id, 0, bytes);
  assert.equal(declared.status, 413);
  assert.equal(declared.json.code, "too-large");
  assert.equal(partialSize(dir.path), 0);
  // Exactly the size fits (the closest right one).
  assert.equal((await page.put(begun.json.id, 0, bytes.subarray(0, size))).status, 200);
  assert.equal((await page.api("POST", `/api/uploads/${begun.json.id}/restart`)).status, 200);
  // Chunked, so only counting finds it: the size is written, the extra byte is not.
  const conn = await rawPut(page, begun.json.id, 0, undefined, bytes);
  assert.equal(await statusOf(conn), 413);
  conn.close();
  assert.equal(partialSize(dir.path), size);
  assert.deepEqual(visible(dir.path), []);
});

test("an offset one off what the server holds is refused 409 with the right one", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const bytes = randomBytes(3000, 9);
  const begun = await page.api("POST", "/api/uploads", { path: "a.bin", size: bytes.length });
  await page.put(begun.json.id, 0, bytes.subarray(0, 1000));
  for (const offset of [999, 1001, 0]) {
    const refused = await page.put(begun.json.id, offset, bytes.subarray(offset));
    assert.equal(refused.status, 409, `offset ${offset}`);
    assert.equal(refused.json.offset, 1000);
  }
  assert.equal((await page.put(begun.json.id, 1000, bytes.subarray(1000))).status, 200);
  for (const bad of ["-1", "1e3", "", "0x10"]) {
    const refused = await page.api("PUT", `/api/uploads/${begun.json.id}?offset=${bad}`);
    assert.equal(refused.status, 400, `offset ${JSON.stringify(bad)}`);
  }
  assert.equal(partialSize(dir.path), 3000);
});

test("invalid names are refused 400 and nothing is written", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const long = "a".repeat(252) + ".txt";
  for (const path of ["..", "a/../b", "a\u0000b", long, "/x", "x/", "", "a\\b"]) {
    const refused = await page.api("POST", "/api/uploads", { path, size: 1 });
    assert.equal(refused.status, 400, JSON.stringify(path));
    assert.equal(refused.json.code, "invalid-name", JSON.stringify(path));
    const folder = await page.api("POST", "/api/folders", { path });
    assert.equal(folder.status, 400, JSON.stringify(path));
  }
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
  // 255 bytes is the limit, and fits.
  const done = await upload(page, long.slice(1), randomBytes(10));
  assert.equal(done.status, 200);
  for (const body of [{ path: "a", size: -1 }, { path: "a", size: 1.5 }, { path: 1, size: 1 }]) {
    assert.equal((await page.api("POST", "/api/uploads", body)).status, 400);
  }
});

test("a link to a folder outside is never followed: nothing is written outside", async () => {
  await using dir = await tempDir();
  await using outside = await tempDir();
  Deno.symlinkSync(outside.path, join(dir.path, "out"));
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const file = await page.api("POST", "/api/uploads", { path: "out/x.txt", size: 1 });
  assert.equal(file.status, 404, JSON.stringify(file.json));
  const folder = await page.api("POST", "/api/folders", { path: "out/sub" });
  assert.equal(folder.status, 404, JSON.stringify(folder.json));
  assert.equal((await page.api("POST", "/api/folders", { path: "out" })).status, 409);
  assert.deepEqual([...Deno.readDirSync(outside.path)], []);
  assert.deepEqual(visible(dir.path), ["out"]);
});

test("folders are made one at a time, and a nested upload lands in them", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  assert.deepEqual(await page.api("POST", "/api/folders", { path: "photos" }), {
    status: 200,
    json: { path: "photos" },
  });
  const again = await page.api("POST", "/api/folders", { path: "photos" });
  assert.equal(again.status, 409);
  const both = await page.api("POST", "/api/folders", { path: "photos", onExists: "keep-both" });
  assert.equal(both.json.path, "photos (2)");
  const missing = await page.api("POST", "/api/folders", { path: "nope/2024" });
  assert.equal(missing.status, 404);
  assert.equal((await page.api("POST", "/api/folders", { path: "photos/2024" })).status, 200);
  const bytes = randomBytes(70_000, 10);
  const done = await upload(page, "photos/2024/beach.jpg", bytes);
  assert.equal(done.status, 200, JSON.stringify(done.json));
  assertBytes(await Deno.readFile(join(dir.path, "photos", "2024", "beach.jpg")), bytes);
  assert.ok(Deno.statSync(join(dir.path, "photos (2)")).isDirectory);
  assert.deepEqual(hidden(dir.path), []);
});

test("a read-only server refuses every write route 403 in its own words", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path, { readOnly: true, readOnlyMessage: "Look, do not touch" });
  const page = await openPage(lib);
  const calls: [string, string, unknown?][] = [
    ["POST", "/api/uploads", { path: "a.txt", size: 1 }],
    ["PUT", "/api/uploads/abc?offset=0"],
    ["POST", "/api/uploads/abc/restart"],
    ["POST", "/api/uploads/abc/commit", { sha256: "0".repeat(64) }],
    ["DELETE", "/api/uploads/abc"],
    ["POST", "/api/folders", { path: "f" }],
  ];
  for (const [method, path, body] of calls) {
    const refused = await page.api(method, path, body);
    assert.equal(refused.status, 403, `${method} ${path}`);
    assert.deepEqual(refused.json, { code: "read-only", error: "Look, do not touch" });
  }
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
});

test("two sessions uploading one name at once: the second is busy, and cannot use the first's ID", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path);
  const first = await openPage(lib);
  const second = await openPage(lib);
  const begun = await first.api("POST", "/api/uploads", { path: "a.txt", size: 10 });
  assert.equal(begun.status, 200);
  const busy = await second.api("POST", "/api/uploads", { path: "a.txt", size: 10 });
  assert.equal(busy.status, 503);
  assert.equal(busy.json.code, "busy");
  assert.equal((await second.put(begun.json.id, 0, randomBytes(10))).status, 404);
  // An ID one character off is no ID.
  const id: string = begun.json.id;
  const near = id.slice(0, -1) + (id.endsWith("A") ? "B" : "A");
  assert.equal((await first.put(near, 0, randomBytes(10))).status, 404);
  assert.equal((await second.api("DELETE", `/api/uploads/${begun.json.id}`)).status, 404);
  // Cancelled by its own session, the name is free and nothing stays.
  assert.equal((await first.api("DELETE", `/api/uploads/${begun.json.id}`)).status, 200);
  assert.deepEqual(hidden(dir.path), []);
  assert.equal((await second.api("POST", "/api/uploads", { path: "a.txt", size: 10 })).status, 200);
});

test("an ID left without a request for the data deadline is forgotten, its partial kept", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path, { dataTimeoutMs: 1500 });
  const first = await openPage(lib);
  const second = await openPage(lib);
  const bytes = randomBytes(5000, 11);
  const begun = await first.api("POST", "/api/uploads", { path: "a.txt", size: bytes.length });
  assert.equal((await first.put(begun.json.id, 0, bytes.subarray(0, 2000))).status, 200);
  // Another session may take the name once the first's ID is forgotten.
  let taken: Answer | undefined;
  await until(async () => {
    taken = await second.api("POST", "/api/uploads", { path: "a.txt", size: bytes.length });
    return taken.status !== 503;
  });
  assert.equal(taken!.status, 200);
  assert.equal(taken!.json.offset, 2000);
  assert.equal(taken!.json.prefixSha256, sha256Hex(bytes.subarray(0, 2000)));
  assert.equal((await first.put(begun.json.id, 2000, bytes.subarray(2000))).status, 404);
});

test("a body that stalls for the data deadline is cut, and what arrived is kept", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path, { dataTimeoutMs: 1500 });
  const page = await openPage(lib);
  const bytes = randomBytes(8000, 12);
  const begun = await page.api("POST", "/api/uploads", { path: "a.txt", size: bytes.length });
  const conn = await rawPut(page, begun.json.id, 0, bytes.length, bytes.subarray(0, 3000));
  assert.equal(await statusOf(conn), 408);
  conn.close();
  await until(() => putsEnded(lib) === 1);
  const ended = lib.events.find((e) => e.type === "request-end" && e.record.op === "put");
  assert.ok(ended?.type === "request-end" && ended.record.reason === "timeout");
  assert.equal(partialSize(dir.path), 3000);
  const again = await page.api("POST", "/api/uploads", { path: "a.txt", size: bytes.length });
  assert.equal(again.json.offset, 3000);
});

test("a JSON body over its limit is refused 413", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const big = await page.api("POST", "/api/uploads", {
    path: "a",
    size: 1,
    pad: "x".repeat(17_000),
  });
  assert.equal(big.status, 413);
  assert.equal((await page.api("POST", "/api/uploads", "not an object")).status, 400);
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
});

test("the same session asking again cuts its own stalled PUT and resumes from it", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const bytes = randomBytes(6000, 13);
  const begun = await page.api("POST", "/api/uploads", { path: "a.txt", size: bytes.length });
  // A phone that changed networks: its connection is still open, and silent.
  const conn = await rawPut(page, begun.json.id, 0, bytes.length, bytes.subarray(0, 2500));
  await until(() => partialSize(dir.path) === 2500);
  // One request at a time on an ID.
  const second = await page.put(begun.json.id, 2500, bytes.subarray(2500));
  assert.equal(second.status, 503);
  assert.equal(second.json.code, "busy");
  const again = await page.api("POST", "/api/uploads", { path: "a.txt", size: bytes.length });
  assert.equal(again.status, 200, JSON.stringify(again.json));
  assert.equal(again.json.offset, 2500);
  // Both PUTs ended: the one refused busy, and the one cut off.
  await until(() => putsEnded(lib) === 2);
  conn.close();
  // Another session is still refused while it is held.
  const other = await openPage(lib);
  assert.equal(
    (await other.api("POST", "/api/uploads", { path: "a.txt", size: bytes.length })).status,
    503,
  );
  assert.equal((await page.put(again.json.id, 2500, bytes.subarray(2500))).status, 200);
  const done = await page.api("POST", `/api/uploads/${again.json.id}/commit`, {
    sha256: sha256Hex(bytes),
  });
  assert.equal(done.status, 200);
  assertBytes(await Deno.readFile(join(dir.path, "a.txt")), bytes);
});

test("Cancel on the page ends its PUT as cancelled by the page, never as busy, and keeps nothing", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const bytes = randomBytes(6000, 15);
  const begun = await page.api("POST", "/api/uploads", { path: "a.txt", size: bytes.length });
  const conn = await rawPut(page, begun.json.id, 0, bytes.length, bytes.subarray(0, 2500));
  await until(() => partialSize(dir.path) === 2500);
  // The page's Cancel: the upload is forgotten while its PUT is still receiving.
  assert.equal((await page.api("DELETE", `/api/uploads/${begun.json.id}`)).status, 200);
  await until(() => putsEnded(lib) === 1);
  conn.close();
  const ended = lib.events.find((e) => e.type === "request-end" && e.record.op === "put");
  assert.ok(ended?.type === "request-end");
  assert.equal(ended.record.outcome, "closed", JSON.stringify(ended.record));
  assert.equal(ended.record.reason, undefined);
  assert.equal(ended.record.message, "the page cancelled this upload after 2500 of 6000 bytes");
  assert.deepEqual(hidden(dir.path), []);
  assert.deepEqual(visible(dir.path), []);
});

test("stopping the server mid-upload keeps the partial for a resume after the restart", async () => {
  await using dir = await tempDir();
  const bytes = randomBytes(6000, 14);
  {
    await using lib = servePage(dir.path);
    const page = await openPage(lib);
    const begun = await page.api("POST", "/api/uploads", { path: "a.txt", size: bytes.length });
    const conn = await rawPut(page, begun.json.id, 0, bytes.length, bytes.subarray(0, 1500));
    await until(() => partialSize(dir.path) === 1500);
    const closing = lib.server.close();
    assert.equal(await statusOf(conn), 503);
    conn.close();
    await closing;
  }
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const again = await page.api("POST", "/api/uploads", { path: "a.txt", size: bytes.length });
  assert.equal(again.json.offset, 1500);
  assert.equal(again.json.prefixSha256, sha256Hex(bytes.subarray(0, 1500)));
});
