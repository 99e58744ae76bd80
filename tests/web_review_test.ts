// The web page under attack (an adversarial review of its server side): each test is a defect that
// was found, against a real server on loopback, and fails on the code before its fix.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { WEB_HEADERS } from "../lib/server/web_page.ts";
import { type LibraryServer, servePage, tempDir, test, until } from "./helpers.ts";
import { command } from "./support/folder_peer.ts";
import { cookiesSet, httpRequest, openSession, rawHttp } from "./support/web_raw.ts";

/** A browser session on a server's page. */
interface Page {
  origin: string;
  cookie: string;
  port: number;
  /** Fetches a path of the page with the session and the page's Origin. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/** Opens the page's address with its token, as a phone does from the QR code. */
async function openPage(lib: LibraryServer): Promise<Page> {
  const web = lib.server.web!;
  const cookie = await openSession(web.url("127.0.0.1"));
  const origin = `http://127.0.0.1:${web.addr.port}`;
  return {
    origin,
    cookie,
    port: web.addr.port,
    fetch: (path, init = {}) =>
      fetch(origin + path, {
        ...init,
        headers: { cookie, origin, ...(init.headers as Record<string, string> ?? {}) },
      }),
  };
}

/** Checks that an answer carries every security header of the page. */
function assertHardened(response: Response, what: string): void {
  for (const [name, value] of Object.entries(WEB_HEADERS)) {
    assert.equal(response.headers.get(name), value, `${what}: ${name}`);
  }
}

test("an asset that does not exist is a 404 with the security headers, logged as a refusal", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  for (const path of ["/assets/nope.js", "/assets/", "/assets/page.js.map", "/assets/Page.js"]) {
    const answer = await page.fetch(path);
    await answer.body?.cancel();
    assert.equal(answer.status, 404, path);
    assertHardened(answer, path);
  }
  // Without a session too: the assets are open.
  const open = await fetch(`${page.origin}/assets/nope.css`);
  await open.body?.cancel();
  assert.equal(open.status, 404);
  assertHardened(open, "without a session");
  // The real assets still answer, and none of this is a server error.
  const style = await fetch(`${page.origin}/assets/style.css`);
  await style.body?.cancel();
  assert.equal(style.status, 200);
  assert.deepEqual(lib.events.filter((e) => e.type === "error"), []);
  const refused = lib.events.filter((e) =>
    e.type === "request-end" && e.record.op === "GET /assets/nope.css"
  );
  assert.equal(refused.length, 1);
  assert.ok(refused[0]!.type === "request-end" && refused[0]!.record.reason === "not-found");
});

/** The server's own hidden files in a folder (partials, temporaries), with their sizes. */
function hidden(dir: string): number[] {
  return [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith(".privateshare"))
    .map((e) => Deno.statSync(`${dir}/${e.name}`).size);
}

/** Calls the page's JSON API. */
async function api(page: Page, method: string, path: string, body?: unknown) {
  const answer = await page.fetch(path, {
    method,
    ...(body !== undefined
      ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } }
      : {}),
  });
  const text = await answer.text();
  // deno-lint-ignore no-explicit-any
  return { status: answer.status, json: (text ? JSON.parse(text) : undefined) as any };
}

const MIB = 1024 * 1024; // FREE_SPACE_MARGIN: a put leaves this much free beside its bytes

