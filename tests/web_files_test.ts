// The web page's reading routes (docs/PROTOCOL.md "Web page", "Reading"): a real server with its
// page on loopback, fetch with the session cookie, and raw HTTP where fetch would tidy the path.
// Downloads byte for byte, every Range case of RFC 9110 14.2, HEAD, listings, paths that climb out
// or pass a link, folders as a zip checked by zip readers privateshare did not write (Python's
// zipfile and unzip -t), ZIP64, a file that changes while it is sent, and a download cut midway.

import assert from "node:assert/strict";
import { join } from "node:path";
import { type Server, type ServerEvent, startServer } from "../lib/mod.ts";
import { shortCode } from "../lib/net/short_code.ts";
import { makeCertificate } from "./security_helpers.ts";
import { openSession } from "./support/web_raw.ts";
import {
  assertBytes,
  closeQuietly,
  tempDir,
  test,
  until,
  within,
  writeRandomFile,
  writeRaw,
} from "./helpers.ts";

const MiB = 1024 * 1024;
const HOST = "127.0.0.1";
const decoder = new TextDecoder();

type Ended = Extract<ServerEvent, { type: "request-end" }>;

/** A served folder with its page open in a browser that holds a session. */
interface Page extends AsyncDisposable {
  server: Server;
  /** `http://127.0.0.1:PORT` */
  base: string;
  /** `privateshare_session_PORT=ID` */
  cookie: string;
  /** Every event, as it was sent. */
  events: ServerEvent[];
  /** Fetches a path of the page with the session. */
  get(path: string, headers?: Record<string, string>, method?: string): Promise<Response>;
}

async function openPage(
  root: string,
  options: Partial<Parameters<typeof startServer>[0]> = {},
): Promise<Page> {
  const events: ServerEvent[] = [];
  const server = startServer({
    root,
    port: 0,
    host: HOST,
    web: { port: 0, host: HOST },
    onEvent: (event) => events.push(structuredClone(event)),
    ...options,
  });
  const client = options.tls && "certFile" in options.tls
    ? Deno.createHttpClient({ caCerts: [await Deno.readTextFile(options.tls.certFile)] })
    : undefined;
  const scheme = options.tls ? "https" : "http";
  const base = `${scheme}://${HOST}:${server.web!.addr.port}`;
  const cookie = await openSession(server.web!.url(HOST), client);
  return {
    server,
    base,
    cookie,
    events,
    get: (path, headers = {}, method = "GET") =>
      fetch(base + path, {
        method,
        headers: { cookie, ...headers },
        ...(client ? { client } : {}),
      }),
    async [Symbol.asyncDispose]() {
      client?.close();
      await server.close();
    },
  };
}

/** A raw HTTP/1.1 request with the session, exactly as written: its status, head and body. */
async function raw(
  page: Page,
  target: string,
): Promise<{ status: number; head: string; body: string }> {
  const conn = await Deno.connect({ hostname: HOST, port: page.server.web!.addr.port });
  try {
    await writeRaw(
      conn,
      `GET ${target} HTTP/1.1\r\nHost: ${HOST}:${page.server.web!.addr.port}\r\n` +
        `Cookie: ${page.cookie}\r\nConnection: close\r\n\r\n`,
    );
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
    }
    const text = decoder.decode(await new Blob(chunks as BlobPart[]).arrayBuffer());
    const at = text.indexOf("\r\n\r\n");
    return {
      status: Number(text.slice(9, 12)),
      head: text.slice(0, at),
      body: text.slice(at + 4),
    };
  } finally {
    closeQuietly(conn);
  }
}

async function bytesOf(response: Response): Promise<Uint8Array> {
  return new Uint8Array(await response.arrayBuffer());
}

function ends(events: ServerEvent[]): Ended[] {
  return events.filter((e): e is Ended => e.type === "request-end");
}

