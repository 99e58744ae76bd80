/**
 * The GUIs, as a person uses them: the real programs started with `--gui`
 * (or no arguments), their pages driven in Debian's Chromium through
 * playwright-core, real servers on port 0, real files compared byte for
 * byte; and the page server's refusals, tested with raw HTTP requests.
 *
 * Screenshots are taken in every run; set PRIVATESHARE_SCREENSHOTS=1 to
 * write them into docs/ (README shows them).
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { Page } from "npm:playwright-core@1.65.1";
import { ClientError, put } from "../lib/mod.ts";
import {
  CLIENT_TS,
  namesIn,
  ROOT,
  runClient,
  runServer,
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
  DESKTOP,
  launchBrowser,
  layout,
  NARROW,
  openPage,
  rows,
  startGui,
  STEP_MS,
  waitRows,
} from "./support/gui.ts";

const MiB = 1024 * 1024;
const BIG = 64 * MiB + 12345;

/** Saves a screenshot of the whole page, desktop and narrow, into docs/ when asked. */
async function screenshots(page: Page, name: string, dark = false): Promise<void> {
  const folder = Deno.env.get("PRIVATESHARE_SCREENSHOTS")
    ? join(ROOT, "docs")
    : Deno.makeTempDirSync();
  await page.emulateMedia({ colorScheme: dark ? "dark" : "light" });
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: join(folder, `${name}.png`), fullPage: true });
  await page.setViewportSize(NARROW);
  await page.screenshot({ path: join(folder, `${name}-narrow.png`), fullPage: true });
  await page.setViewportSize(DESKTOP);
  await page.emulateMedia({ colorScheme: "light" });
}

/** Waits until a settings file says what is expected: the page saves it without waiting. */
async function savedSettings(path: string, expected: unknown): Promise<void> {
  const read = () => Deno.readTextFile(path).then(JSON.parse).catch(() => undefined);
  await until(async () => isDeepStrictEqual(await read(), expected), STEP_MS).catch(() => {});
  assert.deepEqual(await read(), expected);
}

/** Sends one raw HTTP request and returns its status code. */
async function rawStatus(port: number, head: string[]): Promise<number> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode([...head, "Connection: close", "", ""].join("\r\n")));
  const buffer = new Uint8Array(4096);
  let text = "";
  while (!text.includes("\r\n")) {
    const n = await conn.read(buffer);
    if (n === null) break;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
  assert.ok(status, `Not an HTTP answer: ${text}`);
  return Number(status[1]);
}

Deno.test("the page server refuses requests without the token, with a foreign Host, or from another site", async () => {
  await using config = await tempDir();
  await using gui = await startGui(CLIENT_TS, config.path);
  const token = new URL(gui.url).pathname;
  const host = `Host: 127.0.0.1:${gui.port}`;
  const self = `Origin: http://127.0.0.1:${gui.port}`;
  assert.equal(await rawStatus(gui.port, ["GET / HTTP/1.1", host]), 403, "no token");
  assert.equal(await rawStatus(gui.port, ["GET /abc/ HTTP/1.1", host]), 403, "a wrong token");
  const wrongToken = token.slice(0, -2) + (token.at(-2) === "A" ? "B" : "A") + "/";
  assert.equal(
    await rawStatus(gui.port, [`GET ${wrongToken} HTTP/1.1`, host]),
    403,
    "one letter off",
  );
  assert.equal(await rawStatus(gui.port, [`GET ${token} HTTP/1.1`, host]), 200, "the page itself");
  // DNS rebinding: another name that resolves to 127.0.0.1 reaches the port with its own Host.
  const rebound = [`GET ${token} HTTP/1.1`, `Host: evil.example:${gui.port}`];
  assert.equal(await rawStatus(gui.port, rebound), 403, "a foreign Host");
  assert.equal(
    await rawStatus(gui.port, [`GET ${token} HTTP/1.1`, `Host: localhost:${gui.port}`]),
    403,
  );
  assert.equal(await rawStatus(gui.port, [`GET ${token} HTTP/1.1`]), 403, "no Host at all");
  // Cross-site requests: another page the user has open posts to the API.
  const quit = [`POST ${token}api/quit HTTP/1.1`, host, "Content-Length: 0"];
  assert.equal(await rawStatus(gui.port, [...quit, "Origin: http://evil.example"]), 403);
  assert.equal(await rawStatus(gui.port, [...quit, "Origin: null"]), 403);
  assert.equal(await rawStatus(gui.port, [...quit, "Sec-Fetch-Site: cross-site"]), 403);
  assert.equal(await rawStatus(gui.port, [...quit, "Sec-Fetch-Site: same-site"]), 403);
  assert.equal(
    await rawStatus(gui.port, [`GET ${token}api/quit HTTP/1.1`, host]),
    405,
    "GET never changes anything",
  );
  // None of them quit the program; the page's own request does.
  assert.equal(await rawStatus(gui.port, [`GET ${token}style.css HTTP/1.1`, host]), 200);
  assert.equal(await rawStatus(gui.port, [...quit, self, "Sec-Fetch-Site: same-origin"]), 200);
  assert.equal((await gui.process.status).code, 0);
});

