/**
 * Helpers of the web page's tests: Chromium emulating a phone (Playwright's
 * Pixel 7: its viewport, touch, user agent), the library's server with its
 * page, and a relay that cuts a page's connections on purpose.
 *
 * @module
 */

import { type BrowserContext, chromium, devices, type Page } from "npm:playwright-core@1.65.1";
export { servePage } from "./peers.ts";
import { CHROMIUM, CHROMIUM_ARGS, STEP_MS } from "./gui.ts";
import { denoRunArgs, kill, SERVER_TS } from "./processes.ts";
import { testEnv } from "../security_helpers.ts";

/** The phone the tests hold: its window is 412 by 839 CSS pixels. */
export const PHONE = devices["Pixel 7"]!;

/** A phone's browser: a fresh context with Pixel 7's screen, touch and user agent. */
export async function launchPhone(
  options: { https?: boolean } = {},
): Promise<BrowserContext & AsyncDisposable> {
  const { defaultBrowserType: _, ...pixel } = PHONE;
  let browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  } catch (error) {
    throw new Error(
      `Cannot launch Chromium at ${CHROMIUM} (install it: apt-get install chromium): ${error}`,
      { cause: error },
    );
  }
  // A server's own certificate: the test checks the page's code instead, as a person does.
  const context = await browser.newContext({
    ...pixel,
    acceptDownloads: true,
    ignoreHTTPSErrors: options.https ?? false,
  });
  return Object.assign(context, {
    async [Symbol.asyncDispose]() {
      await context.close();
      await browser.close();
    },
  });
}

/** Opens the page at `url` and waits for its first listing. */
export async function openPhonePage(phone: BrowserContext, url: string): Promise<Page> {
  const page = await phone.newPage();
  await page.goto(url);
  await page.locator("#loading").waitFor({ state: "hidden", timeout: STEP_MS });
  return page;
}

/** The upload rows of the page in a given state. */
export function uploadRows(page: Page, state: string, name?: string) {
  const named = name ? `:has(.what:text-is("${name}"))` : "";
  return page.locator(`#uploads li[data-state="${state}"]${named}`);
}

/** A relay that forwards the page's port from 127.0.0.2 to 127.0.0.1 and can cut it. */
export interface CuttingRelay extends AsyncDisposable {
  /** Bytes forwarded from the browser to the server, all connections together. */
  up(): number;
  /** Cuts every connection once `bytes` more have gone up, and each new one until mended. */
  cutAfter(bytes: number): Promise<void>;
  /** Flips one bit of the byte that goes up after `bytes` more: damage TCP did not catch. */
  flipAfter(bytes: number): void;
  /** Holds what goes up once `bytes` more have gone, until mended: a network that stalls. */
  holdAfter(bytes: number): Promise<void>;
  /** Forwards again. */
  mend(): void;
}

/**
 * Starts a relay on 127.0.0.2 at the page's own port number, forwarding to
 * 127.0.0.1: the browser sees the page's port in its address (the server's
 * Host check holds), and the test can cut an upload halfway, as a phone
 * leaving the Wi-Fi does.
 *
 * @param port the page's port on 127.0.0.1
 * @returns the relay
 */
export function startCuttingRelay(port: number): CuttingRelay {
  const listener = Deno.listen({ hostname: "127.0.0.2", port });
  const conns = new Set<Deno.Conn>();
  let up = 0;
  let cutAt = Infinity;
  let broken = false;
  let onCut: (() => void) | undefined;
  let flipAt = Infinity;
  let holdAt = Infinity;
  let onHold: (() => void) | undefined;
  let held: Promise<void> | undefined;
  let letGo = () => {};
  const close = (conn: Deno.Conn) => {
    if (!conns.delete(conn)) return;
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  };
  const cutAll = () => {
    broken = true;
    for (const conn of [...conns]) close(conn);
    onCut?.();
  };
  const pump = async (from: Deno.Conn, to: Deno.Conn, counted: boolean) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buffer);
        if (n === null) break;
        if (counted && up >= holdAt) {
          held ??= new Promise((resolve) => letGo = resolve);
          onHold?.();
          await held;
        }
        if (counted && flipAt >= up && flipAt < up + n) {
          buffer[flipAt - up]! ^= 0x10;
          flipAt = Infinity;
        }
        if (counted) {
          up += n;
          if (up >= cutAt) {
            cutAt = Infinity;
            cutAll();
            return;
          }
        }
        // A write may take part of the bytes: the rest follows, in order.
        for (let at = 0; at < n;) at += await to.write(buffer.subarray(at, n));
      }
    } catch {
      // Cut, or closed by the other side.
    }
    close(from);
    close(to);
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      if (broken) {
        conn.close();
        continue;
      }
      let server: Deno.Conn;
      try {
        server = await Deno.connect({ hostname: "127.0.0.1", port });
      } catch {
        conn.close();
        continue;
      }
      conns.add(conn);
      conns.add(server);
      pump(conn, server, true);
      pump(server, conn, false);
    }
  })();
  return {
    up: () => up,
    cutAfter(bytes: number) {
      cutAt = up + bytes;
      return new Promise((resolve) => onCut = resolve);
    },
    flipAfter(bytes: number) {
      flipAt = up + bytes;
    },
    holdAfter(bytes: number) {
      holdAt = up + bytes;
      return new Promise((resolve) => onHold = resolve);
    },
    mend() {
      broken = false;
      holdAt = Infinity;
      held = undefined;
      letGo();
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const conn of [...conns]) close(conn);
      await accepting.catch(() => {});
    },
  };
}

/** The server's command line serving a page, as README starts it. */
export interface CliPage extends AsyncDisposable {
  /** The address it printed, with its token. */
  url: string;
}

/**
 * Starts `server.ts PORT --root ROOT --web` as a person does, with these
 * permissions, and reads the page's address from what it prints.
 *
 * @param root the folder to serve
 * @param perms the permissions, as README gives them
 * @param config the configuration folder (XDG_CONFIG_HOME)
 * @returns the address, and the process to stop
 */
export async function startCliPage(
  root: string,
  perms: readonly string[],
  config: string,
): Promise<CliPage> {
  const process = new Deno.Command(Deno.execPath(), {
    args: denoRunArgs(SERVER_TS, ["0", "--root", root, "--no-announce", "--web"], perms),
    env: testEnv(config),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(process.stderr).text();
  const reader = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let printed = "";
  const stop = async () => {
    kill(process, "SIGTERM");
    await reader.cancel();
    await process.status;
    await stderr;
  };
  let url: string | undefined;
  // A server that never prints its address is stopped, so that its output ends.
  const timer = setTimeout(() => kill(process, "SIGTERM"), STEP_MS);
  while (url === undefined) {
    const { value, done } = await reader.read();
    if (done) {
      clearTimeout(timer);
      await stop();
      throw new Error(`The server printed no page address: ${printed}${await stderr}`);
    }
    printed += value;
    // A log line starts with its time.
    url = /Web page: (http\S+)\n/.exec(printed)?.[1];
  }
  clearTimeout(timer);
  // Read on, so that the server never waits on a full pipe.
  const draining = (async () => {
    while (!(await reader.read().catch(() => ({ done: true }))).done) {
      // What it prints after the address is not needed.
    }
  })();
  return {
    url,
    async [Symbol.asyncDispose]() {
      kill(process, "SIGTERM");
      await draining;
      await process.status;
      await stderr;
    },
  };
}
