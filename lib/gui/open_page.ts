/**
 * Opening a page without giving its token away. A program's command line is
 * readable by every user of the computer (`ps`), so the page's address, whose
 * token is the key to the page, never goes on the opener's command line (nor,
 * through it, on the browser's). The browser is given instead a small HTML
 * file that redirects to the address: created exclusively, readable only by
 * its owner (mode 0600), in a folder of its own that only its owner can open
 * (a fresh temporary folder, mode 0700), so that no other user can read it or
 * put another file in its place. It is removed once the page has loaded, or
 * after a while, whichever comes first (as Jupyter does).
 *
 * @module
 */

import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { browserOpener, granted, openBrowser } from "./system.ts";

/** How long the redirect file stays for a browser that is slow to start. */
export const REDIRECT_FILE_LIFETIME_MS = 120_000;

/** A page opened through a redirect file. */
export interface OpenedPage {
  /** The redirect file given to the opener. */
  file: string;
  /** Removes the redirect file and its folder (again is harmless). */
  remove(): Promise<void>;
}

/**
 * Opens a page in the user's browser through a redirect file that only the
 * user can read.
 *
 * @param url the page's address, token included
 * @param lifetimeMs how long the file stays when the page does not load
 * @returns the opened page, or undefined when no redirect file could be made
 *   (no permission to write a temporary folder): then nothing is opened, and
 *   the user opens the printed address
 */
export async function openPage(
  url: string,
  lifetimeMs: number = REDIRECT_FILE_LIFETIME_MS,
): Promise<OpenedPage | undefined> {
  // Asked first, so that Deno never prompts.
  if (!granted({ name: "run", command: browserOpener(Deno.build.os) })) return undefined;
  if (!granted({ name: "write" })) return undefined;
  let folder: string;
  try {
    // mkdtemp: a new folder, with a name nobody could guess, mode 0700.
    folder = await Deno.makeTempDir({ prefix: "privateshare-open-" });
  } catch (error) {
    if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
      return undefined;
    }
    if (typeof (error as { code?: unknown })?.code === "string") return undefined;
    throw error;
  }
  const file = join(folder, "open.html");
  try {
    // Exclusively, and never readable by others (the umask can only take bits away).
    await Deno.writeTextFile(file, redirectPage(url), { createNew: true, mode: 0o600 });
  } catch (error) {
    await Deno.remove(folder, { recursive: true }).catch(() => {});
    if (typeof (error as { code?: unknown })?.code === "string") return undefined;
    throw error;
  }
  let removed = false;
  const remove = async () => {
    if (removed) return;
    removed = true;
    clearTimeout(timer);
    await Deno.remove(folder, { recursive: true }).catch(() => {});
  };
  const timer = setTimeout(() => remove(), lifetimeMs);
  // A program that has nothing else to do ends without waiting for it.
  Deno.unrefTimer(timer);
  openBrowser(pathToFileURL(file).href);
  return { file, remove };
}

/**
 * A page that sends the browser on to `url` at once, and links to it for a
 * browser that does not follow.
 *
 * @param url the address, token included
 * @returns the HTML
 */
export function redirectPage(url: string): string {
  const attribute = url.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;");
  return `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="0;url=${attribute}">
<title>Opening privateshare</title>
</head>
<body>
<p>Opening privateshare: <a href="${attribute}">continue to its page</a>.</p>
<script>location.replace(${JSON.stringify(url).replaceAll("<", "\\u003c")});</script>
</body>
</html>
`;
}
