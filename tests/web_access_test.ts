// Who may use the web page: the token and the session cookie, the Host and
// Origin checks, the sign-in of a password server under the protocol's
// guessing limits, the connection caps, what Deno's HTTP server refuses on its
// own, idleness, and a log line for every refusal. Raw requests, since fetch
// sets Host and Origin itself.

import assert from "node:assert/strict";
import http2 from "node:http2";
import { connect as netConnect, type Socket } from "node:net";
import { join } from "node:path";
import { list, type ServerEvent, type ServerOptions, startServer } from "../lib/mod.ts";
import { encodeCommand } from "../lib/protocol/ps2.ts";
import { Logger } from "../lib/server/log.ts";
import {
  pageOrigin,
  sameSecret,
  SESSION_COOKIE,
  sessionCookie,
  wrongHost,
} from "../lib/server/web_access.ts";
import { namesIn, tempDir, test, until, within } from "./helpers.ts";
import { makeCertificate, rawTls, type TestCertificate } from "./security_helpers.ts";
import {
  cookiesSet,
  httpRequest,
  openRaw,
  parseAnswer,
  type RawAnswer,
  rawHttp,
  type RawOptions,
} from "./support/web_raw.ts";

/** A server with its page on loopback, every event kept. */
function webServer(root: string, options: Partial<ServerOptions> = {}) {
  const events: ServerEvent[] = [];
  const server = startServer({
    port: 0,
    host: "127.0.0.1",
    idleTimeoutMs: 0,
    web: { port: 0, host: "127.0.0.1" },
    ...options,
    root,
    onEvent: (event) => {
      events.push(event);
      options.onEvent?.(event);
    },
  });
  return { server, events, port: server.web!.addr.port };
}

/** A TLS server with the password "sesame" and quick guessing limits. */
async function passwordServer(root: string, dir: string, options: Partial<ServerOptions> = {}) {
  const cert = await makeCertificate(dir);
  const started = webServer(root, {
    tls: { cert: cert.cert, key: cert.key },
    password: "sesame",
    authLimits: { delayMs: 1, maxDelayMs: 1, banAfter: 3 },
    ...options,
  });
  return { ...started, cert };
}

function sessionOf(answer: RawAnswer): string {
  const cookie = cookiesSet(answer)[0] ?? "";
  const match = new RegExp(`^${SESSION_COOKIE}_\\d+=([^;]+)`).exec(cookie);
  assert.ok(match, `a session cookie, not ${JSON.stringify(answer.raw.slice(0, 200))}`);
  return match[1]!;
}

function get(port: number, target: string, headers: Record<string, string | null> = {}) {
  return rawHttp(port, httpRequest("GET", target, port, headers));
}

/** Signs in with a password from an address. */
function signIn(
  port: number,
  cert: TestCertificate,
  password: string,
  from = "127.0.0.1",
  headers: Record<string, string | null> = {},
): Promise<RawAnswer> {
  const body = new URLSearchParams({ password }).toString();
  const request = httpRequest("POST", "/sign-in", port, {
    origin: `https://127.0.0.1:${port}`,
    "content-type": "application/x-www-form-urlencoded",
    ...headers,
  }, body);
  return rawHttp(port, request, { ca: cert.cert, from });
}

function flip(text: string, at: number): string {
  const c = text[at]!;
  const other = c === "A" ? "B" : "A";
  return text.slice(0, at) + other + text.slice(at + 1);
}

test("the token opens a session: 303 to / with an HttpOnly, SameSite=Strict cookie for the whole site", async () => {
  await using dir = await tempDir();
  const { server, port } = webServer(dir.path);
  try {
    const answer = await get(port, `/?t=${server.web!.token}`);
    assert.equal(answer.status, 303);
    assert.equal(answer.headers.get("location")?.[0], "/");
    assert.equal(answer.headers.get("cache-control")?.[0], "no-store", "no cache keeps the cookie");
    const cookie = cookiesSet(answer)[0]!;
    assert.ok(cookie.startsWith(`privateshare_session_${port}=`), cookie);
    const attributes = cookie.split(";").slice(1).map((part) => part.trim()).sort();
    assert.deepEqual(attributes, ["HttpOnly", "Path=/", "SameSite=Strict"], "no Secure on HTTP");
    const session = sessionOf(answer);
    const page = await get(port, "/", { cookie: `${sessionCookie(port)}=${session}` });
    assert.equal(page.status, 200);
    assert.match(page.body, /<html/);
    assert.deepEqual(cookiesSet(page), [], "the page sets no new cookie");
  } finally {
    await server.close();
  }
});

test("a token one character off, cut short, lengthened, in another case, another server's, empty or missing is refused, with no cookie", async () => {
  await using dir = await tempDir();
  const one = webServer(dir.path);
  const other = webServer(dir.path);
  try {
    const token = one.server.web!.token;
    const swapped = token.replace(/[a-z]/, (c) => c.toUpperCase());
    assert.notEqual(swapped, token, "the token has a lower-case letter to swap");
    const cases: [string, string, number][] = [
      ["one character off at the end", flip(token, token.length - 1), 403],
      ["one character off at the start", flip(token, 0), 403],
      ["cut short by one", token.slice(0, -1), 403],
      ["the token and one more character", `${token}A`, 403],
      ["another case", swapped, 403],
      ["another server's", other.server.web!.token, 403],
      ["empty", "", 403],
    ];
    for (const [what, given, status] of cases) {
      const answer = await get(one.port, `/?t=${encodeURIComponent(given)}`);
      assert.equal(answer.status, status, what);
      assert.deepEqual(cookiesSet(answer), [], `${what}: no cookie`);
    }
    for (const target of ["/", `/?T=${token}`, `/?token=${token}`]) {
      const answer = await get(one.port, target);
      assert.equal(answer.status, 401, target);
      assert.deepEqual(cookiesSet(answer), [], `${target}: no cookie`);
    }
    // The right token, for contrast, on the same server.
    assert.equal((await get(one.port, `/?t=${token}`)).status, 303);
  } finally {
    await one.server.close();
    await other.server.close();
  }
});