/** A folder to serve, beside a secret outside it. */
async function servedFolder(dir: string): Promise<string> {
  const root = join(dir, "served");
  await Deno.mkdir(join(root, "sub", "deeper"), { recursive: true });
  await Deno.writeTextFile(join(dir, "secret.txt"), "SECRET-OUTSIDE");
  await Deno.writeTextFile(join(root, "sub", "inner.txt"), "inner bytes");
  return root;
}

test("a file downloads byte for byte, named, typed, with its validators", async () => {
  await using dir = await tempDir();
  const root = await servedFolder(dir.path);
  const name = "Été à la plage (1).jpg";
  await writeRandomFile(join(root, name), 5 * MiB + 7, 3);
  await using page = await openPage(root);
  const answer = await page.get(`/files/${encodeURIComponent(name)}`);
  assert.equal(answer.status, 200);
  const body = await bytesOf(answer);
  assertBytes(body, await Deno.readFile(join(root, name)), "the download");
  const headers = answer.headers;
  assert.equal(headers.get("content-length"), String(5 * MiB + 7));
  assert.equal(headers.get("content-type"), "image/jpeg");
  assert.equal(headers.get("accept-ranges"), "bytes");
  assert.match(headers.get("etag")!, /^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
  const stat = await Deno.stat(join(root, name));
  assert.equal(headers.get("last-modified"), stat.mtime!.toUTCString());
  assert.equal(
    headers.get("content-disposition"),
    `attachment; filename="_t_ _ la plage (1).jpg"; ` +
      `filename*=UTF-8''%C3%89t%C3%A9%20%C3%A0%20la%20plage%20%281%29.jpg`,
  );
  const end = ends(page.events).find((e) => e.record.op === "get")!;
  assert.equal(end.record.outcome, "ok");
  assert.equal(end.record.name, name);
  assert.equal(end.record.bytes, 5 * MiB + 7);
});

test("HEAD answers what GET would, without the body; an empty file is an empty 200", async () => {
  await using dir = await tempDir();
  const root = await servedFolder(dir.path);
  await writeRandomFile(join(root, "notes.txt"), 1000);
  await Deno.writeFile(join(root, "empty.bin"), new Uint8Array());
  await using page = await openPage(root);
  const head = await page.get("/files/notes.txt", {}, "HEAD");
  assert.equal(head.status, 200);
  assert.equal((await bytesOf(head)).length, 0);
  assert.equal(head.headers.get("content-length"), "1000");
  assert.equal(head.headers.get("content-type"), "text/plain");
  const full = await page.get("/files/notes.txt");
  await full.body?.cancel();
  assert.equal(head.headers.get("etag"), full.headers.get("etag"));
  const empty = await page.get("/files/empty.bin");
  assert.equal(empty.status, 200);
  assert.equal(empty.headers.get("content-length"), "0");
  assert.equal(empty.headers.get("content-type"), "application/octet-stream");
  assert.equal((await bytesOf(empty)).length, 0);
});

test("Range answers as RFC 9110 14.2 says, at each edge", async () => {
  await using dir = await tempDir();
  const root = await servedFolder(dir.path);
  const size = 1 * MiB + 13;
  await writeRandomFile(join(root, "photo.png"), size, 5);
  const content = await Deno.readFile(join(root, "photo.png"));
  await using page = await openPage(root);
  const etag = (await page.get("/files/photo.png", {}, "HEAD")).headers.get("etag")!;
  const part = async (headers: Record<string, string>, start: number, end: number) => {
    const answer = await page.get("/files/photo.png", headers);
    const what = JSON.stringify(headers);
    assert.equal(answer.status, 206, what);
    assert.equal(answer.headers.get("content-range"), `bytes ${start}-${end}/${size}`, what);
    assert.equal(answer.headers.get("content-length"), String(end - start + 1), what);
    assertBytes(await bytesOf(answer), content.subarray(start, end + 1), what);
  };
  const whole = async (headers: Record<string, string>) => {
    const answer = await page.get("/files/photo.png", headers);
    const what = JSON.stringify(headers);
    assert.equal(answer.status, 200, what);
    assert.equal(answer.headers.get("content-range"), null, what);
    assertBytes(await bytesOf(answer), content, what);
  };
  const unsatisfiable = async (headers: Record<string, string>) => {
    const answer = await page.get("/files/photo.png", headers);
    const what = JSON.stringify(headers);
    assert.equal(answer.status, 416, what);
    assert.equal(answer.headers.get("content-range"), `bytes */${size}`, what);
    assert.doesNotMatch(await answer.text(), /[^\x20-\x7e\n]/, what);
  };
  await part({ range: "bytes=0-0" }, 0, 0);
  await part({ range: "bytes=1000-1999" }, 1000, 1999);
  await part({ range: `bytes=${size - 1}-${size - 1}` }, size - 1, size - 1);
  await part({ range: `bytes=${size - 1}-` }, size - 1, size - 1);
  await part({ range: "bytes=500000-" }, 500000, size - 1);
  await part({ range: `bytes=10-${size + 1000}` }, 10, size - 1);
  await part({ range: "bytes=-1" }, size - 1, size - 1);
  await part({ range: "bytes=-4096" }, size - 4096, size - 1);
  await part({ range: `bytes=-${size}` }, 0, size - 1);
  await part({ range: `bytes=-${size + 1}` }, 0, size - 1);
  await part({ range: "BYTES=0-9" }, 0, 9);
  await part({ range: "bytes= 3-5 ," }, 3, 5);
  await part({ range: "bytes=0-9", "if-range": etag }, 0, 9);
  await unsatisfiable({ range: `bytes=${size}-` });
  await unsatisfiable({ range: `bytes=${size}-${size + 5}` });
  await unsatisfiable({ range: "bytes=-0" });
  await unsatisfiable({ range: "bytes=99999999999999999999-" });
  // Several ranges: the whole file, as 14.2 allows; so for anything malformed.
  await whole({ range: "bytes=0-1,5-6" });
  await whole({ range: `bytes=0-1,${size}-` });
  await whole({ range: "bytes=5-1" });
  await whole({ range: "bytes=abc" });
  await whole({ range: "bytes=1-2-3" });
  await whole({ range: "bytes=" });
  await whole({ range: "bytes 0-1" });
  await whole({ range: "items=0-1" });
  await whole({ range: "bytes=0x10-20" });
  // If-Range: only this version's strong tag keeps the range.
  // One character off: the tag's last digit changed (to 1 when it is 0, else to 0).
  const last = etag.at(-2) === "0" ? "1" : "0";
  await whole({ range: "bytes=0-9", "if-range": `${etag.slice(0, -2)}${last}"` });
  await whole({ range: "bytes=0-9", "if-range": `W/${etag}` });
  await whole({ range: "bytes=0-9", "if-range": etag.slice(1, -1) });
  const lastModified = (await page.get("/files/photo.png", {}, "HEAD")).headers.get(
    "last-modified",
  )!;
  await whole({ range: "bytes=0-9", "if-range": lastModified });
  await whole({ range: `bytes=${size}-`, "if-range": `"x${etag.slice(1)}` });
});

test("a file written in place gets another ETag, so a resumed download starts again", async () => {
  await using dir = await tempDir();
  const root = await servedFolder(dir.path);
  await writeRandomFile(join(root, "clip.mp4"), 300_000, 1);
  await using page = await openPage(root);
  const before = (await page.get("/files/clip.mp4", {}, "HEAD")).headers.get("etag")!;
  await writeRandomFile(join(root, "clip.mp4"), 300_000, 2);
  await Deno.utime(join(root, "clip.mp4"), 1_000_000, 1_000_000);
  const answer = await page.get("/files/clip.mp4", { range: "bytes=100-", "if-range": before });
  assert.equal(answer.status, 200);
  assert.notEqual(answer.headers.get("etag"), before);
  assertBytes(await bytesOf(answer), await Deno.readFile(join(root, "clip.mp4")));
});

test("the listing holds files and folders with size and time, never work files or links", async () => {
  await using dir = await tempDir();
  const root = await servedFolder(dir.path);
  await writeRandomFile(join(root, "a.bin"), 1234);
  await Deno.writeTextFile(join(root, ".privateshare-partial-0123456789abcdef"), "half");
  await Deno.writeTextFile(join(root, "sub", ".privateshare-partial-0123456789abcdef"), "half");
  await Deno.symlink(join(dir.path, "secret.txt"), join(root, "link.txt"));
  await Deno.symlink(join(root, "sub"), join(root, "link-dir"));
  await using page = await openPage(root);
  const top = await page.get("/api/list");
  assert.equal(top.status, 200);
  assert.equal(top.headers.get("content-type"), "application/json");
  const listing = await top.json();
  assert.equal(listing.path, "");
  const mtime = (await Deno.stat(join(root, "a.bin"))).mtime!.getTime();
  assert.deepEqual(listing.entries, [
    { name: "a.bin", type: "file", size: 1234, mtime },
    {
      name: "sub",
      type: "folder",
      size: 11,
      mtime: (await Deno.stat(join(root, "sub"))).mtime!.getTime(),
    },
  ]);
  assert.deepEqual(await (await page.get("/api/list?path=")).json(), listing);
  const sub = await (await page.get("/api/list?path=sub")).json();
  assert.deepEqual(sub.entries.map((e: { name: string }) => e.name), ["deeper", "inner.txt"]);
  assert.equal(sub.path, "sub");
  const deeper = await (await page.get("/api/list?path=sub%2Fdeeper")).json();
  assert.deepEqual(deeper, { path: "sub/deeper", entries: [] });
  for (
    const [path, status, code] of [
      ["nope", 404, "not-found"],
      ["Sub", 404, "not-found"],
      ["a.bin", 404, "not-found"],
      ["link-dir", 404, "not-found"],
      ["..", 400, "invalid-name"],
      ["sub/..", 400, "invalid-name"],
      ["sub/", 400, "invalid-name"],
      ["/sub", 400, "invalid-name"],
      [".privateshare-partial-0123456789abcdef", 400, "invalid-name"],
    ] as const
  ) {
    const answer = await page.get(`/api/list?path=${encodeURIComponent(path)}`);
    assert.equal(answer.status, status, path);
    const refusal = await answer.json();
    assert.equal(refusal.code, code, path);
    assert.equal(typeof refusal.error, "string");
  }
});

test("paths that climb out or pass a link are refused, and nothing is served", async () => {
  await using dir = await tempDir();
  const root = await servedFolder(dir.path);
  await Deno.symlink(join(dir.path, "secret.txt"), join(root, "out.txt"));
  await Deno.symlink(dir.path, join(root, "out-dir"));
  await Deno.symlink(join(root, "sub", "inner.txt"), join(root, "in.txt"));
  await Deno.symlink(join(root, "sub"), join(root, "in-dir"));
  await Deno.writeTextFile(join(root, ".privateshare-partial-0123456789abcdef"), "work");
  await using page = await openPage(root);
  // The nearest right one is served.
  const right = await raw(page, "/files/sub/inner.txt");
  assert.equal(right.status, 200);
  assert.equal(right.body, "inner bytes");
  assert.equal((await raw(page, "/files/sub%2Finner.txt")).body, "inner bytes");
  for (
    const target of [
      "/files/../secret.txt",
      "/files/%2e%2e/secret.txt",
      "/files/%2E%2E/secret.txt",
      "/files/..%2Fsecret.txt",
      "/files/%2e%2e%2fsecret.txt",
      "/files/sub/..%2F..%2Fsecret.txt",
      "/files/%2F" + encodeURIComponent(join(dir.path, "secret.txt").slice(1)),
      "/files/sub%5C..%5C..%5Csecret.txt",
      "/files/out.txt",
      "/files/out-dir/secret.txt",
      "/files/in.txt",
      "/files/in-dir/inner.txt",
      "/files/sub",
      "/files/sub/",
      "/files/",
      "/files/.privateshare-partial-0123456789abcdef",
      "/files/sub/inner.txt%00",
      "/zip/out-dir",
      "/zip/in-dir",
      "/zip/..%2F",
      "/zip/sub/inner.txt",
    ]
  ) {
    const answer = await raw(page, target);
    assert.ok([400, 404].includes(answer.status), `${target}: ${answer.status}`);
    assert.doesNotMatch(answer.body, /SECRET-OUTSIDE|inner bytes|work/, target);
    assert.doesNotMatch(answer.head, /content-disposition/i, target);
  }
});

test("a download cut midway is logged as closed, and the server still serves", async () => {
  await using dir = await tempDir();
  const root = await servedFolder(dir.path);
  await writeRandomFile(join(root, "big.bin"), 64 * MiB);
  await using page = await openPage(root);
  const port = page.server.web!.addr.port;
  const conn = await Deno.connect({ hostname: HOST, port });
  await writeRaw(
    conn,
    `GET /files/big.bin HTTP/1.1\r\nHost: ${HOST}:${port}\r\nCookie: ${page.cookie}\r\n\r\n`,
  );
  let got = 0;
  const buffer = new Uint8Array(256 * 1024);
  while (got < 8 * MiB) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("The download ended early");
    got += n;
  }
  conn.close();
  await within(
    20_000,
    "The cut download's log line",
    () => until(() => ends(page.events).some((e) => e.record.op === "get"), 20_000),
  );
  const end = ends(page.events).find((e) => e.record.op === "get")!;
  assert.equal(end.record.outcome, "closed");
  assert.ok(end.record.bytes < 64 * MiB, `${end.record.bytes} bytes`);
  const again = await page.get("/files/sub/inner.txt");
  assert.equal(await again.text(), "inner bytes");
});

