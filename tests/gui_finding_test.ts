/**
 * Finding and trusting a server on the pages (issue 23), in real Chromium:
 * the server page starts TLS by default and shows the short code of the
 * certificate it really presents, large, and one link per address with
 * Copy; the client page asks "Does the server show CODE?" about a server it
 * does not trust (Trust pins and remembers, Cancel sends nothing), follows a
 * pasted link pinned (one character off is refused and trusts nothing), and
 * lists remembered servers under "On this network", one click from a list.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { connect } from "node:tls";
import type { Page } from "npm:playwright-core@1.65.1";
import {
  formatLink,
  LinkError,
  parseFingerprint,
  parseLink,
  rememberServer,
  type ServerEvent,
  shortCode,
} from "../lib/mod.ts";
import { CLIENT_TS, serveFolder, SERVER_TS, tempDir } from "./helpers.ts";
import { makeCertificate } from "./security_helpers.ts";
import { until } from "./support/deadline.ts";
import {
  accessible,
  browserTest,
  fitsWindow,
  launchBrowser,
  NARROW,
  openPage,
  startGui,
  STEP_MS,
} from "./support/gui.ts";

/** The port a server page's running server listens on, once it runs. */
async function running(page: Page): Promise<number> {
  await page.locator("#status").getByText("Running").waitFor({ timeout: STEP_MS });
  return Number(await page.locator("#fact-port").textContent());
}

/** The SHA-256 fingerprint of the certificate a TLS client is shown on a port. */
function presented(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      resolve(parseFingerprint(socket.getPeerCertificate().fingerprint256)!);
      socket.end();
    });
    socket.on("error", reject);
  });
}

/** The requests a server was asked for (a connection that asked nothing is not one). */
function asked(events: ServerEvent[]): string[] {
  return events.flatMap((event) =>
    event.type === "request-end" && event.record.op !== "-" ? [event.record.op] : []
  );
}

/** What the known-servers file of a client's configuration remembers ("" when there is none). */
async function known(config: string): Promise<string> {
  return await Deno.readTextFile(join(config, "privateshare", "known_servers")).catch(() => "");
}

/** A served folder with one file, and a TLS server of it with a certificate of the test's. */
async function tlsServed(dir: string) {
  const shared = join(dir, "Shared");
  await Deno.mkdir(shared);
  await Deno.writeTextFile(join(shared, "notes.txt"), "Top-level file.\n");
  const cert = await makeCertificate(dir);
  const served = serveFolder(shared, {
    readOnly: true,
    tls: { certFile: cert.certFile, keyFile: cert.keyFile },
  });
  return { cert, served };
}

/** The client page, opened, with its download folder set. */
async function clientPage(
  browser: Awaited<ReturnType<typeof launchBrowser>>,
  url: string,
  downloads: string,
) {
  const page = await openPage(browser, url);
  await page.fill("#folder", downloads);
  return page;
}

const LISTED = { name: "Get notes.txt" } as const;

