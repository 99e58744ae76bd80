/**
 * HTTP ranges of a download (RFC 9110 14.2 and 13.1.5): which bytes of a
 * file a `Range` and `If-Range` ask for, so that a browser's own download
 * resumes where it stopped and never joins two versions of a file.
 *
 * @module
 */

/** What to send of a file. */
export type RangeAnswer =
  /** The whole file (no Range, a malformed one, several, or an If-Range that does not match). */
  | { kind: "whole" }
  /** One range, `start` to `end` inclusive: a `206`. */
  | { kind: "part"; start: number; end: number }
  /** A range wholly past the end: a `416`. */
  | { kind: "unsatisfiable" };

/**
 * The strong entity tag of a version of a file: its size, modification time
 * and inode, so that a file replaced or written in place gets another.
 *
 * @param facts the open file's size, modification time and inode
 * @returns the tag, quoted
 */
export function entityTag(facts: { size: number; mtimeMs: number; ino: number }): string {
  const micros = Math.trunc(facts.mtimeMs * 1000);
  return `"${facts.size.toString(16)}-${micros.toString(16)}-${facts.ino.toString(16)}"`;
}

/**
 * Which bytes a request asks for.
 *
 * @param range the `Range` header, or null
 * @param ifRange the `If-Range` header, or null
 * @param size the file's size
 * @param etag the file's strong entity tag (see {@link entityTag})
 * @returns the whole file, one range, or unsatisfiable
 * @example
 * ```ts
 * chooseRange("bytes=-10", null, 100, '"64-1-2"'); // { kind: "part", start: 90, end: 99 }
 * ```
 */
export function chooseRange(
  range: string | null,
  ifRange: string | null,
  size: number,
  etag: string,
): RangeAnswer {
  if (range === null) return { kind: "whole" };
  // A range of another version would splice two files together: send this one whole.
  // Only the strong tag: a date has one-second steps, and two writes may share a second.
  if (ifRange !== null && ifRange.trim() !== etag) return { kind: "whole" };
  const set = /^bytes=(.*)$/i.exec(range.trim());
  if (!set) return { kind: "whole" };
  const specs = set[1]!.split(",").map((spec) => spec.trim()).filter((spec) => spec !== "");
  // Several ranges: 14.2 lets a server send the whole file instead of multipart.
  if (specs.length !== 1) return { kind: "whole" };
  const spec = specs[0]!;
  const suffix = /^-(\d+)$/.exec(spec);
  if (suffix) {
    const length = Number(suffix[1]);
    if (length === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "part", start: Math.max(0, size - length), end: size - 1 };
  }
  const span = /^(\d+)-(\d*)$/.exec(spec);
  if (!span) return { kind: "whole" };
  const start = Number(span[1]);
  const last = span[2] === "" ? Infinity : Number(span[2]);
  if (last < start) return { kind: "whole" };
  if (start >= size) return { kind: "unsatisfiable" };
  return { kind: "part", start, end: Math.min(last, size - 1) };
}