Deno.test("with no arguments at all each program serves its page and prints its address", async () => {
  await using config = await tempDir();
  for (const script of [SERVER_TS, CLIENT_TS]) {
    // No --allow-run here: opening the browser fails quietly; the address is printed anyway.
    await using gui = await startGui(script, config.path, []);
    assert.match(gui.output(), /open http:\/\/127\.0\.0\.1:\d+\/[\w-]+\/ in your browser/);
    const page = await fetch(gui.url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>privateshare (server|client)<\/title>/);
  }
});

Deno.test("--help tells how to get the GUI; --gui with other arguments, or without --allow-net, exits 2", async () => {
  const client = await runClient(["--help"]);
  assert.match(client.stdout, /client\.ts --gui \[--no-open\]/);
  const server = await new Deno.Command(Deno.execPath(), {
    args: ["run", SERVER_TS, "--help"],
    stdout: "piped",
  }).output();
  assert.match(new TextDecoder().decode(server.stdout), /server\.ts --gui \[--no-open\]/);
  const mixed = await runClient(["--gui", "localhost"]);
  assert.equal(mixed.code, 2);
  assert.match(mixed.stderr, /--gui takes no other arguments/);
  const denied = await runServer([], []);
  assert.equal(denied.code, 2);
  assert.equal(
    denied.stderr,
    "privateshare-server: The GUI needs --allow-net to serve its page: run deno with --allow-net\n",
  );
});