Deno.test("a Host without a port names the scheme's own (80, or 443 over HTTPS), and the page's origin leaves it out", () => {
  assert.equal(wrongHost("127.0.0.1", 443, [], true), undefined);
  assert.equal(wrongHost("127.0.0.1:443", 443, [], true), undefined);
  assert.equal(wrongHost("localhost", 80, [], false), undefined);
  assert.match(wrongHost("127.0.0.1", 443, [], false)!, /another host/);
  assert.match(wrongHost("127.0.0.1", 80, [], true)!, /another host/);
  assert.match(wrongHost("127.0.0.1:", 80, [], false)!, /another host/);
  assert.equal(pageOrigin("LocalHost:443", true), "https://localhost");
  assert.equal(pageOrigin("localhost:80", true), "https://localhost:80");
  assert.equal(pageOrigin("[::1]:8080", false), "http://[::1]:8080");
});

Deno.test("the token and the password are compared whole, whatever their length", () => {
  assert.ok(sameSecret("abc", "abc"));
  for (const given of ["abd", "ab", "abcd", "ABC", ""]) assert.ok(!sameSecret(given, "abc"), given);
});

test("a session cookie that is forged, one character off, another server's or from before a restart is refused (401)", async () => {
  await using dir = await tempDir();
  const first = webServer(dir.path);
  const other = webServer(dir.path);
  const session = sessionOf(await get(first.port, `/?t=${first.server.web!.token}`));
  const otherSession = sessionOf(await get(other.port, `/?t=${other.server.web!.token}`));
  const cookie = (value: string, name = sessionCookie(first.port)) => ({
    cookie: `${name}=${value}`,
  });
  try {
    assert.equal((await get(first.port, "/", cookie(session))).status, 200, "the right session");
    const cases: [string, Record<string, string>][] = [
      ["forged", cookie("A".repeat(session.length))],
      ["one character off", cookie(flip(session, session.length - 1))],
      ["cut short by one", cookie(session.slice(0, -1))],
      ["one character more", cookie(`${session}A`)],
      ["another server's", cookie(otherSession)],
      ["under another name", cookie(session, `${sessionCookie(first.port)}x`)],
      ["under another port's name", cookie(session, sessionCookie(other.port))],
      ["under the name without a port", cookie(session, SESSION_COOKIE)],
      ["the token as a session", cookie(first.server.web!.token)],
    ];
    for (const [what, headers] of cases) {
      const answer = await get(first.port, "/", headers);
      assert.equal(answer.status, 401, what);
    }
  } finally {
    await first.server.close();
    await other.server.close();
  }
  // The same folder served again, on the same port: the old session opens nothing.
  const again = webServer(dir.path, { web: { port: first.port, host: "127.0.0.1" } });
  assert.equal(again.port, first.port);
  try {
    assert.equal((await get(again.port, "/", cookie(session))).status, 401);
    assert.equal((await get(again.port, `/?t=${first.server.web!.token}`)).status, 403);
  } finally {
    await again.server.close();
  }
});

test("over HTTPS the session cookie is Secure too", async () => {
  await using dir = await tempDir();
  await using certs = await tempDir();
  const cert = await makeCertificate(certs.path);
  const { server, port } = webServer(dir.path, { tls: { cert: cert.cert, key: cert.key } });
  try {
    const request = httpRequest("GET", `/?t=${server.web!.token}`, port);
    const answer = await rawHttp(port, request, { ca: cert.cert });
    assert.equal(answer.status, 303);
    const attributes = cookiesSet(answer)[0]!.split(";").slice(1).map((p) => p.trim()).sort();
    assert.deepEqual(attributes, ["HttpOnly", "Path=/", "SameSite=Strict", "Secure"]);
  } finally {
    await server.close();
  }
});

