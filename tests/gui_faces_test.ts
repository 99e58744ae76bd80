/**
 * The pages speak to people: failures in the page's words with their fixes
 * as buttons (Replace, Keep both, Skip; the TLS box set for the user), a
 * cancel that is neutral on both pages, and a client page that opens with at
 * most one listing. The real programs, Debian's Chromium, real servers on
 * port 0, files compared byte for byte.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Page } from "npm:playwright-core@1.65.1";
import { startServer } from "../lib/mod.ts";
import {
  CLIENT_TS,
  sameBytes,
  serveFolder,
  SERVER_TS,
  startRelay,
  tempDir,
  until,
  writeRandomFile,
} from "./helpers.ts";
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
import { makeCertificate } from "./security_helpers.ts";

const MiB = 1024 * 1024;
const FLAG = /--[a-z]/;

/** Fails when any text the page shows names a command-line flag. */
async function noFlag(page: Page): Promise<void> {
  const text = await page.locator("body").innerText();
  assert.doesNotMatch(text, FLAG, text.split("\n").find((line) => FLAG.test(line)));
}

/** The buttons of a transfer row's fixes, by their text. */
async function fixes(page: Page, state: string, name: string): Promise<string[]> {
  return await rows(page, state, name).locator(".actions button").allTextContents();
}

browserTest(
  "client page: a get into a name that exists offers Replace, Keep both and Skip; a put of a name the server has offers Keep both and Skip; TLS is ticked for the user",
  async () => {
    await using dir = await tempDir();
    const { shared, source, downloads, config } = await layout(dir.path);
    await writeRandomFile(join(shared, "report.pdf"), 3 * MiB + 7, 31);
    const mine = join(source, "report-mine.pdf");
    await writeRandomFile(mine, 2 * MiB + 3, 32);
    await Deno.copyFile(mine, join(downloads, "report.pdf"));
    // Before the server first lists them (a listing is kept for a second).
    await Deno.writeTextFile(join(shared, "notes.txt"), "The server's own.\n");
    await Deno.writeTextFile(join(shared, "notes (2).txt"), "Taken too.\n");
    await using server = serveFolder(shared);
    await using gui = await startGui(CLIENT_TS, config);
    await using browser = await launchBrowser();
    const page = await openPage(browser, gui.url);
    await page.fill("#folder", downloads);
    await page.fill("#host", "127.0.0.1");
    await page.fill("#port", String(server.port));
    await page.click("#list");
    const get = page.getByRole("button", { name: "Get report.pdf" });

    // Keep both: saved as `report (2).pdf`, the local file untouched.
    await get.click();
    await waitRows(page, "failed", 1);
    assert.deepEqual(await fixes(page, "failed", "report.pdf"), ["Replace", "Keep both", "Skip"]);
    assert.match(
      await rows(page, "failed").locator(".detail").textContent() ?? "",
      /already exists in the download folder: Replace it, Keep both, or Skip$/,
    );
    await noFlag(page);
    await rows(page, "failed").getByRole("button", { name: /^Keep both/ }).click();
    await waitRows(page, "done", 1);
    assert.ok(await sameBytes(join(shared, "report.pdf"), join(downloads, "report (2).pdf")));
    assert.ok(await sameBytes(mine, join(downloads, "report.pdf")), "the local file is kept");
    assert.match(await rows(page, "done").locator(".detail").textContent() ?? "", /report \(2\)/);

    // Skip: nothing moves; Replace: the server's file takes the name.
    await get.click();
    await waitRows(page, "failed", 1);
    await rows(page, "failed").getByRole("button", { name: /^Skip/ }).click();
    await waitRows(page, "skipped", 1);
    assert.ok(await sameBytes(mine, join(downloads, "report.pdf")));
    await get.click();
    await waitRows(page, "failed", 1);
    await rows(page, "failed").getByRole("button", { name: /^Replace/ }).click();
    await waitRows(page, "done", 2);
    assert.ok(await sameBytes(join(shared, "report.pdf"), join(downloads, "report.pdf")));
    assert.deepEqual([...Deno.readDirSync(downloads)].map((e) => e.name).sort(), [
      "report (2).pdf",
      "report.pdf",
    ]);

    // A put of a name the server has: Keep both puts it under a free name; no Replace.
    const notes = join(source, "notes.txt");
    await Deno.writeTextFile(notes, "Mine, not the server's.\n");
    await page.setInputFiles("#files-input", [notes]);
    await waitRows(page, "failed", 1);
    assert.deepEqual(await fixes(page, "failed", "notes.txt"), ["Keep both", "Skip"]);
    await noFlag(page);
    await rows(page, "failed").getByRole("button", { name: /^Keep both/ }).click();
    await rows(page, "done", "notes (3).txt").waitFor({ timeout: STEP_MS });
    assert.ok(await sameBytes(notes, join(shared, "notes (3).txt")));
    assert.equal(await Deno.readTextFile(join(shared, "notes.txt")), "The server's own.\n");

    // A page opened later offers a get's fixes, not those chosen before; a put's file stays with
    // the page that chose it.
    await get.click();
    await waitRows(page, "failed", 1);
    await page.setInputFiles("#files-input", [notes]);
    await waitRows(page, "failed", 2);
    await page.reload();
    await waitRows(page, "failed", 2);
    assert.equal(await rows(page, "failed").count(), 2, "fixes chosen before are not offered");
    assert.equal(await rows(page, "skipped").count(), 1);
    assert.deepEqual(await fixes(page, "failed", "report.pdf"), ["Replace", "Keep both", "Skip"]);
    assert.deepEqual(await fixes(page, "failed", "notes.txt"), ["Skip"]);
    await rows(page, "failed", "report.pdf").getByRole("button", { name: /^Keep both/ }).click();
    await rows(page, "done", "report.pdf").nth(2).waitFor({ timeout: STEP_MS });
    assert.ok(await sameBytes(join(shared, "report.pdf"), join(downloads, "report (3).pdf")));

    // A server that speaks TLS: the page ticks the box and asks again in TLS, which asks whether
    // the server shows its code; Cancelled, the fingerprint pasted lists it.
    const cert = await makeCertificate(dir.path);
    await using secure = serveFolder(source, { tls: { cert: cert.cert, key: cert.key } });
    await page.fill("#port", String(secure.port));
    assert.equal(await page.locator("#tls").isChecked(), false);
    await page.click("#list");
    const question = page.locator("dialog.trust");
    await question.waitFor({ timeout: STEP_MS });
    assert.equal(await page.locator("#tls").isChecked(), true);
    await noFlag(page);
    await question.getByRole("button", { name: "Cancel" }).click();
    await page.locator("#server-note").getByText(/not trusted/).waitFor({ timeout: STEP_MS });
    await page.fill("#fingerprint", cert.fingerprint);
    await page.click("#list");
    await page.getByRole("button", { name: "Get notes.txt" }).waitFor({ timeout: STEP_MS });
    await noFlag(page);
  },
);