browserTest(
  "client page: put 64 MiB and a small file, list, get both back, and a refusal in the page's words",
  async () => {
    await using dir = await tempDir();
    const { shared, source, downloads, config } = await layout(dir.path);
    const big = join(source, "holiday-video.mp4");
    const small = join(source, "notes.txt");
    await writeRandomFile(big, BIG, 7);
    await Deno.writeTextFile(small, "Meet at the station at nine.\n");
    await using server = serveFolder(shared);
    await using gui = await startGui(CLIENT_TS, config);
    await using browser = await launchBrowser();
    const page = await openPage(browser, gui.url);
    // With the keyboard alone: Tab past Quit and "On this network" (Look again, whatever servers
    // it lists, the link and its Connect) to the address, then the port, then Enter lists.
    for (let i = 0; i < 40 && await page.locator("#host:focus").count() === 0; i++) {
      await page.keyboard.press("Tab");
    }
    assert.equal(await page.locator("#host:focus").count(), 1, "the address has the focus");
    await page.keyboard.type("127.0.0.1");
    await page.keyboard.press("Tab");
    await page.keyboard.type(String(server.port));
    await page.keyboard.press("Enter");
    await page.locator("#files-empty").getByText("no files").waitFor({ timeout: STEP_MS });
    await page.fill("#folder", join(dir.path, "Downloadz"));

    await page.setInputFiles("#files-input", [big, small]);
    await waitRows(page, "done", 2);
    assert.ok(await sameBytes(big, join(shared, "holiday-video.mp4")));
    assert.ok(await sameBytes(small, join(shared, "notes.txt")));

    // A folder that does not exist is refused before anything moves.
    await page.click("#refresh");
    await page.getByRole("button", { name: "Get notes.txt" }).click();
    await page.locator("#server-error").getByText(/^The folder '.*Downloadz' does not exist/)
      .waitFor({ timeout: STEP_MS });
    await page.fill("#folder", downloads);
    await page.getByRole("button", { name: "Get holiday-video.mp4" }).click();
    await page.getByRole("button", { name: "Get notes.txt" }).click();
    await waitRows(page, "done", 4);
    assert.ok(await sameBytes(big, join(downloads, "holiday-video.mp4")));
    assert.ok(await sameBytes(small, join(downloads, "notes.txt")));

    // The log has the command line's summary lines.
    const summary = /\d\dget 'notes\.txt' -> '.+': 29 B in .+, verified sha256 [0-9a-f]{16}…$/;
    await page.locator("#log li", { hasText: summary }).waitFor({ timeout: STEP_MS });

    // A name that exists: the page says it in its own words, where the command line names a flag.
    const cli = await runClient(["127.0.0.1", String(server.port), "put", small]);
    assert.equal(cli.code, 3);
    assert.match(cli.stderr, /--as NAME/);
    const words = 'The server refused: "notes.txt" already exists on the server: Keep both ' +
      "(put it under a free name) or Skip";
    await page.setInputFiles("#files-input", [small]);
    await waitRows(page, "failed", 1);
    assert.equal(await rows(page, "failed").locator(".detail").textContent(), words);
    await page.locator("#log li.bad").getByText(words).waitFor({ timeout: STEP_MS });
    assert.equal(await page.locator("#status").getAttribute("data-state"), "error");
    await screenshots(page, "gui-client");
    await screenshots(page, "gui-client-dark", true);

    // The address and port are remembered for the next run.
    await savedSettings(join(config, "privateshare", "client-gui.json"), {
      host: "127.0.0.1",
      port: server.port,
      folder: downloads,
    });
  },
);

browserTest(
  "client page: Cancel stops a put and a get, and the next put and get resume them",
  async () => {
    await using dir = await tempDir();
    const { shared, source, downloads, config } = await layout(dir.path);
    const big = join(source, "big.bin");
    await writeRandomFile(big, BIG, 11);
    await using server = serveFolder(shared);
    await using gui = await startGui(CLIENT_TS, config);
    await using browser = await launchBrowser();
    const page = await openPage(browser, gui.url);
    await page.fill("#folder", downloads);
    await page.fill("#host", "127.0.0.1");

    // Fault injection: a relay holds the upload at 24 MiB, so that Cancel
    // lands mid-transfer whatever the machine's speed.
    const upRelay = startRelay(server.port, { holdAt: { direction: "up", bytes: 24 * MiB } });
    await page.fill("#port", String(upRelay.port));
    await page.setInputFiles("#files-input", [big]);
    await upRelay.reached("up", 24 * MiB);
    await waitRows(page, "running", 1);
    await page.getByRole("button", { name: "Cancel put big.bin" }).click();
    await waitRows(page, "cancelled", 1);
    assert.match(
      await rows(page, "cancelled").locator(".detail").textContent() ?? "",
      /^Cancelled/,
    );
    upRelay.cut();
    await until(() => server.events.some((e) => e.type === "request-end" && e.record.op === "put"));
    await upRelay.close();

    await page.fill("#port", String(server.port));
    await page.setInputFiles("#files-input", [big]);
    await waitRows(page, "done", 1);
    assert.match(await rows(page, "done").locator(".detail").textContent() ?? "", /resumed at \d/);
    assert.ok(await sameBytes(big, join(shared, "big.bin")));

    // The same for a get: held at 24 MiB on the way down, cancelled, resumed.
    const downRelay = startRelay(server.port, { holdAt: { direction: "down", bytes: 24 * MiB } });
    await page.fill("#port", String(downRelay.port));
    await page.click("#list");
    await page.getByRole("button", { name: "Get big.bin" }).click();
    await downRelay.reached("down", 24 * MiB);
    await waitRows(page, "running", 1);
    await page.getByRole("button", { name: "Cancel get big.bin" }).click();
    await waitRows(page, "cancelled", 2);
    downRelay.cut();
    await downRelay.close();
    assert.deepEqual(namesIn(downloads), [
      ".big.bin.privateshare-partial",
      ".big.bin.privateshare-partial.json",
    ]);
    assert.ok(Deno.statSync(join(downloads, ".big.bin.privateshare-partial")).size > 0);

    await page.fill("#port", String(server.port));
    await page.getByRole("button", { name: "Get big.bin" }).click();
    await waitRows(page, "done", 2);
    const got = rows(page, "done").first().locator(".detail");
    assert.match(await got.textContent() ?? "", /resumed at \d.* saved as /);
    assert.ok(await sameBytes(big, join(downloads, "big.bin")));
    assert.deepEqual(namesIn(downloads), ["big.bin"]);

    // Other data put under the name and size of a partial upload: the page
    // cannot rewind a browser upload, so it sends the file again from its start.
    const clip = join(source, "clip.bin");
    const other = join(downloads, "clip.bin");
    await writeRandomFile(clip, 20 * MiB, 5);
    await writeRandomFile(other, 20 * MiB, 6);
    const clipRelay = startRelay(server.port, { holdAt: { direction: "up", bytes: 12 * MiB } });
    await page.fill("#port", String(clipRelay.port));
    await page.setInputFiles("#files-input", [clip]);
    await clipRelay.reached("up", 12 * MiB);
    await waitRows(page, "running", 1);
    await page.getByRole("button", { name: "Cancel put clip.bin" }).click();
    await waitRows(page, "cancelled", 3);
    clipRelay.cut();
    await until(() =>
      server.events.some((e) => e.type === "request-end" && e.record.name === "clip.bin")
    );
    await clipRelay.close();
    await page.fill("#port", String(server.port));
    await page.setInputFiles("#files-input", [other]);
    await waitRows(page, "restarted", 1);
    try {
      await waitRows(page, "done", 3);
    } catch (e) {
      console.log(
        "DEBUG",
        await page.locator("#transfers").innerText(),
        await page.locator("#log").innerText(),
        gui.output(),
      );
      throw e;
    }
    assert.ok(await sameBytes(other, join(shared, "clip.bin")));
  },
);

