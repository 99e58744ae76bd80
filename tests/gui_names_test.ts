/**
 * Every entry the client page lists can be got, or says why not: a name the
 * server lists but the name rules refuse (`<`, a backslash, a line break, a
 * Windows device, a final dot) has its Get and its box disabled and the rule
 * in words under it, instead of a Get that fails; every other name gets byte
 * for byte; every name renders as text (`<b>` stays literal). The real
 * program, Debian's Chromium, a real server on port 0.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { CLIENT_TS, sameBytes, serveFolder, tempDir, writeRandomFile } from "./helpers.ts";
import {
  axeViolations,
  browserTest,
  launchBrowser,
  layout,
  openPage,
  startGui,
  STEP_MS,
  waitRows,
} from "./support/gui.ts";

/** Names the server lists but no get may ask for, each as shown, with the rule in words. */
const REFUSED: [name: string, shown: string, why: string][] = [
  ["a<b.txt", "a<b.txt", "it contains '<', which Windows does not allow in a name"],
  ["<b>bold.txt", "<b>bold.txt", "it contains '<', which Windows does not allow in a name"],
  [
    "back\\slash.txt",
    "back\\\\slash.txt",
    "it contains a backslash, which Windows reads as a path separator",
  ],
  ["new\nline.txt", "new\\nline.txt", "it contains a control character"],
  ["CON.txt", "CON.txt", "'CON' is a device name on Windows, with or without an extension"],
  ["final dot.", "final dot.", "it ends with a dot or a space, which Windows drops"],
];

/** Names that travel, with characters that mean something in HTML or in a URL. */
const FINE = [
  "&lt;b&gt; & co.txt",
  "[draft] {v2} #3; 'quoted' = yes.txt",
  "50%25 off.txt",
  "ünï ✓ 日本.txt",
];

browserTest(
  "client page: a listed name the name rules refuse is marked with why, its Get disabled; every other name gets byte for byte and shows as text",
  async () => {
    await using dir = await tempDir();
    const { shared, downloads, config } = await layout(dir.path);
    for (const [name] of REFUSED) await Deno.writeTextFile(join(shared, name), "refused\n");
    await Deno.mkdir(join(shared, "bad\\folder"));
    await Deno.writeTextFile(join(shared, "bad\\folder", "inside.txt"), "inside\n");
    for (const [i, name] of FINE.entries()) {
      await writeRandomFile(join(shared, name), 10_000 + i * 777, 60 + i);
    }
    await using server = serveFolder(shared);
    await using gui = await startGui(CLIENT_TS, config);
    await using browser = await launchBrowser();
    const page = await openPage(browser, gui.url);
    await page.fill("#folder", downloads);
    await page.fill("#host", "127.0.0.1");
    await page.fill("#port", String(server.port));
    await page.click("#list");
    const body = page.locator("#files tbody");
    await body.locator("tr").nth(REFUSED.length + FINE.length).waitFor({ timeout: STEP_MS });

    // Text only: no element made of a name.
    assert.equal(await body.locator("b, i, span:not(.shown):not(.why)").count(), 0);
    for (const [, shown, why] of REFUSED) {
      const row = body.locator(`tr[data-name="${shown.replaceAll("\\", "\\\\")}"]`);
      assert.equal(await row.locator(".shown").textContent(), shown);
      assert.equal(await row.locator(".why").textContent(), `This name cannot travel: ${why}`);
      const get = row.getByRole("button", { name: `Get ${shown}`, exact: true });
      assert.ok(await get.isDisabled(), `Get ${shown} is disabled`);
      assert.equal(
        await get.getAttribute("aria-describedby"),
        await row.locator(".why").getAttribute("id"),
      );
      assert.ok(await row.locator("input[type=checkbox]").isDisabled());
    }
    // A folder whose name cannot travel is not opened either.
    const folder = body.locator('tr[data-name="bad\\\\\\\\folder/"]');
    assert.equal(
      await folder.locator(".why").textContent(),
      "This name cannot travel: it contains a backslash, which Windows reads as a path separator",
    );
    assert.equal(await folder.getByRole("button", { name: /^Open / }).count(), 0);
    assert.ok(await folder.getByRole("button", { name: /^Get / }).isDisabled());
    for (const name of FINE) {
      const row = body.locator("tr").filter({ has: page.locator(".shown", { hasText: name }) });
      assert.equal(await row.locator(".shown").textContent(), name);
      assert.equal(await row.locator(".why").count(), 0);
    }
    assert.deepEqual(await axeViolations(page), [], "a listing with names that cannot travel");

    // Select all selects only what can be got; Get selected gets each byte for byte.
    await page.check("#select-all");
    assert.equal(
      await page.locator("#get-selected").textContent(),
      `Get selected (${FINE.length})`,
    );
    await page.click("#get-selected");
    await waitRows(page, "done", FINE.length);
    assert.equal(await page.locator('#transfers li[data-state="failed"]').count(), 0);
    for (const name of FINE) {
      assert.ok(await sameBytes(join(shared, name), join(downloads, name)), name);
    }
    assert.deepEqual([...Deno.readDirSync(downloads)].map((e) => e.name).sort(), [...FINE].sort());
  },
);
