/**
 * The pages as people meet them, in Chromium: nothing wider than a phone's
 * window, the server page's idle stop said out loud, and mistakes pointed
 * at the field that holds them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { CLIENT_TS, runClient, serveFolder, SERVER_TS, tempDir } from "./helpers.ts";
import {
  accessible,
  browserTest,
  DESKTOP,
  fitsWindow,
  launchBrowser,
  NARROW,
  openPage,
  startGui,
  STEP_MS,
} from "./support/gui.ts";
import type { Page } from "npm:playwright-core@1.65.1";

/** A name with no break point, longer than a phone is wide. */
const LONG_NAME = `${"holiday-photos-from-the-mountains-".repeat(3)}2024.zip`;

async function running(page: Page): Promise<number> {
  await page.locator("#status").getByText("Running").waitFor({ timeout: STEP_MS });
  const started = await page.locator("#log li").getByText(/on port \d+/).last().textContent();
  return Number(/on port (\d+)/.exec(started ?? "")![1]);
}

async function stopped(page: Page, text = "Stopped"): Promise<void> {
  await page.locator("#status").getByText(text, { exact: true }).waitFor({ timeout: STEP_MS });
}

browserTest(
  "at 390 px no state of either page scrolls sideways, and the fingerprint wraps with its Copy button inside its card",
  async () => {
    await using dir = await tempDir();
    const shared = join(dir.path, "Shared");
    await Deno.mkdir(shared);
    await Deno.writeTextFile(join(shared, LONG_NAME), "summit\n");
    await using serverGui = await startGui(SERVER_TS, join(dir.path, "server-config"));
    await using clientGui = await startGui(CLIENT_TS, join(dir.path, "client-config"));
    await using browser = await launchBrowser();

    const page = await openPage(browser, serverGui.url);
    await page.setViewportSize(NARROW);
    await fitsWindow(page, "server page, stopped");
    await page.click("#start");
    await page.locator('#root[aria-invalid="true"]').waitFor({ timeout: STEP_MS });
    await fitsWindow(page, "server page, a field to correct");
    await page.fill("#root", shared);
    await page.fill("#port", "0");
    await page.check("#uploads");
    await page.uncheck("#tls");
    await page.click("#start");
    const port = await running(page);
    const listed = await runClient(["127.0.0.1", String(port), "get", LONG_NAME], {
      cwd: dir.path,
    });
    assert.equal(listed.code, 0, listed.stderr);
    await page.locator("#details summary").click();
    await page.locator("#requests td.name").getByText(LONG_NAME).waitFor({ timeout: STEP_MS });
    await page.locator("#files td.name").getByText(LONG_NAME).waitFor({ timeout: STEP_MS });
    await fitsWindow(page, "server page, running with a request");
    await page.click("#stop");
    await stopped(page);

    await page.check("#tls");
    await page.fill("#password", "correct horse");
    await page.click("#start");
    await running(page);
    const fingerprint = await page.locator("#fingerprint").textContent() ?? "";
    assert.match(fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/i, "copied whole, as shown");
    await page.locator("#copy-fingerprint").waitFor({ timeout: STEP_MS });
    await fitsWindow(page, "server page, TLS running");
    // The fingerprint wraps: it takes several lines at 390 px, not one wider line.
    const lines = await page.locator("#fingerprint").evaluate((code) =>
      code.getBoundingClientRect().height /
      parseFloat(code.ownerDocument.defaultView!.getComputedStyle(code).lineHeight)
    );
    assert.ok(lines >= 2, `the fingerprint takes ${lines} lines`);
    await page.setViewportSize(DESKTOP);
    await fitsWindow(page, "server page, TLS running, desktop");

    await using server = serveFolder(shared);
    const client = await openPage(browser, clientGui.url);
    await client.setViewportSize(NARROW);
    await fitsWindow(client, "client page, nothing listed");
    await client.fill("#host", "127.0.0.1");
    await client.fill("#port", String(server.port));
    await client.click("#list");
    await client.getByRole("button", { name: `Get ${LONG_NAME}` }).waitFor({ timeout: STEP_MS });
    await fitsWindow(client, "client page, listing");
    const downloads = join(dir.path, "Downloads");
    await Deno.mkdir(downloads);
    await client.fill("#folder", downloads);
    await client.getByRole("button", { name: `Get ${LONG_NAME}` }).click();
    await client.locator('#transfers li[data-state="done"]').waitFor({ timeout: STEP_MS });
    await fitsWindow(client, "client page, a transfer done");
    await page.click("#quit");
    await client.click("#quit");
  },
);