browserTest(
  "a Cancel is neutral on both pages: the client page says it resumes, the server page that the client stopped",
  async () => {
    await using dir = await tempDir();
    const { shared, source, config } = await layout(dir.path);
    const big = join(source, "big.bin");
    await writeRandomFile(big, 64 * MiB + 5, 41);
    await using serverGui = await startGui(SERVER_TS, config);
    await using clientGui = await startGui(CLIENT_TS, join(dir.path, "client-config"));
    await using browser = await launchBrowser();
    const serverPage = await openPage(browser, serverGui.url);
    await serverPage.fill("#root", shared);
    await serverPage.fill("#port", "0");
    await serverPage.check("#uploads");
    await serverPage.uncheck("#tls");
    await serverPage.click("#start");
    await serverPage.locator("#status").getByText("Running").waitFor({ timeout: STEP_MS });
    const started = await serverPage.locator("#log").getByText(/on port \d+/).textContent();
    const port = Number(/on port (\d+)/.exec(started ?? "")![1]);

    // Fault injection: the relay holds the upload at 24 MiB, so that Cancel lands mid-transfer.
    const relay = startRelay(port, { holdAt: { direction: "up", bytes: 24 * MiB } });
    const page = await openPage(browser, clientGui.url);
    await page.fill("#host", "127.0.0.1");
    await page.fill("#port", String(relay.port));
    await page.setInputFiles("#files-input", [big]);
    await relay.reached("up", 24 * MiB);
    await waitRows(page, "running", 1);
    await page.getByRole("button", { name: "Cancel put big.bin" }).click();
    await waitRows(page, "cancelled", 1);
    const row = rows(page, "cancelled", "big.bin");
    assert.equal(
      await row.locator(".detail").textContent(),
      "Cancelled: it resumes where it stopped when you put it again",
    );
    assert.doesNotMatch(await row.locator(".detail").getAttribute("class") ?? "", /\bbad\b/);
    assert.doesNotMatch(await row.locator(".badge").getAttribute("class") ?? "", /\bbad\b/);
    assert.notEqual(await page.locator("#status").getAttribute("data-state"), "error");
    await page.locator("#log li").getByText(/^\S+Cancelled: it resumes/).waitFor({
      timeout: STEP_MS,
    });
    assert.equal(await page.locator("#log li.bad").count(), 0, "no error in the log");
    relay.cut();
    await relay.close();

    await serverPage.locator("#details summary").click();
    const request = serverPage.locator("#requests tr", { hasText: "big.bin" });
    await request.getByText("the client stopped: cancelled or cut off").waitFor({
      timeout: STEP_MS,
    });
    assert.doesNotMatch(await request.innerText(), /Broken pipe|os error|failed/i);
    assert.doesNotMatch(await request.locator(".badge").getAttribute("class") ?? "", /\bbad\b/);
    assert.doesNotMatch(await serverPage.locator("body").innerText(), /Broken pipe|os error/i);
    await serverPage.click("#quit");
    await page.click("#quit");
  },
);