test("an upload the disk cannot hold is refused no-space before a byte moves (web and PS/2; fault injection: free space injected)", async () => {
  await using dir = await tempDir();
  let free = 2 * MIB;
  await using lib = servePage(dir.path, { freeSpace: () => Promise.resolve(free) });
  const page = await openPage(lib);
  // One byte more than fits: 507, and no partial left behind.
  const over = await api(page, "POST", "/api/uploads", { path: "big.bin", size: MIB + 1 });
  assert.equal(over.status, 507, JSON.stringify(over.json));
  assert.equal(over.json.code, "no-space");
  assert.match(over.json.error, /room for 1048576 bytes, too few for the file's 1048577/);
  assert.deepEqual(hidden(dir.path), []);
  const kept = await api(page, "POST", "/api/uploads", {
    path: "big.bin",
    size: MIB + 1,
    onExists: "keep-both",
  });
  assert.equal(kept.status, 507);
  // The same over PS/2.
  {
    using c = await command(lib.port, { op: "put", name: "big.bin", size: MIB + 1, resume: true });
    const reply = await c.reply();
    assert.equal(reply.code === "cancel" && reply.reason, "no-space");
  }
  assert.deepEqual(hidden(dir.path), []);
  // Exactly what fits is taken; a resumed upload needs room only for the rest.
  const begun = await api(page, "POST", "/api/uploads", { path: "big.bin", size: MIB + 10 });
  assert.equal(begun.status, 507);
  free = 2 * MIB + 10;
  const fits = await api(page, "POST", "/api/uploads", { path: "big.bin", size: MIB + 10 });
  assert.equal(fits.status, 200, JSON.stringify(fits.json));
  const sent = await page.fetch(`/api/uploads/${fits.json.id}?offset=0`, {
    method: "PUT",
    body: new Uint8Array(10),
  });
  assert.equal((await sent.json()).offset, 10);
  free = 2 * MIB - 1;
  const short = await api(page, "POST", "/api/uploads", { path: "big.bin", size: MIB + 10 });
  assert.equal(short.status, 507, "one byte short of the rest");
  assert.deepEqual(hidden(dir.path), [10], "the partial is kept for later");
  free = 2 * MIB;
  const resumed = await api(page, "POST", "/api/uploads", { path: "big.bin", size: MIB + 10 });
  assert.equal(resumed.status, 200, JSON.stringify(resumed.json));
  assert.equal(resumed.json.offset, 10);
});

test("a large listing that the browser does not read holds its slot until the data deadline cuts it, not the server's memory", async () => {
  await using dir = await tempDir();
  // About 7.7 MB of JSON: more than loopback's socket buffers take (4 MiB to send, less to read).
  const stem = "x".repeat(240);
  for (let i = 0; i < 30_000; i++) Deno.writeFileSync(`${dir.path}/${stem}${i}`, new Uint8Array());
  await using lib = servePage(dir.path, { maxPerAddress: 2, dataTimeoutMs: 3000 });
  const page = await openPage(lib);
  const whole = await api(page, "GET", "/api/list");
  assert.equal(whole.json.entries.length, 30_000);
  const readers: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: page.port });
      readers.push(conn);
      await conn.write(new TextEncoder().encode(
        `GET /api/list HTTP/1.1\r\nhost: 127.0.0.1:${page.port}\r\ncookie: ${page.cookie}\r\n\r\n`,
      ));
    }
    const listings = () =>
      lib.events.filter((e) => e.type === "request-start" && e.record.op === "list").length;
    await until(() => listings() === 3);
    // Both unread listings hold their slots: the address is at its limit.
    const busy = await api(page, "GET", "/api/list");
    assert.equal(busy.status, 503, "the unread listings hold their slots");
    assert.equal(busy.json.code, "busy");
    // The data deadline cuts them, logged as timeouts, and the slots are free again.
    const cut = () =>
      lib.events.filter((e) =>
        e.type === "request-end" && e.record.op === "list" && e.record.outcome === "timeout"
      ).length;
    await until(() => cut() === 2);
    const again = await api(page, "GET", "/api/list");
    assert.equal(again.status, 200);
  } finally {
    for (const conn of readers) conn.close();
  }
});

