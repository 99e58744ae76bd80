/**
 * The server page says what happened in words: its requests table reads
 * "list", "put a folder", "cancelled", "connected, sent nothing" (not "ps2"
 * or "(no command)"), the table and the log wait under a collapsed Details,
 * the progress of transfers stays near the top, and no text the page shows
 * in its main states names a command-line flag.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runClient, SERVER_TS, startRelay, tempDir, writeRandomFile } from "./helpers.ts";
import {
  axeViolations,
  browserTest,
  DESKTOP,
  launchBrowser,
  openPage,
  startGui,
  STEP_MS,
} from "./support/gui.ts";
import type { Page } from "npm:playwright-core@1.65.1";

const SIZE = 16 * 1024 * 1024;
const HOLD = 256 * 1024;
const FLAG = /--[a-z]/;

async function running(page: Page): Promise<number> {
  await page.locator("#status").getByText("Running").waitFor({ timeout: STEP_MS });
  const started = await page.locator("#log li").getByText(/on port \d+/).last().textContent();
  return Number(/on port (\d+)/.exec(started ?? "")![1]);
}

/** What the page shows as text (Details open or not), without a flag, and axe-clean. */
async function plainAndAccessible(page: Page, state: string): Promise<void> {
  const text = await page.locator("body").innerText();
  assert.doesNotMatch(text, FLAG, `${state}: the page shows a flag`);
  assert.deepEqual(await axeViolations(page), [], state);
}

/** The Result cell of the request row that has `text`. */
function row(page: Page, text: string) {
  return page.locator("#requests tbody tr", { hasText: text });
}

browserTest(
  "server page: requests in words under a collapsed Details, progress near the top, and no flag in any main state",
  async () => {
    await using dir = await tempDir();
    const shared = join(dir.path, "Shared");
    const downloads = join(dir.path, "Downloads");
    const album = join(dir.path, "album");
    await Deno.mkdir(shared);
    await Deno.mkdir(downloads);
    await Deno.mkdir(album);
    await writeRandomFile(join(shared, "big.bin"), SIZE);
    await Deno.writeTextFile(join(album, "one.txt"), "one\n");
    await Deno.writeTextFile(join(dir.path, "note.txt"), "note\n");
    await using gui = await startGui(SERVER_TS, join(dir.path, "config"));
    await using browser = await launchBrowser();
    const page = await openPage(browser, gui.url);
    await page.setViewportSize(DESKTOP);
    await plainAndAccessible(page, "stopped");
    await page.click("#start");
    await page.locator('#root[aria-invalid="true"]').waitFor({ timeout: STEP_MS });
    await plainAndAccessible(page, "a field to correct");

    await page.fill("#root", shared);
    await page.fill("#port", "0");
    await page.check("#uploads");
    // A plain server first: the command-line client speaks no TLS unless told.
    await page.uncheck("#tls");
    await page.click("#start");
    const port = await running(page);
    const details = page.locator("#details");
    assert.equal(await details.getAttribute("open"), null, "Details starts collapsed");
    assert.equal(await page.locator("#requests-title").isVisible(), false);
    await plainAndAccessible(page, "running");

    const at = ["127.0.0.1", String(port)];
    for (
      const args of [
        ["list"],
        ["put", join(dir.path, "note.txt")],
        ["put", album],
        ["get", "note.txt"],
        ["get", "album"],
        ["get", "missing.txt"],
      ]
    ) {
      await runClient([...at, ...args], { cwd: downloads });
    }
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();

    // A get held mid-way: its progress shows near the top of the page, then it is cut.
    const relay = startRelay(port, { holdAt: { direction: "down", bytes: HOLD } });
    try {
      const cut = runClient(["127.0.0.1", String(relay.port), "get", "big.bin"], {
        cwd: downloads,
      });
      await relay.reached("down", HOLD);
      const progress = page.locator("#active .what").getByText("big.bin");
      await progress.waitFor({ timeout: STEP_MS });
      const box = await page.locator("#active").boundingBox();
      assert.ok(box && box.y < 300, `the progress is ${box?.y} px down`);
      assert.doesNotMatch(await page.locator("#active").innerText(), /ps2|\(listing\)/);
      await plainAndAccessible(page, "a transfer in progress");
      relay.cut();
      await cut;
    } finally {
      await relay.close();
    }

    await page.locator("#details summary").click();
    await row(page, "big.bin").getByText("cancelled").waitFor({ timeout: STEP_MS });
    const words = async (text: string) =>
      (await row(page, text).first().locator("td").nth(2).innerText()).trim();
    await page.locator("#requests tbody tr").nth(7).waitFor({ timeout: STEP_MS });
    const requests = await page.locator("#requests tbody").innerText();
    assert.doesNotMatch(requests, /ps2|\(no command\)|put-folder/);
    assert.equal(await words("note.txt"), "get");
    assert.equal(await words("missing.txt"), "get");
    assert.match(await row(page, "missing.txt").innerText(), /refused/);
    assert.equal(await words("connected, sent nothing"), "connected, sent nothing");
    const cells = await page.locator("#requests tbody tr td:nth-child(3)").allInnerTexts();
    for (const expected of ["list", "put", "put a folder", "get", "get a folder"]) {
      assert.ok(cells.includes(expected), `no request reads '${expected}': ${cells.join(", ")}`);
    }
    await plainAndAccessible(page, "running, Details open");

    await page.click("#stop");
    await page.locator("#status").getByText("Stopped", { exact: true }).waitFor({
      timeout: STEP_MS,
    });
    await plainAndAccessible(page, "stopped after running");
    await page.check("#tls");
    await page.click("#start");
    await running(page);
    await page.locator("#fingerprint").getByText(/:/).waitFor({ timeout: STEP_MS });
    await plainAndAccessible(page, "TLS running");
  },
);

browserTest(
  "server page: a folder that is not there and a port in use are said without a flag, next to their fields",
  async () => {
    await using dir = await tempDir();
    const shared = join(dir.path, "Shared");
    await Deno.mkdir(shared);
    await using gui = await startGui(SERVER_TS, join(dir.path, "config"));
    await using browser = await launchBrowser();
    const page = await openPage(browser, gui.url);
    await page.locator("#details summary").click();

    await page.fill("#root", join(dir.path, "Sharedx"));
    await page.fill("#port", "0");
    await page.click("#start");
    await page.locator('#root[aria-invalid="true"]').waitFor({ timeout: STEP_MS });
    assert.notEqual((await page.locator("#root-error").innerText()).trim(), "");
    await plainAndAccessible(page, "a folder that is not there");

    using busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    await page.fill("#root", shared);
    await page.fill("#port", String(busy.addr.port));
    await page.click("#start");
    await page.locator('#port[aria-invalid="true"]').waitFor({ timeout: STEP_MS });
    assert.notEqual((await page.locator("#port-error").innerText()).trim(), "");
    await plainAndAccessible(page, "a port in use");
  },
);
