/**
 * The web page as a phone meets it, in Chromium emulating a Pixel 7 (its
 * viewport, touch and user agent): the QR code's address opened, the folder
 * listed and opened, a file and a folder downloaded byte for byte (the .zip
 * read by Python's zipfile), files and folders uploaded and checked on disk,
 * an upload cut halfway and resumed, names that exist (Keep both, Skip), a
 * read-only server, a password server, axe-core on the main states, and the
 * page of `server.ts --web` under README's permission sets.
 *
 * Set PRIVATESHARE_SCREENSHOTS=1 to save the phone's page as docs/web_phone.png.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Page } from "npm:playwright-core@1.65.1";
import { ROOT, sameBytes, tempDir, until, writeRandomFile } from "./helpers.ts";
import { makeCertificate } from "./security_helpers.ts";
import { accessible, browserTest, fitsWindow, NARROW, STEP_MS } from "./support/gui.ts";
import {
  launchPhone,
  openPhonePage,
  PHONE,
  servePage,
  startCliPage,
  startCuttingRelay,
  uploadRows,
} from "./support/phone.ts";
import { shortCode } from "../lib/net/short_code.ts";

const MiB = 1024 * 1024;
/** An upload takes longer than a click: 64 MiB hashed and sent on a busy machine. */
const UPLOAD_MS = 4 * STEP_MS;

/** The names the page lists, in order. */
function listed(page: Page): Promise<string[]> {
  return page.locator("#entries .name").allTextContents();
}

/** Waits until the page lists exactly these names, in this order. */
async function lists(page: Page, names: string[]): Promise<void> {
  await until(async () => JSON.stringify(await listed(page)) === JSON.stringify(names), STEP_MS)
    .catch(() => {});
  assert.deepEqual(await listed(page), names);
}

/** The names in a folder on disk, sorted. */
async function namesOf(path: string): Promise<string[]> {
  const names = [];
  for await (const entry of Deno.readDir(path)) names.push(entry.name);
  return names.sort();
}

/** Checks a .zip with Python's zipfile: its CRCs, and each file against the folder it came from. */
async function checkZip(zip: string, folder: string): Promise<string[]> {
  const script = `
import json, os, sys, zipfile
archive = zipfile.ZipFile(sys.argv[1])
assert archive.testzip() is None, "a bad CRC"
files = [i for i in archive.infolist() if not i.is_dir()]
names = [i.filename for i in files]
top = os.path.basename(sys.argv[2]) + "/"
base = os.path.dirname(sys.argv[2]) if names and all(n.startswith(top) for n in names) else sys.argv[2]
for info in files:
    with open(os.path.join(base, info.filename), "rb") as original:
        assert archive.read(info) == original.read(), info.filename
print(json.dumps(sorted(n[len(top):] if base != sys.argv[2] else n for n in names)))
`;
  const run = await new Deno.Command("python3", { args: ["-c", script, zip, folder] }).output();
  const stderr = new TextDecoder().decode(run.stderr);
  assert.equal(run.code, 0, `Python's zipfile refused the .zip: ${stderr}`);
  return JSON.parse(new TextDecoder().decode(run.stdout));
}

/** Saves the phone's page into docs/ when asked. */
async function screenshot(page: Page): Promise<void> {
  if (!Deno.env.get("PRIVATESHARE_SCREENSHOTS")) return;
  await page.setViewportSize(PHONE.viewport);
  await page.screenshot({ path: join(ROOT, "docs", "web_phone.png"), fullPage: true });
}

