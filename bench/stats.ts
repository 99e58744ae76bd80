/**
 * Small statistics and Markdown formatting for the benchmark report.
 *
 * @module
 */

/** One bytes-per-MiB constant, so that sizes read the same everywhere. */
export const MiB = 1024 * 1024;

/** The median and spread of a set of measurements. */
export interface Summary {
  /** The middle value (the mean of the two middle values for an even count). */
  median: number;
  /** The smallest value. */
  min: number;
  /** The largest value. */
  max: number;
  /** How many values. */
  count: number;
}

/**
 * Summarizes measurements by their median and range.
 *
 * @param values the measurements (at least one)
 * @returns median, min, max and count
 * @example
 * ```ts
 * summarize([3, 1, 2]); // { median: 2, min: 1, max: 3, count: 3 }
 * ```
 */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new Error("Cannot summarize no values");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, count: sorted.length };
}

/**
 * Formats a number with a fixed count of decimals, or a dash when missing.
 *
 * @param value the number, or undefined
 * @param digits decimals
 * @returns the text
 */
export function num(value: number | undefined, digits = 2): string {
  return value === undefined || !Number.isFinite(value) ? "—" : value.toFixed(digits);
}

/**
 * Formats a median with its range, such as `3.71 (3.52–3.90)`.
 *
 * @param summary the measurements
 * @param digits decimals
 * @returns the text
 */
export function spread(summary: Summary | undefined, digits = 2): string {
  if (summary === undefined) return "—";
  return `${num(summary.median, digits)} (${num(summary.min, digits)}–${num(summary.max, digits)})`;
}

/**
 * Renders a Markdown table.
 *
 * @param headers the column titles
 * @param rows the cells, row by row
 * @returns the table, one line per row, with a trailing newline
 */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(" | ")} |`;
  return [line(headers), line(headers.map(() => "---")), ...rows.map(line)].join("\n") + "\n";
}

function cell(text: string): string {
  // A pipe inside a cell would split it into two columns.
  return text.replaceAll("|", "\\|");
}