test("a zip download cut midway closes its files and folders, and the server still serves", async () => {
  await using dir = await tempDir();
  const root = await servedFolder(dir.path);
  await Deno.mkdir(join(root, "album", "inner"), { recursive: true });
  await writeRandomFile(join(root, "album", "inner", "big.bin"), 64 * MiB);
  await Deno.writeTextFile(join(root, "album", "z.txt"), "last");
  await using page = await openPage(root);
  const port = page.server.web!.addr.port;
  const fds = async () => (await Array.fromAsync(Deno.readDir("/proc/self/fd"))).length;
  const before = await fds();
  for (let i = 0; i < 3; i++) {
    const conn = await Deno.connect({ hostname: HOST, port });
    await writeRaw(
      conn,
      `GET /zip/album HTTP/1.1\r\nHost: ${HOST}:${port}\r\nCookie: ${page.cookie}\r\n\r\n`,
    );
    let got = 0;
    const buffer = new Uint8Array(256 * 1024);
    while (got < 4 * MiB) {
      const n = await conn.read(buffer);
      if (n === null) throw new Error("The zip ended early");
      got += n;
    }
    conn.close();
  }
  await until(() => ends(page.events).filter((e) => e.record.name === "album").length === 3);
  for (const end of ends(page.events).filter((e) => e.record.name === "album")) {
    assert.equal(end.record.outcome, "closed");
  }
  // Every file and folder the zips held open is closed again.
  await until(async () => await fds() <= before);
  assert.equal(await (await page.get("/files/album/z.txt")).text(), "last");
});