browserTest(
  "server page: TLS is ticked by default, the running server shows the short code of the certificate it presents and one link per address with Copy; unticked, it starts a plain server; its name is kept",
  async () => {
    await using dir = await tempDir();
    const shared = join(dir.path, "Shared");
    await Deno.mkdir(shared);
    const config = join(dir.path, "config");
    await using gui = await startGui(SERVER_TS, config);
    await using browser = await launchBrowser();
    const page = await openPage(browser, gui.url);
    assert.equal(await page.isChecked("#tls"), true, "TLS is ticked on a first run");
    // startGui leaves "Announce on this network" unticked on the host's network; its default
    // (ticked) and announcing itself are tested in a namespace (gui_discovery_test).
    assert.equal(await page.isChecked("#announce"), false, "not announcing here");
    assert.equal(await page.inputValue("#name"), Deno.hostname().split(".")[0]);

    await page.fill("#root", shared);
    await page.fill("#port", "0");
    await page.fill("#name", "attic");
    await page.click("#start");
    const port = await running(page);
    const fingerprint = await presented(port);
    const code = page.locator("#short-code");
    await code.waitFor({ timeout: STEP_MS });
    assert.equal(await code.textContent(), shortCode(fingerprint));
    const size = await code.evaluate((node) =>
      parseFloat(node.ownerDocument.defaultView!.getComputedStyle(node).fontSize)
    );
    assert.ok(size >= 28, `the code is large: ${size} px`);
    assert.equal(
      await page.locator("#fact-name").textContent(),
      "attic, not announced",
    );

    // One link per address the page lists, each to this port, pinning this certificate.
    const addresses = await page.locator("#addresses li code").allTextContents();
    const links = await page.locator("#links li code").allTextContents();
    if (addresses.length > 0 && !addresses[0]!.startsWith("port ")) {
      assert.equal(links.length, addresses.length);
      for (const [i, link] of links.entries()) {
        const parsed = parseLink(link);
        assert.equal(parsed.port, port);
        assert.equal(parsed.fingerprint, fingerprint, link);
        assert.equal(formatLink(parsed), link);
        assert.ok(addresses[i]!.includes(parsed.host), `${addresses[i]} and ${link}`);
        await page.getByRole("button", { name: `Copy the link ${link}` }).waitFor({
          timeout: STEP_MS,
        });
      }
    } else {
      assert.equal(links.length, 0, "no address, no link");
    }
    await accessible(page, "server page, TLS running with its code and links");
    await page.setViewportSize(NARROW);
    await fitsWindow(page, "server page, TLS running with its code and links");

    // Kept for the next run: TLS, the name, announcing.
    const saved = JSON.parse(
      await Deno.readTextFile(join(config, "privateshare", "server-gui.json")),
    );
    assert.equal(saved.tls, true);
    assert.equal(saved.name, "attic");
    assert.equal(saved.announce, false);

    // Unticked: a plain server, with neither code nor fingerprint; announcing unticked is kept.
    await page.click("#stop");
    await page.locator("#status").getByText("Stopped", { exact: true }).waitFor({
      timeout: STEP_MS,
    });
    await page.uncheck("#tls");
    await page.click("#start");
    const plainPort = await running(page);
    assert.equal(await page.locator("#fact-tls").textContent(), "none");
    assert.equal(await page.locator("#code-share").isHidden(), true);
    assert.equal(await page.locator("#fact-name").textContent(), "attic, not announced");
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: plainPort });
    await conn.write(new TextEncoder().encode("list"));
    const reply = new Uint8Array(64);
    const n = await conn.read(reply);
    conn.close();
    assert.notEqual(reply[0], 0x16, "a plain answer, not a TLS record");
    assert.ok((n ?? 0) >= 0);
    const after = JSON.parse(
      await Deno.readTextFile(join(config, "privateshare", "server-gui.json")),
    );
    assert.equal(after.tls, false);
    assert.equal(after.announce, false);
    await page.click("#quit");
  },
);

browserTest(
  "client page: a server not trusted yet asks whether it shows its code; Cancel sends nothing and remembers nothing; Trust lists it pinned and remembers it, and a new session lists it without asking",
  async () => {
    await using dir = await tempDir();
    const { cert, served } = await tlsServed(dir.path);
    await using _served = served;
    const downloads = join(dir.path, "Downloads");
    await Deno.mkdir(downloads);
    const config = join(dir.path, "client-config");
    await using browser = await launchBrowser();
    {
      await using gui = await startGui(CLIENT_TS, config);
      const page = await clientPage(browser, gui.url, downloads);
      await page.fill("#host", "127.0.0.1");
      await page.fill("#port", String(served.port));
      await page.check("#tls");
      await page.click("#list");
      const dialog = page.locator("dialog.trust");
      await dialog.waitFor({ timeout: STEP_MS });
      assert.equal(
        await dialog.getByRole("heading").textContent(),
        `Does the server show ${shortCode(cert.fingerprint)}?`,
      );
      assert.equal(await dialog.locator("code").textContent(), cert.fingerprint);
      assert.equal(await dialog.locator("button:focus").textContent(), "Cancel");
      await accessible(page, "client page, asked whether the server shows its code");

      await dialog.getByRole("button", { name: "Cancel" }).click();
      await dialog.waitFor({ state: "detached", timeout: STEP_MS });
      await page.locator("#server-note").getByText(/not trusted/).waitFor({ timeout: STEP_MS });
      assert.equal(await page.locator("#server-error").textContent(), "");
      assert.equal(await page.locator("#status").textContent(), "Ready", "a cancel is no error");
      assert.equal(await page.inputValue("#fingerprint"), "", "nothing pinned");
      assert.deepEqual(asked(served.events), [], "the server was asked nothing");
      assert.equal(await known(config), "", "nothing remembered");
      assert.equal(await page.getByRole("button", LISTED).count(), 0);

      await page.click("#list");
      await dialog.waitFor({ timeout: STEP_MS });
      await dialog.getByRole("button", { name: "Trust" }).click();
      await page.getByRole("button", LISTED).waitFor({ timeout: STEP_MS });
      assert.equal(await page.inputValue("#fingerprint"), cert.fingerprint);
      await until(() => asked(served.events).length >= 1, STEP_MS);
      assert.deepEqual(asked(served.events), ["list"]);
      assert.match(
        await known(config),
        new RegExp(`^127\\.0\\.0\\.1:${served.port} ${cert.fingerprint}`, "m"),
      );
      await page.click("#quit");
    }
    // A new session: the page lists the server it opens on, nothing asked; with the fingerprint
    // field cleared and TLS unticked, the known-servers file alone still pins it.
    await using again = await startGui(CLIENT_TS, config);
    const page = await clientPage(browser, again.url, downloads);
    await page.getByRole("button", LISTED).waitFor({ timeout: STEP_MS });
    await page.fill("#fingerprint", "");
    await page.uncheck("#tls");
    await page.click("#list");
    await page.locator("#files tbody tr").first().waitFor({ timeout: STEP_MS });
    await page.getByRole("button", LISTED).waitFor({ timeout: STEP_MS });
    assert.equal(await page.locator("dialog").count(), 0, "nothing asked");
    // The files shown may still be the opening list's: the click's list is the third request.
    await until(() => asked(served.events).length >= 3, STEP_MS);
    assert.deepEqual(asked(served.events), ["list", "list", "list"]);
  },
);