browserTest(
  "server page: the idle countdown shows in the status, an idle stop says why, and Start again starts it again",
  async () => {
    await using dir = await tempDir();
    const shared = join(dir.path, "Shared");
    const config = join(dir.path, "config");
    await Deno.mkdir(shared);
    // The page offers minutes; a test waits seconds, set where the page keeps its settings.
    await Deno.mkdir(join(config, "privateshare"), { recursive: true });
    await Deno.writeTextFile(
      join(config, "privateshare", "server-gui.json"),
      JSON.stringify({
        port: 0,
        root: shared,
        uploads: false,
        idleSeconds: 2,
        tls: false,
        announce: false,
      }),
    );
    await using gui = await startGui(SERVER_TS, config);
    await using browser = await launchBrowser();
    const page = await openPage(browser, gui.url);
    assert.equal(await page.locator("#idle option:checked").textContent(), "2 seconds");
    // The seed's default and Never are one choice away.
    assert.deepEqual(await page.locator("#idle option:not([hidden])").allTextContents(), [
      "2 seconds",
      "1 minute",
      "5 minutes",
      "15 minutes",
      "1 hour",
      "Never: run until stopped",
    ]);

    await page.selectOption("#idle", "300");
    await page.click("#start");
    await running(page);
    await page.locator("#countdown").getByText(/^Stops in [45]:\d\d if nobody connects$/)
      .waitFor({ timeout: STEP_MS });
    assert.equal(
      await page.locator("#fact-idle").textContent(),
      "after 5 minutes without a connection",
    );
    await page.click("#stop");
    await stopped(page);
    assert.equal(await page.locator("#start-again").isVisible(), false, "stopped by the user");
    assert.equal(await page.locator("#countdown").textContent(), "");

    // Stopped by itself: the status says why, and Start again starts the same server again.
    await page.selectOption("#idle", "2");
    await page.click("#start");
    const why = "Stopped after 2 seconds without a connection";
    await stopped(page, why);
    await page.locator("#start-again").click();
    await page.locator("#log li").getByText(/on port \d+/).nth(2).waitFor({
      state: "attached",
      timeout: STEP_MS,
    });
    await stopped(page, why);
    // A page opened afterwards says it too.
    await page.reload();
    await stopped(page, why);
    assert.ok(await page.locator("#start-again").isVisible());

    // A server with a password is never started again without it: the page does not keep it.
    const starts = page.locator("#log li").getByText(/on port \d+/);
    await page.check("#tls");
    await page.fill("#password", "correct horse");
    await page.click("#start");
    // The log line comes after the state: once it shows, the next stop is this server's.
    await starts.nth(3).waitFor({ state: "attached", timeout: STEP_MS });
    await stopped(page, why);
    await page.reload();
    await stopped(page, why);
    await page.locator("#start-again").click();
    await page.locator('#password[aria-invalid="true"]').waitFor({ timeout: STEP_MS });
    assert.equal(await page.locator("#password:focus").count(), 1);
    assert.equal(
      await page.locator("#password-error").textContent(),
      "Type the password again: it is never kept",
    );
    assert.equal(await starts.count(), 4, "not started without its password");
    await page.fill("#password", "correct horse");
    await page.locator("#start-again").click();
    await starts.nth(4).waitFor({ state: "attached", timeout: STEP_MS });
    await stopped(page, why);
    await page.uncheck("#tls");

    await page.selectOption("#idle", "0");
    await page.click("#start");
    await running(page);
    await page.locator("#fact-idle").getByText("never: runs until stopped")
      .waitFor({ timeout: STEP_MS });
    assert.equal(await page.locator("#countdown").textContent(), "");
    assert.equal(await page.locator("#start-again").isVisible(), false);
    await page.click("#quit");
    assert.equal((await gui.process.status).code, 0);
  },
);