browserTest(
  "a phone opens the QR code's address, lists folders first, opens a folder (Back returns), and downloads a file and a folder byte for byte",
  async () => {
    await using dir = await tempDir();
    const shared = join(dir.path, "Shared");
    await Deno.mkdir(join(shared, "Trip", "day 2"), { recursive: true });
    await Deno.mkdir(join(shared, "Empty"));
    await writeRandomFile(join(shared, "Trip", "photo.jpg"), 3 * MiB + 7, 2);
    await Deno.writeTextFile(join(shared, "Trip", "day 2", "été.txt"), "soleil\n");
    await Deno.writeFile(join(shared, "Trip", "empty.bin"), new Uint8Array());
    await writeRandomFile(join(shared, "notes.bin"), MiB + 3, 3);
    await Deno.writeTextFile(join(shared, "a.txt"), "a\n");
    await using served = servePage(shared);
    await using phone = await launchPhone();

    const page = await openPhonePage(phone, served.url);
    assert.equal(new URL(page.url()).search, "", "the token leaves the address bar");
    await lists(page, ["Empty", "Trip", "a.txt", "notes.bin"]);
    assert.equal(await page.locator("#name").textContent(), "privateshare");
    await fitsWindow(page, "listing on a phone");

    await page.locator("#entries a.open", { hasText: "Trip" }).tap();
    await page.waitForURL(/#\/Trip$/, { timeout: STEP_MS });
    await lists(page, ["day 2", "empty.bin", "photo.jpg"]);
    assert.deepEqual(await page.locator("#crumbs li").allTextContents(), ["privateshare", "Trip"]);

    const [file] = await Promise.all([
      page.waitForEvent("download", { timeout: STEP_MS }),
      page.locator("#entries a.open", { hasText: "photo.jpg" }).tap(),
    ]);
    assert.equal(file.suggestedFilename(), "photo.jpg");
    await file.saveAs(join(dir.path, "photo.jpg"));
    assert.ok(await sameBytes(join(dir.path, "photo.jpg"), join(shared, "Trip", "photo.jpg")));

    await page.goBack();
    await lists(page, ["Empty", "Trip", "a.txt", "notes.bin"]);
    const [zip] = await Promise.all([
      page.waitForEvent("download", { timeout: STEP_MS }),
      page.getByRole("link", { name: "Download Trip as .zip" }).tap(),
    ]);
    assert.equal(zip.suggestedFilename(), "Trip.zip");
    await zip.saveAs(join(dir.path, "Trip.zip"));
    assert.deepEqual(await checkZip(join(dir.path, "Trip.zip"), join(shared, "Trip")), [
      "day 2/été.txt",
      "empty.bin",
      "photo.jpg",
    ]);
    await accessible(page, "listing");
  },
);

browserTest(
  "a phone sends a 64 MiB file and a folder into the folder it shows, and both land byte for byte",
  async () => {
    await using dir = await tempDir();
    const shared = join(dir.path, "Shared");
    const source = join(dir.path, "Files");
    await Deno.mkdir(join(shared, "Inbox"), { recursive: true });
    await Deno.mkdir(join(source, "Album", "raw"), { recursive: true });
    const big = join(source, "video.mp4");
    await writeRandomFile(big, 64 * MiB + 12345, 4);
    await writeRandomFile(join(source, "Album", "one.jpg"), 2 * MiB + 1, 5);
    await writeRandomFile(join(source, "Album", "raw", "two.dng"), 5 * MiB, 6);
    await Deno.writeFile(join(source, "Album", "raw", "empty.txt"), new Uint8Array());
    await using served = servePage(shared);
    await using phone = await launchPhone();
    const page = await openPhonePage(phone, served.url);
    await page.locator("#send").waitFor({ timeout: STEP_MS });
    await accessible(page, "nothing sent yet");

    const [chooser] = await Promise.all([
      page.waitForEvent("filechooser", { timeout: STEP_MS }),
      page.getByRole("button", { name: "Send files" }).tap(),
    ]);
    await chooser.setFiles(big);
    await uploadRows(page, "done", "video.mp4").waitFor({ timeout: UPLOAD_MS });
    assert.ok(await sameBytes(join(shared, "video.mp4"), big), "the 64 MiB file, byte for byte");
    await lists(page, ["Inbox", "video.mp4"]);

    await page.locator("#entries a.open", { hasText: "Inbox" }).tap();
    await lists(page, []);
    await page.locator("#folder-input").setInputFiles(join(source, "Album"));
    for (const name of ["Album/one.jpg", "Album/raw/two.dng", "Album/raw/empty.txt"]) {
      await uploadRows(page, "done", name).waitFor({ timeout: UPLOAD_MS });
    }
    await lists(page, ["Album"]);
    const album = join(shared, "Inbox", "Album");
    assert.deepEqual(await namesOf(album), ["one.jpg", "raw"]);
    assert.deepEqual(await namesOf(join(album, "raw")), ["empty.txt", "two.dng"]);
    for (const name of ["one.jpg", "raw/two.dng", "raw/empty.txt"]) {
      assert.ok(await sameBytes(join(album, name), join(source, "Album", name)), name);
    }
    // A file dropped on the page goes into the folder shown too.
    // Written as a string: this file is type-checked without the DOM's types.
    const dropped = await page.evaluateHandle(`(() => {
      const data = new DataTransfer();
      data.items.add(new File(["dropped on the page\\n"], "dropped.txt", { type: "text/plain" }));
      return data;
    })()`);
    await page.dispatchEvent("#entries", "drop", { dataTransfer: dropped });
    await uploadRows(page, "done", "dropped.txt").waitFor({ timeout: STEP_MS });
    assert.equal(
      await Deno.readTextFile(join(shared, "Inbox", "dropped.txt")),
      "dropped on the page\n",
    );
    await screenshot(page);
    await page.setViewportSize(NARROW);
    await fitsWindow(page, "uploads done");
    await accessible(page, "uploads done");
  },
);

browserTest(
  "an upload cut halfway resumes: Resume sends only the rest, so does choosing the same file after a reload, another file of its name starts again, and Cancel leaves nothing",
  async () => {
    await using dir = await tempDir();
    const shared = join(dir.path, "Shared");
    const source = join(dir.path, "Files");
    await Deno.mkdir(shared);
    await Deno.mkdir(source);
    const big = join(source, "big.bin");
    const second = join(source, "second.bin");
    await writeRandomFile(big, 64 * MiB, 7);
    await writeRandomFile(second, 24 * MiB + 5, 8);
    await using served = servePage(shared);
    // The phone reaches the page through a relay at 127.0.0.2 that cuts it, as a phone that
    // leaves the Wi-Fi: fault injection on a real connection.
    await using relay = startCuttingRelay(served.server.web!.addr.port);
    await using phone = await launchPhone();
    const page = await openPhonePage(phone, served.server.web!.url("127.0.0.2"));

    const cut = relay.cutAfter(32 * MiB);
    await page.locator("#files-input").setInputFiles(big);
    await cut;
    await uploadRows(page, "cut", "big.bin").waitFor({ timeout: UPLOAD_MS });
    assert.deepEqual(
      await namesOf(shared).then((names) => names.filter((n) => n === "big.bin")),
      [],
    );
    await accessible(page, "an upload cut off");
    relay.mend();
    const before = relay.up();
    await page.getByRole("button", { name: "Resume: big.bin" }).tap();
    await uploadRows(page, "done", "big.bin").waitFor({ timeout: UPLOAD_MS });
    const detail = await uploadRows(page, "done", "big.bin").locator(".detail").textContent();
    assert.match(detail ?? "", /resumed at \d/);
    const sent = relay.up() - before;
    assert.ok(sent < 40 * MiB, `Resume sent ${(sent / MiB).toFixed(1)} MiB of 64`);
    assert.ok(await sameBytes(join(shared, "big.bin"), big));

    const cutAgain = relay.cutAfter(8 * MiB);
    await page.locator("#files-input").setInputFiles(second);
    await cutAgain;
    await uploadRows(page, "cut", "second.bin").waitFor({ timeout: UPLOAD_MS });
    relay.mend();
    await page.reload();
    await page.locator("#loading").waitFor({ state: "hidden", timeout: STEP_MS });
    const beforeReload = relay.up();
    await page.locator("#files-input").setInputFiles(second);
    await uploadRows(page, "done", "second.bin").waitFor({ timeout: UPLOAD_MS });
    const again = await uploadRows(page, "done", "second.bin").locator(".detail").textContent();
    assert.match(again ?? "", /resumed at \d/);
    assert.ok(relay.up() - beforeReload < 20 * MiB, "only the rest after a reload");
    assert.ok(await sameBytes(join(shared, "second.bin"), second));

    // Another file of the same name and size: what the server holds is not its start (the
    // digests differ), so it starts again from the first byte.
    const other = join(dir.path, "Other", "second.bin");
    await Deno.mkdir(join(dir.path, "Other"));
    await writeRandomFile(other, 24 * MiB + 5, 9);
    await Deno.remove(join(shared, "second.bin"));
    const cutOther = relay.cutAfter(8 * MiB);
    await page.locator("#files-input").setInputFiles(second);
    await cutOther;
    await uploadRows(page, "cut", "second.bin").waitFor({ timeout: UPLOAD_MS });
    relay.mend();
    await page.reload();
    await page.locator("#loading").waitFor({ state: "hidden", timeout: STEP_MS });
    await page.locator("#files-input").setInputFiles(other);
    await uploadRows(page, "done", "second.bin").waitFor({ timeout: UPLOAD_MS });
    const restarted = await uploadRows(page, "done", "second.bin").locator(".detail")
      .textContent();
    assert.doesNotMatch(restarted ?? "", /resumed/);
    assert.ok(await sameBytes(join(shared, "second.bin"), other), "the other file, whole");

    // Cancel, while the network stalls: the row says so, neutrally, and the server keeps nothing.
    const third = join(source, "third.bin");
    await writeRandomFile(third, 24 * MiB, 10);
    const stalled = relay.holdAfter(8 * MiB);
    await page.locator("#files-input").setInputFiles(third);
    await stalled;
    await page.getByRole("button", { name: "Cancel: third.bin" }).tap();
    relay.mend();
    await uploadRows(page, "cancelled", "third.bin").waitFor({ timeout: STEP_MS });
    assert.equal(
      await uploadRows(page, "cancelled", "third.bin").locator(".detail").textContent(),
      "Cancelled",
    );
    await until(async () => (await namesOf(shared)).length === 2, STEP_MS).catch(() => {});
    assert.deepEqual(await namesOf(shared), ["big.bin", "second.bin"], "no partial file left");
  },
);

browserTest(
  "an upload damaged on the way is refused by the server's SHA-256 check: the row says so, nothing appears, and Try again sends it whole",
  async () => {
    await using dir = await tempDir();
    const shared = join(dir.path, "Shared");
    await Deno.mkdir(shared);
    const photo = join(dir.path, "photo.jpg");
    await writeRandomFile(photo, 12 * MiB, 13);
    await using served = servePage(shared);
    await using relay = startCuttingRelay(served.server.web!.addr.port);
    await using phone = await launchPhone();
    const page = await openPhonePage(phone, served.server.web!.url("127.0.0.2"));

    // A bit flipped inside the PUT's body, 6 MiB in: fault injection that TCP missed.
    relay.flipAfter(6 * MiB);
    await page.locator("#files-input").setInputFiles(photo);
    const failed = uploadRows(page, "failed", "photo.jpg");
    await failed.waitFor({ timeout: UPLOAD_MS });
    // The server's own sentence, shown by the row.
    assert.match(
      await failed.locator(".detail").textContent() ?? "",
      /^The file the server received does not match the page's SHA-256/,
    );
    assert.deepEqual(await namesOf(shared), [], "nothing appears, and no partial is kept");
    await accessible(page, "an upload refused as damaged");
    await page.getByRole("button", { name: "Try again: photo.jpg" }).tap();
    await uploadRows(page, "done", "photo.jpg").waitFor({ timeout: UPLOAD_MS });
    assert.ok(await sameBytes(join(shared, "photo.jpg"), photo));
  },
);

browserTest(
  "a name that exists is never replaced: Keep both keeps both, Skip sends nothing, and a folder's choice holds for all its files",
  async () => {
    await using dir = await tempDir();
    const shared = join(dir.path, "Shared");
    const source = join(dir.path, "Files");
    await Deno.mkdir(join(shared, "Trip"), { recursive: true });
    await Deno.mkdir(join(source, "Trip"), { recursive: true });
    await Deno.writeTextFile(join(shared, "same.txt"), "old\n");
    await Deno.writeTextFile(join(source, "same.txt"), "new\n");
    for (const name of ["a.txt", "b.txt"]) {
      await Deno.writeTextFile(join(shared, "Trip", name), `old ${name}\n`);
    }
    for (const name of ["a.txt", "b.txt", "c.txt"]) {
      await Deno.writeTextFile(join(source, "Trip", name), `new ${name}\n`);
    }
    await using served = servePage(shared);
    await using phone = await launchPhone();
    const page = await openPhonePage(phone, served.url);
    const files = page.locator("#files-input");
    const folder = page.locator("#folder-input");
    const text = (path: string) => Deno.readTextFile(join(shared, path));

    await files.setInputFiles(join(source, "same.txt"));
    const asking = uploadRows(page, "asking", "same.txt");
    await asking.waitFor({ timeout: STEP_MS });
    assert.equal(
      await asking.locator(".detail").textContent(),
      "A file named “same.txt” is already here",
    );
    await accessible(page, "a name that exists");
    await page.getByRole("button", { name: "Keep both: same.txt" }).tap();
    await uploadRows(page, "done", "same.txt").waitFor({ timeout: STEP_MS });
    assert.match(
      await uploadRows(page, "done", "same.txt").locator(".detail").textContent() ?? "",
      /saved as same \(2\)\.txt$/,
    );
    assert.equal(await text("same.txt"), "old\n");
    assert.equal(await text("same (2).txt"), "new\n");

    await files.setInputFiles(join(source, "same.txt"));
    await uploadRows(page, "asking", "same.txt").waitFor({ timeout: STEP_MS });
    await page.getByRole("button", { name: "Skip: same.txt" }).tap();
    await uploadRows(page, "skipped", "same.txt").waitFor({ timeout: STEP_MS });
    assert.deepEqual(await namesOf(shared), ["Trip", "same (2).txt", "same.txt"]);

    // A folder whose name exists: Keep both makes "Trip (2)" with every file.
    await folder.setInputFiles(join(source, "Trip"));
    await uploadRows(page, "asking", "Trip/").waitFor({ timeout: STEP_MS });
    await page.getByRole("button", { name: "Keep both: Trip/" }).tap();
    await uploadRows(page, "done", "Trip/c.txt").waitFor({ timeout: STEP_MS });
    await until(async () => (await uploadRows(page, "done").count()) === 5, STEP_MS);
    assert.deepEqual(await namesOf(join(shared, "Trip (2)")), ["a.txt", "b.txt", "c.txt"]);
    assert.equal(await text("Trip (2)/a.txt"), "new a.txt\n");

    // Added to it: Skip all skips every file that exists and sends the others.
    await folder.setInputFiles(join(source, "Trip"));
    await uploadRows(page, "asking", "Trip/").waitFor({ timeout: STEP_MS });
    await page.getByRole("button", { name: "Add to it: Trip/" }).tap();
    await uploadRows(page, "asking", "Trip/a.txt").waitFor({ timeout: STEP_MS });
    await page.getByRole("button", { name: "Skip all: Trip/a.txt" }).tap();
    await until(async () => (await uploadRows(page, "skipped").count()) === 3, STEP_MS);
    await uploadRows(page, "done", "Trip/c.txt").nth(1).waitFor({ timeout: STEP_MS });
    assert.deepEqual(await namesOf(join(shared, "Trip")), ["a.txt", "b.txt", "c.txt"]);
    assert.equal(await text("Trip/a.txt"), "old a.txt\n");
    assert.equal(await text("Trip/b.txt"), "old b.txt\n");
    assert.equal(await text("Trip/c.txt"), "new c.txt\n");

    // Added to it again: Keep both for all keeps every file and the ones there.
    await folder.setInputFiles(join(source, "Trip"));
    await uploadRows(page, "asking", "Trip/").waitFor({ timeout: STEP_MS });
    await page.getByRole("button", { name: "Add to it: Trip/" }).tap();
    await uploadRows(page, "asking", "Trip/a.txt").waitFor({ timeout: STEP_MS });
    await page.getByRole("button", { name: "Keep both for all: Trip/a.txt" }).tap();
    await until(async () => (await namesOf(join(shared, "Trip"))).length === 6, STEP_MS);
    assert.deepEqual(await namesOf(join(shared, "Trip")), [
      "a (2).txt",
      "a.txt",
      "b (2).txt",
      "b.txt",
      "c (2).txt",
      "c.txt",
    ]);
    assert.equal(await text("Trip/a.txt"), "old a.txt\n");
    assert.equal(await text("Trip/a (2).txt"), "new a.txt\n");
  },
);

browserTest("a read-only server's page lists and downloads, and offers no upload", async () => {
  await using dir = await tempDir();
  const shared = join(dir.path, "Shared");
  await Deno.mkdir(shared);
  await Deno.writeTextFile(join(shared, "menu.txt"), "soup\n");
  await using served = servePage(shared, { readOnly: true });
  await using phone = await launchPhone();
  const page = await openPhonePage(phone, served.url);
  await lists(page, ["menu.txt"]);
  assert.equal(await page.locator("#read-only").isVisible(), true);
  assert.equal(await page.locator("#send").isVisible(), false);
  assert.equal(await page.getByRole("button", { name: "Send files" }).isVisible(), false);
  await accessible(page, "read-only");
});

browserTest(
  "a download the server refuses says why on the page: a file gone since the listing, a browser let out by a restart",
  async () => {
    await using dir = await tempDir();
    await Deno.writeTextFile(join(dir.path, "gone.txt"), "soon gone\n");
    await Deno.writeTextFile(join(dir.path, "kept.txt"), "kept\n");
    const served = servePage(dir.path);
    await using phone = await launchPhone();
    const page = await openPhonePage(phone, served.url);
    await lists(page, ["gone.txt", "kept.txt"]);
    await Deno.remove(join(dir.path, "gone.txt"));
    await page.locator("#entries a.open", { hasText: "gone.txt" }).tap();
    await page.locator("#list-error", { hasText: /"gone\.txt" is no longer on the server/ })
      .waitFor({ timeout: STEP_MS });
    // (The list shown again may still name it for up to a second: the store keeps a folder's
    // listing that long, and sees only its own changes at once.)
    await accessible(page, "a download refused");
    // The server restarts on the same port: the page's session is gone with it.
    const port = served.server.web!.addr.port;
    await served[Symbol.asyncDispose]();
    await using again = servePage(dir.path, { web: { port, host: "127.0.0.1" } });
    assert.equal(again.server.web!.addr.port, port);
    await page.locator("#entries a.open", { hasText: "kept.txt" }).tap();
    await page.locator("#list-error", { hasText: /open the server's address with its key again/ })
      .waitFor({ timeout: STEP_MS });
  },
);

browserTest(
  "the address without its key, or with a key one character off, shows how to get in and nothing of the folder",
  async () => {
    await using dir = await tempDir();
    await Deno.writeTextFile(join(dir.path, "secret.txt"), "no\n");
    await using served = servePage(dir.path, { web: { port: 0, host: "127.0.0.1", name: "Desk" } });
    await using phone = await launchPhone();
    const page = await phone.newPage();
    const bare = served.url.replace(/\?t=.*$/, "");
    const last = served.url.at(-1) === "A" ? "B" : "A";
    for (
      const [url, status, says] of [
        [bare, 401, /Open the address with its key: scan/],
        [served.url.slice(0, -1) + last, 403, /address.s key is not valid/],
      ] as const
    ) {
      const response = await page.goto(url);
      assert.equal(response?.status(), status);
      await page.getByRole("heading", { name: "Open the address with its key" }).waitFor();
      assert.match(await page.locator("#key-message").innerText(), says);
      assert.equal(await page.locator("#name").innerText(), "Desk");
      assert.equal(await page.getByText("secret.txt").count(), 0);
      await accessible(page, `no key (${status})`);
    }
  },
);

browserTest(
  "a password server: the sign-in form, a wrong password says why, the right one opens the page with the code to compare, and the limit holds",
  async () => {
    await using dir = await tempDir();
    const shared = join(dir.path, "Shared");
    await Deno.mkdir(shared);
    await Deno.writeTextFile(join(shared, "secret.txt"), "top secret\n");
    const cert = await makeCertificate(dir.path);
    // A name with markup in it shows as the text it is.
    const name = "Kitchen <b>laptop</b> & co";
    await using served = servePage(shared, {
      web: { port: 0, host: "127.0.0.1", name },
      tls: { cert: cert.cert, key: cert.key },
      password: "sesame",
      authLimits: { delayMs: 1, maxDelayMs: 1, banAfter: 3, banMs: 600_000 },
    });
    assert.match(served.url, /^https:\/\/127\.0\.0\.1:\d+\/$/, "no token in a password server's");
    await using phone = await launchPhone({ https: true });
    const page = await phone.newPage();
    await page.goto(served.url);
    await page.locator("#password").waitFor({ timeout: STEP_MS });
    assert.equal(await page.locator("#password-error").textContent(), "");
    // The code to compare comes before the password is typed.
    assert.equal(await page.locator("#code").textContent(), shortCode(cert.fingerprint));
    assert.equal(await page.locator("#name").textContent(), name);
    await accessible(page, "sign-in");

    await page.fill("#password", "Sesame");
    await page.getByRole("button", { name: "Sign in" }).tap();
    await page.locator("#password-error").getByText("Wrong password").waitFor({
      timeout: STEP_MS,
    });
    await accessible(page, "sign-in, a wrong password");
    await page.fill("#password", "sesame");
    await page.getByRole("button", { name: "Sign in" }).tap();
    await page.locator("#loading").waitFor({ state: "hidden", timeout: STEP_MS });
    await lists(page, ["secret.txt"]);
    assert.equal(await page.locator("#code").textContent(), shortCode(cert.fingerprint));
    assert.ok(await page.locator("#code-line").isVisible());
    assert.equal(await page.locator("#name").textContent(), name);
    await accessible(page, "signed in over TLS");

    // Another phone at the same address: three wrong passwords, then even the right one waits.
    await using other = await launchPhone({ https: true });
    const guess = await other.newPage();
    await guess.goto(served.url);
    const refusals = () =>
      served.events.filter((e) => e.type === "auth-failed" || e.type === "auth-banned").length;
    for (const [i, password] of ["sesam", "sesame ", "sesamE"].entries()) {
      await guess.fill("#password", password);
      await guess.getByRole("button", { name: "Sign in" }).tap();
      // The first phone's wrong password was the first refusal.
      await until(() => refusals() === i + 2, STEP_MS);
      await guess.locator("#password").waitFor({ timeout: STEP_MS });
    }
    assert.equal(served.events.filter((e) => e.type === "auth-banned").length, 1);
    await guess.fill("#password", "sesame");
    await guess.getByRole("button", { name: "Sign in" }).tap();
    await guess.locator("#password-error")
      .getByText(/^Too many wrong passwords from your address: try again in \d+ min$/)
      .waitFor({ timeout: STEP_MS });
    assert.equal(await guess.locator("#entries").count(), 0, "not signed in");
  },
);

for (
  const [perms, uploads] of [
    [["--allow-net", "--allow-read"], false],
    [["--allow-net", "--allow-read", "--allow-write"], true],
  ] as const
) {
  browserTest(
    `the page of server.ts --web under README's ${perms.join(" ")}: a phone lists and downloads` +
      (uploads ? ", and sends a file" : ", and is offered no upload"),
    async () => {
      await using dir = await tempDir();
      const shared = join(dir.path, "Shared");
      await Deno.mkdir(shared);
      await Deno.mkdir(join(dir.path, "config"));
      await writeRandomFile(join(shared, "photo.jpg"), 2 * MiB + 1, 11);
      await using cli = await startCliPage(shared, perms, join(dir.path, "config"));
      await using phone = await launchPhone();
      const page = await openPhonePage(phone, cli.url);
      await lists(page, ["photo.jpg"]);
      const [file] = await Promise.all([
        page.waitForEvent("download", { timeout: STEP_MS }),
        page.locator("#entries a.open", { hasText: "photo.jpg" }).tap(),
      ]);
      await file.saveAs(join(dir.path, "photo.jpg"));
      assert.ok(await sameBytes(join(dir.path, "photo.jpg"), join(shared, "photo.jpg")));
      if (!uploads) {
        assert.equal(await page.locator("#send").isVisible(), false);
        return;
      }
      const source = join(dir.path, "clip.mov");
      await writeRandomFile(source, 5 * MiB + 3, 12);
      await page.locator("#files-input").setInputFiles(source);
      await uploadRows(page, "done", "clip.mov").waitFor({ timeout: UPLOAD_MS });
      assert.ok(await sameBytes(join(shared, "clip.mov"), source));
      await lists(page, ["clip.mov", "photo.jpg"]);
    },
  );
}
