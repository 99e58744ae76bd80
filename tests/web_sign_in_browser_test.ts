// The page's access in a real browser, over HTTPS (where Chromium speaks
// HTTP/2): the token's address opens the page, and a password server's
// sign-in form says why a password was refused, then lets the right one in.

import assert from "node:assert/strict";
import { chromium } from "npm:playwright-core@1.65.1";
import { startServer } from "../lib/mod.ts";
import { tempDir, until } from "./helpers.ts";
import { makeCertificate } from "./security_helpers.ts";
import { CHROMIUM } from "./support/gui.ts";

Deno.test({
  name:
    "in Chromium over HTTPS (HTTP/2): the token opens the page; the sign-in form shows why a password was refused, signs in, and bans at the limit",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using dir = await tempDir();
    await using certs = await tempDir();
    const cert = await makeCertificate(certs.path);
    const tls = { cert: cert.cert, key: cert.key };
    const common = { port: 0, host: "127.0.0.1", idleTimeoutMs: 0, root: dir.path, tls };
    const open = startServer({ ...common, web: { port: 0, host: "127.0.0.1" } });
    const locked = startServer({
      ...common,
      web: { port: 0, host: "127.0.0.1" },
      password: "sesame",
      authLimits: { delayMs: 1, maxDelayMs: 1, banAfter: 3 },
    });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic"],
    });
    try {
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      page.setDefaultTimeout(30_000);

      // The token's address: a session, and the address without the token.
      const answer = await page.goto(open.web!.url("127.0.0.1"));
      assert.equal(answer?.status(), 200);
      assert.equal(new URL(page.url()).search, "", "the token is gone from the address bar");
      // Runs in the page, where navigation entries carry the protocol.
      const protocol = await page.evaluate(() =>
        (performance.getEntriesByType("navigation")[0] as unknown as { nextHopProtocol: string })
          .nextHopProtocol
      );
      assert.equal(protocol, "h2", "Chromium speaks HTTP/2 to the page");

      // The password server: the form, a wrong password, then the right one.
      const port = locked.web!.addr.port;
      await page.goto(locked.web!.url("127.0.0.1"));
      await page.fill("#password", "sesam");
      await page.click("button[type=submit]");
      await until(async () => /Wrong password/.test(await page.textContent("[role=alert]") ?? ""));
      await page.fill("#password", "sesame");
      await page.click("button[type=submit]");
      await page.waitForURL(`https://127.0.0.1:${port}/`);
      assert.equal(await page.locator("form[action='/sign-in']").count(), 0, "the page itself");
      const cookies = await context.cookies(`https://127.0.0.1:${port}/`);
      const session = cookies.find((c) => c.name === `privateshare_session_${port}`);
      assert.ok(session, JSON.stringify(cookies));
      assert.equal(session.httpOnly, true);
      assert.equal(session.secure, true);
      assert.equal(session.sameSite, "Strict");

      // Another browser at the same address: the limit, then banned even with the right password.
      const other = await browser.newContext({ ignoreHTTPSErrors: true });
      const guess = await other.newPage();
      guess.setDefaultTimeout(30_000);
      await guess.goto(locked.web!.url("127.0.0.1"));
      const alert = async () => await guess.textContent("[role=alert]") ?? "";
      for (
        const [password, says] of [
          ["guess1", /Wrong password/],
          ["guess2", /Wrong password/],
          ["guess3", /Wrong password/],
          ["sesame", /Too many wrong passwords from your address/],
        ] as const
      ) {
        await guess.fill("#password", password);
        await guess.click("button[type=submit]");
        await guess.waitForLoadState();
        await until(async () => says.test(await alert()));
      }
      assert.deepEqual(await other.cookies(), [], "no session for the banned address");
    } finally {
      await browser.close();
      await open.close();
      await locked.close();
    }
  },
});
