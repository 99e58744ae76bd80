/**
 * The client page puts a folder whole: chosen with "Put a folder…" (the
 * program's folder chooser: the program puts it by its path, as the command
 * line does), into the folder the list shows, the server then holding the
 * same tree byte for byte. The real program, Debian's Chromium, a real
 * server on port 0.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join, relative } from "node:path";
import {
  CLIENT_TS,
  sameBytes,
  serveFolder,
  startRelay,
  tempDir,
  until,
  writeRandomFile,
} from "./helpers.ts";
import type { Page } from "npm:playwright-core@1.65.1";
import {
  browserTest,
  launchBrowser,
  layout,
  openPage,
  rows,
  startGui,
  STEP_MS,
  waitRows,
} from "./support/gui.ts";

const MiB = 1024 * 1024;

/** Every file and folder under a folder, by its path inside it. */
async function tree(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      found.push(relative(root, path) + (entry.isDirectory ? "/" : ""));
      if (entry.isDirectory) await walk(path);
    }
  };
  await walk(root);
  return found.sort();
}

browserTest(
  "client page: Put a folder puts a folder of nested files whole, into the folder the list shows; the server holds the same tree byte for byte",
  async () => {
    await using dir = await tempDir();
    const { shared, source, config } = await layout(dir.path);
    const album = join(source, "Album 2");
    await Deno.mkdir(join(album, "raw", "deeper"), { recursive: true });
    await Deno.mkdir(join(album, "empty"));
    await Deno.writeTextFile(join(album, "notes.txt"), "Holiday, day 1.\n");
    await writeRandomFile(join(album, "raw", "IMG_0001.raw"), 3 * MiB + 5, 41);
    await writeRandomFile(join(album, "raw", "deeper", "b.bin"), 70_001, 42);
    await Deno.writeTextFile(join(album, "raw", "deeper", "c.txt"), "");
    await Deno.mkdir(join(shared, "Holidays"));
    await using server = serveFolder(shared);
    await using gui = await startGui(CLIENT_TS, config);
    await using browser = await launchBrowser();
    const page = await openPage(browser, gui.url);
    await page.fill("#host", "127.0.0.1");
    await page.fill("#port", String(server.port));
    await page.click("#list");
    await page.getByRole("button", { name: "Open Holidays/" }).click();
    await page.locator("#path [aria-current]", { hasText: "Holidays" }).waitFor();

    await page.click("#choose-folder");
    const dialog = page.locator("dialog[open]");
    await dialog.locator("#folder-path").fill(album);
    await dialog.getByRole("button", { name: "Go" }).click();
    // The chooser lists the folder's own folders once it is there.
    await dialog.locator(".folders button", { hasText: "deeper" }).or(
      dialog.locator(".folders button", { hasText: "raw" }),
    ).first().waitFor({ timeout: STEP_MS });
    await dialog.locator("#folder-choose").click();
    await waitRows(page, "done", 1);
    const row = rows(page, "done", "Holidays/Album 2");
    assert.match(await row.locator(".detail").textContent() ?? "", /^Done · 4 files · /);

    const put = join(shared, "Holidays", "Album 2");
    assert.deepEqual(await tree(put), await tree(album));
    for (const file of await tree(album)) {
      if (!file.endsWith("/")) assert.ok(await sameBytes(join(album, file), join(put, file)), file);
    }
    // The command line's summary, in the log; the list shows the folder it holds now.
    await page.locator("#log li", { hasText: "put 'Holidays/Album 2'" }).waitFor({
      timeout: STEP_MS,
    });
    await page.getByRole("button", { name: "Open Album 2/" }).waitFor({ timeout: STEP_MS });
    // A path that is not a folder is refused in words, with no transfer.
    const refused = await page.evaluate(`fetch("api/put-folder", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "x1", path: ${JSON.stringify(join(album, "notes.txt"))},
        host: "127.0.0.1", port: ${server.port} }),
    }).then((r) => r.json())`);
    assert.deepEqual(refused, {
      error: `'${join(album, "notes.txt")}' is not a folder: choose a folder to put`,
    });
  },
);

/** Chooses a local folder in the page's folder chooser, as a person does. */
async function chooseFolder(page: Page, path: string, inside: string): Promise<void> {
  await page.click("#choose-folder");
  const dialog = page.locator("dialog[open]");
  await dialog.locator("#folder-path").fill(path);
  await dialog.getByRole("button", { name: "Go" }).click();
  await dialog.locator(".folders button", { hasText: inside }).waitFor({ timeout: STEP_MS });
  await dialog.locator("#folder-choose").click();
}

browserTest(
  "client page: a folder put cancelled mid-way is neutral, and putting the folder again finishes it as put FOLDER does",
  async () => {
    await using dir = await tempDir();
    const { shared, source, config } = await layout(dir.path);
    const album = join(source, "Album");
    await Deno.mkdir(join(album, "raw"), { recursive: true });
    await writeRandomFile(join(album, "a.bin"), 8 * MiB + 1, 61);
    await writeRandomFile(join(album, "raw", "b.bin"), 24 * MiB + 3, 62);
    await using server = serveFolder(shared);
    await using gui = await startGui(CLIENT_TS, config);
    await using browser = await launchBrowser();
    const page = await openPage(browser, gui.url);
    await page.fill("#host", "127.0.0.1");

    // Fault injection: a relay holds the upload at 16 MiB, so that Cancel lands mid-way.
    const relay = startRelay(server.port, { holdAt: { direction: "up", bytes: 16 * MiB } });
    await page.fill("#port", String(relay.port));
    await chooseFolder(page, album, "raw");
    await relay.reached("up", 16 * MiB);
    await waitRows(page, "running", 1);
    await page.getByRole("button", { name: "Cancel put Album" }).click();
    await waitRows(page, "cancelled", 1);
    assert.match(
      await rows(page, "cancelled").locator(".detail").textContent() ?? "",
      /^Cancelled/,
    );
    relay.cut();
    // The server's record of the cut request, before the folder is put again.
    await until(() =>
      server.events.some((e) => e.type === "request-end" && e.record.op === "put-folder")
    );
    await relay.close();

    await page.fill("#port", String(server.port));
    await chooseFolder(page, album, "raw");
    await waitRows(page, "done", 1);
    assert.match(
      await rows(page, "done").locator(".detail").textContent() ?? "",
      /^Done · 2 files/,
    );
    const put = join(shared, "Album");
    assert.deepEqual(await tree(put), await tree(album));
    for (const file of ["a.bin", "raw/b.bin"]) {
      assert.ok(await sameBytes(join(album, file), join(put, file)), file);
    }
    // The command line's summary: what the cut put had sent is not sent again.
    const summary = await page.locator("#log li", { hasText: "put 'Album'" }).textContent();
    assert.match(summary ?? "", /put 'Album': 2 files, 32\.0 MiB verified \(SHA-256\)/);
    assert.match(summary ?? "", /already there|resumed/);
  },
);
