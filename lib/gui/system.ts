/**
 * What the GUIs need from the computer they run on: the user's browser,
 * their home and config folders, the folders the folder picker shows, the
 * addresses clients can reach, and the signals that end the program. Every
 * call checks its permission first, so that Deno never prompts; a missing
 * permission makes a feature quietly unavailable, never a crash.
 *
 * @module
 */

import { dirname, isAbsolute, join, resolve } from "node:path";
import { userConfigDir } from "../mod.ts";

/**
 * Whether Deno granted a permission (without ever prompting for it).
 *
 * @param descriptor the permission
 * @returns true when granted
 */
export function granted(descriptor: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(descriptor).state === "granted";
}

/**
 * The environment variables the GUIs read, and no others: where the home
 * folder is (`HOME`; `USERPROFILE` on Windows) and where settings go
 * (`XDG_CONFIG_HOME`; `APPDATA` on Windows). The compiled programs may read
 * exactly these.
 */
export const ENV_VARIABLES = ["HOME", "USERPROFILE", "XDG_CONFIG_HOME", "APPDATA"] as const;

function env(name: typeof ENV_VARIABLES[number]): string | undefined {
  return granted({ name: "env", variable: name }) ? Deno.env.get(name) || undefined : undefined;
}

/**
 * The one program that opens a page in the user's browser on a system; the
 * compiled programs may run it and no other.
 *
 * @param os the system, as `Deno.build.os` names it
 * @returns `cmd` on Windows (for its `start`), `open` on macOS, `xdg-open` elsewhere
 */
export function browserOpener(os: typeof Deno.build.os): string {
  return os === "windows" ? "cmd" : os === "darwin" ? "open" : "xdg-open";
}

/**
 * Opens a page in the user's browser with the system's
 * {@link browserOpener}. Fails quietly (no permission to run it, no such
 * program): the program prints the address in any case. Its argument is on
 * a command line that every local user can read: never give it a secret
 * (the GUIs give it a redirect file's URL, see open_page.ts).
 *
 * @param url what to open
 */
export function openBrowser(url: string): void {
  runOpener(url);
}

/**
 * Whether the program may run the system's {@link browserOpener}, and so
 * open a folder for the user (asked without prompting).
 *
 * @returns true when granted
 */
export function canOpenFolders(): boolean {
  return granted({ name: "run", command: browserOpener(Deno.build.os) });
}

/**
 * Opens a folder in the user's file manager with the same opener as the
 * pages ({@link browserOpener}), given the folder's path and nothing else.
 *
 * @param folder an absolute path the program chose (never one a page named)
 * @returns true when the opener was started
 */
export function openFolder(folder: string): boolean {
  return runOpener(folder);
}

/** Starts the system's opener on one argument; false when it cannot run. */
function runOpener(target: string): boolean {
  const command = browserOpener(Deno.build.os);
  const args = Deno.build.os === "windows" ? ["/c", "start", '""', target] : [target];
  if (!granted({ name: "run", command })) return false;
  try {
    const child = new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    child.status.catch(() => {});
    child.unref();
    return true;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied)) {
      throw error;
    }
    return false;
  }
}

/**
 * The user's home folder, or the current folder when it is unknown.
 *
 * @returns an absolute path
 */
export function homeFolder(): string {
  return env("HOME") ?? env("USERPROFILE") ?? Deno.cwd();
}

/** What the folder picker shows of one folder. */
export interface FolderListing {
  /** The folder, absolute. */
  path: string;
  /** Its parent, or null at the top. */
  parent: string | null;
  /** The folders in it, by name, hidden ones left out. */
  folders: string[];
  /** Why it cannot be shown, when it cannot. */
  error?: string;
}

/**
 * Lists the folders in a folder, for the folder picker.
 *
 * @param path the folder (default: the home folder)
 * @returns its folders, or an error to show
 */
