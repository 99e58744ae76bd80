/**
 * What the tests of the compiled programs share: the output a compiled
 * program prints where the script prints its own, and a stand-in for the
 * system's browser opener, to see a program started with no arguments (as
 * a double-click starts it) open its page.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "./data.ts";
import { until } from "./deadline.ts";
import { kill } from "./processes.ts";

const decoder = new TextDecoder();

/**
 * What a compiled program prints where the script prints `text`: each usage
 * line names the program instead of `deno run ... server.ts` or `server.ts`.
 *
 * @param text what the script printed
 * @param name the compiled program's file name
 * @returns the text with the usage lines naming the program
 */
export function asCompiled(text: string, name: string): string {
  return text
    .replace(/^ {2}deno run (?:\[?--allow-[a-z]+\]? )+(?:server|client)\.ts /gm, `  ${name} `)
    .replace(/^( {2}|Usage: )(?:server|client)\.ts /gm, `$1${name} `);
}

/** The one program that opens the browser on this system. */
export const OPENER: string = Deno.build.os === "windows"
  ? "cmd"
  : Deno.build.os === "darwin"
  ? "open"
  : "xdg-open";

/** Why the tests that need a stand-in for the opener cannot run here, if they cannot. */
export const NO_FAKE_OPENER: string | undefined = Deno.build.os === "windows"
  ? "the stand-in for the browser opener is a shell script; Windows opens pages with cmd"
  : undefined;

/** A stand-in for the browser opener, and the environment that finds it. */
export interface FakeOpener {
  /** PATH with the stand-in first; HOME and XDG_CONFIG_HOME in the temporary folder. */
  env: Record<string, string>;
  /** What the opener was asked to open, one argument a line ("" before it runs). */
  opened(): string;
}

/**
 * A stand-in for the system's browser opener, first on the PATH of what is
 * started with its `env`: it writes down the page it is asked to open. The
 * home and config folders are the temporary folder too.
 *
 * @param dir a temporary folder
 * @returns the environment to start programs with, and what was opened
 */
export async function fakeOpener(dir: string): Promise<FakeOpener> {
  const bin = join(dir, "bin");
  const log = join(dir, "opened.txt");
  await Deno.mkdir(bin, { recursive: true });
  await Deno.writeTextFile(join(bin, OPENER), `#!/bin/sh\nprintf '%s\\n' "$@" >> '${log}'\n`, {
    mode: 0o755,
  });
  return {
    env: {
      PATH: `${bin}:${Deno.env.get("PATH") ?? ""}`,
      // Deno's own cache stays where it is: a HOME of the test's must not
      // make every start download the npm packages again.
      DENO_DIR: denoDir(),
      HOME: dir,
      XDG_CONFIG_HOME: join(dir, "config"),
      // Temporary folders (the page's redirect file) in the test's folder too.
      TMPDIR: dir,
    },
    opened(): string {
      try {
        return Deno.readTextFileSync(log);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return "";
        throw error;
      }
    },
  };
}

/**
 * Starts a program with no arguments, as a double-click does, with the
 * stand-in opener: it must open the very address it prints, serve its page
 * there, quit on SIGTERM with exit 0, and print nothing on stderr (no
 * permission missing, no notice of the runtime's).
 *
 * @param command the program, or deno
 * @param args its arguments: none for a compiled program, `run ... server.ts` for deno
 * @param title the page's title
 */
export async function opensItsPage(command: string, args: string[], title: string): Promise<void> {
  await using dir = await tempDir();
  const opener = await fakeOpener(dir.path);
  const child = new Deno.Command(command, {
    args,
    cwd: dir.path,
    env: opener.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let printed = "";
  const reading = (async () => {
    for await (const chunk of child.stdout) printed += decoder.decode(chunk, { stream: true });
  })();
  const stderr = new Response(child.stderr).text();
  const address = /http:\/\/127\.0\.0\.1:\d+\/[\w-]+\//;
  let code: number;
  try {
    await until(() => opener.opened().endsWith("\n") && address.test(printed), 30_000).catch(() => {
      throw new Error(`${command} opened '${opener.opened()}' and printed: ${printed}`);
    });
    const url = address.exec(printed)![0];
    assert.match(printed, new RegExp(`^privateshare (server|client): open ${url} in your browser`));
    const redirect = await redirectOf(opener.opened());
    assert.equal(redirect.target, url, "it opens its own address, once, through a private file");
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), new RegExp(`<title>${title}</title>`));
  } finally {
    kill(child, "SIGTERM");
    const timer = setTimeout(() => kill(child, "SIGKILL"), 10_000);
    code = (await child.status).code;
    clearTimeout(timer);
    await reading;
  }
  assert.equal(code, 0, `${command} quits on SIGTERM: ${printed}`);
  assert.match(printed, /quitting \(SIGTERM\)\n$/);
  assert.equal(await stderr, "", `${command} printed nothing on stderr`);
}

/**
 * The permissions a `deno task` of deno.json grants: its `--allow-*` words
 * between `run` and the script.
 *
 * @param task the task's name, such as `gui-server`
 * @returns the flags, as the task gives them
 */
export function taskPermissions(task: string): string[] {
  const config = JSON.parse(Deno.readTextFileSync(new URL("../../deno.json", import.meta.url)));
  const words: string[] = config.tasks[task].split(" ");
  const script = words.findIndex((word) => word.endsWith(".ts"));
  return words.slice(words.indexOf("run") + 1, script).filter((word) =>
    word.startsWith("--allow-")
  );
}

/** A redirect file the opener was given, and where it leads. */
export interface Redirect {
  /** The file's path. */
  file: string;
  /** The address it sends the browser to. */
  target: string;
}

/**
 * Checks what the opener was given: one argument, a file:// URL of a file
 * readable only by its owner (0600), in a folder only its owner can open
 * (0700), that sends the browser on to one address (its meta refresh and
 * its script agree). Read it before the page is fetched: then it is removed.
 *
 * @param opened the opener's arguments, one a line
 * @returns the file and where it leads
 */
export async function redirectOf(opened: string): Promise<Redirect> {
  assert.match(opened, /^file:\/\/[^\n]+\n$/, "one argument, a file:// URL");
  const file = fileURLToPath(opened.trim());
  const info = await Deno.stat(file);
  const folder = await Deno.stat(dirname(file));
  assert.ok(info.isFile);
  assert.equal(info.mode! & 0o777, 0o600, "the redirect file is readable by its owner only");
  assert.equal(folder.mode! & 0o777, 0o700, "in a folder only its owner can open");
  assert.equal(info.uid, Deno.uid());
  assert.equal(folder.uid, Deno.uid());
  const html = await Deno.readTextFile(file);
  const refresh = /<meta http-equiv="refresh" content="0;url=([^"]+)">/.exec(html);
  const script = /location\.replace\(("[^"]*")\)/.exec(html);
  assert.ok(refresh && script, html);
  const target = JSON.parse(script[1]!);
  assert.equal(refresh[1]!.replaceAll("&amp;", "&"), target, "the refresh and the script agree");
  return { file, target };
}

/** Deno's cache folder, as `deno info` reports it. */
function denoDir(): string {
  const out = new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).outputSync();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}