test("the Host must be an address, localhost or the server's own name, at the page's port; any other, even one no URL can hold, is 403", async () => {
  await using dir = await tempDir();
  const { server, port, events } = webServer(dir.path, {
    web: { port: 0, host: "127.0.0.1", names: ["myhost.local"] },
  });
  try {
    const token = server.web!.token;
    const cases: [string | null, number][] = [
      [`127.0.0.1:${port}`, 303],
      [`localhost:${port}`, 303],
      [`LOCALHOST:${port}`, 303],
      [`[::1]:${port}`, 303],
      [`192.168.1.20:${port}`, 303],
      [`myhost.local:${port}`, 303],
      [`evil.example:${port}`, 403],
      [`localhost.evil.example:${port}`, 403],
      [`evil.localhost:${port}`, 403],
      [`myhost.local.evil.example:${port}`, 403],
      [`127.0.0.1.nip.io:${port}`, 403],
      [`127.0.0.1:${port + 1}`, 403],
      [`127.0.0.1:${port}0`, 403],
      [`localhost:${port - 1}`, 403],
      ["127.0.0.1", 403],
      ["localhost", 403],
      [`[::1%25lo]:${port}`, 403],
      [`localhost/api:${port}`, 403],
      [`evil.example/x:${port}`, 403],
      [`local host:${port}`, 403],
      [`[::1:${port}`, 403],
      ["", 403],
      // No Host at all: Deno names it localhost at the page's port (no browser sends one).
      [null, 303],
    ];
    for (const [host, status] of cases) {
      const answer = await get(port, `/?t=${token}`, { host });
      assert.equal(answer.status, status, `Host ${JSON.stringify(host)}`);
      if (status === 403) {
        assert.deepEqual(cookiesSet(answer), [], `Host ${host}: no cookie`);
        assert.match(answer.body, /names another host/);
      }
    }
    // HTTP/1.0 needs no Host: taken as localhost too; with a foreign one, refused.
    const old = await rawHttp(port, `GET /?t=${token} HTTP/1.0\r\n\r\n`);
    assert.equal(old.status, 303);
    const foreign = await rawHttp(
      port,
      `GET /?t=${token} HTTP/1.0\r\nHost: evil.example:${port}\r\n\r\n`,
    );
    assert.equal(foreign.status, 403);
    // Two Host headers: Deno's server refuses them before the page sees them.
    const two = await rawHttp(
      port,
      `GET /?t=${token} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nHost: evil.example:${port}\r\n\r\n`,
    );
    assert.equal(two.status, 400);
    assert.deepEqual(events.filter((event) => event.type === "error"), [], "no request failed");
  } finally {
    await server.close();
  }
});