Deno.test("a stream put resumes only its own beginning: other data under the name asks to start over", async () => {
  await using dir = await tempDir();
  const { shared, source } = await layout(dir.path);
  const [a, b] = [join(source, "a.bin"), join(source, "b.bin")];
  await writeRandomFile(a, 24 * MiB, 1);
  await writeRandomFile(b, 24 * MiB, 2);
  await using server = serveFolder(shared);
  const files: Deno.FsFile[] = [];
  const streamOf = async (path: string) => {
    const file = await Deno.open(path);
    files.push(file);
    return { name: "data.bin", size: file.statSync().size, stream: file.readable };
  };
  try {
    // Fault injection: the relay holds the upload at 12 MiB, where it is cancelled.
    const relay = startRelay(server.port, { holdAt: { direction: "up", bytes: 12 * MiB } });
    const controller = new AbortController();
    const first = put(await streamOf(a), {
      host: "127.0.0.1",
      port: relay.port,
      signal: controller.signal,
    });
    await relay.reached("up", 12 * MiB);
    controller.abort();
    await assert.rejects(first, (e) => e instanceof ClientError && e.kind === "aborted");
    relay.cut();
    await relay.close();
    await until(() => server.events.some((e) => e.type === "request-end"));

    const to = { host: "127.0.0.1", port: server.port };
    await assert.rejects(
      put(await streamOf(b), to),
      (e) => e instanceof ClientError && e.code === "restart" && /holds other data/.test(e.message),
    );
    const again = await put(await streamOf(b), { ...to, resume: false });
    assert.equal(again.resumedFrom, 0);
    assert.ok(await sameBytes(b, join(shared, "data.bin")));
  } finally {
    for (const file of files) {
      try {
        file.close();
      } catch {
        // Closed by its stream.
      }
    }
  }
});

/** A name that would be markup if a page ever set it as HTML. */
const HTML_NAME = "<img src=x onerror=window.pwned=1>";

