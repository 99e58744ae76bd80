/**
 * The rules a file name from the network must follow: one harmless path
 * component that every system privateshare runs on can hold
 * (docs/PROTOCOL.md#names). Both ends apply them, on every system: the
 * server to every name it is sent, the client before a name becomes a local
 * path, so that a folder shared from Linux can be fetched to Windows.
 *
 * Names are never rewritten: no case folding, no Unicode normalisation.
 * Whether two names are one file is for the file system where the file
 * lands to say; both ends create files only where nothing is, so a name that
 * a case-insensitive file system folds onto an existing file is refused,
 * never written over it.
 *
 * @module
 */

import { CancelError } from "./errors.ts";

/** Every file privateshare itself keeps in a folder starts with this. */
export const RESERVED_PREFIX = ".privateshare-";

const encoder = new TextEncoder();
// C0 controls, DEL and C1 controls.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** Characters that Windows does not allow in a file name (besides separators and controls). */
const WINDOWS_FORBIDDEN = /[<>:"|?*]/;
/**
 * Windows' device names: a file named so, with any extension and in any
 * case (`aux.txt`, `Nul.tar.gz`), opens the device instead. Microsoft's
 * naming rules also list COM0, LPT0 and the superscript digits.
 */
const DEVICES = new Set([
  "CON",
  "PRN",
  "AUX",
  "NUL",
  "CONIN$",
  "CONOUT$",
  ...[..."0123456789\u00b9\u00b2\u00b3"].flatMap((digit) => [`COM${digit}`, `LPT${digit}`]),
]);

/**
 * Checks that a name from the network is one harmless path component.
 *
 * @param name the name as received
 * @throws {CancelError} `invalid-name`, saying which rule it broke
 * @example
 * ```ts
 * validateName("apple.jpg"); // fine
 * validateName("../etc/passwd"); // throws CancelError("invalid-name", ...)
 * ```
 */
export function validateName(name: string): void {
  const problem = nameProblem(name);
  if (problem) throw new CancelError("invalid-name", `Invalid name ${quoteName(name)}: ${problem}`);
}

/**
 * Says what is wrong with a name, if anything.
 *
 * @param name the name to check
 * @returns a phrase naming the broken rule, or undefined for a good name
 */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return "it is empty";
  if (encoder.encode(name).length > 255) return "it is longer than 255 bytes";
  if (name === "." || name === "..") return "it names a folder";
  if (name.includes("/")) return "it contains a path separator";
  if (name.includes("\\")) {
    return "it contains a backslash, which Windows reads as a path separator";
  }
  if (CONTROL.test(name)) return "it contains a control character";
  if (/^[A-Za-z]:/.test(name)) return "it starts with a drive letter";
  const forbidden = WINDOWS_FORBIDDEN.exec(name);
  if (forbidden) return `it contains '${forbidden[0]}', which Windows does not allow in a name`;
  if (/[. ]$/.test(name)) return "it ends with a dot or a space, which Windows drops";
  const device = deviceName(name);
  if (device) return `'${device}' is a device name on Windows, with or without an extension`;
  if (name.startsWith(RESERVED_PREFIX)) {
    return `names starting with '${RESERVED_PREFIX}' are reserved`;
  }
  if (!name.isWellFormed()) return "it is not valid Unicode";
  if (name.includes("%")) {
    // Decode leniently (a bad escape elsewhere must not switch the check off),
    // so that no tool that decodes names can read this one as a path.
    const decoded = percentDecode(name);
    if (decoded !== name && nameProblem(decoded)) {
      return "its URL-decoded form is not a plain file name";
    }
  }
  return undefined;
}

/**
 * The Windows device a name opens, if any: Windows reads the part before the
 * first dot, without its trailing spaces, in any case (`Aux .txt` is `AUX`).
 */
function deviceName(name: string): string | undefined {
  const stem = name.split(".", 1)[0]!.replace(/ +$/, "").toUpperCase();
  return DEVICES.has(stem) ? stem : undefined;
}

/** Decodes every run of valid `%XX` escapes, leaving anything else as it is. */
function percentDecode(text: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = Uint8Array.from(run.slice(1).split("%"), (hex) => parseInt(hex, 16));
    return new TextDecoder().decode(bytes);
  });
}

/**
 * Quotes a name for a message, shortened when long.
 *
 * @param name the name
 * @returns the name as a JSON string, at most 80 characters inside
 */
export function quoteName(name: string): string {
  return JSON.stringify(name.length > 80 ? name.slice(0, 77) + "..." : name);
}

/**
 * The first free name of the form `name (2).ext`, `name (3).ext`, ... for
 * "Keep both": the number goes before the last extension (none for a
 * hidden file's leading dot). A name that would pass 255 bytes keeps its
 * extension and number and loses the end of its stem, whole characters.
 *
 * @param name the name that is taken (a valid name)
 * @param taken whether a name is taken
 * @returns the first free one
 * @example freeName("photo.jpg", (n) => n === "photo (2).jpg") // "photo (3).jpg"
 */
export async function freeName(
  name: string,
  taken: (name: string) => boolean | Promise<boolean>,
): Promise<string> {
  const dot = name.lastIndexOf(".");
  let [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
  // An extension too long to keep beside a number is part of the stem.
  if (encoder.encode(ext).length > 200) [stem, ext] = [name, ""];
  for (let n = 2;; n++) {
    const suffix = ` (${n})${ext}`;
    const room = 255 - encoder.encode(suffix).length;
    let kept = stem;
    if (encoder.encode(kept).length > room) {
      // Whole code points only: a name stays valid Unicode.
      const points = [...stem];
      while (points.length > 0 && encoder.encode(points.join("")).length > room) points.pop();
      kept = points.join("");
    }
    const candidate = `${kept}${suffix}`;
    if (!await taken(candidate)) return candidate;
  }
}
