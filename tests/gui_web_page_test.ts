/**
 * The pages' faces of the web page for phones and browsers (issue 24), in
 * real Chromium, each test in a network namespace of its own (never on the
 * host's network): the server page's "Phones and browsers" is on by
 * default, serves the page on the privateshare port + 1 (any free port when
 * that one is taken), shows the QR code of its address (decoded here by
 * jsQR, which privateshare did not write, from a screenshot) that a browser
 * then opens; switched off, nothing listens there, and the setting is kept.
 * The client page's "On this network" offers "Open in browser" for a server
 * that announces its page, and only for one.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import * as jsqr from "npm:jsqr@1.4.0";
import { PNG } from "npm:pngjs@5.0.0";
import type { Page } from "npm:playwright-core@1.65.1";
import { CLIENT_TS, SERVER_TS, tempDir } from "./helpers.ts";
import {
  accessible,
  fitsWindow,
  launchBrowser,
  NARROW,
  openPage,
  startGui,
  STEP_MS,
  within,
} from "./support/gui.ts";
import { makeNetns, type Netns, NETNS_UNAVAILABLE } from "./support/netns.ts";
import { startTestServer } from "./support/processes.ts";
import { until } from "./support/deadline.ts";

const ignored = NETNS_UNAVAILABLE === undefined ? "" : ` (ignored: ${NETNS_UNAVAILABLE})`;

/** A browser test in a namespace of its own, or ignored with the reason. */
function netnsBrowserTest(name: string, body: (ns: Netns) => Promise<void>): void {
  Deno.test({
    name: name + ignored,
    ignore: NETNS_UNAVAILABLE !== undefined,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () =>
      within(300_000, async () => {
        await using ns = makeNetns();
        await body(ns);
      }),
  });
}

/** Two addresses of this "computer", on a network card of the namespace's own (a veth pair). */
const ADDRESSES = ["10.77.0.1", "10.78.0.1"];

function addAddresses(ns: Netns): void {
  ns.ip(["link", "add", "psweb0", "type", "veth", "peer", "name", "psweb1"]);
  for (const address of ADDRESSES) ns.ip(["addr", "add", `${address}/24`, "dev", "psweb0"]);
  for (const device of ["psweb0", "psweb1"]) ns.ip(["link", "set", device, "up"]);
}

/** What the QR code shown on the page holds, read from a screenshot of it. */
async function qrOnPage(page: Page): Promise<string> {
  const png = PNG.sync.read(await page.locator("#web-qr").screenshot());
  // jsQR is CommonJS: its function is the `default` of what Deno gives as the default export.
  const code = jsqr.default.default(new Uint8ClampedArray(png.data), png.width, png.height);
  assert.ok(code, "the QR code on the page decodes");
  return code.data;
}

async function running(page: Page): Promise<void> {
  await page.locator("#status").getByText("Running").waitFor({ timeout: STEP_MS });
}

async function stopped(page: Page): Promise<void> {
  await page.locator("#status").getByText("Stopped", { exact: true }).waitFor({
    timeout: STEP_MS,
  });
}