/** A served folder with folders: nested ones, an empty one, one named like markup. */
async function foldersIn(shared: string): Promise<void> {
  await Deno.mkdir(join(shared, "photos", "2024"), { recursive: true });
  await Deno.mkdir(join(shared, "photos", "empty"));
  await writeRandomFile(join(shared, "photos", "2024", "beach.jpg"), 3 * MiB + 17, 21);
  await writeRandomFile(join(shared, "photos", "2024", "sunset.jpg"), 100_000, 22);
  await Deno.writeTextFile(join(shared, "photos", "readme.txt"), "Summer, mostly.\n");
  await Deno.mkdir(join(shared, HTML_NAME));
  await Deno.writeTextFile(join(shared, HTML_NAME, "inside.txt"), "text\n");
  await Deno.writeTextFile(join(shared, "notes.txt"), "Top-level file.\n");
}

browserTest(
  "client page: folders listed with their count, opened, got whole byte for byte; a put goes into the folder shown",
  async () => {
    await using dir = await tempDir();
    const { shared, source, downloads, config } = await layout(dir.path);
    await foldersIn(shared);
    await using server = serveFolder(shared);
    await using gui = await startGui(CLIENT_TS, config);
    await using browser = await launchBrowser();
    const page = await openPage(browser, gui.url);
    await page.fill("#host", "127.0.0.1");
    await page.fill("#port", String(server.port));
    await page.fill("#folder", downloads);
    await page.click("#list");

    // Folders first, with a trailing "/", their file count and total size; then the files.
    const open = page.getByRole("button", { name: "Open photos/" });
    await open.waitFor({ timeout: STEP_MS });
    const names = await page.locator("#files tbody td.name .shown").allTextContents();
    assert.deepEqual(names, [`${HTML_NAME}/`, "photos/", "notes.txt"]);
    // The server lists it, but a name holding '<' cannot travel: the row says so.
    assert.deepEqual(await page.locator("#files tbody td.name .why").allTextContents(), [
      "This name cannot travel: it contains '<', which Windows does not allow in a name",
    ]);
    const photos = page.locator("#files tbody tr", { has: open });
    assert.equal(await photos.locator("td.num").first().textContent(), "3 files · 3.10 MiB");
    // A name with markup is text: no image, no script run.
    assert.equal(await page.locator("#files img").count(), 0);
    assert.equal(await page.evaluate(() => "pwned" in globalThis), false);
    assert.equal(await page.locator("#path").isVisible(), false, "no path bar at the top");

    // Into a folder: its folders, then its files, and a path bar back up.
    await open.click();
    await page.locator("#path [aria-current]").getByText("photos", { exact: true })
      .waitFor({ timeout: STEP_MS });
    assert.deepEqual(await page.locator("#files tbody td.name").allTextContents(), [
      "2024/",
      "empty/",
      "readme.txt",
    ]);
    assert.deepEqual(await page.locator("#path li").allTextContents(), ["Top", "photos"]);

    // A nested folder, got whole into the download folder. Fault injection:
    // a relay holds it at 1 MiB, while the page shows files done of the total.
    const relay = startRelay(server.port, { holdAt: { direction: "down", bytes: MiB } });
    await page.fill("#port", String(relay.port));
    await page.getByRole("button", { name: "Get 2024/" }).click();
    await relay.reached("down", MiB);
    await rows(page, "running").locator(".detail").getByText(
      /^[01] of 2 files · \S+ \S+ of 3\.10 MiB/,
    )
      .waitFor({ timeout: STEP_MS });
    relay.release();
    await waitRows(page, "done", 1);
    await relay.close();
    await page.fill("#port", String(server.port));
    assert.match(
      await rows(page, "done").locator(".detail").textContent() ?? "",
      /^Done · 2 files · 3\.10 MiB in .* saved as .*2024$/,
    );
    assert.deepEqual(namesIn(join(downloads, "2024")), ["beach.jpg", "sunset.jpg"]);
    // The log has the command line's summary of a folder.
    const summary = /get 'photos\/2024' -> '.+': 2 files, 3\.10 MiB verified \(SHA-256\) in /;
    await page.locator("#log li", { hasText: summary }).waitFor({ timeout: STEP_MS });
    for (const name of ["beach.jpg", "sunset.jpg"]) {
      assert.ok(
        await sameBytes(join(shared, "photos", "2024", name), join(downloads, "2024", name)),
      );
    }

    // Again: the folder exists; the command line names a flag, the page offers Replace or Skip.
    const cli = await runClient([
      "127.0.0.1",
      String(server.port),
      "get",
      "photos/2024",
      "-o",
      downloads,
    ]);
    assert.notEqual(cli.code, 0);
    const words = cli.stderr.trim().split("\n").at(-1)!.replace(/^privateshare: /, "");
    await page.getByRole("button", { name: "Get 2024/" }).click();
    await waitRows(page, "failed", 1);
    assert.match(words, /exists: add --force/);
    assert.equal(
      await rows(page, "failed").locator(".detail").textContent(),
      `'${join(downloads, "2024")}' exists in the download folder: Replace it or Skip`,
    );
    assert.deepEqual(await rows(page, "failed").locator(".actions button").allTextContents(), [
      "Replace",
      "Skip",
    ]);

    // A file chosen now goes into the folder shown, and the list shows it.
    const postcard = join(source, "postcard.txt");
    await Deno.writeTextFile(postcard, "Wish you were here.\n");
    await page.setInputFiles("#files-input", [postcard]);
    await waitRows(page, "done", 2);
    assert.ok(await sameBytes(postcard, join(shared, "photos", "postcard.txt")));
    await page.locator("#files td.name").getByText("postcard.txt").waitFor({ timeout: STEP_MS });
    assert.equal(await rows(page, "done", "photos/postcard.txt").count(), 1);
    await screenshots(page, "gui-client-folders");

    // Deeper, then back to the top through the path bar.
    await page.getByRole("button", { name: "Open 2024/" }).click();
    await page.getByRole("button", { name: "Get beach.jpg" }).waitFor({ timeout: STEP_MS });
    assert.deepEqual(await page.locator("#path li").allTextContents(), ["Top", "photos", "2024"]);
    await page.locator("#path").getByRole("button", { name: "Top" }).click();
    await page.getByRole("button", { name: "Open photos/" }).waitFor({ timeout: STEP_MS });
    assert.equal(await page.locator("#path").isVisible(), false);

    // The whole of a folder with an empty folder inside.
    await page.getByRole("button", { name: "Get photos/" }).click();
    await waitRows(page, "done", 3);
    assert.deepEqual(namesIn(join(downloads, "photos")), [
      "2024",
      "empty",
      "postcard.txt",
      "readme.txt",
    ]);
    assert.deepEqual(namesIn(join(downloads, "photos", "empty")), []);
    assert.ok(
      await sameBytes(
        join(shared, "photos", "2024", "beach.jpg"),
        join(downloads, "photos", "2024", "beach.jpg"),
      ),
    );
    assert.equal(await page.evaluate(() => "pwned" in globalThis), false);
  },
);

