/**
 * Quit or Stop with transfers running asks first, in the page (a dialog
 * with two choices, the safe one focused), and with nothing running acts at
 * once. Transfers are held mid-way by a relay, so "running" is a fact the
 * test makes, not a matter of timing.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CLIENT_TS,
  runClient,
  sameBytes,
  SERVER_TS,
  startRelay,
  tempDir,
  writeRandomFile,
} from "./helpers.ts";
import { browserTest, launchBrowser, openPage, startGui, STEP_MS } from "./support/gui.ts";
import type { Page } from "npm:playwright-core@1.65.1";

const SIZE = 16 * 1024 * 1024;
/** The relay holds a transfer after this many bytes from the server: more than a listing. */
const HOLD = 256 * 1024;

async function running(page: Page): Promise<number> {
  await page.locator("#status").getByText("Running").waitFor({ timeout: STEP_MS });
  const started = await page.locator("#log li").getByText(/on port \d+/).last().textContent();
  return Number(/on port (\d+)/.exec(started ?? "")![1]);
}

async function stopped(page: Page): Promise<void> {
  await page.locator("#status").getByText("Stopped", { exact: true }).waitFor({
    timeout: STEP_MS,
  });
}

/** The question is asked in the page, with "Keep running" focused. */
async function asked(page: Page, action: string): Promise<void> {
  const dialog = page.getByRole("dialog");
  await dialog.waitFor({ timeout: STEP_MS });
  assert.match(await dialog.textContent() ?? "", /still running/);
  await dialog.locator("button:focus").getByText("Keep running").waitFor({ timeout: STEP_MS });
  await dialog.getByRole("button", { name: action, exact: true }).waitFor({ timeout: STEP_MS });
}

browserTest(
  "server page: Stop or Quit with a request running asks first; Keep running lets it finish, Stop and Quit cut it off, and with nothing running Stop stops at once",
  async () => {
    await using dir = await tempDir();
    const shared = join(dir.path, "Shared");
    const downloads = join(dir.path, "Downloads");
    await Deno.mkdir(shared);
    await Deno.mkdir(downloads);
    await writeRandomFile(join(shared, "big.bin"), SIZE);
    await using gui = await startGui(SERVER_TS, join(dir.path, "config"));
    await using browser = await launchBrowser();
    const page = await openPage(browser, gui.url);
    await page.fill("#root", shared);
    await page.fill("#port", "0");
    // A plain server: the command-line client below speaks no TLS unless told.
    await page.uncheck("#tls");
    await page.click("#start");
    const port = await running(page);
    const relay = startRelay(port, { holdAt: { direction: "down", bytes: HOLD } });
    try {
      // A get held mid-way: Stop asks, Keep running keeps it, and it completes.
      const getting = runClient(["127.0.0.1", String(relay.port), "get", "big.bin"], {
        cwd: downloads,
      });
      await relay.reached("down", HOLD);
      await page.locator("#active .what").getByText("big.bin").waitFor({ timeout: STEP_MS });
      await page.click("#stop");
      await asked(page, "Stop");
      await page.keyboard.press("Enter");
      await page.getByRole("dialog").waitFor({ state: "detached", timeout: STEP_MS });
      relay.release();
      const got = await getting;
      assert.equal(got.code, 0, got.stderr);
      assert.ok(await sameBytes(join(shared, "big.bin"), join(downloads, "big.bin")));
      await page.locator("#active-empty").waitFor({ timeout: STEP_MS });
      assert.match(await page.locator("#status").textContent() ?? "", /^Running/);

      // Nothing running: Stop stops at once.
      await page.click("#stop");
      await stopped(page);
      assert.equal(await page.getByRole("dialog").count(), 0);

      // A get held again: Stop, then the dialog's Stop, stops the server.
      await page.click("#start");
      const again = await running(page);
      const second = startRelay(again, { holdAt: { direction: "down", bytes: HOLD } });
      try {
        const cut = runClient(["127.0.0.1", String(second.port), "get", "big.bin", "--force"], {
          cwd: downloads,
        });
        await second.reached("down", HOLD);
        await page.locator("#active .what").getByText("big.bin").waitFor({ timeout: STEP_MS });
        await page.click("#stop");
        await asked(page, "Stop");
        await page.getByRole("dialog").getByRole("button", { name: "Stop", exact: true }).click();
        await stopped(page);
        // The relay holds what the server sent; the server's end is closed: let the client see it.
        second.cut();
        assert.notEqual((await cut).code, 0, "the held get was cut off");
      } finally {
        await second.close();
      }

      // Quit asks the same, and its Quit ends the program.
      await page.click("#start");
      const third = startRelay(await running(page), { holdAt: { direction: "down", bytes: HOLD } });
      try {
        const cut = runClient(["127.0.0.1", String(third.port), "get", "big.bin", "--force"], {
          cwd: downloads,
        });
        await third.reached("down", HOLD);
        await page.locator("#active .what").getByText("big.bin").waitFor({ timeout: STEP_MS });
        await page.click("#quit");
        await asked(page, "Quit");
        await page.getByRole("dialog").getByRole("button", { name: "Quit", exact: true }).click();
        assert.equal((await gui.process.status).code, 0, gui.output());
        third.cut();
        assert.notEqual((await cut).code, 0, "the held get was cut off");
      } finally {
        await third.close();
      }
    } finally {
      await relay.close();
    }
  },
);

browserTest(
  "client page: Quit with a transfer running asks first; Keep running lets it finish, and then Quit quits at once",
  async () => {
    await using dir = await tempDir();
    const shared = join(dir.path, "Shared");
    const downloads = join(dir.path, "Downloads");
    await Deno.mkdir(shared);
    await Deno.mkdir(downloads);
    await writeRandomFile(join(shared, "big.bin"), SIZE);
    await using serverGui = await startGui(SERVER_TS, join(dir.path, "server-config"));
    await using clientGui = await startGui(CLIENT_TS, join(dir.path, "client-config"));
    await using browser = await launchBrowser();
    const serverPage = await openPage(browser, serverGui.url);
    await serverPage.fill("#root", shared);
    await serverPage.fill("#port", "0");
    await serverPage.uncheck("#tls");
    await serverPage.click("#start");
    const port = await running(serverPage);
    const relay = startRelay(port, { holdAt: { direction: "down", bytes: HOLD } });
    try {
      const page = await openPage(browser, clientGui.url);
      await page.fill("#host", "127.0.0.1");
      await page.fill("#port", String(relay.port));
      await page.fill("#folder", downloads);
      await page.click("#list");
      await page.getByRole("button", { name: "Get big.bin" }).click();
      await relay.reached("down", HOLD);
      await page.locator('#transfers li[data-state="running"]').waitFor({ timeout: STEP_MS });
      await page.click("#quit");
      await asked(page, "Quit");
      await page.getByRole("dialog").getByRole("button", { name: "Keep running" }).click();
      await page.getByRole("dialog").waitFor({ state: "detached", timeout: STEP_MS });
      relay.release();
      await page.locator('#transfers li[data-state="done"]').waitFor({ timeout: STEP_MS });
      assert.ok(await sameBytes(join(shared, "big.bin"), join(downloads, "big.bin")));

      await page.click("#quit");
      const status = await clientGui.process.status;
      assert.equal(status.code, 0, clientGui.output());
      assert.equal(await page.getByRole("dialog").count(), 0);
    } finally {
      await relay.close();
    }
  },
);
