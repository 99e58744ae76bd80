/**
 * Helpers of the browser tests: the real GUI programs started as a person
 * starts them, Debian's Chromium through playwright-core, the client page's
 * transfer rows, and the checks every page state must pass (nothing wider
 * than the window, no axe-core violation).
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "npm:playwright-core@1.65.1";
import { until } from "./deadline.ts";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
export const GUI_PERMS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
];
/** Each browser step waits at most this long; the whole test has its own deadline. */
export const STEP_MS = 60_000;
/** A desktop window. */
export const DESKTOP = { width: 1280, height: 900 };
/** A phone's window. */
export const NARROW = { width: 390, height: 844 };

/** A GUI program under test. */
export interface Gui extends AsyncDisposable {
  url: string;
  port: number;
  process: Deno.ChildProcess;
  /** Everything it printed so far. */
  output(): string;
}

/**
 * Starts a program as a person would for its GUI, and reads the address it
 * prints; `extra` adds permissions (such as `--allow-run=xdg-open`) and
 * environment variables (such as a fake opener's).
 */
export async function startGui(
  script: string,
  config: string,
  args = ["--gui", "--no-open"],
  extra: { perms?: string[]; env?: Record<string, string>; wrap?: string[] } = {},
) {
  // `wrap` runs it inside another command, such as `ip netns exec NAME` (a network namespace).
  const [program, ...before] = [...extra.wrap ?? [], Deno.execPath()];
  // A server page on the host's own network starts with "Announce on this network" unticked, so
  // that no test announces a server there; tests of announcing run in a namespace of their own.
  const settings = join(config, "privateshare", "server-gui.json");
  if (script.endsWith("server.ts") && !extra.wrap && !(await exists(settings))) {
    await Deno.mkdir(join(config, "privateshare"), { recursive: true });
    await Deno.writeTextFile(settings, JSON.stringify({ announce: false }));
  }
  const process = new Deno.Command(program!, {
    args: [...before, "run", "--no-prompt", ...GUI_PERMS, ...extra.perms ?? [], script, ...args],
    env: { XDG_CONFIG_HOME: config, ...extra.env },
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
  await until(() => /http:\/\/127\.0\.0\.1:\d+\/\S+\//.test(printed), 20_000).catch(() => {
    throw new Error(`The GUI printed no address; it printed: ${printed}`);
  });
  const url = /http:\/\/127\.0\.0\.1:\d+\/\S+\//.exec(printed)![0];
  const gui: Gui = {
    url,
    port: Number(new URL(url).port),
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
  return gui;
}

/**
 * Chromium with a fresh profile. It must start: a machine without it fails here, loudly.
 * `wrap` runs it inside another command, such as `ip netns exec NAME`, so that it reaches the
 * pages of programs in that network namespace (playwright speaks to it over a pipe).
 */
export async function launchBrowser(wrap?: string[]): Promise<BrowserContext & AsyncDisposable> {
  const profile = await Deno.makeTempDir({ prefix: "privateshare-chromium-" });
  let executablePath = CHROMIUM;
  if (wrap) {
    executablePath = join(profile, "..", `${profile.split("/").pop()}.sh`);
    const words = [...wrap, CHROMIUM].map((word) => `'${word}'`).join(" ");
    await Deno.writeTextFile(executablePath, `#!/bin/sh\nexec ${words} "$@"\n`, { mode: 0o700 });
  }
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
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
      if (executablePath !== CHROMIUM) await Deno.remove(executablePath).catch(() => {});
    },
  });
}

/** Runs a test body with a deadline, so that a stuck browser fails the test instead of hanging. */
export async function within(ms: number, body: () => Promise<void>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`The test did not finish in ${ms / 1000} s`)), ms);
  });
  try {
    await Promise.race([body(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** A browser test: the browser and the programs it started hold resources across awaits. */
export function browserTest(name: string, body: () => Promise<void>): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => within(240_000, body),
  });
}

/** The folders of one test: served, source files, downloads, the GUI's config. */
export async function layout(root: string) {
  const at = (name: string) => join(root, name);
  const dirs = {
    shared: at("Shared"),
    source: at("Files"),
    downloads: at("Downloads"),
    config: at("config"),
  };
  for (const path of Object.values(dirs)) await Deno.mkdir(path);
  return dirs;
}

/**
 * Opens a program's page and waits until the page has filled its form from
 * the program's first event (the client page's download folder, the server
 * page's idle time): a field typed into before that event arrives is
 * overwritten by it, which on a busy machine sent a list to no address.
 */
export async function openPage(browser: BrowserContext, url: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(url);
  // The page's policy allows no evaluated strings: the field is read through the locator.
  const field = page.locator("#idle, #folder").first();
  await until(async () => (await field.inputValue()) !== "", STEP_MS);
  return page;
}

/** The transfer rows of the client page in a given state. */
export function rows(page: Page, state: string, name?: string) {
  const named = name ? `:has(.what:text-is("${name}"))` : "";
  return page.locator(`#transfers li[data-state="${state}"]${named}`);
}

export async function waitRows(page: Page, state: string, count: number): Promise<void> {
  await rows(page, state).nth(count - 1).waitFor({ timeout: STEP_MS });
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

/**
 * Checks a page with axe-core at desktop and phone sizes (390 px), light
 * and dark, and leaves it light at desktop size.
 *
 * @param page the page, in the state to check
 * @param state the state's name, for the message
 */
export async function accessible(page: Page, state: string): Promise<void> {
  for (const colorScheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme });
    for (const size of [DESKTOP, NARROW]) {
      await page.setViewportSize(size);
      const found = await axeViolations(page);
      assert.deepEqual(found, [], `${state}, ${colorScheme}, ${size.width} px`);
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize(DESKTOP);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