browserTest(
  "server page: an empty or missing folder points at its field; a running server shows its settings as facts, its password after a reload",
  async () => {
    await using dir = await tempDir();
    const shared = join(dir.path, "Shared");
    await Deno.mkdir(shared);
    await using gui = await startGui(SERVER_TS, join(dir.path, "config"));
    await using browser = await launchBrowser();
    const page = await openPage(browser, gui.url);
    await page.uncheck("#tls");
    await page.fill("#root", "");
    await page.fill("#port", "0");
    await page.click("#start");
    const root = page.locator("#root");
    await page.locator('#root[aria-invalid="true"]').waitFor({ timeout: STEP_MS });
    assert.equal(await page.locator("#root:focus").count(), 1, "the folder has the focus");
    assert.equal(await page.locator("#root-error").textContent(), "Choose the folder to share");
    assert.equal(await page.locator("#status").getAttribute("data-state"), "idle");
    assert.equal(await page.locator("#status").textContent(), "Stopped");
    assert.equal(await page.locator("#form-error").textContent(), "");
    // Typing clears the mark; a folder that is not there is pointed at the same way.
    await root.fill(join(dir.path, "Sharde"));
    assert.equal(await root.getAttribute("aria-invalid"), null);
    await page.click("#start");
    await page.locator("#root-error").getByText(/Sharde/).waitFor({ timeout: STEP_MS });
    assert.equal(await root.getAttribute("aria-invalid"), "true");
    assert.equal(await page.locator("#root:focus").count(), 1);
    assert.equal(await page.locator("#status").getAttribute("data-state"), "idle");

    // A disabled field looks it: the password without TLS.
    const opacity = (selector: string) =>
      page.locator(selector).evaluate((node) =>
        Number(node.ownerDocument.defaultView!.getComputedStyle(node).opacity)
      );
    assert.ok(await page.locator("#password").isDisabled());
    assert.ok(await opacity("#password") < 1, "a disabled field is dimmed");
    assert.equal(await opacity("#root"), 1);

    await root.fill(shared);
    await page.check("#tls");
    await page.fill("#password", "correct horse");
    await page.click("#start");
    const port = await running(page);
    const boxes = page.locator("#settings :is(input, select, textarea):visible");
    assert.equal(await boxes.count(), 0, "no editable box while it runs");
    const facts = async () =>
      Object.fromEntries(
        await Promise.all(
          ["root", "port", "uploads", "tls", "password"].map(async (name) => [
            name,
            await page.locator(`#fact-${name}`).textContent(),
          ]),
        ),
      );
    const expected = {
      root: shared,
      port: String(port),
      uploads: "accepted",
      tls: "TLS",
      password: "required",
    };
    assert.deepEqual(await facts(), expected);
    await page.reload();
    await running(page);
    assert.deepEqual(await facts(), expected, "a reloaded page shows the password in force");
    assert.equal(await boxes.count(), 0);
    await page.click("#quit");
    assert.equal((await gui.process.status).code, 0);
  },
);

browserTest(
  "axe-core finds no violation in the main states of both pages, at desktop and phone sizes, light and dark",
  async () => {
    await using dir = await tempDir();
    const shared = join(dir.path, "Shared");
    const downloads = join(dir.path, "Downloads");
    await Deno.mkdir(join(shared, "photos"), { recursive: true });
    await Deno.mkdir(downloads);
    await Deno.writeTextFile(join(shared, "notes.txt"), "Top-level file.\n");
    await Deno.writeTextFile(join(shared, "photos", "beach.txt"), "Sand.\n");
    const config = join(dir.path, "server-config");
    await Deno.mkdir(join(config, "privateshare"), { recursive: true });
    await Deno.writeTextFile(
      join(config, "privateshare", "server-gui.json"),
      JSON.stringify({
        port: 0,
        root: "",
        uploads: true,
        idleSeconds: 1,
        tls: false,
        announce: false,
      }),
    );
    await using serverGui = await startGui(SERVER_TS, config);
    await using clientGui = await startGui(CLIENT_TS, join(dir.path, "client-config"));
    await using browser = await launchBrowser();

    const page = await openPage(browser, serverGui.url);
    await accessible(page, "server page, stopped");
    await page.click("#start");
    await page.locator('#root[aria-invalid="true"]').waitFor({ timeout: STEP_MS });
    await accessible(page, "server page, a field to correct");
    await page.fill("#root", shared);
    await page.click("#start");
    await stopped(page, "Stopped after 1 second without a connection");
    await accessible(page, "server page, stopped when idle");

    await page.selectOption("#idle", "0");
    await page.click("#start");
    const port = await running(page);
    // Enough requests for the requests box to scroll.
    for (let i = 0; i < 16; i++) (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    await page.locator("#details summary").click();
    await page.locator("#requests tbody tr").nth(15).waitFor({ timeout: STEP_MS });
    await accessible(page, "server page, running with requests");
    await page.click("#stop");
    await stopped(page);
    await page.check("#tls");
    await page.click("#start");
    await running(page);
    await page.locator("#fingerprint").getByText(/:/).waitFor({ timeout: STEP_MS });
    await accessible(page, "server page, TLS running");

    await using server = serveFolder(shared);
    const client = await openPage(browser, clientGui.url);
    await accessible(client, "client page, nothing listed");
    await client.fill("#host", "127.0.0.1");
    await client.fill("#port", String(server.port));
    await client.fill("#folder", downloads);
    await client.click("#list");
    await client.getByRole("button", { name: "Get notes.txt" }).click();
    await client.locator('#transfers li[data-state="done"]').waitFor({ timeout: STEP_MS });
    await accessible(client, "client page, listing with a transfer done");
    await client.getByRole("button", { name: "Get notes.txt" }).click();
    await client.locator('#transfers li[data-state="failed"]').waitFor({ timeout: STEP_MS });
    await accessible(client, "client page, a transfer failed");
    await client.getByRole("button", { name: "Open photos/" }).click();
    await client.getByRole("button", { name: "Get beach.txt" }).waitFor({ timeout: STEP_MS });
    await accessible(client, "client page, inside a folder");
    await page.click("#quit");
    await client.click("#quit");
  },
);