browserTest(
  "client page: a pasted link lists the server pinned and remembers it; a link one character off in the fingerprint is refused and trusts nothing; a malformed link's words stand next to the field",
  async () => {
    await using dir = await tempDir();
    const { cert, served } = await tlsServed(dir.path);
    await using _served = served;
    const downloads = join(dir.path, "Downloads");
    await Deno.mkdir(downloads);
    const config = join(dir.path, "client-config");
    await using gui = await startGui(CLIENT_TS, config);
    await using browser = await launchBrowser();
    const page = await clientPage(browser, gui.url, downloads);
    const link = formatLink({
      host: "127.0.0.1",
      port: served.port,
      fingerprint: cert.fingerprint,
    });

    // Malformed: the fingerprint one character short. The LinkError's words, by the field.
    const short = link.slice(0, -1);
    const words = (() => {
      try {
        parseLink(short);
      } catch (error) {
        if (error instanceof LinkError) return error.message;
      }
      throw new Error("the short link parsed");
    })();
    await page.fill("#link", short);
    await page.click("#link-connect");
    await page.locator('#link[aria-invalid="true"]').waitFor({ timeout: STEP_MS });
    assert.equal(await page.locator("#link-error").textContent(), words);
    assert.equal(await page.inputValue("#host"), "", "no field filled");
    await accessible(page, "client page, a malformed link");

    // One character off in the middle of the fingerprint: a valid link to another certificate.
    const at = link.indexOf("#sha256=") + 8 + 20;
    const off = link.slice(0, at) + (link[at] === "A" ? "B" : "A") + link.slice(at + 1);
    assert.notEqual(parseLink(off).fingerprint, cert.fingerprint);
    await page.fill("#link", off);
    await page.click("#link-connect");
    await page.locator("#server-error").getByText(/fingerprint/).waitFor({ timeout: STEP_MS });
    assert.equal(await page.locator("#link-error").textContent(), "");
    assert.equal(await page.locator("dialog").count(), 0, "a link's pin is not a question");
    assert.equal(await page.getByRole("button", LISTED).count(), 0);
    assert.deepEqual(asked(served.events), [], "the server was asked nothing");
    assert.equal(await known(config), "", "nothing trusted");

    // The link itself: host, port, TLS and the fingerprint filled, and listed.
    await page.fill("#link", link);
    await page.click("#link-connect");
    await page.getByRole("button", LISTED).waitFor({ timeout: STEP_MS });
    assert.equal(await page.inputValue("#host"), "127.0.0.1");
    assert.equal(await page.inputValue("#port"), String(served.port));
    assert.equal(await page.isChecked("#tls"), true);
    assert.equal(await page.inputValue("#fingerprint"), cert.fingerprint);
    assert.equal(await page.locator("dialog").count(), 0, "nothing to compare");
    await until(() => asked(served.events).length >= 1, STEP_MS);
    assert.deepEqual(asked(served.events), ["list"]);
    assert.match(
      await known(config),
      new RegExp(`^127\\.0\\.0\\.1:${served.port} ${cert.fingerprint}`, "m"),
    );
    await page.click("#quit");
  },
);

