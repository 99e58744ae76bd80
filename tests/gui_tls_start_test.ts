/**
 * Every way of starting the server's GUI can start TLS from its page
 * (issue 22, item 1): the GUI started with exactly the permissions of
 * `deno task gui-server` (read from deno.json) and with exactly those the
 * compiled server carries (tools/build.ts), asked to start as the page's
 * Start button asks (`POST api/start` with the form's fields and TLS ticked),
 * makes its certificate, runs a TLS server, and shows its fingerprint: the
 * very certificate a TLS client is shown on that port. The same in real
 * Chromium, clicking Start, under the task's permissions.
 *
 * @module
 */

import assert from "node:assert/strict";
import { connect } from "node:tls";
import { join } from "node:path";
import { permissionsFor, PROGRAMS, ROOT } from "../tools/build.ts";
import { fakeOpener, taskPermissions } from "./support/compiled.ts";
import { tempDir } from "./support/data.ts";
import { until, within } from "./support/deadline.ts";
import { kill } from "./support/processes.ts";

/** The server's GUI, started with these permissions and `--gui --no-open`, in a home of the test's. */
async function startServerGui(dir: string, permissions: string[]) {
  const { env } = await fakeOpener(dir);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...permissions, join(ROOT, "server.ts"), "--gui", "--no-open"],
    cwd: dir,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let printed = "";
  const reading = (async () => {
    for await (const chunk of child.stdout) printed += new TextDecoder().decode(chunk);
  })();
  const stderr = new Response(child.stderr).text();
  const address = /http:\/\/127\.0\.0\.1:\d+\/[\w-]+\//;
  await until(() => address.test(printed), 30_000).catch(() => {
    throw new Error(`The server GUI printed: ${printed}`);
  });
  return {
    url: address.exec(printed)![0],
    /** Quits through the page, as its Quit button does, and returns how it ended. */
    async quit() {
      const timer = setTimeout(() => kill(child, "SIGKILL"), 30_000);
      try {
        const answer = await fetch(`${this.url}api/quit`, { method: "POST", body: "{}" });
        await answer.body?.cancel();
        const code = (await child.status).code;
        await reading;
        return { code, printed, stderr: await stderr };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** The page's events, one JSON object each, as its EventSource reads them. */
async function* events(url: string, signal: AbortSignal): AsyncGenerator<Record<string, unknown>> {
  const answer = await fetch(`${url}api/events`, { signal });
  assert.equal(answer.status, 200);
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of answer.body!) {
    buffered += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffered.indexOf("\n\n")) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      if (block.startsWith("data: ")) yield JSON.parse(block.slice(6));
    }
  }
}

/** Waits for the page's state to say a server runs, and returns it. */
async function running(url: string): Promise<{ port: number; fingerprint: string | null }> {
  const stop = new AbortController();
  try {
    return await within(60_000, "The running state", async () => {
      for await (const event of events(url, stop.signal)) {
        if (event.type === "state" && event.state === "running") {
          return event.server as { port: number; fingerprint: string | null };
        }
      }
      throw new Error("The page's events ended before a server ran");
    });
  } finally {
    stop.abort();
  }
}

/** The SHA-256 fingerprint of the certificate a TLS client is shown on a port. */
function presented(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on("error", reject);
  });
}

const hex = (fingerprint: string) => fingerprint.replaceAll(":", "").toLowerCase();

/** What the page's Start button sends, TLS ticked. */
function startFields(root: string) {
  return { root, port: "0", idleSeconds: 0, uploads: false, tls: true, password: "" };
}

const WAYS: [string, string[]][] = [
  ["deno task gui-server", taskPermissions("gui-server")],
  ["the compiled server", permissionsFor(PROGRAMS[0]!, Deno.build.target)],
];

for (const [way, permissions] of WAYS) {
  Deno.test(`${way}: the page starts TLS and shows the fingerprint the server presents`, async () => {
    await using dir = await tempDir();
    const shared = join(dir.path, "shared");
    await Deno.mkdir(shared);
    const gui = await startServerGui(dir.path, permissions);
    let end;
    try {
      // A malformed request is refused, and starts nothing.
      const malformed = await fetch(`${gui.url}api/start`, { method: "POST", body: '{"tls":tru' });
      assert.equal(malformed.status, 400);
      assert.deepEqual(await malformed.json(), {
        error: "Malformed request: its body is not JSON",
      });

      const state = running(gui.url);
      // Awaited below; a start that fails says so first.
      state.catch(() => {});
      const answer = await fetch(`${gui.url}api/start`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(startFields(shared)),
      });
      assert.deepEqual(await answer.json(), { ok: true }, `${way}: ${permissions.join(" ")}`);
      assert.equal(answer.status, 200);
      const server = await state;
      assert.ok(server.fingerprint, "the page shows a fingerprint");
      assert.match(hex(server.fingerprint), /^[0-9a-f]{64}$/);
      assert.equal(hex(await presented(server.port)), hex(server.fingerprint));
    } finally {
      end = await gui.quit();
    }
    assert.equal(end.code, 0, end.printed);
    assert.equal(end.stderr, "", "no permission missing, nothing printed on stderr");
  });
}

Deno.test("deno task gui-server: in Chromium, ticking TLS and clicking Start shows the server's fingerprint", async () => {
  await using dir = await tempDir();
  const shared = join(dir.path, "shared");
  await Deno.mkdir(shared);
  const gui = await startServerGui(dir.path, taskPermissions("gui-server"));
  const { chromium } = await import("npm:playwright-core@1.65.1");
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu"],
    headless: true,
  });
  let end;
  try {
    const page = await browser.newPage();
    await page.goto(gui.url);
    const state = running(gui.url);
    state.catch(() => {});
    await page.fill("#root", shared);
    await page.fill("#port", "0");
    await page.check("#tls");
    await page.click("#start");
    const server = await state;
    await page.locator("#fingerprint").filter({ hasText: /\S/ }).waitFor({ timeout: 30_000 });
    const shown = (await page.locator("#fingerprint").textContent()) ?? "";
    assert.equal(hex(shown.replace(/\s/g, "")), hex(await presented(server.port)));
  } finally {
    await browser.close();
    end = await gui.quit();
  }
  assert.equal(end.code, 0, end.printed);
  assert.equal(end.stderr, "");
});
