/**
 * The GUI programs and Chromium for the page tests: a program started as a
 * person starts it for its page, a browser with a fresh profile, and the
 * checks every page state must pass (nothing wider than the window).
 *
 * @module
 */

import assert from "node:assert/strict";
import { type BrowserContext, chromium, type Page } from "npm:playwright-core@1.65.1";
import { until } from "./deadline.ts";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const GUI_PERMS = ["--allow-net", "--allow-read", "--allow-write", "--allow-env", "--allow-sys"];
/** Each browser step waits at most this long; the whole test has its own deadline. */
export const STEP_MS = 60_000;
/** A desktop window. */
export const DESKTOP = { width: 1280, height: 900 };
/** A phone's window. */
export const NARROW = { width: 390, height: 844 };

/** A GUI program under test. */
export interface Gui extends AsyncDisposable {
  /** The page's address, with its token. */
  url: string;
  /** The process. */
  process: Deno.ChildProcess;
  /** Everything it printed so far. */
  output(): string;
}

/**
 * Starts a program for its GUI and reads the address it prints.
 *
 * @param script the program
 * @param config the folder of its settings (XDG_CONFIG_HOME)
 * @returns the running program
 */
export async function startGui(script: string, config: string): Promise<Gui> {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...GUI_PERMS, script, "--gui", "--no-open"],
    env: { XDG_CONFIG_HOME: config },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let printed = "";
  const decoder = new TextDecoder();
  const read = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) printed += decoder.decode(chunk, { stream: true });
  };
  const reading = Promise.all([read(process.stdout), read(process.stderr)]);
  const status = process.status;
  const address = /http:\/\/127\.0\.0\.1:\d+\/\S+\//;
  await until(() => address.test(printed), 20_000).catch(() => {
    throw new Error(`The GUI printed no address; it printed: ${printed}`);
  });
  return {
    url: address.exec(printed)![0],
    process,
    output: () => printed,
    async [Symbol.asyncDispose]() {
      try {
        process.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      const timer = setTimeout(() => process.kill("SIGKILL"), 10_000);
      await status;
      clearTimeout(timer);
      await reading;
    },
  };
}

/**
 * Chromium with a fresh profile. It must start: a machine without it fails here, loudly.
 *
 * @returns the browser, closed and its profile removed on dispose
 */
export async function launchBrowser(): Promise<BrowserContext & AsyncDisposable> {
  const profile = await Deno.makeTempDir({ prefix: "privateshare-chromium-" });
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: DESKTOP,
      acceptDownloads: false,
    });
  } catch (error) {
    throw new Error(
      `Cannot launch Chromium at ${CHROMIUM} (install it: apt-get install chromium): ${error}`,
      { cause: error },
    );
  }
  return Object.assign(context, {
    async [Symbol.asyncDispose]() {
      await context.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  });
}

/**
 * A browser test, with a deadline so that a stuck browser fails it instead of hanging.
 *
 * @param name what it shows
 * @param body the test
 */
export function browserTest(name: string, body: () => Promise<void>): void {
  Deno.test({
    name,
    // The browser and the programs it started hold resources across awaits.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("The test did not finish in 240 s")), 240_000);
      });
      try {
        await Promise.race([body(), deadline]);
      } finally {
        clearTimeout(timer);
      }
    },
  });
}

/**
 * Opens a program's page once it has filled its form from the program's
 * first event (a field typed into before it is overwritten by it).
 *
 * @param browser the browser
 * @param url the page's address
 * @returns the page
 */
export async function openPage(browser: BrowserContext, url: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(url);
  const field = page.locator("#idle, #folder").first();
  await until(async () => (await field.inputValue()) !== "", STEP_MS);
  return page;
}

/**
 * Checks that the page scrolls no wider than its window, and that each
 * button matched lies inside the card it belongs to.
 *
 * @param page the page, at the size to check
 * @param state the state's name, for the message
 * @param buttons buttons that must stay inside their `.card`
 */
export async function fitsWindow(page: Page, state: string, buttons = "button"): Promise<void> {
  const { scroll, width } = await page.locator("html").evaluate((html) => ({
    scroll: html.scrollWidth,
    width: html.ownerDocument.defaultView!.innerWidth,
  }));
  assert.ok(scroll <= width, `${state}: the page is ${scroll} px wide in a ${width} px window`);
  const outside = await page.locator(`.card ${buttons}`).evaluateAll((nodes) =>
    nodes.filter((node) => {
      const card = node.closest(".card")!.getBoundingClientRect();
      const box = node.getBoundingClientRect();
      const shown = box.width > 0 && box.height > 0;
      return shown && (box.left < card.left || box.right > card.right);
    }).map((node) => node.textContent)
  );
  assert.deepEqual(outside, [], `${state}: buttons outside their card`);
}

/**
 * What axe-core finds wrong with the page as it is now: one line per rule
 * and element. axe runs inside the page; the page's own policy stays on.
 *
 * @param page the page, in the state and size to check
 * @returns the violations, empty when none
 */
export async function axeViolations(page: Page): Promise<string[]> {
  const { default: axe } = await import("npm:axe-core@4.11.0");
  if (!await page.evaluate("typeof axe !== 'undefined'")) await page.evaluate(axe.source);
  return await page.evaluate(`axe.run(document, { resultTypes: ["violations"] }).then((result) =>
    result.violations.flatMap((violation) => violation.nodes.map((node) =>
      violation.id + " " + node.target.join(" ") + ": " + node.failureSummary.replace(/\\s+/g, " "))))`);
}