test("a browser that stops reading is cut after the data deadline, and others are served", async () => {
  await using dir = await tempDir();
  const root = await servedFolder(dir.path);
  await writeRandomFile(join(root, "big.bin"), 64 * MiB);
  const dataTimeoutMs = 500;
  await using page = await openPage(root, { dataTimeoutMs });
  const port = page.server.web!.addr.port;
  const conn = await Deno.connect({ hostname: HOST, port });
  try {
    await writeRaw(
      conn,
      `GET /files/big.bin HTTP/1.1\r\nHost: ${HOST}:${port}\r\nCookie: ${page.cookie}\r\n\r\n`,
    );
    // Reads nothing: the socket's buffers fill, then the server waits.
    const started = performance.now();
    await within(
      20_000,
      "The stalled download's cut",
      () => until(() => ends(page.events).some((e) => e.record.op === "get"), 20_000),
    );
    const end = ends(page.events).find((e) => e.record.op === "get")!;
    assert.equal(end.record.outcome, "timeout");
    assert.match(end.record.message!, /took nothing for 500 ms/);
    assert.ok(end.record.bytes < 64 * MiB);
    assert.ok(performance.now() - started >= 0.8 * dataTimeoutMs);
    assert.equal(await (await page.get("/files/sub/inner.txt")).text(), "inner bytes");
  } finally {
    closeQuietly(conn);
  }
});

