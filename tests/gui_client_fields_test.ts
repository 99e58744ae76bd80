/**
 * The client page's server fields: an empty or invalid address or port is
 * pointed at (marked, focused, its reason under it) instead of turning the
 * status red, and the TLS tick and fingerprint are remembered with the
 * address, across pages and runs. The real program and Debian's Chromium.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Page } from "npm:playwright-core@1.65.1";
import { CLIENT_TS, serveFolder, tempDir } from "./helpers.ts";
import {
  axeViolations,
  browserTest,
  fitsWindow,
  launchBrowser,
  layout,
  NARROW,
  openPage,
  startGui,
} from "./support/gui.ts";

const FINGERPRINT = Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, "0"))
  .join(":").toUpperCase();

/** The field in focus, its invalid mark and its message. */
async function pointedAt(page: Page, id: string) {
  return {
    focused: await page.evaluate("document.activeElement?.id"),
    invalid: await page.locator(`#${id}`).getAttribute("aria-invalid"),
    message: await page.locator(`#${id}-error`).textContent(),
  };
}

/** Types into a field and leaves it, as a person does, and waits for the settings to be kept. */
async function change(page: Page, selector: string, value: string | boolean): Promise<void> {
  const saved = page.waitForResponse((response) => response.url().endsWith("/api/settings"));
  if (typeof value === "boolean") await page.setChecked(selector, value);
  else {
    await page.fill(selector, value);
    await page.locator(selector).dispatchEvent("change");
  }
  await saved;
}

browserTest(
  "client page: an empty or invalid address or port is pointed at, not a red status; the TLS tick and fingerprint are remembered with the address",
  async () => {
    await using dir = await tempDir();
    const { shared, config } = await layout(dir.path);
    await using server = serveFolder(shared);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const closed = listener.addr.port;
    listener.close();
    await using browser = await launchBrowser();
    {
      await using gui = await startGui(CLIENT_TS, config);
      const page = await openPage(browser, gui.url);

      // No address: the address field says so; the status is not an error.
      await page.fill("#port", String(server.port));
      await page.click("#list");
      assert.deepEqual(await pointedAt(page, "host"), {
        focused: "host",
        invalid: "true",
        message: "Type the server's address, as its page shows it",
      });
      assert.notEqual(await page.locator("#status").getAttribute("data-state"), "error");
      assert.equal(await page.locator("#server-error").textContent(), "");
      await page.setViewportSize(NARROW);
      await fitsWindow(page, "client page, an address to correct");
      assert.deepEqual(await axeViolations(page), []);
      await page.setViewportSize({ width: 1280, height: 900 });

      // An address with a space inside, one 256 characters long: the address field.
      await page.fill("#host", "127.0.0 .1");
      await page.click("#list");
      assert.equal(
        (await pointedAt(page, "host")).message,
        "An address has no spaces: type it as the server's page shows it",
      );
      await page.fill("#host", "a".repeat(256));
      await page.click("#list");
      assert.equal(
        (await pointedAt(page, "host")).message,
        "An address is at most 255 characters long",
      );

      // A port one past the last, then none: the port field each time.
      await page.fill("#host", "127.0.0.1");
      await page.fill("#port", "65536");
      await page.click("#list");
      assert.deepEqual(await pointedAt(page, "port"), {
        focused: "port",
        invalid: "true",
        message: "A port is a whole number from 1 to 65535",
      });
      assert.equal(await page.locator("#host").getAttribute("aria-invalid"), null);
      await page.fill("#port", "");
      await page.click("#list");
      assert.equal(
        (await pointedAt(page, "port")).message,
        "Type the server's port, as its page shows it",
      );
      assert.notEqual(await page.locator("#status").getAttribute("data-state"), "error");

      // The last port there is, and a real server: the marks go, it lists.
      await page.fill("#port", "65535");
      await page.click("#list");
      assert.equal(await page.locator("#port").getAttribute("aria-invalid"), null);
      await page.fill("#port", String(server.port));
      await page.click("#list");
      await page.locator("#files-empty", { hasText: "no files" }).waitFor();
      assert.equal(await page.locator("#port-error").textContent(), "");

      // TLS and a fingerprint for an address where nothing listens (a plain server would have
      // the page untick TLS for the user); the plain server's address has its own (none).
      await change(page, "#port", String(closed));
      assert.equal(await page.isChecked("#tls"), false);
      await change(page, "#tls", true);
      await change(page, "#fingerprint", FINGERPRINT);
      await change(page, "#port", String(server.port));
      assert.equal(await page.isChecked("#tls"), false);
      assert.equal(await page.inputValue("#fingerprint"), "");
      await change(page, "#port", String(closed));
      assert.equal(await page.isChecked("#tls"), true);
      assert.equal(await page.inputValue("#fingerprint"), FINGERPRINT);
      // The same port on another host name is another server.
      await change(page, "#host", "127.0.0.2");
      assert.equal(await page.isChecked("#tls"), false);
      await change(page, "#host", "127.0.0.1");
      assert.equal(await page.isChecked("#tls"), true);
      await page.close();
    }

    // The next run opens on the address with its TLS tick and fingerprint.
    await using gui = await startGui(CLIENT_TS, config);
    const page = await openPage(browser, gui.url);
    assert.equal(await page.inputValue("#host"), "127.0.0.1");
    assert.equal(await page.inputValue("#port"), String(closed));
    assert.equal(await page.isChecked("#tls"), true);
    assert.equal(await page.inputValue("#fingerprint"), FINGERPRINT);
  },
);