test("an upload whose folder is removed before its commit is refused not-found, keeps nothing, and is no server error", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/gone`);
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const bytes = new TextEncoder().encode("photo bytes");
  const begun = await api(page, "POST", "/api/uploads", { path: "gone/f.txt", size: bytes.length });
  assert.equal(begun.status, 200);
  await Deno.remove(`${dir.path}/gone`);
  const sent = await page.fetch(`/api/uploads/${begun.json.id}?offset=0`, {
    method: "PUT",
    body: bytes,
  });
  assert.equal((await sent.json()).offset, bytes.length);
  const commit = await api(page, "POST", `/api/uploads/${begun.json.id}/commit`, {
    sha256: createHash("sha256").update(bytes).digest("hex"),
  });
  assert.equal(commit.status, 404, JSON.stringify(commit.json));
  assert.equal(commit.json.code, "not-found");
  assert.match(commit.json.error, /folder of "gone\/f\.txt" was removed/);
  assert.deepEqual(hidden(dir.path), []);
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
  const record = lib.events.findLast((e) => e.type === "request-end");
  assert.ok(record?.type === "request-end" && record.record.outcome === "cancel");
  // A folder made again takes the same upload.
  await Deno.mkdir(`${dir.path}/gone`);
  const again = await api(page, "POST", "/api/uploads", { path: "gone/f.txt", size: bytes.length });
  assert.equal(again.status, 200);
});

test("a session cookie read by another program of the host (cookies go to every port) is no session from another address", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/a.txt`, "the folder's secret");
  await using lib = servePage(dir.path);
  const port = lib.server.web!.addr.port;
  // The phone opens the QR code's address from 127.0.0.3; the server's host reads its cookie.
  const opened = await rawHttp(port, httpRequest("GET", `/?t=${lib.server.web!.token}`, port), {
    from: "127.0.0.3",
  });
  assert.equal(opened.status, 303);
  const cookie = cookiesSet(opened)[0]!.split(";")[0]!;
  const fetchFrom = (from: string, target: string) =>
    rawHttp(port, httpRequest("GET", target, port, { cookie }), { from });
  for (const target of ["/files/a.txt", "/api/list", "/api/info", "/"]) {
    assert.equal((await fetchFrom("127.0.0.3", target)).status, 200, `${target} from its own`);
    for (const from of ["127.0.0.1", "127.0.0.4", "127.0.0.30"]) {
      const stolen = await fetchFrom(from, target);
      assert.equal(stolen.status, 401, `${target} from ${from}`);
      assert.ok(!stolen.body.includes("the folder's secret"));
    }
  }
  // The page's owner still holds the session.
  assert.equal((await fetchFrom("127.0.0.3", "/files/a.txt")).body, "the folder's secret");
});

test("a download's saved name cannot read as another: bidirectional controls in a planted name are written _", async () => {
  await using dir = await tempDir();
  const names = {
    "photo\u202egpj.exe": "photo_gpj.exe",
    "a\u2066b\u2069\u200f.txt": "a_b__.txt",
    "\u061cx\u2028y\u202a.jpg": "_x_y_.jpg",
    "plain é.jpg": "plain é.jpg",
  };
  for (const name of Object.keys(names)) await Deno.writeTextFile(`${dir.path}/${name}`, name);
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  for (const [name, saved] of Object.entries(names)) {
    const answer = await page.fetch(`/files/${encodeURIComponent(name)}`);
    assert.equal(answer.status, 200, JSON.stringify(name));
    assert.equal(await answer.text(), name, "the file's own bytes");
    const disposition = answer.headers.get("content-disposition")!;
    const exact = /filename\*=UTF-8''(.*)$/.exec(disposition)?.[1];
    assert.equal(decodeURIComponent(exact!), saved, JSON.stringify(name));
    assert.match(disposition, /^attachment; filename="[\x20-\x7e]*"; /);
  }
});