test("a file written while it downloads is cut, never completed with mixed bytes", async () => {
  await using dir = await tempDir();
  const root = await servedFolder(dir.path);
  await writeRandomFile(join(root, "growing.log"), 64 * MiB);
  await using page = await openPage(root);
  const answer = await page.get("/files/growing.log");
  const reader = answer.body!.getReader();
  const first = await reader.read();
  assert.ok(!first.done);
  const file = await Deno.open(join(root, "growing.log"), { append: true });
  await file.write(new Uint8Array(10));
  file.close();
  let got = first.value.length;
  await assert.rejects(async () => {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      got += value.length;
    }
  });
  assert.ok(got < 64 * MiB, `${got} bytes`);
  await until(() => ends(page.events).some((e) => e.record.op === "get"));
  const end = ends(page.events).find((e) => e.record.op === "get")!;
  assert.equal(end.record.outcome, "error");
  assert.match(end.record.message!, /"growing\.log" changed while it was sent/);
});

test("the info says the name, read-only, TLS and the certificate's short code", async () => {
  await using dir = await tempDir();
  const root = await servedFolder(dir.path);
  {
    await using page = await openPage(root);
    assert.deepEqual(await (await page.get("/api/info")).json(), {
      name: "privateshare",
      readOnly: false,
      tls: false,
    });
    const anonymous = await fetch(`${page.base}/api/info`);
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
  }
  const cert = await makeCertificate(dir.path);
  await using page = await openPage(root, {
    readOnly: true,
    tls: { certFile: cert.certFile, keyFile: cert.keyFile },
    web: { port: 0, host: HOST, name: "Anna's photos" },
  });
  assert.deepEqual(await (await page.get("/api/info")).json(), {
    name: "Anna's photos",
    readOnly: true,
    tls: true,
    code: shortCode(cert.fingerprint),
  });
  // Over HTTPS the browser speaks HTTP/2, with no Host header: files and ranges are served too.
  const part = await page.get("/files/sub/inner.txt", { range: "bytes=0-4" });
  assert.equal(part.status, 206);
  assert.equal(await part.text(), "inner");
  const zip = await page.get("/zip/sub", {}, "HEAD");
  assert.equal(zip.status, 200);
  assert.ok(Number(zip.headers.get("content-length")) > 11);
});