browserTest(
  "server page: the served folder's folders with their count, never a link or privateshare's own, names as text",
  async () => {
    await using dir = await tempDir();
    const { shared, source, config } = await layout(dir.path);
    await foldersIn(shared);
    await Deno.symlink(join(shared, "photos"), join(shared, "linked"));
    await Deno.mkdir(join(shared, ".privateshare-folder-own"));
    await using gui = await startGui(SERVER_TS, config);
    await using browser = await launchBrowser();
    const page = await openPage(browser, gui.url);
    await page.fill("#root", shared);
    await page.fill("#port", "0");
    await page.check("#uploads");
    // A plain server: the command-line client below speaks no TLS unless told.
    await page.uncheck("#tls");
    await page.click("#start");
    await page.locator("#status").getByText("Running").waitFor({ timeout: STEP_MS });
    const started = await page.locator("#log").getByText(/on port \d+/).textContent();
    const port = Number(/on port (\d+)/.exec(started ?? "")![1]);
    const photos = page.locator("#files tbody tr", { hasText: "photos/" });
    await photos.waitFor({ timeout: STEP_MS });
    assert.deepEqual(await page.locator("#files tbody td.name").allTextContents(), [
      `${HTML_NAME}/`,
      "photos/",
      "notes.txt",
    ]);
    assert.equal(await photos.locator("td.num").first().textContent(), "3 files · 3.10 MiB");
    assert.equal(await page.locator("#files img").count(), 0);
    assert.equal(await page.evaluate(() => "pwned" in globalThis), false);

    // A folder put from the command line shows once it is in place.
    const albums = join(source, "albums");
    await Deno.mkdir(join(albums, "2023"), { recursive: true });
    await Deno.writeTextFile(join(albums, "2023", "a.txt"), "a\n");
    await Deno.writeTextFile(join(albums, "b.txt"), "bb\n");
    const put = await runClient(["127.0.0.1", String(port), "put", albums]);
    assert.equal(put.code, 0, put.stderr);
    await page.locator("#files tbody tr", { hasText: "albums/" }).getByText("2 files · 5 B")
      .waitFor({ timeout: STEP_MS });
    await page.click("#quit");
    assert.equal((await gui.process.status).code, 0);
  },
);

