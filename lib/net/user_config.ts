/**
 * Where privateshare keeps a user's own files (the server's generated
 * certificate, the client's known servers): the system's per-user
 * configuration folder.
 *
 * @module
 */

import { join } from "node:path";

/**
 * The per-user folder for privateshare's files: `$XDG_CONFIG_HOME/privateshare`
 * or `~/.config/privateshare` on Linux and BSD, `~/Library/Application
 * Support/privateshare` on macOS, `%APPDATA%\privateshare` on Windows.
 * Reading the environment needs permission; without it there is no
 * default and this returns undefined (never a prompt).
 *
 * @returns the folder (which may not exist yet), or undefined
 */
export function userConfigDir(): string | undefined {
  const env = (name: string) =>
    Deno.permissions.querySync({ name: "env", variable: name }).state === "granted"
      ? Deno.env.get(name) || undefined
      : undefined;
  if (Deno.build.os === "windows") {
    const appData = env("APPDATA");
    return appData === undefined ? undefined : join(appData, "privateshare");
  }
  const home = env("HOME");
  if (Deno.build.os === "darwin") {
    return home === undefined
      ? undefined
      : join(home, "Library", "Application Support", "privateshare");
  }
  const xdg = env("XDG_CONFIG_HOME");
  if (xdg !== undefined && xdg.startsWith("/")) return join(xdg, "privateshare");
  return home === undefined ? undefined : join(home, ".config", "privateshare");
}
