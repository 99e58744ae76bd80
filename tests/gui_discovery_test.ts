/**
 * Finding a server on the pages, end to end (issue 23), in a network
 * namespace of the test's own (never on the host's network): the server page
 * announces by default under its name, the client page shows it under "On
 * this network" as it appears, one click asks whether the server shows the
 * code the server page shows, Trust lists it, a get saves the file byte for
 * byte, and when the server stops it leaves the list. Chromium runs in the
 * namespace too, through `ip netns exec`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { CLIENT_TS, SERVER_TS, tempDir } from "./helpers.ts";
import { launchBrowser, openPage, rows, startGui, STEP_MS, within } from "./support/gui.ts";
import { makeNetns, NETNS_UNAVAILABLE } from "./support/netns.ts";

const ignored = NETNS_UNAVAILABLE === undefined ? "" : ` (ignored: ${NETNS_UNAVAILABLE})`;

Deno.test({
  name: "pages on one network: the server page announces by default, the client page shows it " +
    "as it appears, one click asks about the code the server page shows, Trust lists it, a get " +
    "is byte for byte, and a stopped server leaves the list" + ignored,
  ignore: NETNS_UNAVAILABLE !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    within(240_000, async () => {
      await using ns = makeNetns();
      await using dir = await tempDir();
      const shared = join(dir.path, "Shared");
      const downloads = join(dir.path, "Downloads");
      await Deno.mkdir(shared);
      await Deno.mkdir(downloads);
      const photo = crypto.getRandomValues(new Uint8Array(60_000));
      await Deno.writeFile(join(shared, "beach.jpg"), photo);
      const wrap = { wrap: ns.wrap };
      await using serverGui = await startGui(
        SERVER_TS,
        join(dir.path, "server-config"),
        undefined,
        wrap,
      );
      await using clientGui = await startGui(
        CLIENT_TS,
        join(dir.path, "client-config"),
        undefined,
        wrap,
      );
      await using browser = await launchBrowser(ns.wrap);

      const server = await openPage(browser, serverGui.url);
      assert.equal(await server.isChecked("#tls"), true, "TLS is ticked on a first run");
      assert.equal(await server.isChecked("#announce"), true, "announcing is ticked");
      await server.fill("#root", shared);
      await server.fill("#port", "0");
      await server.fill("#name", "Attic box");
      await server.click("#start");
      await server.locator("#status").getByText("Running").waitFor({ timeout: STEP_MS });
      const code = (await server.locator("#short-code").textContent()) ?? "";
      assert.match(code, /^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
      // The log sits folded; its line is there.
      await server.locator("#log").getByText("Announced on this network as 'Attic box'")
        .waitFor({ state: "attached", timeout: STEP_MS });

      // Nothing typed: the server appears, with the code it announces, and one click connects.
      const client = await openPage(browser, clientGui.url);
      await client.fill("#folder", downloads);
      const entry = client.locator("#nearby li", { hasText: "Attic box" });
      await entry.waitFor({ timeout: STEP_MS });
      assert.match((await entry.textContent()) ?? "", new RegExp(code));
      await entry.getByRole("button", { name: /^Connect to Attic box at / }).click();
      const dialog = client.locator("dialog.trust");
      await dialog.waitFor({ timeout: STEP_MS });
      assert.equal(
        await dialog.getByRole("heading").textContent(),
        `Does the server show ${code}?`,
        "the code of the certificate seen is the one the server page shows",
      );
      await dialog.getByRole("button", { name: "Trust" }).click();
      await client.getByRole("button", { name: "Get beach.jpg" }).click();
      await rows(client, "done", "beach.jpg").waitFor({ timeout: STEP_MS });
      assert.deepEqual(await Deno.readFile(join(downloads, "beach.jpg")), photo);

      // Stopped, the server says goodbye and leaves the list at once.
      await server.click("#stop");
      await server.locator("#status").getByText("Stopped", { exact: true }).waitFor({
        timeout: STEP_MS,
      });
      await entry.filter({ hasNotText: "reachable" }).waitFor({
        state: "detached",
        timeout: STEP_MS,
      });
      await client.click("#quit");
      await server.click("#quit");
    }),
});

Deno.test({
  name: "server page on a network: with the name left empty it states the name it is announced " +
    "under (this computer's), never 'without a name'" + ignored,
  ignore: NETNS_UNAVAILABLE !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    within(240_000, async () => {
      await using ns = makeNetns();
      await using dir = await tempDir();
      const shared = join(dir.path, "Shared");
      await Deno.mkdir(shared);
      await using serverGui = await startGui(
        SERVER_TS,
        join(dir.path, "server-config"),
        undefined,
        { wrap: ns.wrap },
      );
      await using browser = await launchBrowser(ns.wrap);
      const server = await openPage(browser, serverGui.url);
      await server.fill("#root", shared);
      await server.fill("#port", "0");
      await server.fill("#name", "");
      await server.click("#start");
      await server.locator("#status").getByText("Running").waitFor({ timeout: STEP_MS });
      const name = Deno.hostname().split(".")[0]!;
      await server.locator("#log").getByText(`Announced on this network as '${name}'`)
        .waitFor({ state: "attached", timeout: STEP_MS });
      await server.locator("#fact-name").getByText(`${name}, announced on this network`, {
        exact: true,
      }).waitFor({ timeout: STEP_MS });
      await server.click("#quit");
    }),
});
