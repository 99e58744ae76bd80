/**
 * "Show in folder" after a get: the finished get's row opens the folder
 * holding the downloaded file with the system's opener (the same one that
 * opens the page), given that folder's path and nothing else; the page names
 * the transfer, never a path. Without permission to run the opener, the
 * button is not there. The real program, Debian's Chromium, a real server on
 * port 0, and a stand-in opener that records its arguments.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { CLIENT_TS, sameBytes, serveFolder, tempDir, until } from "./helpers.ts";
import type { Page } from "npm:playwright-core@1.65.1";
import {
  browserTest,
  launchBrowser,
  layout,
  openPage,
  rows,
  startGui,
  STEP_MS,
} from "./support/gui.ts";
import { fakeOpener, NO_FAKE_OPENER, OPENER } from "./support/compiled.ts";

/** Lists the server from the page and gets one file into `downloads`. */
async function getOne(page: Page, port: number, downloads: string, name: string) {
  await page.fill("#folder", downloads);
  await page.fill("#host", "127.0.0.1");
  await page.fill("#port", String(port));
  await page.click("#list");
  await page.getByRole("button", { name: `Get ${name}`, exact: true }).click();
  await rows(page, "done", name).waitFor({ timeout: STEP_MS });
}

/** Posts to the page's API as the page does. */
function post(page: Page, route: string, body: unknown): Promise<Record<string, unknown>> {
  return page.evaluate(async ([route, body]) => {
    const response = await fetch(`api/${route}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return await response.json();
  }, [route, body] as const);
}

if (NO_FAKE_OPENER === undefined) {
  browserTest(
    "client page: Show in folder after a get runs the system's opener with exactly the download folder's path",
    async () => {
      await using dir = await tempDir();
      const { shared, downloads, config } = await layout(dir.path);
      await Deno.writeTextFile(join(shared, "report.txt"), "Quarterly figures.\n");
      const opener = await fakeOpener(dir.path);
      await using server = serveFolder(shared);
      await using gui = await startGui(CLIENT_TS, config, ["--gui", "--no-open"], {
        perms: [`--allow-run=${OPENER}`],
        env: opener.env,
      });
      await using browser = await launchBrowser();
      const page = await openPage(browser, gui.url);
      await getOne(page, server.port, downloads, "report.txt");
      assert.ok(await sameBytes(join(shared, "report.txt"), join(downloads, "report.txt")));
      assert.equal(opener.opened(), "", "nothing opened before the click");

      const row = rows(page, "done", "report.txt");
      const show = row.getByRole("button", { name: "Show in folder: report.txt" });
      await show.click();
      await until(() => opener.opened().endsWith("\n"), STEP_MS);
      assert.equal(opener.opened(), `${downloads}\n`);

      // The program opens only the folder of a get it finished, by its id: an id one
      // character off, or a path the page names, opens nothing.
      const id = (await row.getAttribute("data-id"))!;
      const off = id.slice(0, -1) + (id.endsWith("a") ? "b" : "a");
      assert.deepEqual(await post(page, "show", { id: off }), { error: "No such finished get" });
      assert.deepEqual(await post(page, "show", { id: off, path: dir.path }), {
        error: "No such finished get",
      });
      assert.deepEqual(await post(page, "show", { path: "/" }), { error: "No such finished get" });
      assert.deepEqual(await post(page, "show", { id }), { ok: true });
      await until(() => opener.opened().split("\n").length === 3, STEP_MS);
      assert.equal(opener.opened(), `${downloads}\n${downloads}\n`);
    },
  );
}

browserTest(
  "client page: without permission to run the opener, a finished get has no Show in folder button",
  async () => {
    await using dir = await tempDir();
    const { shared, downloads, config } = await layout(dir.path);
    await Deno.writeTextFile(join(shared, "report.txt"), "Quarterly figures.\n");
    await using server = serveFolder(shared);
    await using gui = await startGui(CLIENT_TS, config);
    await using browser = await launchBrowser();
    const page = await openPage(browser, gui.url);
    await getOne(page, server.port, downloads, "report.txt");
    const row = rows(page, "done", "report.txt");
    assert.equal(await row.getByRole("button", { name: /Show in folder/ }).count(), 0);
    assert.equal(await row.locator("button:visible", { hasText: "Show in folder" }).count(), 0);
    const id = (await row.getAttribute("data-id"))!;
    assert.deepEqual(await post(page, "show", { id }), {
      error: "privateshare may not open folders here: open the folder yourself",
    });
  },
);