/** Counts the page's listing requests, and which of them are still running. */
function countLists(page: Page): { started: number; finished: number } {
  const count = { started: 0, finished: 0 };
  const isList = (url: string) => new URL(url).pathname.endsWith("/api/list");
  page.on("request", (r) => isList(r.url()) && count.started++);
  const done = (r: { url(): string }) => isList(r.url()) && count.finished++;
  page.on("requestfinished", done);
  page.on("requestfailed", done);
  return count;
}

browserTest(
  "client page: reopened after five puts it lists once, and not at all when the server needs a password it does not have",
  async () => {
    await using dir = await tempDir();
    const { shared, source, config } = await layout(dir.path);
    const files = [1, 2, 3, 4, 5].map((n) => join(source, `file-${n}.txt`));
    for (const [i, file] of files.entries()) await Deno.writeTextFile(file, `file ${i}\n`);
    await using server = serveFolder(shared);
    const lists = () =>
      server.events.filter((e) => e.type === "request-end" && e.record.op === "list").length;
    await using gui = await startGui(CLIENT_TS, config);
    await using browser = await launchBrowser();
    const page = await openPage(browser, gui.url);
    await page.fill("#host", "127.0.0.1");
    await page.fill("#port", String(server.port));
    await page.click("#list");
    await page.setInputFiles("#files-input", files);
    await waitRows(page, "done", 5);
    await page.getByRole("button", { name: "Get file-5.txt" }).waitFor({ timeout: STEP_MS });
    let count = countLists(page);
    await until(() => count.started === count.finished, STEP_MS);
    await until(() => lists() >= count.started, STEP_MS);
    const before = lists();

    // Reopened: the finished puts are shown, and the server is listed once.
    await page.reload();
    count = countLists(page);
    await waitRows(page, "done", 5);
    await page.getByRole("button", { name: "Get file-5.txt" }).waitFor({ timeout: STEP_MS });
    await until(() => count.started === count.finished, STEP_MS);
    assert.equal(count.started, 1, "one listing from the page");
    await until(() => lists() >= before + 1, STEP_MS);
    assert.equal(lists(), before + 1, "one list request at the server");

    // A server that needs a password: a page that opens without it sends nothing.
    const secret = join(dir.path, "Secret");
    await Deno.mkdir(secret);
    const cert = await makeCertificate(dir.path);
    const ended: string[] = [];
    await using secure = startServer({
      root: secret,
      port: 0,
      host: "127.0.0.1",
      idleTimeoutMs: 0,
      tls: { cert: cert.cert, key: cert.key },
      password: "sesame",
      onEvent: (event) => {
        if (event.type === "request-end") ended.push(`${event.record.op} ${event.record.reason}`);
      },
    });
    await page.fill("#port", String(secure.addr.port));
    await page.fill("#fingerprint", cert.fingerprint);
    await page.fill("#password", "sesame");
    await page.click("#list");
    await page.locator("#files-empty").getByText("no files").waitFor({ timeout: STEP_MS });
    await page.setInputFiles("#files-input", files);
    await waitRows(page, "done", 10);
    await page.getByRole("button", { name: "Get file-5.txt" }).waitFor({ timeout: STEP_MS });
    await until(() => count.started === count.finished, STEP_MS);
    const listed = count.started - 1;
    await until(() => ended.filter((e) => e.startsWith("list")).length >= listed, STEP_MS);
    await until(() => ended.filter((e) => e.startsWith("put")).length >= 5, STEP_MS);
    const seen = ended.length;
    await page.close();

    const again = await browser.newPage();
    count = countLists(again);
    await again.goto(gui.url);
    await waitRows(again, "done", 10);
    await until(async () => await again.locator("#port").inputValue() !== "", STEP_MS);
    await until(() => count.started === count.finished, STEP_MS);
    assert.equal(count.started, 0, "no listing without the password");
    assert.deepEqual(ended.slice(seen), [], "no request reached the server");
    assert.equal(await again.locator("#server-error").textContent(), "");
    assert.notEqual(await again.locator("#status").getAttribute("data-state"), "error");
  },
);