/** Whether something inside the namespace listens on a TCP port. */
function listening(ns: Netns, port: number): boolean {
  const out = new Deno.Command("ip", {
    args: ["netns", "exec", ns.name, "ss", "-Hltn", `sport = :${port}`],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  return new TextDecoder().decode(out.stdout).trim() !== "";
}

netnsBrowserTest(
  "server page: Phones and browsers is on by default, serves the page on the port + 1, shows a " +
    "QR code that decodes to the address shown, at each address, which a browser opens; off, " +
    "nothing listens there, and the setting is kept",
  async (ns) => {
    addAddresses(ns);
    await using dir = await tempDir();
    const shared = join(dir.path, "Shared");
    await Deno.mkdir(shared);
    await Deno.writeTextFile(join(shared, "notes.txt"), "hello\n");
    const config = join(dir.path, "server-config");
    await using browser = await launchBrowser(ns.wrap);
    {
      await using gui = await startGui(SERVER_TS, config, undefined, { wrap: ns.wrap });
      const page = await openPage(browser, gui.url);
      assert.equal(await page.isChecked("#web"), true, "on by default");
      assert.equal(await page.getByRole("switch", { name: "Phones and browsers" }).count(), 1);
      await page.fill("#root", shared);
      await page.fill("#port", "3650");
      await page.uncheck("#tls");
      await page.click("#start");
      await running(page);
      await page.locator("#web-qr").waitFor({ timeout: STEP_MS });
      assert.equal(await page.locator("#fact-web").textContent(), "a web page on port 3651");

      // Each address has its code; the first is shown first.
      const options = await page.locator("#web-address option").allTextContents();
      assert.deepEqual([...options].sort(), [...ADDRESSES].sort());
      await page.locator("#web-choose").waitFor({ timeout: STEP_MS });
      for (const [i, host] of options.entries()) {
        if (i > 0) await page.selectOption("#web-address", host);
        const shown = (await page.locator("#web-url").textContent()) ?? "";
        assert.match(
          shown,
          new RegExp(`^http://${host.replaceAll(".", "\\.")}:3651/\\?t=[\\w-]+$`),
        );
        assert.equal(await qrOnPage(page), shown, `the QR code at ${host} holds the address shown`);
      }
      assert.equal(await page.locator("#web-tls").isHidden(), true, "no warning on plain HTTP");
      assert.equal(await page.locator("#web-password").isHidden(), true);

      // The address the code holds opens the folder's page in a browser (it trades its token
      // for a session); the same address one character off is refused.
      const url = await qrOnPage(page);
      const phone = await browser.newPage();
      const opened = await phone.goto(url);
      assert.equal(opened?.status(), 200);
      assert.equal(phone.url(), new URL("/", url).href, "the token is traded for a session");
      const last = url.at(-1) === "A" ? "B" : "A";
      assert.equal((await phone.goto(url.slice(0, -1) + last))?.status(), 403);
      await phone.close();

      await accessible(page, "server page, web page running");
      await page.setViewportSize(NARROW);
      await fitsWindow(page, "server page, web page running, 390 px");

      // Off: nothing listens on the port + 1, and the page says so.
      await page.click("#stop");
      await stopped(page);
      await page.getByRole("switch", { name: "Phones and browsers" }).uncheck();
      await page.click("#start");
      await running(page);
      await page.locator("#web-idle").getByText(/^Off: this server serves no web page/).waitFor({
        timeout: STEP_MS,
      });
      assert.equal(await page.locator("#fact-web").textContent(), "off");
      assert.equal(listening(ns, 3650), true, "positive control: the privateshare port");
      assert.equal(listening(ns, 3651), false, "nothing on the port + 1");
      const refused = await browser.newPage();
      await assert.rejects(refused.goto(url), /ERR_CONNECTION_REFUSED/);
      await refused.close();
      await page.click("#stop");
      await stopped(page);
      await page.click("#quit");
      assert.equal((await gui.process.status).code, 0);
    }
    // The next run starts with it off, as it was left.
    const saved = JSON.parse(
      await Deno.readTextFile(join(config, "privateshare", "server-gui.json")),
    );
    assert.equal(saved.web, false);
    await using again = await startGui(SERVER_TS, config, undefined, { wrap: ns.wrap });
    const page = await openPage(browser, again.url);
    assert.equal(await page.isChecked("#web"), false, "the setting survives a new run");
    await page.click("#quit");
  },
);

netnsBrowserTest(
  "server page: with the port + 1 taken the page goes to another port and says which; over TLS " +
    "it tells of the browser's warning and the code, with a password that the page asks for it",
  async (ns) => {
    addAddresses(ns);
    await using dir = await tempDir();
    const shared = join(dir.path, "Shared");
    await Deno.mkdir(shared);
    // Something else holds 3651 (every address, as the page would take it).
    ns.spawn("socat", ["TCP6-LISTEN:3651,ipv6only=0,reuseaddr,fork", "SYSTEM:true"], {
      stdout: "null",
      stderr: "null",
    });
    await until(() => listening(ns, 3651), STEP_MS);
    await using gui = await startGui(SERVER_TS, join(dir.path, "config"), undefined, {
      wrap: ns.wrap,
    });
    await using browser = await launchBrowser(ns.wrap);
    const page = await openPage(browser, gui.url);
    await page.fill("#root", shared);
    await page.fill("#port", "3650");
    assert.equal(await page.isChecked("#tls"), true);
    await page.fill("#password", "correct horse");
    await page.click("#start");
    await running(page);
    await page.locator("#web-qr").waitFor({ timeout: STEP_MS });
    const fact = (await page.locator("#fact-web").textContent()) ?? "";
    const port = Number(/^a web page on port (\d+)$/.exec(fact)?.[1]);
    assert.ok(port > 0 && port !== 3651 && port !== 3650, fact);
    await page.locator("#log").getByText(
      `Port 3651 is taken: the page for phones and browsers is on port ${port}`,
    ).waitFor({ state: "attached", timeout: STEP_MS });

    // A password server's address has no token: the page asks for the password.
    const shown = (await page.locator("#web-url").textContent()) ?? "";
    assert.match(shown, new RegExp(`^https://10\\.7[78]\\.0\\.1:${port}/$`));
    assert.equal(await qrOnPage(page), shown);
    await page.locator("#web-password").getByText("The page asks for the password.")
      .waitFor({ timeout: STEP_MS });
    const code = (await page.locator("#short-code").textContent()) ?? "";
    assert.match(code, /^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    await page.locator("#web-tls").waitFor({ timeout: STEP_MS });
    assert.match((await page.locator("#web-tls").textContent()) ?? "", /warns once/);
    assert.equal(await page.locator("#web-code").textContent(), code);
    await accessible(page, "server page, web page over TLS with a password");
    await page.click("#quit");
  },
);

netnsBrowserTest(
  "server page on a computer with no network address: no QR code, the page says to connect it",
  async (ns) => {
    await using dir = await tempDir();
    const shared = join(dir.path, "Shared");
    await Deno.mkdir(shared);
    await using gui = await startGui(SERVER_TS, join(dir.path, "config"), undefined, {
      wrap: ns.wrap,
    });
    await using browser = await launchBrowser(ns.wrap);
    const page = await openPage(browser, gui.url);
    await page.fill("#root", shared);
    await page.fill("#port", "0");
    await page.click("#start");
    await running(page);
    await page.locator("#web-none").waitFor({ timeout: STEP_MS });
    assert.equal(await page.locator("#web-qr").isHidden(), true);
    assert.match((await page.locator("#fact-web").textContent()) ?? "", /^a web page on port \d+$/);
    await page.click("#quit");
  },
);

netnsBrowserTest(
  "client page: a server that announces its web page has Open in browser with its address, " +
    "one without has none",
  async (ns) => {
    await using dir = await tempDir();
    const shared = join(dir.path, "Shared");
    const plainRoot = join(dir.path, "Plain");
    await Deno.mkdir(shared);
    await Deno.mkdir(plainRoot);
    await using serverGui = await startGui(SERVER_TS, join(dir.path, "server-config"), undefined, {
      wrap: ns.wrap,
    });
    await using clientGui = await startGui(CLIENT_TS, join(dir.path, "client-config"), undefined, {
      wrap: ns.wrap,
    });
    // The command line's server, which serves no web page here.
    const plain = await startTestServer({
      root: plainRoot,
      args: ["--name", "Cellar box"],
      perms: ["--allow-sys", "--allow-env"],
      wrap: ns.wrap,
    });
    try {
      await plain.waitFor((line) => line.event === "announced");
      await using browser = await launchBrowser(ns.wrap);
      const server = await openPage(browser, serverGui.url);
      await server.fill("#root", shared);
      await server.fill("#port", "0");
      await server.fill("#name", "Attic box");
      await server.uncheck("#tls");
      await server.click("#start");
      await running(server);
      const fact = (await server.locator("#fact-web").textContent()) ?? "";
      const web = Number(/^a web page on port (\d+)$/.exec(fact)?.[1]);
      assert.ok(web > 0, fact);

      const client = await openPage(browser, clientGui.url);
      const attic = client.locator("#nearby li", { hasText: "Attic box" });
      const cellar = client.locator("#nearby li", { hasText: "Cellar box" });
      await attic.waitFor({ timeout: STEP_MS });
      await cellar.waitFor({ timeout: STEP_MS });
      const where = (await attic.locator(".where").textContent()) ?? "";
      const address = /^([\d.]+):\d+/.exec(where)?.[1];
      assert.ok(address, where);
      const link = attic.getByRole("link", { name: "Open in browser: Attic box" });
      assert.equal(await link.getAttribute("href"), `http://${address}:${web}/`);
      assert.equal(await link.getAttribute("target"), "_blank");
      assert.match((await link.getAttribute("rel")) ?? "", /\bnoopener\b/);
      assert.equal(await link.textContent(), "Open in browser");
      assert.equal(await cellar.getByRole("link").count(), 0, "no page announced, no link");
      await accessible(client, "client page, a server with its web page on this network");

      // The link opens the page in a tab of its own (without a session: it asks for its code).
      const [tab] = await Promise.all([client.waitForEvent("popup"), link.click()]);
      await tab.waitForLoadState();
      assert.equal(tab.url(), `http://${address}:${web}/`);
      await tab.close();
      await client.click("#quit");
      await server.click("#quit");
    } finally {
      await plain.stop();
    }
  },
);
