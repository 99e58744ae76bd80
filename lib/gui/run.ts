/**
 * The life of a GUI program, the same for server and client: serve the
 * page, print its address, open the browser, and run until Quit on the page,
 * Ctrl-C or SIGTERM.
 *
 * @module
 */

import { granted, onStopSignal } from "./system.ts";
import { type OpenedPage, openPage } from "./open_page.ts";
import { type EventHub, json, type Route, serveGui } from "./web.ts";

/** How a GUI program is started. */
export interface GuiOptions {
  /** Open the page in the user's browser (otherwise only print its address). */
  open: boolean;
  /** The program's name, before each message it prints. */
  program: string;
}

/** One GUI: its page, its API, its events, and how it winds down. */
export interface GuiSpec {
  /** The page's HTML. */
  html: string;
  /** The page's script. */
  script: string;
  /** The events the page follows. */
  hub: EventHub;
  /** What a page that opens is sent first. */
  snapshot: () => unknown[];
  /** The page's API, besides `events` and `quit`. */
  routes: Record<string, Route>;
  /** Winds the work down before the program ends. */
  stop: () => Promise<void>;
}

/**
 * Serves a GUI until it is told to quit.
 *
 * @param options open the browser or not; the program's name
 * @param kind `server` or `client`, for the message
 * @param spec the page and its API
 * @returns the exit code: 0, or 2 without the permission to serve the page
 */
export async function runGui(
  options: GuiOptions,
  kind: "server" | "client",
  spec: GuiSpec,
): Promise<number> {
  if (!granted({ name: "net", host: "127.0.0.1" })) {
    console.error(
      `${options.program}: The GUI needs --allow-net to serve its page: run deno with --allow-net`,
    );
    return 2;
  }
  const { promise: quit, resolve: stop } = Promise.withResolvers<string>();
  let opened: OpenedPage | undefined;
  const gui = serveGui({
    html: spec.html,
    // The browser has followed the redirect file: it is no longer needed.
    onPage: () => void opened?.remove(),
    script: spec.script,
    routes: {
      ...spec.routes,
      events: { method: "GET", handle: () => spec.hub.connect(spec.snapshot) },
      quit: {
        method: "POST",
        handle: () => {
          stop("the page");
          return json({ ok: true });
        },
      },
    },
  });
  const removeSignals = onStopSignal((signal) => stop(signal));
  console.log(`privateshare ${kind}: open ${gui.url} in your browser (Ctrl-C to quit)`);
  // The browser gets a file only the user can read, never the address itself.
  if (options.open) opened = await openPage(gui.url);
  const why = await quit;
  console.log(`privateshare ${kind}: quitting (${why})`);
  spec.hub.send({ type: "quit" });
  await spec.stop();
  spec.hub.close();
  await gui.shutdown();
  await opened?.remove();
  removeSignals();
  return 0;
}