test("Origin: only the page's own; POST, PUT and DELETE must carry it; a cross-site read is refused but a top-level navigation", async () => {
  await using dir = await tempDir();
  await using certs = await tempDir();
  const { server, port, cert } = await passwordServer(dir.path, certs.path);
  const tls: RawOptions = { ca: cert.cert };
  try {
    const own = `https://127.0.0.1:${port}`;
    const origins: [string | null, number][] = [
      [own, 303],
      ["https://evil.example", 403],
      [`https://127.0.0.1:${port + 1}`, 403],
      [`https://localhost:${port}`, 403],
      [`http://127.0.0.1:${port}`, 403],
      [`${own}/`, 403],
      [`${own}.evil.example`, 403],
      ["null", 403],
      [null, 403],
    ];
    for (const [origin, status] of origins) {
      const answer = await signIn(port, cert, "sesame", "127.0.0.1", { origin });
      assert.equal(answer.status, status, `Origin ${origin}`);
      if (status === 403) assert.deepEqual(cookiesSet(answer), [], `Origin ${origin}: no cookie`);
    }
    const session = sessionOf(await signIn(port, cert, "sesame"));
    const cookie = `${sessionCookie(port)}=${session}`;
    for (const method of ["PUT", "DELETE", "POST"]) {
      const request = httpRequest(method, "/api/uploads/1", port, { cookie }, "x");
      const answer = await rawHttp(port, request, tls);
      assert.equal(answer.status, 403, `${method} without an Origin`);
      assert.match(answer.body, /without the page's Origin/);
    }
    const reads: [string, Record<string, string>, boolean][] = [
      ["/api/info", { "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors" }, true],
      ["/api/info", { "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors" }, false],
      ["/api/info", { "sec-fetch-site": "same-site", "sec-fetch-mode": "cors" }, false],
      ["/api/info", { "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors" }, false],
      ["/", { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate" }, true],
      ["/", { "sec-fetch-site": "none", "sec-fetch-mode": "navigate" }, true],
      ["/", { "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors" }, false],
      ["/", { origin: "https://evil.example" }, false],
    ];
    for (const [target, headers, allowed] of reads) {
      const answer = await rawHttp(
        port,
        httpRequest("GET", target, port, { cookie, ...headers }),
        tls,
      );
      const what = `GET ${target} ${JSON.stringify(headers)}`;
      if (allowed) assert.notEqual(answer.status, 403, what);
      else {
        assert.equal(answer.status, 403, what);
        assert.match(answer.body, /another site/, what);
      }
    }
    // A cross-site navigation that posts is no navigation that reads.
    const posted = await signIn(port, cert, "sesame", "127.0.0.1", {
      origin: null,
      "sec-fetch-site": "cross-site",
      "sec-fetch-mode": "navigate",
    });
    assert.equal(posted.status, 403);
  } finally {
    await server.close();
  }
});

test("sign-in: the form, a wrong password is 401 with the form and the reason, the right one a session", async () => {
  await using dir = await tempDir();
  await using certs = await tempDir();
  const { server, port, cert } = await passwordServer(dir.path, certs.path);
  try {
    const tls: RawOptions = { ca: cert.cert };
    const form = await rawHttp(port, httpRequest("GET", "/", port), tls);
    assert.equal(form.status, 200);
    assert.match(form.body, /<form method="post" action="\/sign-in">/);
    assert.doesNotMatch(form.body, /\{\{/, "no placeholder is left in the page");
    // A token is no way in on a password server.
    const token = await rawHttp(port, httpRequest("GET", `/?t=${server.web!.token}`, port), tls);
    assert.deepEqual(cookiesSet(token), []);
    for (const [i, wrong] of ["sesam", "sesame ", "Sesame", "sesamee"].entries()) {
      // An address each: the guard would ban one address before the fourth.
      const answer = await signIn(port, cert, wrong, `127.0.0.${10 + i}`);
      assert.equal(answer.status, 401, wrong);
      assert.match(answer.body, /<form method="post" action="\/sign-in">/);
      assert.match(answer.body, /Wrong password/, `${wrong}: the reason is on the form`);
      assert.deepEqual(cookiesSet(answer), [], `${wrong}: no cookie`);
    }
    const right = await signIn(port, cert, "sesame", "127.0.0.3");
    assert.equal(right.status, 303);
    assert.equal(right.headers.get("location")?.[0], "/");
    const attributes = cookiesSet(right)[0]!.split(";").slice(1).map((p) => p.trim()).sort();
    assert.deepEqual(attributes, ["HttpOnly", "Path=/", "SameSite=Strict", "Secure"]);
    const cookie = `${sessionCookie(port)}=${sessionOf(right)}`;
    // From the address that signed in: a session is bound to it.
    const page = await rawHttp(port, httpRequest("GET", "/", port, { cookie }), {
      ...tls,
      from: "127.0.0.3",
    });
    assert.equal(page.status, 200);
    assert.doesNotMatch(page.body, /action="\/sign-in"/, "the page, not the form");
  } finally {
    await server.close();
  }
});

test("sign-in: an empty password is asked again and is not counted as a guess", async () => {
  await using dir = await tempDir();
  await using certs = await tempDir();
  const { server, port, cert, events } = await passwordServer(dir.path, certs.path);
  try {
    for (let i = 0; i < 3; i++) {
      const answer = await signIn(port, cert, "");
      assert.equal(answer.status, 401);
      assert.match(answer.body, /Type the server's password/);
    }
    assert.deepEqual(events.filter((e) => e.type.startsWith("auth-")), [], "no guess counted");
    assert.equal((await signIn(port, cert, "sesame")).status, 303);
  } finally {
    await server.close();
  }
});

test("sign-in: wrong passwords up to the limit still let the right one in; at the limit the address is banned, even with the right password, and others are not", async () => {
  await using dir = await tempDir();
  await using certs = await tempDir();
  // banAfter 3: two wrong passwords are under the limit, the third bans.
  const { server, port, cert, events } = await passwordServer(dir.path, certs.path);
  try {
    for (let i = 0; i < 2; i++) {
      assert.equal((await signIn(port, cert, "x", "127.0.0.2")).status, 401);
    }
    assert.equal((await signIn(port, cert, "sesame", "127.0.0.2")).status, 303, "under the limit");
    for (let i = 0; i < 3; i++) {
      assert.equal((await signIn(port, cert, "x", "127.0.0.3")).status, 401);
    }
    const banned = await signIn(port, cert, "sesame", "127.0.0.3");
    assert.equal(banned.status, 401, "banned, though the password is right");
    assert.match(banned.body, /Too many wrong passwords from your address/);
    assert.deepEqual(cookiesSet(banned), []);
    assert.deepEqual(
      events.filter((e) => e.type === "auth-banned").map((e) => "address" in e && e.address),
      ["127.0.0.3"],
    );
    assert.equal((await signIn(port, cert, "sesame", "127.0.0.4")).status, 303, "another address");
  } finally {
    await server.close();
  }
});

test("sign-in: wrong passwords over PS/2 from the same address count toward the page's ban", async () => {
  await using dir = await tempDir();
  await using certs = await tempDir();
  const { server, port, cert } = await passwordServer(dir.path, certs.path);
  try {
    const ps2 = new TextDecoder().decode(encodeCommand({ op: "list", password: "x" }));
    for (let i = 0; i < 2; i++) {
      const answer = JSON.parse(await rawTls(server.addr.port, cert.cert, ps2, "127.0.0.5"));
      assert.equal(answer.reason, "unauthorized");
    }
    // The third wrong password, on the page, is the one that bans.
    assert.equal((await signIn(port, cert, "x", "127.0.0.5")).status, 401);
    const banned = await signIn(port, cert, "sesame", "127.0.0.5");
    assert.equal(banned.status, 401);
    assert.match(banned.body, /Too many wrong passwords/);
    // And the ban holds over PS/2 too, with the right password.
    const right = new TextDecoder().decode(encodeCommand({ op: "list", password: "sesame" }));
    const answer = JSON.parse(await rawTls(server.addr.port, cert.cert, right, "127.0.0.5"));
    assert.match(answer.message, /Too many wrong passwords/);
  } finally {
    await server.close();
  }
});

/** A sign-in whose body is held back after its first bytes: a request in flight. */
async function heldSignIn(port: number, cert: Pick<TestCertificate, "cert">, from: string) {
  const password = "password=sesame&pad=";
  const body = password + "x".repeat(64 - password.length);
  const conn = openRaw(port, { ca: cert.cert, from });
  await conn.write(
    httpRequest("POST", "/sign-in", port, {
      origin: `https://127.0.0.1:${port}`,
      "content-type": "application/x-www-form-urlencoded",
      "content-length": String(body.length),
    }) + body.slice(0, 5),
  );
  return {
    /** Sends the rest of the body; the answer follows. */
    async finish(): Promise<RawAnswer> {
      await conn.write(body.slice(5));
      return parseAnswer(await conn.answer);
    },
    close: () => conn.close(),
  };
}

function started(events: ServerEvent[]): number {
  return events.filter((e) => e.type === "request-start").length;
}

function ended(events: ServerEvent[]): number {
  return events.filter((e) => e.type === "request-end").length;
}

test("connection caps: up to maxPerAddress requests in flight from an address and maxConnections in all; one more is 503 busy, saying which; other addresses are served; a slot is free again once its request ends", async () => {
  await using dir = await tempDir();
  await using certs = await tempDir();
  const { server, port, cert, events } = await passwordServer(dir.path, certs.path, {
    maxPerAddress: 2,
    maxConnections: 3,
  });
  const tls = (from: string): RawOptions => ({ ca: cert.cert, from });
  const form = (from: string) => rawHttp(port, httpRequest("GET", "/", port), tls(from));
  const held: Awaited<ReturnType<typeof heldSignIn>>[] = [];
  try {
    // The limit: two from 127.0.0.1, in flight until their bodies come.
    for (let i = 1; i <= 2; i++) {
      held.push(await heldSignIn(port, cert, "127.0.0.1"));
      await until(() => started(events) === i);
    }
    const over = await form("127.0.0.1");
    assert.equal(over.status, 503, "the limit + 1 from one address");
    assert.match(over.body, /maximum of connections from your address: try again/);
    assert.equal((await form("127.0.0.2")).status, 200, "another address is served");
    // The third in all, from another address; the fourth is over the total.
    held.push(await heldSignIn(port, cert, "127.0.0.2"));
    await until(() => started(events) === 5);
    const full = await form("127.0.0.3");
    assert.equal(full.status, 503, "the total limit + 1");
    assert.match(full.body, /serving its maximum of connections: try again/);
    assert.doesNotMatch(full.body, /your address/);
    // The requests in flight succeed, and their slots are free again.
    const before = ended(events);
    const first = await held[0]!.finish();
    assert.equal(first.status, 303);
    await until(() => ended(events) === before + 1);
    assert.equal((await form("127.0.0.3")).status, 200, "a slot in all is free again");
    assert.equal((await form("127.0.0.1")).status, 200, "a slot of the address is free again");
    for (const request of held.slice(1)) assert.equal((await request.finish()).status, 303);
    const busy = events.filter((e) => e.type === "request-end" && e.record.reason === "busy");
    assert.equal(busy.length, 2, "each refusal logged as busy");
  } finally {
    for (const request of held) request.close();
    await server.close();
  }
});

test("Deno's HTTP server refuses smuggling, duplicate lengths, oversized and too many headers before the page sees them, and serves the next request", async () => {
  await using dir = await tempDir();
  const { server, port, events } = webServer(dir.path, { maxPerAddress: 1, maxConnections: 1 });
  const token = server.web!.token;
  const host = `Host: 127.0.0.1:${port}\r\n`;
  const origin = `Origin: http://127.0.0.1:${port}\r\n`;
  const smuggled = `GET /smuggled HTTP/1.1\r\n${host}Connection: close\r\n\r\n`;
  const many = (count: number) =>
    Array.from({ length: count }, (_, i) => `X-Header-${i}: v\r\n`).join("");
  /** A request head of `bytes` bytes in all. */
  const sized = (bytes: number) => {
    const head = `GET /?t=${token} HTTP/1.1\r\n${host}Connection: close\r\nX-Big: \r\n\r\n`;
    return head.replace("X-Big: ", `X-Big: ${"a".repeat(bytes - head.length)}`);
  };
  try {
    const refused: [string, string][] = [
      [
        "Content-Length and Transfer-Encoding",
        `POST /sign-in HTTP/1.1\r\n${host}${origin}Content-Length: 4\r\n` +
        `Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
      ],
      [
        "Transfer-Encoding and Content-Length",
        `POST /sign-in HTTP/1.1\r\n${host}${origin}Transfer-Encoding: chunked\r\n` +
        `Content-Length: ${smuggled.length + 5}\r\n\r\n0\r\n\r\n${smuggled}`,
      ],
      [
        "two differing Content-Lengths",
        `POST /sign-in HTTP/1.1\r\n${host}${origin}Content-Length: 0\r\n` +
        `Content-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
      ],
      [
        "a Transfer-Encoding that is not chunked",
        `POST /sign-in HTTP/1.1\r\n${host}${origin}Transfer-Encoding: identity\r\n\r\n${smuggled}`,
      ],
      [
        "chunked not last",
        `POST /sign-in HTTP/1.1\r\n${host}${origin}Transfer-Encoding: chunked, gzip\r\n\r\n` +
        `0\r\n\r\n${smuggled}`,
      ],
      ["a head over 64 KiB (65 KiB)", sized(65 * 1024)],
      ["129 headers", `GET /?t=${token} HTTP/1.1\r\n${host}${many(128)}\r\n`],
      ["1,000 headers", `GET /?t=${token} HTTP/1.1\r\n${host}${many(999)}\r\n`],
    ];
    for (const [what, request] of refused) {
      const answer = await within(10_000, what, rawHttp(port, request));
      assert.ok(
        answer.status === 0 || (answer.status >= 400 && answer.status < 500),
        `${what}: refused, not ${answer.raw.slice(0, 40)}`,
      );
      assert.equal(answer.raw.split("HTTP/1.1 ").length - 1, answer.status ? 1 : 0, what);
      assert.deepEqual(cookiesSet(answer), [], what);
      const next = await get(port, "/");
      assert.equal(next.status, 401, `${what}: the next request is served`);
    }
    // Just under the limits, for contrast: served.
    assert.equal((await rawHttp(port, sized(63 * 1024))).status, 303, "a head of 63 KiB");
    const most = `GET /?t=${token} HTTP/1.1\r\n${host}Connection: close\r\n${many(126)}\r\n`;
    assert.equal((await rawHttp(port, most)).status, 303, "128 headers");
    const ops = events.flatMap((e) => e.type === "request-start" ? [e.record.op] : []);
    assert.ok(!ops.some((op) => op.includes("smuggled")), `no smuggled request: ${ops}`);
    assert.ok(!ops.some((op) => op.includes("sign-in")), "no refused request reached the page");
    assert.deepEqual(namesIn(dir.path), [], "nothing written");
  } finally {
    await server.close();
  }
});

test("a request trickling its headers one byte at a time takes no slot, and others are served meanwhile", async () => {
  await using dir = await tempDir();
  // One request in flight from an address, and one in all.
  const { server, port, events } = webServer(dir.path, { maxPerAddress: 1, maxConnections: 1 });
  const slow = [openRaw(port), openRaw(port), openRaw(port)];
  try {
    const request = httpRequest("GET", "/slow-path", port, { "x-pad": "p".repeat(100) });
    for (let at = 0; at < request.length - 1; at++) {
      for (const conn of slow) await conn.write(request[at]!);
      if (at % 40 === 0) {
        const served = await get(port, `/?t=${server.web!.token}`);
        assert.equal(served.status, 303, `served while ${at + 1} bytes trickled`);
      }
    }
    const ops = events.flatMap((e) => e.type === "request-start" ? [e.record.op] : []);
    assert.ok(!ops.includes("GET /slow-path"), "an unfinished head is no request yet");
    // The last byte: each trickled request is answered in its turn.
    for (const conn of slow) {
      await conn.write(request.at(-1)!);
      assert.equal(parseAnswer(await conn.answer).status, 404);
    }
  } finally {
    for (const conn of slow) conn.close();
    await server.close();
  }
});

test("a web request in flight holds off the idle stop; the idle timer runs once it ends", async () => {
  await using dir = await tempDir();
  await using certs = await tempDir();
  const idleTimeoutMs = 2500;
  const { server, port, cert, events } = await passwordServer(dir.path, certs.path, {
    idleTimeoutMs,
  });
  try {
    const held = await heldSignIn(port, cert, "127.0.0.1");
    await until(() => started(events) === 1);
    assert.ok(!events.some((e) => e.type === "idle-shutdown"), "started in time");
    // The promise is that nothing happens for longer than the idle time.
    await new Promise((resolve) => setTimeout(resolve, idleTimeoutMs * 1.5));
    assert.ok(!events.some((e) => e.type === "idle-shutdown"), "no idle stop while in flight");
    assert.equal((await held.finish()).status, 303);
    const ended = performance.now();
    await within(idleTimeoutMs * 10, "The idle stop", server.finished);
    const waited = performance.now() - ended;
    const types = events.map((e) => e.type);
    assert.ok(types.indexOf("idle-shutdown") > types.indexOf("request-end"));
    assert.ok(waited >= idleTimeoutMs * 0.8, `the idle timer ran after the request: ${waited} ms`);
  } finally {
    await server.close();
  }
});

test("every refusal of the page is logged as a web request with its reason", async () => {
  await using dir = await tempDir();
  const lines: string[] = [];
  const logger = new Logger("text", (line) => lines.push(line));
  const { server, port, events } = webServer(dir.path, {
    onEvent: (event) => logger.handle(event),
  });
  try {
    const token = server.web!.token;
    const refused: [string, Record<string, string | null>, RegExp][] = [
      [`/?t=${token}`, { host: `evil.example:${port}` }, /403|names another host/],
      [`/?t=${token}`, { origin: "https://evil.example" }, /another site/],
      [`/?t=${token}x`, {}, /address.s key is not valid/],
      ["/", {}, /Open the address with its key: scan/],
      ["/nothing-here", {}, /No such page/],
    ];
    for (const [target, headers, says] of refused) {
      const before = ended(events);
      assert.ok((await get(port, target, headers)).status >= 400);
      await until(() => ended(events) === before + 1);
      const line = lines.at(-1)!;
      assert.match(line, / web GET \//, line);
      assert.match(line, / cancel (unauthorized|not-found) /, line);
      assert.match(line, says, line);
    }
  } finally {
    await server.close();
  }
});

/**
 * Starts the flood probe under a limit of 100 descriptors, floods its page
 * with 200 silent connections from 127.0.0.2, and checks that it lives on.
 */
async function floodPage(tls: boolean): Promise<void> {
  await using dir = await tempDir();
  await Deno.writeTextFile(join(dir.path, "a.txt"), "a");
  const probe = new URL("./support/web_flood_probe.ts", import.meta.url).pathname;
  const child = new Deno.Command("prlimit", {
    args: [
      "--nofile=100:100",
      Deno.execPath(),
      "run",
      "--no-prompt",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      probe,
      dir.path,
      ...(tls ? ["tls"] : []),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  let stderr = "";
  const reading = Promise.all([
    (async () => {
      let text = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        text += chunk;
        let at;
        while ((at = text.indexOf("\n")) >= 0) {
          lines.push(JSON.parse(text.slice(0, at)));
          text = text.slice(at + 1);
        }
      }
    })(),
    (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
    })(),
  ]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const flood: Socket[] = [];
  try {
    await until(() => lines.length > 0 || exited, 30_000);
    const { ps2, web, cert } = lines[0] as { ps2: number; web: number; cert?: string };
    // A request in flight when the flood comes (a sign-in whose form is on its way).
    const held = cert ? await heldSignIn(web, { cert }, "127.0.0.1") : undefined;
    // In flight once the server has begun it: its bytes written is not enough. On a busy
    // machine the server may not have read them yet when the flood's connections are
    // waiting too; then it runs out of descriptors first, and a request it has not read
    // is a connection like the flood's, closed with them.
    if (held) await until(() => lines.some((l) => l.type === "request-start") || exited, 20_000);
    const settled: Promise<void>[] = [];
    const closed: Promise<void>[] = [];
    // The whole flood reaches the listener that fails: the server is stopped (SIGSTOP) while
    // the kernel completes every connection into its queue, and goes on once all are there.
    // Left running, it can fail and listen again (100 ms later) before a loaded machine has
    // sent the last of them, and the new listener holds those open: not the failed one's.
    Deno.kill(child.pid, "SIGSTOP");
    for (let i = 0; i < 200; i++) {
      const socket = netConnect({ host: "127.0.0.1", port: web, localAddress: "127.0.0.2" });
      socket.on("error", () => {});
      flood.push(socket);
      closed.push(new Promise((resolve) => socket.once("close", () => resolve())));
      settled.push(
        new Promise((resolve) => {
          socket.once("connect", () => resolve());
          socket.once("close", () => resolve());
        }),
      );
    }
    await Promise.all(settled);
    Deno.kill(child.pid, "SIGCONT");
    await until(() => lines.some((l) => l.what === "web") || exited, 20_000);
    assert.ok(!exited, `the server died: ${stderr}`);
    const lost = lines.find((l) => l.what === "web")!;
    assert.match(lost.message as string, /could not accept a connection .*listening again/);
    if (held) assert.equal((await held.finish()).status, 303, "the request in flight was served");
    if (!tls) {
      // The failed server, its requests ended, closes the flood's connections itself.
      await within(20_000, "the flood's connections closed by the server", Promise.all(closed));
    } else {
      // Not those still in their TLS handshake: Deno does not close them. The flood ends.
      for (const socket of flood) socket.destroy();
      await Promise.all(closed);
    }
    // The page listens again within its longest wait.
    await until(async () => {
      const request = httpRequest("GET", "/", web);
      const answer = await rawHttp(web, request, cert ? { ca: cert } : {}).catch(() => undefined);
      return answer?.status === (tls ? 200 : 401);
    }, 20_000);
    if (cert) {
      const command = new TextDecoder().decode(encodeCommand({ op: "list", password: "sesame" }));
      const listing = await within(20_000, "list", rawTls(ps2, cert, command));
      assert.match(listing, /a\.txt/, "the privateshare port serves");
    } else {
      const files = await within(20_000, "list", list({ host: "127.0.0.1", port: ps2 }));
      assert.deepEqual(files.map((f) => f.name), ["a.txt"], "the privateshare port serves");
    }
    assert.ok(!exited, `the server died: ${stderr}`);
  } finally {
    for (const socket of flood) socket.destroy();
    if (!exited) child.kill("SIGTERM");
    await status;
    await reading;
  }
}

test("out of descriptors through a flood of silent connections to the page, the server lives on: the loss is logged, and the failed listener closes the flood's connections; the page and the privateshare port answer again", () =>
  floodPage(false));

test("over TLS, a request in flight when the page runs out of descriptors is served to its end, and the page answers again once the flood has ended", () =>
  floodPage(true));

/** One HTTP/2 request (as a browser makes over HTTPS), with the `:authority` given; a POST with a body. */
async function h2Get(
  port: number,
  ca: string | undefined,
  authority: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; setCookie: string[]; body: string }> {
  const scheme = ca === undefined ? "http" : "https";
  const client = http2.connect(`${scheme}://127.0.0.1:${port}`, ca ? { ca: [ca] } : {});
  client.on("error", () => {});
  try {
    return await new Promise((resolve, reject) => {
      const request = client.request({
        ":method": body === undefined ? "GET" : "POST",
        ":path": path,
        ":authority": authority,
        ...headers,
      });
      let status = 0;
      let setCookie: string[] = [];
      let text = "";
      request.on("response", (answer) => {
        status = Number(answer[":status"]);
        const cookie = answer["set-cookie"];
        setCookie = cookie === undefined ? [] : [cookie].flat();
      });
      request.setEncoding("utf8");
      request.on("data", (chunk: string) => text += chunk);
      request.on("end", () => resolve({ status, setCookie, body: text }));
      request.on("error", reject);
      request.end(body);
    });
  } finally {
    client.close();
  }
}

test("over HTTP/2 (browsers' choice over HTTPS) the :authority is checked as the Host is", async () => {
  await using dir = await tempDir();
  await using certs = await tempDir();
  const cert = await makeCertificate(certs.path);
  const secure = webServer(dir.path, { tls: { cert: cert.cert, key: cert.key } });
  const plain = webServer(dir.path);
  try {
    for (const [{ server, port }, ca] of [[secure, cert.cert], [plain, undefined]] as const) {
      const target = `/?t=${server.web!.token}`;
      const cases: [string, number][] = [
        [`127.0.0.1:${port}`, 303],
        [`localhost:${port}`, 303],
        [`evil.example:${port}`, 403],
        [`localhost.evil.example:${port}`, 403],
        [`127.0.0.1:${port + 1}`, 403],
      ];
      for (const [authority, status] of cases) {
        const answer = await h2Get(port, ca, authority, target);
        assert.equal(answer.status, status, `${ca ? "h2" : "h2c"} :authority ${authority}`);
        assert.equal(answer.setCookie.length, status === 303 ? 1 : 0);
      }
      // The Origin of a browser's request over HTTP/2.
      const scheme = ca ? "https" : "http";
      const own = await h2Get(port, ca, `127.0.0.1:${port}`, target, {
        origin: `${scheme}://127.0.0.1:${port}`,
      });
      assert.equal(own.status, 303);
      const foreign = await h2Get(port, ca, `127.0.0.1:${port}`, target, {
        origin: `${scheme}://evil.example`,
      });
      assert.equal(foreign.status, 403);
    }
    // Deno's own limit on an HTTP/2 head is about 16 KiB.
    const big = await h2Get(plain.port, undefined, `127.0.0.1:${plain.port}`, "/", {
      "x-big": "a".repeat(17_000),
    }).catch(() => ({ status: 0 }));
    assert.ok(big.status === 0 || big.status === 431, `a head over 16 KiB: ${big.status}`);
    const fine = await h2Get(plain.port, undefined, `127.0.0.1:${plain.port}`, "/", {
      "x-big": "a".repeat(15_000),
    });
    assert.equal(fine.status, 401, "a head under 16 KiB reaches the page");
    // A browser's sign-in over HTTP/2.
    const locked = await passwordServer(dir.path, certs.path);
    try {
      const authority = `127.0.0.1:${locked.port}`;
      const form = {
        origin: `https://${authority}`,
        "content-type": "application/x-www-form-urlencoded",
      };
      const wrong = await h2Get(
        locked.port,
        locked.cert.cert,
        authority,
        "/sign-in",
        form,
        "password=x",
      );
      assert.equal(wrong.status, 401);
      assert.match(wrong.body, /Wrong password/);
      const right = await h2Get(
        locked.port,
        locked.cert.cert,
        authority,
        "/sign-in",
        form,
        "password=sesame",
      );
      assert.equal(right.status, 303);
      assert.equal(right.setCookie.length, 1);
    } finally {
      await locked.server.close();
    }
    // fetch speaks HTTP/2 to an HTTPS server, as browsers do.
    const client = Deno.createHttpClient({ caCerts: [cert.cert] });
    try {
      const url = secure.server.web!.url("127.0.0.1");
      const answer = await fetch(url, { client, redirect: "manual" });
      await answer.body?.cancel();
      assert.equal(answer.status, 303);
    } finally {
      client.close();
    }
  } finally {
    await secure.server.close();
    await plain.server.close();
  }
});

test("a browser signed in to two servers of one computer keeps both sessions (cookies do not tell ports apart), and a cookie of the same name from elsewhere hides no session", async () => {
  await using dir = await tempDir();
  const one = webServer(dir.path);
  const two = webServer(dir.path);
  try {
    // A browser's cookie jar for 127.0.0.1: one value per name, whatever the port.
    const jar = new Map<string, string>();
    for (const { server, port } of [one, two]) {
      const answer = await get(port, `/?t=${server.web!.token}`);
      assert.equal(answer.status, 303);
      const [pair = ""] = cookiesSet(answer)[0]!.split(";");
      const at = pair.indexOf("=");
      jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
    const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join("; ");
    for (const { port } of [one, two]) {
      assert.equal((await get(port, "/", { cookie })).status, 200, `the page at port ${port}`);
    }
    // Another program of this host set a cookie of the same name first.
    const tossed = [...jar].map(([name]) => `${name}=forged`).join("; ");
    for (const { port } of [one, two]) {
      const answer = await get(port, "/", { cookie: `${tossed}; ${cookie}` });
      assert.equal(answer.status, 200, `the page at port ${port}, after a tossed cookie`);
    }
  } finally {
    await one.server.close();
    await two.server.close();
  }
});

test("a sign-in form that stalls is cut at the data deadline (408) and frees its slot; one over 4 KiB is refused (413) unread", async () => {
  await using dir = await tempDir();
  await using certs = await tempDir();
  const dataTimeoutMs = 500;
  const { server, port, cert, events } = await passwordServer(dir.path, certs.path, {
    dataTimeoutMs,
    maxPerAddress: 1,
  });
  try {
    const held = openRaw(port, { ca: cert.cert });
    const head = (length: number) =>
      httpRequest("POST", "/sign-in", port, {
        origin: `https://127.0.0.1:${port}`,
        "content-type": "application/x-www-form-urlencoded",
        "content-length": String(length),
      });
    await held.write(head(64) + "password=ses");
    // Deno keeps the connection open while the body may still come: the answer is enough.
    await until(() => /\r\n\r\n.*did not arrive/s.test(held.received()), dataTimeoutMs * 20);
    const answer = parseAnswer(held.received());
    held.close();
    assert.equal(answer.status, 408);
    assert.match(answer.body, /did not arrive/);
    assert.equal((await signIn(port, cert, "sesame")).status, 303, "the slot is free again");
    const longest = "x".repeat(4096 - "password=".length);
    assert.equal((await signIn(port, cert, longest)).status, 401, "4 KiB: read and checked");
    const over = await rawHttp(port, head(4097) + "x".repeat(4097), { ca: cert.cert });
    assert.equal(over.status, 413, "4 KiB + 1");
    const outcomes = events.flatMap((e) =>
      e.type === "request-end" && e.record.op === "sign-in" ? [e.record.reason ?? "ok"] : []
    );
    assert.deepEqual(outcomes, ["timeout", "ok", "unauthorized", "too-large"]);
  } finally {
    await server.close();
  }
});