/** Checks a zip with Python's zipfile: every entry test-read, the names, and each file's bytes. */
const CHECK_ZIP = `
import json, sys, zipfile
path, expected = sys.argv[1], json.loads(sys.argv[2])
with zipfile.ZipFile(path) as z:
    bad = z.testzip()
    assert bad is None, f"bad entry {bad}"
    names = z.namelist()
    assert sorted(names) == sorted(expected), f"{names} != {sorted(expected)}"
    for name, source in expected.items():
        info = z.getinfo(name)
        if source is None:
            assert info.is_dir(), name
            continue
        assert info.compress_type == zipfile.ZIP_STORED, name
        with open(source, "rb") as f:
            assert z.read(name) == f.read(), name
print("ok")
`;

async function run(command: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
    .output();
  const text = decoder.decode(output.stdout) + decoder.decode(output.stderr);
  assert.ok(output.success, `${command} ${args.join(" ")}:\n${text}`);
  return text;
}

/** Downloads a zip to a file; returns its announced and actual length. */
async function saveZip(page: Page, path: string, to: string): Promise<Response> {
  const answer = await page.get(path);
  assert.equal(answer.status, 200, `${path}: ${answer.status}`);
  const file = await Deno.open(to, { write: true, create: true, truncate: true });
  await answer.body!.pipeTo(file.writable);
  assert.equal((await Deno.stat(to)).size, Number(answer.headers.get("content-length")));
  return answer;
}

