// The web page under attack (an adversarial review of its server side): each test is a defect that
// was found, against a real server on loopback, and fails on the code before its fix.

import assert from "node:assert/strict";
import type { ServerOptions } from "../lib/mod.ts";
import { WEB_HEADERS } from "../lib/server/web_page.ts";
import { type LibraryServer, serveFolder, tempDir, test } from "./helpers.ts";

/** A browser session on a server's page. */
interface Page {
  origin: string;
  cookie: string;
  port: number;
  /** Fetches a path of the page with the session and the page's Origin. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

function webServer(root: string, options: Partial<ServerOptions> = {}): LibraryServer {
  return serveFolder(root, { web: { port: 0, host: "127.0.0.1" }, ...options });
}

/** Opens the page's address with its token, as a phone does from the QR code. */
async function openPage(lib: LibraryServer): Promise<Page> {
  const web = lib.server.web!;
  const answer = await fetch(web.url("127.0.0.1"), { redirect: "manual" });
  await answer.body?.cancel();
  assert.equal(answer.status, 303);
  const cookie = answer.headers.get("set-cookie")!.split(";")[0]!;
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
  await using lib = webServer(dir.path);
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