test("one address's flood of sessions ends its own oldest, never another address's session", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/a.txt`, "private");
  await using lib = servePage(dir.path);
  const port = lib.server.web!.addr.port;
  const open = async (from: string) => {
    const opened = await rawHttp(port, httpRequest("GET", `/?t=${lib.server.web!.token}`, port), {
      from,
    });
    assert.equal(opened.status, 303);
    return cookiesSet(opened)[0]!.split(";")[0]!;
  };
  const works = async (cookie: string, from: string) =>
    (await rawHttp(port, httpRequest("GET", "/files/a.txt", port, { cookie }), { from })).status;
  const victim = await open("127.0.0.3");
  // More than the server's whole table (1,000), from one address.
  const flood: string[] = [];
  for (let i = 0; i < 1001; i++) flood.push(await open("127.0.0.5"));
  assert.equal(await works(victim, "127.0.0.3"), 200, "the other address keeps its session");
  // The flooding address holds its newest 32 sessions, not the 33rd newest.
  assert.equal(await works(flood.at(-1)!, "127.0.0.5"), 200);
  assert.equal(await works(flood.at(-32)!, "127.0.0.5"), 200);
  assert.equal(await works(flood.at(-33)!, "127.0.0.5"), 401);
});

test("a second file of the same name from the same page, kept both, is an upload of its own and does not cut the first", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/photo.jpg`, "there");
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const first = new TextEncoder().encode("first photo");
  const second = new TextEncoder().encode("the second photo");
  const a = await api(page, "POST", "/api/uploads", {
    path: "photo.jpg",
    size: first.length,
    onExists: "keep-both",
  });
  assert.equal(a.json.path, "photo (2).jpg");
  const b = await api(page, "POST", "/api/uploads", {
    path: "photo.jpg",
    size: second.length,
    onExists: "keep-both",
  });
  assert.equal(b.status, 200, JSON.stringify(b.json));
  assert.equal(b.json.path, "photo (3).jpg");
  for (const [begun, bytes] of [[a, first], [b, second]] as const) {
    const sent = await page.fetch(`/api/uploads/${begun.json.id}?offset=0`, {
      method: "PUT",
      body: bytes,
    });
    assert.equal(sent.status, 200, `${begun.json.path} still uploads`);
    await sent.body?.cancel();
    const done = await api(page, "POST", `/api/uploads/${begun.json.id}/commit`, {
      sha256: createHash("sha256").update(bytes).digest("hex"),
    });
    assert.equal(done.status, 200, JSON.stringify(done.json));
  }
  assert.equal(await Deno.readTextFile(`${dir.path}/photo (2).jpg`), "first photo");
  assert.equal(await Deno.readTextFile(`${dir.path}/photo (3).jpg`), "the second photo");
  // The same file asked again (same size) still takes its upload over.
  const c = await api(page, "POST", "/api/uploads", { path: "new.jpg", size: 3 });
  const again = await api(page, "POST", "/api/uploads", { path: "new.jpg", size: 3 });
  assert.equal(again.status, 200);
  assert.equal((await api(page, "DELETE", `/api/uploads/${c.json.id}`)).status, 404);
});

test("with no data deadline (0), a download, a zip and a listing whose browser pauses are sent whole, not cut at once", async () => {
  await using dir = await tempDir();
  const size = 16 * MIB;
  await Deno.mkdir(`${dir.path}/album`);
  await Deno.writeFile(`${dir.path}/album/big.bin`, new Uint8Array(size).fill(1));
  await Deno.writeFile(`${dir.path}/other.bin`, new Uint8Array(4 * MIB));
  await using lib = servePage(dir.path, { dataTimeoutMs: 0 });
  const page = await openPage(lib);
  for (const target of ["/files/album/big.bin", "/zip/album"]) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: page.port });
    try {
      await conn.write(new TextEncoder().encode(
        `GET ${target} HTTP/1.1\r\nhost: 127.0.0.1:${page.port}\r\ncookie: ${page.cookie}\r\n` +
          "connection: close\r\n\r\n",
      ));
      const buffer = new Uint8Array(64 * 1024);
      let received = (await conn.read(buffer)) ?? 0;
      // The browser pauses while another download, read at full speed, runs to its end.
      const other = await page.fetch("/files/other.bin");
      assert.equal((await other.arrayBuffer()).byteLength, 4 * MIB, "the other download");
      for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) received += n;
      assert.ok(received > size, `${target}: ${received} bytes, the whole file and its head`);
    } finally {
      conn.close();
    }
  }
  const listing = await page.fetch("/api/list?path=album");
  assert.equal((await listing.json()).entries.length, 1);
  const ends = lib.events.filter((e) => e.type === "request-end");
  assert.deepEqual(ends.filter((e) => e.record.outcome !== "ok").map((e) => e.record), []);
});