export async function listFolders(path: string | undefined): Promise<FolderListing> {
  const folder = resolve(path && path.trim() !== "" ? path : homeFolder());
  const parent = dirname(folder) === folder ? null : dirname(folder);
  if (!granted({ name: "read", path: folder })) {
    return { path: folder, parent, folders: [], error: `No permission to read '${folder}'` };
  }
  const folders: string[] = [];
  try {
    for await (const entry of Deno.readDir(folder)) {
      if (entry.name.startsWith(".")) continue;
      let isFolder = entry.isDirectory;
      if (entry.isSymlink) {
        try {
          isFolder = (await Deno.stat(join(folder, entry.name))).isDirectory;
        } catch {
          // A dangling link is not a folder to open.
          isFolder = false;
        }
      }
      if (isFolder) folders.push(entry.name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { path: folder, parent, folders, error: `The folder '${folder}' does not exist` };
    }
    if (error instanceof Deno.errors.NotADirectory) {
      return { path: folder, parent, folders, error: `'${folder}' is not a folder` };
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      return { path: folder, parent, folders, error: `Cannot read '${folder}': ${error.message}` };
    }
    if (error instanceof Deno.errors.NotCapable) {
      // Deno keeps /proc, /dev and /sys for programs granted everything.
      return {
        path: folder,
        parent,
        folders: [],
        error: `'${folder}' is a system folder privateshare may not open: choose another folder`,
      };
    }
    // Any other system error (Deno's carry an errno code) is the folder's, not ours.
    if (typeof (error as { code?: unknown })?.code !== "string") throw error;
    return {
      path: folder,
      parent,
      folders: [],
      error: `Cannot read '${folder}': ${oneLine(error)}`,
    };
  }
  folders.sort((a, b) => a.localeCompare(b));
  return { path: folder, parent, folders };
}

/**
 * Says what keeps a path from being a folder to save into, if anything.
 *
 * @param path the folder, as the user gave it
 * @returns one line, or undefined for a usable folder
 */
export async function folderProblem(path: string): Promise<string | undefined> {
  if (!isAbsolute(path)) return `Give the whole path of the folder to save into, not '${path}'`;
  if (!granted({ name: "read", path })) return undefined; // get itself says which permission
  try {
    if ((await Deno.stat(path)).isDirectory) return undefined;
    return `'${path}' is not a folder: choose a folder to save into`;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return `The folder '${path}' does not exist: choose another`;
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      return `Cannot use '${path}': ${error.message}`;
    }
    if (error instanceof Deno.errors.NotCapable) {
      return `'${path}' is a system folder privateshare may not save into: choose another folder`;
    }
    throw error;
  }
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]!;
}

/**
 * Settings remembered between runs: a small JSON file in the user's
 * privateshare folder ({@link userConfigDir}: `$XDG_CONFIG_HOME/privateshare/`,
 * else `~/.config/privateshare/`; `%APPDATA%\privateshare\` on Windows). Without the permissions to find
 * or write it, nothing is remembered.
 */
export class Settings {
  /** The file, or undefined when there is nowhere to keep it. */
  readonly path: string | undefined;

  /**
   * Creates Settings.
   *
   * @param file the file's name, such as `client-gui.json`
   */
  constructor(file: string) {
    // The same per-user folder as the certificates and known servers.
    const dir = userConfigDir();
    this.path = dir ? join(dir, file) : undefined;
  }

  /**
   * Reads the settings.
   *
   * @returns what was saved, or an empty object
   */
  load(): Record<string, unknown> {
    if (!this.path || !granted({ name: "read", path: this.path })) return {};
    try {
      const value = JSON.parse(Deno.readTextFileSync(this.path));
      return typeof value === "object" && value !== null && !Array.isArray(value) ? value : {};
    } catch (error) {
      // Missing or damaged: start from the defaults.
      if (error instanceof Deno.errors.NotFound || error instanceof SyntaxError) return {};
      if (error instanceof Deno.errors.PermissionDenied) return {};
      throw error;
    }
  }

  /**
   * Saves the settings (written beside, then renamed into place).
   *
   * @param values what to remember
   * @returns an error message, or undefined when saved (or when there is nowhere to save)
   */
  async save(values: Record<string, unknown>): Promise<string | undefined> {
    if (!this.path) return undefined;
    const folder = dirname(this.path);
    if (!granted({ name: "write", path: folder })) return undefined;
    const temporary = `${this.path}.${crypto.randomUUID()}.tmp`;
    try {
      await Deno.mkdir(folder, { recursive: true });
      await Deno.writeTextFile(temporary, JSON.stringify(values, null, 2) + "\n");
      await Deno.rename(temporary, this.path);
      return undefined;
    } catch (error) {
      await Deno.remove(temporary).catch(() => {});
      // Any system error of the file system (Deno's carry an errno code).
      if (typeof (error as { code?: unknown })?.code !== "string") throw error;
      return `Could not remember the settings in '${this.path}': ${(error as Error).message}`;
    }
  }
}

// The addresses other computers can use to reach this one live with the other network code.
export { networkAddresses } from "../mod.ts";

/**
 * Calls back once on Ctrl-C or SIGTERM (where the system has them).
 *
 * @param callback what to do, with the signal's name
 * @returns a function that removes the listeners
 */
export function onStopSignal(callback: (signal: string) => void): () => void {
  const removers: (() => void)[] = [];
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    const listener = () => callback(signal);
    try {
      Deno.addSignalListener(signal, listener);
      removers.push(() => Deno.removeSignalListener(signal, listener));
    } catch {
      // Not every signal exists on every system (Windows has no SIGTERM).
    }
  }
  return () => removers.forEach((remove) => remove());
}
