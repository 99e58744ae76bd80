/**
 * The client page's listing as people work with it: names sorted as people
 * expect (folders first, case aside, numbers in order), sortable columns, a filter box, several
 * selected and got at once, and the page itself scrolling with the list's
 * header kept in view. The real program, Debian's Chromium, a real server.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { CLIENT_TS, sameBytes, serveFolder, tempDir, writeRandomFile } from "./helpers.ts";
import {
  axeViolations,
  browserTest,
  fitsWindow,
  launchBrowser,
  layout,
  NARROW,
  openPage,
  startGui,
  STEP_MS,
  waitRows,
} from "./support/gui.ts";

browserTest(
  "client page: names sorted as people expect, sortable columns, a filter box, several selected and got at once, the page scrolling with the header in view",
  async () => {
    await using dir = await tempDir();
    const { shared, downloads, config } = await layout(dir.path);
    const names = ["file10.txt", "File2.txt", "file1.txt", "apple.txt", "Banana.txt", "zeta 3.txt"];
    for (const [i, name] of names.entries()) {
      await writeRandomFile(join(shared, name), 1000 + i * 777, 50 + i);
    }
    for (let i = 0; i < 40; i++) await Deno.writeTextFile(join(shared, `note ${i}.md`), `${i}\n`);
    await Deno.mkdir(join(shared, "photos 10"));
    await Deno.mkdir(join(shared, "Photos 9"));
    await using server = serveFolder(shared);
    await using gui = await startGui(CLIENT_TS, config);
    await using browser = await launchBrowser();
    const page = await openPage(browser, gui.url);
    await page.fill("#folder", downloads);
    await page.fill("#host", "127.0.0.1");
    await page.fill("#port", String(server.port));
    await page.click("#list");
    await page.locator("#files tbody tr").nth(47).waitFor({ timeout: STEP_MS });
    const shown = await page.locator("#files tbody td.name").allTextContents();
    const notes = Array.from({ length: 40 }, (_, i) => `note ${i}.md`);
    assert.deepEqual(shown, [
      "Photos 9/",
      "photos 10/",
      "apple.txt",
      "Banana.txt",
      "file1.txt",
      "File2.txt",
      "file10.txt",
      ...notes,
      "zeta 3.txt",
    ]);

    // The page itself scrolls, not a box inside it; the header stays in view under the top bar.
    await page.locator("#files tbody tr").last().scrollIntoViewIfNeeded();
    const inner = await page.locator("#files").evaluate((table) =>
      table.ownerDocument.defaultView!.getComputedStyle(table.parentElement!).overflowY
    );
    assert.equal(inner, "visible");
    assert.ok(await page.evaluate("window.scrollY") as number > 0, "the page scrolled");
    const bar = await page.locator("header.bar").boundingBox();
    const head = await page.locator("#files thead th").nth(1).boundingBox();
    assert.ok(bar && head);
    assert.ok(
      Math.abs(head.y - (bar.y + bar.height)) <= 2,
      `the header sits under the bar: ${JSON.stringify({ bar, head })}`,
    );

    // The filter: case aside, counted; one character more matches none.
    await page.fill("#filter", "FILE");
    assert.deepEqual(await page.locator("#files tbody tr:visible td.name").allTextContents(), [
      "file1.txt",
      "File2.txt",
      "file10.txt",
    ]);
    assert.equal(await page.locator("#files-count").textContent(), "3 of 48");
    await page.fill("#filter", "file1.txtx");
    assert.equal(await page.locator("#files tbody tr:visible").count(), 0);
    assert.equal(await page.locator("#files-none").isVisible(), true);

    // Sortable columns: by size, up then down, folders still first; by name again.
    await page.fill("#filter", "txt");
    const bySize = [
      "file10.txt",
      "File2.txt",
      "file1.txt",
      "apple.txt",
      "Banana.txt",
      "zeta 3.txt",
    ];
    const visible = () => page.locator("#files tbody tr:visible td.name").allTextContents();
    await page.getByRole("button", { name: "Size" }).click();
    assert.deepEqual(await visible(), bySize);
    assert.equal(
      await page.locator("th:has(button[data-sort=size])").getAttribute("aria-sort"),
      "ascending",
    );
    assert.equal(
      await page.locator("th:has(button[data-sort=name])").getAttribute("aria-sort"),
      "none",
    );
    await page.getByRole("button", { name: "Size" }).click();
    assert.deepEqual(await visible(), [...bySize].reverse());
    assert.equal(
      await page.locator("th:has(button[data-sort=size])").getAttribute("aria-sort"),
      "descending",
    );
    await page.fill("#filter", "");
    const folders = (await page.locator("#files tbody td.name").allTextContents()).slice(0, 2);
    assert.ok(folders.every((name) => name.endsWith("/")), `folders first: ${folders}`);
    await page.getByRole("button", { name: "Name", exact: true }).click();
    assert.deepEqual((await page.locator("#files tbody td.name").allTextContents()).slice(0, 4), [
      "Photos 9/",
      "photos 10/",
      "apple.txt",
      "Banana.txt",
    ]);

    // Several selected and got at once: select all shown of a filter, plus one more.
    await page.fill("#filter", "file1");
    await page.check("#select-all");
    await page.fill("#filter", "");
    await page.check('input[aria-label="Select Banana.txt"]');
    assert.equal(await page.locator("#get-selected").textContent(), "Get selected (3)");
    assert.deepEqual(await axeViolations(page), [], "a filtered, sorted list with a selection");
    await page.setViewportSize(NARROW);
    await fitsWindow(page, "client page, a selection");
    assert.deepEqual(await axeViolations(page), [], "the same at a phone's width");
    await page.click("#get-selected");
    await waitRows(page, "done", 3);
    for (const name of ["file1.txt", "file10.txt", "Banana.txt"]) {
      assert.ok(await sameBytes(join(shared, name), join(downloads, name)), name);
    }
    assert.deepEqual([...Deno.readDirSync(downloads)].map((e) => e.name).sort(), [
      "Banana.txt",
      "file1.txt",
      "file10.txt",
    ]);
    assert.equal(await page.locator("#get-selected").isDisabled(), true);
  },
);