test("a commit whose upload was taken over while its body was on its way is refused not-found, not a server error", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const bytes = new TextEncoder().encode("the whole photo");
  const first = await api(page, "POST", "/api/uploads", { path: "p.jpg", size: bytes.length });
  const sent = await page.fetch(`/api/uploads/${first.json.id}?offset=0`, {
    method: "PUT",
    body: bytes,
  });
  assert.equal((await sent.json()).offset, bytes.length);
  const body = JSON.stringify({ sha256: createHash("sha256").update(bytes).digest("hex") });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: page.port });
  try {
    // The commit's head, its body held back.
    await conn.write(new TextEncoder().encode(
      `POST /api/uploads/${first.json.id}/commit HTTP/1.1\r\nhost: 127.0.0.1:${page.port}\r\n` +
        `origin: ${page.origin}\r\ncookie: ${page.cookie}\r\ncontent-type: application/json\r\n` +
        `content-length: ${body.length}\r\nconnection: close\r\n\r\n`,
    ));
    await until(() =>
      lib.events.some((e) => e.type === "request-start" && e.record.op === "put-commit")
    );
    // Meanwhile the page asks again for the same file, and takes its upload over.
    const again = await api(page, "POST", "/api/uploads", { path: "p.jpg", size: bytes.length });
    assert.equal(again.status, 200);
    assert.equal(again.json.offset, bytes.length);
    await conn.write(new TextEncoder().encode(body));
    let answer = "";
    const buffer = new Uint8Array(4096);
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      answer += new TextDecoder().decode(buffer.subarray(0, n));
    }
    assert.match(answer, /^HTTP\/1\.1 404 /, answer);
    assert.match(answer, /"code":"not-found"/);
  } finally {
    conn.close();
  }
  // The upload that took over commits the file.
  const done = await api(
    page,
    "POST",
    `/api/uploads/${
      (await api(page, "POST", "/api/uploads", {
        path: "p.jpg",
        size: bytes.length,
      })).json.id
    }/commit`,
    { sha256: createHash("sha256").update(bytes).digest("hex") },
  );
  assert.equal(done.status, 200, JSON.stringify(done.json));
  assert.equal(await Deno.readTextFile(`${dir.path}/p.jpg`), "the whole photo");
  assert.deepEqual(
    lib.events.filter((e) => e.type === "request-end" && e.record.outcome === "error"),
    [],
  );
});

