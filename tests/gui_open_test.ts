/**
 * Opening the page never gives its token away: each GUI, started as its
 * `deno task gui-*` starts it (the task's permissions, read from deno.json),
 * hands the system's opener (a stand-in that writes down its arguments) a
 * file:// URL, never the address: every local user can read a command line.
 * The file is the owner's alone (0600 in a 0700 folder) and sends the
 * browser to the printed address, where the page answers; the file is gone
 * once the page has loaded, or when the program quits.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "../tools/build.ts";
import { fakeOpener, NO_FAKE_OPENER, redirectOf, taskPermissions } from "./support/compiled.ts";
import { openPage } from "../lib/gui/open_page.ts";
import { tempDir } from "./support/data.ts";
import { until } from "./support/deadline.ts";
import { kill } from "./support/processes.ts";

/** Whether a path exists. */
async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

const address = /http:\/\/127\.0\.0\.1:\d+\/([\w-]+)\//;

/**
 * Starts a GUI the way its task does, with the stand-in opener, and waits
 * until it has printed its address and called the opener.
 */
async function startGui(dir: string, task: "gui-server" | "gui-client") {
  const opener = await fakeOpener(dir);
  const entry = task === "gui-server" ? "server.ts" : "client.ts";
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...taskPermissions(task), join(ROOT, entry), "--gui"],
    cwd: dir,
    env: opener.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let printed = "";
  const reading = (async () => {
    for await (const chunk of child.stdout) printed += new TextDecoder().decode(chunk);
  })();
  const stderr = new Response(child.stderr).text();
  await until(() => opener.opened().endsWith("\n") && address.test(printed), 30_000).catch(() => {
    throw new Error(`${task} opened '${opener.opened()}' and printed: ${printed}`);
  });
  const [url, token] = address.exec(printed)!;
  return {
    opener,
    url: url!,
    token: token!,
    /** Stops the program with SIGTERM and returns its exit code and stderr. */
    async quit() {
      kill(child, "SIGTERM");
      const code = (await child.status).code;
      await reading;
      return { code, stderr: await stderr, printed };
    },
  };
}

for (const task of ["gui-server", "gui-client"] as const) {
  Deno.test({
    name:
      `${task}: the opener gets a private redirect file, never the token; the file goes once the page loads`,
    ignore: NO_FAKE_OPENER !== undefined,
    async fn() {
      await using dir = await tempDir();
      const gui = await startGui(dir.path, task);
      try {
        const opened = gui.opener.opened();
        assert.ok(!opened.includes(gui.token), `the opener's arguments hold no token: ${opened}`);
        assert.ok(!opened.includes(gui.token.slice(0, 8)), "not even part of it");
        const redirect = await redirectOf(opened);
        assert.equal(redirect.target, gui.url, "it leads to the printed address, token included");
        assert.ok(redirect.file.startsWith(dir.path), "in the temporary folder (TMPDIR)");
        // The page answers at the address the file leads to...
        const page = await fetch(redirect.target);
        assert.equal(page.status, 200);
        assert.match(await page.text(), /<title>privateshare (server|client)<\/title>/);
        // ...and once it has loaded, the file and its folder are gone.
        await until(async () => !(await exists(join(redirect.file, ".."))), 10_000);
      } finally {
        const end = await gui.quit();
        assert.equal(end.code, 0, end.printed);
        assert.equal(end.stderr, "");
      }
    },
  });
}

Deno.test({
  name: "a redirect file the browser never followed is removed when the program quits",
  ignore: NO_FAKE_OPENER !== undefined,
  async fn() {
    await using dir = await tempDir();
    const gui = await startGui(dir.path, "gui-server");
    const redirect = await redirectOf(gui.opener.opened());
    assert.ok(await exists(redirect.file));
    const end = await gui.quit();
    assert.equal(end.code, 0);
    assert.equal(await exists(join(redirect.file, "..")), false, "its folder is gone too");
    const left = [];
    for await (const entry of Deno.readDir(dir.path)) left.push(entry.name);
    assert.deepEqual(left.filter((name) => name.startsWith("privateshare-open-")), []);
  },
});

Deno.test({
  name: "Chromium given the redirect file lands on the page, and the file is gone after",
  ignore: NO_FAKE_OPENER !== undefined,
  async fn() {
    await using dir = await tempDir();
    const gui = await startGui(dir.path, "gui-server");
    const { chromium } = await import("npm:playwright-core@1.65.1");
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu"],
      headless: true,
    });
    try {
      const redirect = await redirectOf(gui.opener.opened());
      const page = await browser.newPage();
      // What the opener does with it: the browser opens the file's URL.
      await page.goto(gui.opener.opened().trim());
      await page.waitForURL(gui.url);
      assert.equal(await page.title(), "privateshare server");
      await until(async () => !(await exists(redirect.file)), 10_000);
    } finally {
      await browser.close();
      const end = await gui.quit();
      assert.equal(end.code, 0, end.printed);
    }
  },
});

Deno.test({
  name:
    "a redirect file the browser never followed goes after its lifetime, while the program runs",
  ignore: NO_FAKE_OPENER !== undefined,
  async fn() {
    await using dir = await tempDir();
    const opener = await fakeOpener(dir.path);
    const saved = { PATH: Deno.env.get("PATH"), TMPDIR: Deno.env.get("TMPDIR") };
    Deno.env.set("PATH", opener.env.PATH!);
    Deno.env.set("TMPDIR", dir.path);
    try {
      const url = "http://127.0.0.1:9/0123456789abcdefghijklmnopqrstuv/";
      const opened = await openPage(url, 2_000);
      assert.ok(opened);
      assert.ok(await exists(opened.file), "there until its lifetime ends");
      await until(() => opener.opened() === `${pathToFileURL(opened.file).href}\n`);
      // No page loads, the program does not quit: only its lifetime removes it.
      await until(async () => !(await exists(join(opened.file, ".."))), 30_000);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) Deno.env.delete(name);
        else Deno.env.set(name, value);
      }
    }
  },
});