browserTest(
  "client page: a remembered server is listed under On this network as reachable, one that is gone as not reachable, and one click lists the first",
  async () => {
    await using dir = await tempDir();
    const { cert, served } = await tlsServed(dir.path);
    await using _served = served;
    const downloads = join(dir.path, "Downloads");
    await Deno.mkdir(downloads);
    const config = join(dir.path, "client-config");
    const file = join(config, "privateshare", "known_servers");
    // A port that nothing listens on any more.
    const gone = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const gonePort = gone.addr.port;
    gone.close();
    await rememberServer(file, "127.0.0.1", gonePort, cert.fingerprint);
    await rememberServer(file, "127.0.0.1", served.port, cert.fingerprint);
    await using gui = await startGui(CLIENT_TS, config);
    await using browser = await launchBrowser();
    const page = await clientPage(browser, gui.url, downloads);
    const entry = (port: number) =>
      page.locator(`#nearby li[data-instance="remembered 127.0.0.1:${port}"]`);
    await entry(served.port).getByText(/· reachable$/).waitFor({ timeout: STEP_MS });
    await entry(gonePort).getByText(/not reachable now/).waitFor({ timeout: STEP_MS });
    assert.match(
      await entry(served.port).textContent() ?? "",
      new RegExp(shortCode(cert.fingerprint)),
    );
    await accessible(page, "client page, servers on this network");
    await page.setViewportSize(NARROW);
    await fitsWindow(page, "client page, servers on this network");

    await entry(served.port).getByRole("button", { name: /^Connect to 127\.0\.0\.1/ }).click();
    await page.getByRole("button", LISTED).waitFor({ timeout: STEP_MS });
    assert.equal(await page.inputValue("#host"), "127.0.0.1");
    assert.equal(await page.inputValue("#port"), String(served.port));
    assert.equal(await page.inputValue("#fingerprint"), "", "pinned by the known-servers file");
    assert.equal(await page.locator("dialog").count(), 0);
    await page.click("#quit");
  },
);

browserTest(
  "the whole first contact on the pages: the server page's code is the one the client page asks about, and Trust lists the folder",
  async () => {
    await using dir = await tempDir();
    const shared = join(dir.path, "Shared");
    const downloads = join(dir.path, "Downloads");
    await Deno.mkdir(shared);
    await Deno.mkdir(downloads);
    await Deno.writeTextFile(join(shared, "notes.txt"), "Top-level file.\n");
    await using serverGui = await startGui(SERVER_TS, join(dir.path, "server-config"));
    await using clientGui = await startGui(CLIENT_TS, join(dir.path, "client-config"));
    await using browser = await launchBrowser();
    const serverPage = await openPage(browser, serverGui.url);
    await serverPage.fill("#root", shared);
    await serverPage.fill("#port", "0");
    await serverPage.click("#start");
    const port = await running(serverPage);
    const code = await serverPage.locator("#short-code").textContent();
    assert.match(code ?? "", /^[0-9A-Z]{4}-[0-9A-Z]{4}$/);

    // Address and port typed, TLS not ticked: the page finds TLS, then asks about the code.
    const page = await clientPage(browser, clientGui.url, downloads);
    await page.fill("#host", "127.0.0.1");
    await page.fill("#port", String(port));
    await page.click("#list");
    const dialog = page.locator("dialog.trust");
    await dialog.waitFor({ timeout: STEP_MS });
    assert.equal(await dialog.getByRole("heading").textContent(), `Does the server show ${code}?`);
    await dialog.getByRole("button", { name: "Trust" }).click();
    await page.getByRole("button", LISTED).waitFor({ timeout: STEP_MS });
    await page.click("#quit");
    await serverPage.click("#quit");
  },
);

/**
 * Counts, in `listsHandled`, the page's list answers once the page has acted on each (a task
 * after their reading, when what the answer does at once is done).
 */
