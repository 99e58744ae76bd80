/**
 * Text from the network made safe to print: a name or message from a peer
 * may hold escape sequences that recolour, retitle or clear a terminal, or
 * newlines that forge whole lines. Each such character is shown as a
 * visible escape instead, in a form that is unambiguous (a backslash is
 * doubled) and still readable.
 *
 * @module
 */

// C0 controls, DEL, C1 controls, the bidirectional overrides and isolates,
// and the line and paragraph separators, plus the backslash itself.
// deno-lint-ignore no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\\]/g;

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\" };

/**
 * Escapes every character of `text` that a terminal would act on.
 *
 * @param text text from the network
 * @returns the text, with control characters as `\n`, `\x1b`, `\u{202e}`
 * @example
 * ```ts
 * import { printable } from "./printable.ts";
 * printable("a\x1b[2Jb"); // "a\\x1b[2Jb"
 * ```
 */
export function printable(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
  });
}
