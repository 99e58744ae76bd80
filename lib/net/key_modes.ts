/**
 * Who besides its owner may read or replace a TLS private key, from file
 * modes, as sshd checks its host keys: the key itself, the folder that keeps
 * the made pair, and the folder of a key given by its user. Each check gives
 * the one-line reason to refuse, with the `chmod` that fixes it, or nothing;
 * nothing is checked where files have no modes (Windows).
 *
 * @module
 */

import { dirname, resolve } from "node:path";

/** Write permission for the group or others. */
const GROUP_OTHERS_WRITE = 0o022;
/** The sticky bit: only an entry's owner may rename or remove it. */
const STICKY = 0o1000;

/**
 * Whether anyone but its owner has any access to a key (sshd's rule).
 *
 * @param keyFile the key
 * @returns the reason to refuse it, or undefined
 * @throws {Deno.errors.NotFound} when the key does not exist
 */
export async function openKey(keyFile: string): Promise<string | undefined> {
  const mode = (await Deno.stat(keyFile)).mode;
  if (mode === null || (mode & 0o077) === 0) return undefined;
  const can = (mode & 0o044) && (mode & 0o022)
    ? "read and change it"
    : mode & 0o044
    ? "read it"
    : mode & 0o022
    ? "change it"
    : "use it";
  return `The private key '${keyFile}' is open to other users (mode ${octal(mode)}: they can ` +
    `${can}): run chmod 600 '${keyFile}'`;
}

/**
 * Whether the group or others may write to the folder that keeps the made
 * pair: they could have put their own pair there, so the sticky bit does not
 * help. A folder not there yet is fine (it is made 700).
 *
 * @param dir the folder
 * @returns the reason to refuse it, or undefined
 */
export async function openTlsFolder(dir: string): Promise<string | undefined> {
  const mode = await modeOf(dir);
  if (mode === undefined || (mode & GROUP_OTHERS_WRITE) === 0) return undefined;
  return `The folder '${dir}' that keeps the TLS key can be changed by other users ` +
    `(mode ${octal(mode)}), who could put their own key in it: run chmod 700 '${dir}'`;
}

/**
 * Whether the group or others may write, without the sticky bit, to the
 * folder of a key its user gave, or of the target of that link: they could
 * put their own key in its place.
 *
 * @param keyFile the key
 * @returns the reason to refuse it, or undefined
 * @throws {Deno.errors.NotCapable} without read permission on a folder to check
 */
export async function openKeyFolder(keyFile: string): Promise<string | undefined> {
  const path = resolve(keyFile);
  const folders = new Set([dirname(path), dirname(await Deno.realPath(path))]);
  for (const folder of folders) {
    // Checked first: a stat without the permission would prompt at a terminal.
    if (Deno.permissions.querySync({ name: "read", path: folder }).state !== "granted") {
      throw new Deno.errors.NotCapable(`Reading '${folder}' is not allowed`);
    }
    const mode = await modeOf(folder);
    if (mode !== undefined && (mode & GROUP_OTHERS_WRITE) !== 0 && (mode & STICKY) === 0) {
      return `The folder '${folder}' that holds the key '${keyFile}' can be changed by other ` +
        `users (mode ${octal(mode)}), who could put their own key in its place: run ` +
        `chmod go-w '${folder}', or keep the key in a folder only you can change`;
    }
  }
  return undefined;
}

/** A path's mode, or undefined when it does not exist or modes do not exist (Windows). */
async function modeOf(path: string): Promise<number | undefined> {
  try {
    return (await Deno.stat(path)).mode ?? undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(3, "0");
}