browserTest(
  "server page: start a server, see requests and a transfer live, reopen the page, stop it",
  async () => {
    await using dir = await tempDir();
    const { shared, source, config } = await layout(dir.path);
    await Deno.writeTextFile(join(shared, "welcome.txt"), "Hello from the server\n");
    const big = join(source, "photos.zip");
    await writeRandomFile(big, 40 * MiB, 3);
    await using gui = await startGui(SERVER_TS, config);
    await using browser = await launchBrowser();
    const first = await openPage(browser, gui.url);
    await first.fill("#root", shared);
    await first.fill("#port", "0");
    await first.selectOption("#idle", "900");
    await first.check("#uploads");
    await first.uncheck("#tls");
    await first.click("#start");
    await first.locator("#status").getByText("Running").waitFor({ timeout: STEP_MS });
    await first.locator("#countdown").getByText(/^Stops in \d+:\d\d if nobody connects$/)
      .waitFor({ timeout: STEP_MS });
    const started = await first.locator("#log").getByText(/on port \d+/).textContent();
    const port = Number(/on port (\d+)/.exec(started ?? "")![1]);
    const listed = await runClient(["127.0.0.1", String(port), "list"]);
    assert.equal(listed.code, 0);

    // The server runs on with the page closed; a page opened again shows all that happened.
    await first.close();
    const page = await openPage(browser, gui.url);
    await page.locator("#status").getByText("Running").waitFor({ timeout: STEP_MS });
    // Requests wait under a collapsed Details.
    await page.locator("#details summary").click();
    await page.locator("#requests td").getByText("list", { exact: true }).waitFor({
      timeout: STEP_MS,
    });
    await page.locator("#files td.name").getByText("welcome.txt").waitFor({ timeout: STEP_MS });
    const missing = await runClient(["127.0.0.1", String(port), "get", "missing.txt"], {
      cwd: dir.path,
    });
    assert.equal(missing.code, 3);
    await page.locator("#requests tr", { hasText: "missing.txt" }).getByText("refused")
      .waitFor({ timeout: STEP_MS });

    // Fault injection: the relay holds the upload at 16 MiB while the page shows it in flight.
    const relay = startRelay(port, { holdAt: { direction: "up", bytes: 16 * MiB } });
    const putting = runClient(["127.0.0.1", String(relay.port), "put", big]);
    await relay.reached("up", 16 * MiB);
    await page.locator("#active .what").getByText("photos.zip").waitFor({ timeout: STEP_MS });
    await page.locator("#status").getByText("1 active").waitFor({ timeout: STEP_MS });
    // A stalled transfer shows how far it got (16 MiB less the command's bytes).
    await page.locator("#active .detail").getByText(/^\S+ · put · 16\.0 MiB of 40\.0 MiB/)
      .waitFor({ timeout: STEP_MS });
    await screenshots(page, "gui-server");
    relay.release();
    assert.equal((await putting).code, 0);
    await relay.close();
    await page.locator("#requests tr", { hasText: "photos.zip" }).getByText("done")
      .waitFor({ timeout: STEP_MS });
    await page.locator("#files td.name").getByText("photos.zip").waitFor({ timeout: STEP_MS });
    assert.ok(await sameBytes(big, join(shared, "photos.zip")));

    await page.click("#stop");
    await page.locator("#status").getByText("Stopped").waitFor({ timeout: STEP_MS });
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port }),
      Deno.errors.ConnectionRefused,
    );
    await savedSettings(join(config, "privateshare", "server-gui.json"), {
      port: 0,
      root: shared,
      uploads: true,
      idleSeconds: 900,
      tls: false,
      // This computer's name, by default; not announced, as startGui keeps a page on the
      // host's network (the default, ticked, is tested in a namespace: gui_finding_test).
      name: Deno.hostname().split(".")[0],
      announce: false,
      // The web page for phones and browsers: on by default.
      web: true,
    });
    await page.click("#quit");
    assert.equal((await gui.process.status).code, 0);
  },
);