async function countListAnswers(page: Page): Promise<void> {
  await page.evaluate(() => {
    const read = Response.prototype.json;
    const counted = globalThis as unknown as { listsHandled: number };
    counted.listsHandled = 0;
    Response.prototype.json = function () {
      const reading = read.call(this);
      if (this.url.includes("/api/list")) {
        reading.finally(() => setTimeout(() => counted.listsHandled++, 0));
      }
      return reading;
    };
  });
}

/**
 * A TCP relay to a port whose first connection is held until `release` is called: the page's
 * request through it answers only when the test says.
 */
function heldRelay(to: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { promise: gate, resolve: release } = Promise.withResolvers<void>();
  const { promise: reached, resolve: onFirst } = Promise.withResolvers<void>();
  const relays: Promise<unknown>[] = [];
  let first = true;
  const accepting = (async () => {
    for await (const conn of listener) {
      const held = first;
      first = false;
      relays.push((async () => {
        if (held) {
          onFirst();
          await gate;
        }
        const up = await Deno.connect({ hostname: "127.0.0.1", port: to });
        await Promise.allSettled([
          conn.readable.pipeTo(up.writable),
          up.readable.pipeTo(conn.writable),
        ]);
      })());
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    reached,
    release,
    async [Symbol.asyncDispose]() {
      release();
      listener.close();
      await accepting.catch(() => {});
      await Promise.allSettled(relays);
    },
  };
}

browserTest(
  "client page: the answer about a server the fields no longer name changes nothing: no question about it, no pin or listing on the server named now",
  async () => {
    await using dir = await tempDir();
    const { served } = await tlsServed(dir.path);
    await using _served = served;
    const other = join(dir.path, "Other");
    await Deno.mkdir(other);
    await Deno.writeTextFile(join(other, "other.txt"), "Another server's file.\n");
    await using plain = serveFolder(other, { readOnly: true });
    await using relay = heldRelay(served.port);
    const downloads = join(dir.path, "Downloads");
    await Deno.mkdir(downloads);
    const config = join(dir.path, "client-config");
    await using gui = await startGui(CLIENT_TS, config);
    await using browser = await launchBrowser();
    const page = await clientPage(browser, gui.url, downloads);
    await countListAnswers(page);

    // The TLS server, not trusted yet, asked through the relay, which holds the request.
    await page.fill("#host", "127.0.0.1");
    await page.fill("#port", String(relay.port));
    await page.check("#tls");
    await page.click("#list");
    await relay.reached;
    // Meanwhile another server is chosen, by its link, and listed.
    await page.fill("#link", formatLink({ host: "127.0.0.1", port: plain.port }));
    await page.click("#link-connect");
    await page.getByRole("button", { name: "Get other.txt" }).waitFor({ timeout: STEP_MS });
    // Now the first server's answer (a certificate not trusted) comes.
    relay.release();
    await page.waitForFunction(
      () => (globalThis as unknown as { listsHandled: number }).listsHandled >= 2,
      undefined,
      { timeout: STEP_MS },
    );
    assert.equal(await page.locator("dialog").count(), 0, "no question about another server");
    assert.equal(await page.inputValue("#port"), String(plain.port));
    assert.equal(await page.inputValue("#fingerprint"), "", "nothing pinned");
    assert.equal(await page.isChecked("#tls"), false);
    assert.equal(await page.locator("#server-error").textContent(), "");
    assert.equal(await page.getByRole("button", { name: "Get other.txt" }).count(), 1);
    assert.equal(await known(config), "", "nothing trusted");
    await page.click("#quit");
  },
);

browserTest(
  "client page: the list On this network is redrawn without taking the keyboard's place: a focused Connect keeps the focus when the list changes",
  async () => {
    await using dir = await tempDir();
    const { cert, served } = await tlsServed(dir.path);
    await using _served = served;
    const downloads = join(dir.path, "Downloads");
    await Deno.mkdir(downloads);
    const config = join(dir.path, "client-config");
    await rememberServer(
      join(config, "privateshare", "known_servers"),
      "127.0.0.1",
      served.port,
      cert.fingerprint,
    );
    await using gui = await startGui(CLIENT_TS, config);
    await using browser = await launchBrowser();
    const page = await clientPage(browser, gui.url, downloads);
    const entry = page.locator(`#nearby li[data-instance="remembered 127.0.0.1:${served.port}"]`);
    await entry.getByText(/· reachable$/).waitFor({ timeout: STEP_MS });
    const connect = entry.getByRole("button", { name: /^Connect to 127\.0\.0\.1/ });
    await connect.focus();
    // The list changes (probed again, as another page's Look again does), by no act of this page.
    await page.evaluate(() => {
      const page = globalThis as unknown as {
        redraws: number;
        MutationObserver: new (f: () => void) => { observe(n: unknown, o: unknown): void };
        document: { getElementById(id: string): unknown };
      };
      page.redraws = 0;
      new page.MutationObserver(() => page.redraws++).observe(
        page.document.getElementById("nearby"),
        { childList: true },
      );
      return fetch("api/nearby", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      }).then((answer) => answer.status);
    }).then((status) => assert.equal(status, 200));
    await page.waitForFunction(
      () => (globalThis as unknown as { redraws: number }).redraws >= 1,
      undefined,
      { timeout: STEP_MS },
    );
    await entry.getByText(/· reachable$/).waitFor({ timeout: STEP_MS });
    assert.equal(
      await entry.locator("button:focus").count(),
      1,
      "the focus stays on the Connect button",
    );
    await page.click("#quit");
  },
);

browserTest(
  "client page: two lists of one server not trusted yet in flight ask one question, and its one answer holds for both",
  async () => {
    await using dir = await tempDir();
    const { cert, served } = await tlsServed(dir.path);
    await using _served = served;
    await using relay = heldRelay(served.port);
    const downloads = join(dir.path, "Downloads");
    await Deno.mkdir(downloads);
    const config = join(dir.path, "client-config");
    await using gui = await startGui(CLIENT_TS, config);
    await using browser = await launchBrowser();
    const page = await clientPage(browser, gui.url, downloads);
    await countListAnswers(page);
    await page.fill("#host", "127.0.0.1");
    await page.fill("#port", String(relay.port));
    await page.check("#tls");
    await page.click("#list");
    await relay.reached;
    // A second click on the same server (its link, TLS remembered for it) while the first waits.
    await page.fill("#link", formatLink({ host: "127.0.0.1", port: relay.port }));
    await page.click("#link-connect");
    const dialog = page.locator("dialog.trust");
    await dialog.waitFor({ timeout: STEP_MS });
    relay.release();
    await page.waitForFunction(
      () => (globalThis as unknown as { listsHandled: number }).listsHandled >= 2,
      undefined,
      { timeout: STEP_MS },
    );
    assert.equal(await page.locator("dialog.trust").count(), 1, "one question");
    assert.equal(
      await dialog.getByRole("heading").textContent(),
      `Does the server show ${shortCode(cert.fingerprint)}?`,
    );
    await dialog.getByRole("button", { name: "Trust" }).click();
    await page.getByRole("button", LISTED).waitFor({ timeout: STEP_MS });
    assert.equal(await page.locator("dialog").count(), 0, "nothing left to answer");
    assert.equal(await page.locator("#server-note").textContent(), "");
    await page.click("#quit");
  },
);

browserTest(
  "client page: a link whose fingerprint replaces the certificate remembered for its address says so in the log, naming both",
  async () => {
    await using dir = await tempDir();
    const { cert, served } = await tlsServed(dir.path);
    await using _served = served;
    const earlier = await makeCertificate(dir.path, undefined, "earlier-");
    const downloads = join(dir.path, "Downloads");
    await Deno.mkdir(downloads);
    const config = join(dir.path, "client-config");
    await rememberServer(
      join(config, "privateshare", "known_servers"),
      "127.0.0.1",
      served.port,
      earlier.fingerprint,
    );
    await using gui = await startGui(CLIENT_TS, config);
    await using browser = await launchBrowser();
    const page = await clientPage(browser, gui.url, downloads);
    await page.fill(
      "#link",
      formatLink({ host: "127.0.0.1", port: served.port, fingerprint: cert.fingerprint }),
    );
    await page.click("#link-connect");
    await page.getByRole("button", LISTED).waitFor({ timeout: STEP_MS });
    assert.match(
      await known(config),
      new RegExp(`^127\\.0\\.0\\.1:${served.port} ${cert.fingerprint}`, "m"),
    );
    await page.locator("#log").getByText(
      `The certificate remembered for 127.0.0.1:${served.port} was replaced by the one given: ` +
        `it was ${earlier.fingerprint}, it is now ${cert.fingerprint}`,
    ).waitFor({ state: "attached", timeout: STEP_MS });
    await page.click("#quit");
  },
);