test("a folder downloads as a zip that zipfile and unzip read back byte for byte", async () => {
  await using dir = await tempDir();
  const root = await servedFolder(dir.path);
  const photos = join(root, "photos");
  await Deno.mkdir(join(photos, "nested", "deep"), { recursive: true });
  await Deno.mkdir(join(photos, "empty folder"));
  await writeRandomFile(join(photos, "a.bin"), 3 * MiB + 1, 7);
  await Deno.writeTextFile(join(photos, "Ünïcödé 日本.txt"), "ünïcödé ✓");
  await Deno.writeFile(join(photos, "empty.txt"), new Uint8Array());
  await writeRandomFile(join(photos, "nested", "deep", "x.bin"), 70_000, 8);
  await Deno.writeTextFile(join(photos, ".privateshare-partial-0123456789abcdef"), "work");
  await Deno.symlink(join(dir.path, "secret.txt"), join(photos, "out.txt"));
  await Deno.symlink(join(root, "sub"), join(photos, "in-dir"));
  await using page = await openPage(root);
  const zip = join(dir.path, "photos.zip");
  const answer = await saveZip(page, "/zip/photos", zip);
  assert.equal(answer.headers.get("content-type"), "application/zip");
  assert.equal(
    answer.headers.get("content-disposition"),
    `attachment; filename="photos.zip"; filename*=UTF-8''photos.zip`,
  );
  const expected: Record<string, string | null> = {
    "photos/": null,
    "photos/a.bin": join(photos, "a.bin"),
    "photos/Ünïcödé 日本.txt": join(photos, "Ünïcödé 日本.txt"),
    "photos/empty.txt": join(photos, "empty.txt"),
    "photos/empty folder/": null,
    "photos/nested/": null,
    "photos/nested/deep/": null,
    "photos/nested/deep/x.bin": join(photos, "nested", "deep", "x.bin"),
  };
  assert.equal(
    (await run("python3", ["-c", CHECK_ZIP, zip, JSON.stringify(expected)])).trim(),
    "ok",
  );
  assert.match(await run("unzip", ["-t", zip]), /No errors detected/);
  const head = await page.get("/zip/photos", {}, "HEAD");
  assert.equal(head.headers.get("content-length"), answer.headers.get("content-length"));
  assert.equal((await bytesOf(head)).length, 0);
  const end = ends(page.events).find((e) => e.record.name === "photos")!;
  assert.equal(end.record.outcome, "ok");
  assert.equal(end.record.files, 4);
  assert.equal(end.record.bytes, (await Deno.stat(zip)).size);

  // The whole served folder, named after the server.
  const whole = join(dir.path, "whole.zip");
  const all = await saveZip(page, "/zip/", whole);
  assert.match(all.headers.get("content-disposition")!, /filename="privateshare\.zip"/);
  const everything: Record<string, string | null> = {
    "privateshare/": null,
    "privateshare/sub/": null,
    "privateshare/sub/deeper/": null,
    "privateshare/sub/inner.txt": join(root, "sub", "inner.txt"),
  };
  for (const [name, source] of Object.entries(expected)) {
    everything[`privateshare/${name}`] = source;
  }
  await run("python3", ["-c", CHECK_ZIP, whole, JSON.stringify(everything)]);
  assert.match(await run("unzip", ["-t", whole]), /No errors detected/);
  const missing = await page.get("/zip/photoz");
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

test("a file that changes or vanishes while its folder is zipped cuts the zip, logged", async () => {
  for (const change of ["grows", "vanishes"] as const) {
    await using dir = await tempDir();
    const root = await servedFolder(dir.path);
    await Deno.mkdir(join(root, "album"));
    await writeRandomFile(join(root, "album", "1-first.bin"), 64 * MiB, 1);
    await Deno.writeTextFile(join(root, "album", "2-second.txt"), "second");
    await using page = await openPage(root);
    const answer = await page.get("/zip/album");
    const length = Number(answer.headers.get("content-length"));
    const reader = answer.body!.getReader();
    const first = await reader.read();
    assert.ok(!first.done);
    if (change === "grows") {
      await Deno.writeTextFile(join(root, "album", "2-second.txt"), "second!");
    } else await Deno.remove(join(root, "album", "2-second.txt"));
    let got = first.value.length;
    await assert.rejects(async () => {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        got += value.length;
      }
    }, change);
    assert.ok(got < length, `${change}: ${got} of ${length} bytes`);
    await until(() => ends(page.events).some((e) => e.record.name === "album"));
    const end = ends(page.events).find((e) => e.record.name === "album")!;
    assert.equal(end.record.outcome, "error", change);
    assert.match(end.record.message!, /"2-second\.txt" changed while the folder was sent/, change);
    // The server still serves.
    assert.equal(await (await page.get("/files/sub/inner.txt")).text(), "inner bytes");
  }
});

test("a file over 4 GiB zips as ZIP64 that zipfile reads back with its size and CRC", async () => {
  await using dir = await tempDir();
  const root = await servedFolder(dir.path);
  await Deno.mkdir(join(root, "big"));
  const size = 4 * 1024 * MiB + 1;
  // Sparse: 4 GiB of zeros that take no disk, and one last byte.
  await Deno.writeFile(join(root, "big", "huge.bin"), new Uint8Array());
  await Deno.truncate(join(root, "big", "huge.bin"), size - 1);
  const file = await Deno.open(join(root, "big", "huge.bin"), { append: true });
  await file.write(new Uint8Array([0x5a]));
  file.close();
  await using page = await openPage(root);
  const zip = join(dir.path, "big.zip");
  const before = Deno.memoryUsage().rss;
  let peak = before;
  const unsubscribe = page.server.events.subscribe((event) => {
    if (event.type === "request-progress") peak = Math.max(peak, Deno.memoryUsage().rss);
  });
  const started = performance.now();
  await run("curl", ["-sS", "--fail", "-o", zip, "-b", page.cookie, `${page.base}/zip/big`]);
  const served = performance.now() - started;
  unsubscribe();
  // Memory stays bounded (1 MiB chunks, collected as they go), not a part of the 4 GiB.
  assert.ok(peak - before < 128 * MiB, `memory grew ${((peak - before) / MiB).toFixed(0)} MiB`);
  const script = `
import sys, zipfile, zlib
with zipfile.ZipFile(sys.argv[1]) as z:
    info = z.getinfo("big/huge.bin")
    assert info.file_size == ${size}, info.file_size
    crc, left = 0, ${size - 1}
    zeros = bytes(16 << 20)
    while left:
        n = min(left, len(zeros))
        crc = zlib.crc32(zeros[:n], crc)
        left -= n
    crc = zlib.crc32(b"\\x5a", crc)
    assert info.CRC == crc, (info.CRC, crc)
    read = 0
    with z.open(info) as f:  # zipfile checks the CRC at the end
        while chunk := f.read(16 << 20):
            read += len(chunk)
    assert read == ${size}, read
print("ok")
`;
  assert.equal((await run("python3", ["-c", script, zip])).trim(), "ok");
  console.log(
    `ZIP64: 4 GiB + 1 zipped and saved in ${(served / 1000).toFixed(1)} s, ` +
      `memory grew ${((peak - before) / MiB).toFixed(0)} MiB`,
  );
}, 240_000);