browserTest(
  "server page with TLS and a password shows the fingerprint; the client page uses it and the password",
  async () => {
    await using dir = await tempDir();
    const { shared, source, downloads, config } = await layout(dir.path);
    const small = join(source, "secret.txt");
    await Deno.writeTextFile(small, "Only for those with the password.\n");
    await using serverGui = await startGui(SERVER_TS, config);
    await using clientGui = await startGui(CLIENT_TS, join(dir.path, "client-config"));
    await using browser = await launchBrowser();
    const serverPage = await openPage(browser, serverGui.url);
    // TLS is ticked on a first run; unticked, the page warns and the password cannot be typed.
    assert.ok(!await serverPage.locator("#plain").isVisible(), "with TLS no unencrypted warning");
    assert.ok(await serverPage.locator("#password").isEnabled());
    await serverPage.uncheck("#tls");
    assert.ok(await serverPage.locator("#plain").isVisible(), "without TLS the page warns");
    assert.ok(await serverPage.locator("#password").isDisabled(), "a password needs TLS");
    await serverPage.fill("#root", shared);
    await serverPage.fill("#port", "0");
    await serverPage.check("#uploads");
    await serverPage.check("#tls");
    await serverPage.fill("#password", "correct horse");
    await serverPage.click("#start");
    await serverPage.locator("#status").getByText("Running").waitFor({ timeout: STEP_MS });
    const fingerprint = (await serverPage.locator("#fingerprint").textContent()) ?? "";
    assert.match(fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/i);
    assert.ok(!await serverPage.locator("#plain").isVisible(), "with TLS no unencrypted warning");
    const started = await serverPage.locator("#log").getByText(/on port \d+/).textContent();
    const port = Number(/on port (\d+)/.exec(started ?? "")![1]);
    const saved = await Deno.readTextFile(join(config, "privateshare", "server-gui.json"));
    assert.ok(!saved.includes("correct horse"), "the password is never kept");
    assert.ok(!serverGui.output().includes("correct horse"), "nor printed");

    const page = await openPage(browser, clientGui.url);
    await page.fill("#host", "127.0.0.1");
    await page.fill("#port", String(port));
    await page.fill("#fingerprint", fingerprint);
    await page.fill("#password", "wrong");
    await page.click("#list");
    // The refusal is the command line's own line, and the control to check.
    const wrong = join(dir.path, "wrong-password");
    await Deno.writeTextFile(wrong, "wrong\n");
    const cli = await runClient([
      "--fingerprint",
      fingerprint,
      "--password-file",
      wrong,
      "--known-servers",
      join(dir.path, "known"),
      "127.0.0.1",
      String(port),
      "list",
    ]);
    assert.notEqual(cli.code, 0);
    // Its last line: the first says the server was remembered.
    const words = cli.stderr.trim().split("\n").at(-1)!.replace(/^privateshare: /, "");
    assert.equal(words, "The server refused: Wrong password");
    await page.locator("#server-error").getByText(`${words}: check Password`, { exact: true })
      .waitFor({ timeout: STEP_MS });
    await page.fill("#password", "correct horse");
    await page.click("#list");
    await page.locator("#files-empty").getByText("no files").waitFor({ timeout: STEP_MS });
    await page.fill("#folder", downloads);
    await page.setInputFiles("#files-input", [small]);
    await waitRows(page, "done", 1);
    assert.ok(await sameBytes(small, join(shared, "secret.txt")));
    await page.click("#refresh");
    await page.getByRole("button", { name: "Get secret.txt" }).click();
    await waitRows(page, "done", 2);
    assert.ok(await sameBytes(small, join(downloads, "secret.txt")));
    await serverPage.click("#quit");
    await page.click("#quit");
  },
);
