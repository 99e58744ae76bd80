/**
 * The web case's page measurement: Chromium emulating a phone (Playwright's
 * Pixel 7 descriptor: its viewport, touch and user agent) opens the page's
 * address with its token, as a scanned QR code does, and the clock runs
 * until the listing of a folder of 2,000 files is on the page. A fresh
 * browser context each run, so nothing is cached.
 *
 * @module
 */

import { join } from "node:path";
import { chromium, devices } from "npm:playwright-core@1.65.1";
import { CHROMIUM } from "../tests/support/gui.ts";
import { startPrivateshare } from "./web_servers.ts";

/** What the page measurement found. */
export interface PageListing {
  /** Files in the folder. */
  files: number;
  /** Milliseconds from opening the address to the listing, one a run. */
  ms: number[];
  /** What was waited for, in a few words. */
  how: string;
  /** A sentence for the report on how it was measured. */
  note: string;
}

const DEVICE = "Pixel 7";
/** The rows of the page's listing (lib/server/web_assets/page.html). */
const ROWS = "#entries > li";

/** Makes `dir` hold `count` files of 4 KiB, unless it already does. */
async function listFolder(dir: string, count: number): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  let present = 0;
  for await (const _ of Deno.readDir(dir)) present++;
  if (present === count) return;
  await Deno.remove(dir, { recursive: true });
  await Deno.mkdir(dir);
  const body = new Uint8Array(4096);
  for (let i = 0; i < count; i++) {
    await Deno.writeFile(join(dir, `photo-${String(i).padStart(4, "0")}.jpg`), body);
  }
}

/**
 * Measures the page's time to its first listing.
 *
 * @param dir the folder to list (made if needed, kept for later runs)
 * @param count files in it
 * @param runs how many times
 * @param progress reports what is going on
 * @returns the times
 */
export async function pageListing(
  dir: string,
  count: number,
  runs: number,
  progress: (what: string) => void,
): Promise<PageListing> {
  await listFolder(dir, count);
  const server = await startPrivateshare(dir);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"],
    headless: true,
  });
  try {
    const ms: number[] = [];
    for (let run = 1; run <= runs; run++) {
      const context = await browser.newContext({ ...devices[DEVICE] });
      try {
        const page = await context.newPage();
        const started = performance.now();
        await page.goto(server.url);
        // The page's CSP allows no string evaluation: a locator waits for the last row instead.
        await page.locator(ROWS).nth(count - 1).waitFor({ state: "attached", timeout: 60_000 });
        ms.push(performance.now() - started);
        progress(`web page run ${run}/${runs}: ${ms.at(-1)!.toFixed(0)} ms`);
      } finally {
        await context.close();
      }
    }
    const note =
      `The page's listing: Chromium (${DEVICE} descriptor, a fresh context each run) opens the ` +
      "token's address (the redirect that sets the cookie included); the clock stops when " +
      `${count} rows (\`${ROWS}\`) are on the page.`;
    return { files: count, ms, how: "rows on the page", note };
  } finally {
    await browser.close();
    await server.stop();
  }
}
