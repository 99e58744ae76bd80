/**
 * The page server's exact comparisons, in process: the token in the path,
 * the Host header (against DNS rebinding) and the Origin and
 * Sec-Fetch-Site headers (against other sites), each with the inputs
 * closest to the right one (one character, case, a prefix, a suffix, another
 * port, another scheme) beside the exact right one, through raw HTTP/1.1
 * requests (`fetch` may not set Host). A route counts the calls that reach
 * it: a refused request never does.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type GuiServer, serveGui, text } from "../lib/gui/web.ts";

/** A page server whose one API call, `POST api/act`, counts the calls that reach it. */
function countingGui(): GuiServer & AsyncDisposable & { calls(): number } {
  let calls = 0;
  const gui = serveGui({
    html: "<!doctype html><title>test</title>",
    script: "",
    routes: {
      act: {
        method: "POST",
        handle: () => {
          calls++;
          return text(200, "Done");
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

/** Sends one raw HTTP/1.1 request (each header line as given) and returns its status. */
async function status(port: number, head: string[]): Promise<number> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const request = [...head, "Connection: close", "", ""].join("\r\n");
  await conn.write(new TextEncoder().encode(request));
  const buffer = new Uint8Array(4096);
  let answer = "";
  while (!answer.includes("\r\n")) {
    const n = await conn.read(buffer);
    if (n === null) break;
    answer += new TextDecoder().decode(buffer.subarray(0, n));
  }
  const code = /^HTTP\/1\.1 (\d{3})/.exec(answer);
  assert.ok(code, `Not an HTTP answer: ${JSON.stringify(answer)}`);
  return Number(code[1]);
}

/** The parts of the right request, for a page server. */
function parts(gui: GuiServer) {
  const token = new URL(gui.url).pathname.slice(1, -1);
  return {
    token,
    host: `127.0.0.1:${gui.port}`,
    origin: `http://127.0.0.1:${gui.port}`,
    /** A POST to the counting route, with these header lines. */
    act: (path: string, headers: string[]) => [
      `POST ${path}api/act HTTP/1.1`,
      ...headers,
      "Content-Length: 0",
    ],
  };
}

Deno.test("the page server answers only the exact Host 127.0.0.1:PORT", async () => {
  await using gui = countingGui();
  const { token, host, origin, act } = parts(gui);
  const port = gui.port;
  const other = port === 65535 ? port - 1 : port + 1;
  const path = `/${token}/`;
  const wrong = [
    `127.0.0.1:${other}`,
    `127.0.0.1.evil.example:${port}`,
    `localhost.evil.example:${port}`,
    `evil.example:${port}`,
    `localhost:${port}`,
    `[::1]:${port}`,
    `[::1]:${other}`,
    `127.0.0.1`,
    `127.0.0.1:${port}0`,
    `127.0.0.1:0${port}`,
    `127.0.0.1:${port}.evil.example`,
    `x127.0.0.1:${port}`,
    `127.0.0.2:${port}`,
  ];
  for (const name of wrong) {
    assert.equal(await status(port, [`GET ${path} HTTP/1.1`, `Host: ${name}`]), 403, name);
    assert.equal(
      await status(port, act(path, [`Host: ${name}`, `Origin: ${origin}`])),
      403,
      `POST with Host ${name}`,
    );
  }
  assert.equal(await status(port, [`GET ${path} HTTP/1.1`]), 403, "no Host");
  assert.equal(await status(port, act(path, [`Origin: ${origin}`])), 403, "POST without Host");
  // Two Host lines, the right one first: never taken as the right one.
  const twice = await status(port, act(path, [`Host: ${host}`, `Host: evil.example:${port}`]));
  assert.ok(twice === 400 || twice === 403, `two Host lines: ${twice}`);
  assert.equal(gui.calls(), 0, "no refused request reached the route");
  // The accepted twin of each: the exact Host.
  assert.equal(await status(port, [`GET ${path} HTTP/1.1`, `Host: ${host}`]), 200);
  assert.equal(await status(port, act(path, [`Host: ${host}`, `Origin: ${origin}`])), 200);
  assert.equal(gui.calls(), 1);
});

Deno.test("the page server refuses an Origin or Sec-Fetch-Site other than its own", async () => {
  await using gui = countingGui();
  const { token, host, origin, act } = parts(gui);
  const port = gui.port;
  const other = port === 65535 ? port - 1 : port + 1;
  const path = `/${token}/`;
  const wrong = [
    `http://127.0.0.1:${other}`,
    `https://127.0.0.1:${port}`,
    `http://localhost:${port}`,
    `http://127.0.0.1.evil.example:${port}`,
    `http://localhost.evil.example:${port}`,
    `http://[::1]:${port}`,
    `http://127.0.0.1`,
    `http://127.0.0.1:${port}0`,
    `http://127.0.0.1:${port}.evil.example`,
    `http://evil.example`,
    `null`,
    "",
  ];
  for (const from of wrong) {
    assert.equal(await status(port, act(path, [`Host: ${host}`, `Origin: ${from}`])), 403, from);
  }
  for (const site of ["same-site", "cross-site", "Same-Origin", "same-origin-evil", ""]) {
    assert.equal(
      await status(
        port,
        act(path, [`Host: ${host}`, `Origin: ${origin}`, `Sec-Fetch-Site: ${site}`]),
      ),
      403,
      `Sec-Fetch-Site: ${site}`,
    );
  }
  assert.equal(gui.calls(), 0, "no refused request reached the route");
  // The accepted twins: the page's own origin, with or without Sec-Fetch-Site
  // (same-origin, or none for an address typed by the user), and no Origin at all.
  const right = [
    [`Origin: ${origin}`],
    [`Origin: ${origin}`, "Sec-Fetch-Site: same-origin"],
    [`Origin: ${origin}`, "Sec-Fetch-Site: none"],
    [],
  ];
  for (const headers of right) {
    assert.equal(await status(port, act(path, [`Host: ${host}`, ...headers])), 200, `${headers}`);
  }
  assert.equal(gui.calls(), right.length);
});

Deno.test("the page server refuses a token one character off, short, long or in another case", async () => {
  await using gui = countingGui();
  const { token, host, origin, act } = parts(gui);
  const port = gui.port;
  const last = token.at(-1)!;
  const first = token[0]!;
  const letter = [...token].findIndex((c) => /[a-zA-Z]/.test(c));
  assert.ok(letter >= 0, "a token of 32 base64url characters holds a letter");
  const swapped = token[letter] === token[letter]!.toUpperCase()
    ? token[letter]!.toLowerCase()
    : token[letter]!.toUpperCase();
  const wrong = [
    token.slice(0, -1) + (last === "A" ? "B" : "A"),
    (first === "A" ? "B" : "A") + token.slice(1),
    token.slice(0, -1),
    token + "A",
    token.slice(0, letter) + swapped + token.slice(letter + 1),
    token.toUpperCase() === token ? token.toLowerCase() : token.toUpperCase(),
    "",
  ];
  for (const candidate of wrong) {
    for (const path of [`/${candidate}/`, `/${candidate}`]) {
      assert.equal(await status(port, [`GET ${path} HTTP/1.1`, `Host: ${host}`]), 403, path);
      assert.equal(
        await status(port, act(path, [`Host: ${host}`, `Origin: ${origin}`])),
        403,
        `POST ${path}api/act`,
      );
    }
  }
  // The token without its closing slash, and followed by more than a slash.
  for (const path of [`/${token}`, `/${token}api/act`, `/${token}x/api/act`]) {
    assert.equal(await status(port, [`POST ${path} HTTP/1.1`, `Host: ${host}`]), 403, path);
  }
  assert.equal(gui.calls(), 0, "no refused request reached the route");
  // The accepted twin: the exact token.
  assert.equal(await status(port, [`GET /${token}/ HTTP/1.1`, `Host: ${host}`]), 200);
  assert.equal(await status(port, act(`/${token}/`, [`Host: ${host}`, `Origin: ${origin}`])), 200);
  assert.equal(gui.calls(), 1);
});

Deno.test("the page itself opens from elsewhere (the redirect file) as a tab's navigation, and nothing else does", async () => {
  await using gui = countingGui();
  const { token, host, origin, act } = parts(gui);
  const port = gui.port;
  const path = `/${token}/`;
  const navigate = [
    "Sec-Fetch-Site: cross-site",
    "Sec-Fetch-Mode: navigate",
    "Sec-Fetch-Dest: document",
  ];
  // What Chromium sends when a file:// page sends it on to the page.
  assert.equal(await status(port, [`GET ${path} HTTP/1.1`, `Host: ${host}`, ...navigate]), 200);
  const refused: [string, string[]][] = [
    // Anything but the page itself: its files and its API.
    [`GET ${path}page.js`, navigate],
    [`GET ${path}api/act`, navigate],
    [`POST ${path}api/act`, navigate],
    // The page, but not as a tab's navigation, or with an Origin.
    [`GET ${path}`, [
      "Sec-Fetch-Site: cross-site",
      "Sec-Fetch-Mode: cors",
      "Sec-Fetch-Dest: empty",
    ]],
    [`GET ${path}`, [
      "Sec-Fetch-Site: cross-site",
      "Sec-Fetch-Mode: navigate",
      "Sec-Fetch-Dest: iframe",
    ]],
    [`GET ${path}`, [
      "Sec-Fetch-Site: cross-site",
      "Sec-Fetch-Mode: no-cors",
      "Sec-Fetch-Dest: document",
    ]],
    [`GET ${path}`, [...navigate, "Origin: http://evil.example"]],
    [`GET ${path}`, [...navigate, `Origin: ${origin}`.replace("127.0.0.1", "localhost")]],
    // The page's navigation with a token one character off, or the Host of another name.
    [`GET /${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}/`, navigate],
  ];
  for (const [line, headers] of refused) {
    assert.equal(
      await status(port, [`${line} HTTP/1.1`, `Host: ${host}`, ...headers]),
      403,
      `${line} ${headers}`,
    );
  }
  assert.equal(
    await status(port, [`GET ${path} HTTP/1.1`, `Host: localhost:${port}`, ...navigate]),
    403,
  );
  assert.equal(gui.calls(), 0);
  // Its API still answers the page's own origin.
  assert.equal(await status(port, act(path, [`Host: ${host}`, `Origin: ${origin}`])), 200);
});