test("one address cannot fill the server's table of uploads: past 64 its own oldest idle one is let go, and another address still uploads", async () => {
  await using dir = await tempDir();
  await using lib = servePage(dir.path);
  const port = lib.server.web!.addr.port;
  const origin = `http://127.0.0.1:${port}`;
  const session = async (from: string) => {
    const opened = await rawHttp(port, httpRequest("GET", `/?t=${lib.server.web!.token}`, port), {
      from,
    });
    return cookiesSet(opened)[0]!.split(";")[0]!;
  };
  const begin = async (cookie: string, from: string, path: string) => {
    const body = JSON.stringify({ path, size: 10 });
    const answer = await rawHttp(
      port,
      httpRequest("POST", "/api/uploads", port, { cookie, origin, "content-type": "json" }, body),
      { from },
    );
    return { status: answer.status, json: JSON.parse(answer.body || "{}") };
  };
  // 16 sessions of 16 uploads each: the server's whole table (256), from one address.
  const uploads: { id: string; cookie: string }[] = [];
  for (let s = 0; s < 16; s++) {
    const cookie = await session("127.0.0.5");
    for (let u = 0; u < 16; u++) {
      const begun = await begin(cookie, "127.0.0.5", `f${s}-${u}.bin`);
      assert.equal(begun.status, 200, JSON.stringify(begun.json));
      uploads.push({ id: begun.json.id, cookie });
    }
  }
  const other = await begin(await session("127.0.0.3"), "127.0.0.3", "mine.bin");
  assert.equal(other.status, 200, `another address still uploads: ${JSON.stringify(other.json)}`);
  // The flooding address holds its newest 64: the 65th newest was let go.
  const cancel = async ({ id, cookie }: { id: string; cookie: string }) =>
    (await rawHttp(port, httpRequest("DELETE", `/api/uploads/${id}`, port, { cookie, origin }), {
      from: "127.0.0.5",
    })).status;
  assert.equal(await cancel(uploads.at(-65)!), 404);
  assert.equal(await cancel(uploads.at(-64)!), 200);
});

test("the listing holds only what the page can open: planted names that the name rules refuse are left out, and every name listed downloads", async () => {
  await using dir = await tempDir();
  const refused = ['a"b.txt', "trail ", "CON", "nl\nname", "pct%2e%2e", "q?.txt", "lpt1.jpg"];
  const good = ["ok.txt", "é.jpg", "with space.txt", "photo\u202egpj.exe"];
  for (const name of [...refused, ...good]) await Deno.writeTextFile(`${dir.path}/${name}`, name);
  await Deno.mkdir(`${dir.path}/bad"dir`);
  await Deno.mkdir(`${dir.path}/album`);
  for (const name of [...refused, "inner.txt"]) {
    await Deno.writeTextFile(`${dir.path}/album/${name}`, name);
  }
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const top = await api(page, "GET", "/api/list");
  const names = top.json.entries.map((e: { name: string }) => e.name).sort();
  assert.deepEqual(names, [...good, "album"].sort());
  for (const name of good) {
    const answer = await page.fetch(`/files/${encodeURIComponent(name)}`);
    assert.equal(answer.status, 200, JSON.stringify(name));
    assert.equal(await answer.text(), name);
  }
  const album = await api(page, "GET", "/api/list?path=album");
  assert.deepEqual(album.json.entries.map((e: { name: string }) => e.name), ["inner.txt"]);
});

test("unread listings asked at once share one encoding: 25 of a 7.7 MB listing grow the server by far less than 25 copies", async () => {
  await using dir = await tempDir();
  const stem = "x".repeat(240);
  for (let i = 0; i < 30_000; i++) Deno.writeFileSync(`${dir.path}/${stem}${i}`, new Uint8Array());
  await using lib = servePage(dir.path);
  const page = await openPage(lib);
  const size = (await (await page.fetch("/api/list")).arrayBuffer()).byteLength;
  assert.ok(size > 7_000_000, `${size} bytes`);
  const before = Deno.memoryUsage().rss;
  const readers: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 25; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: page.port });
      readers.push(conn);
      await conn.write(new TextEncoder().encode(
        `GET /api/list HTTP/1.1\r\nhost: 127.0.0.1:${page.port}\r\ncookie: ${page.cookie}\r\n\r\n`,
      ));
    }
    // Each listing's first bytes are on their way: its encoding is made and held.
    const sending = () =>
      new Set(
        lib.events.filter((e) => e.type === "request-progress" && e.record.op === "list")
          .map((e) => e.type === "request-progress" && e.record.id),
      ).size;
    await until(() => sending() === 26);
    const grown = Deno.memoryUsage().rss - before;
    // 25 copies would be over 190 MB.
    assert.ok(grown < 60_000_000, `grew ${Math.round(grown / 1e6)} MB`);
  } finally {
    for (const conn of readers) conn.close();
  }
});
