/**
 * QR codes of the web page's address: as text for a terminal, and as SVG for
 * the server's page. The encoding is `npm:qrcode`'s; only the drawing is ours.
 *
 * @module
 */

import QRCode from "qrcode";

/** The modules of a QR code: `dark(x, y)` for 0 <= x, y < size. */
interface Matrix {
  size: number;
  dark(x: number, y: number): boolean;
}

function matrix(text: string): Matrix {
  const { modules } = QRCode.create(text, { errorCorrectionLevel: "M" });
  return { size: modules.size, dark: (x, y) => modules.get(y, x) === 1 };
}

/** Light modules around the code, as the standard asks (at least 4 for print; 2 reads well on a screen). */
const QUIET = 2;

/**
 * The QR code of `text` drawn with half blocks, two rows of modules a line.
 * With `ansi`, dark on light in the terminal's colours set explicitly (reads
 * on dark and light themes alike); without, light modules are drawn as
 * blocks, for the usual light text on a dark background.
 *
 * @param text what the code holds
 * @param ansi whether to set the colours (a terminal) or not (a log file)
 * @returns the lines, joined by newlines
 * @example
 * ```ts
 * import { qrText } from "./qr.ts";
 * console.log(qrText("http://192.168.1.20:3651/?t=abc", Deno.stdout.isTerminal()));
 * ```
 */
export function qrText(text: string, ansi: boolean): string {
  const { size, dark } = matrix(text);
  const light = (x: number, y: number) => x < 0 || y < 0 || x >= size || y >= size || !dark(x, y);
  const lines: string[] = [];
  for (let y = -QUIET; y < size + QUIET; y += 2) {
    let line = "";
    for (let x = -QUIET; x < size + QUIET; x++) {
      // Drawn: the light modules (upper half, lower half, both).
      const top = light(x, y);
      const bottom = y + 1 < size + QUIET ? light(x, y + 1) : !ansi;
      line += top && bottom ? "█" : top ? "▀" : bottom ? "▄" : " ";
    }
    lines.push(ansi ? `\x1b[97;40m${line}\x1b[0m` : line);
  }
  return lines.join("\n");
}

/**
 * The QR code of `text` as an SVG image, dark modules on white.
 *
 * @param text what the code holds
 * @param label the image's accessible name
 * @returns the SVG document
 */
export function qrSvg(text: string, label: string): string {
  const { size, dark } = matrix(text);
  const full = size + 2 * QUIET * 2;
  let path = "";
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (dark(x, y)) path += `M${x + QUIET * 2} ${y + QUIET * 2}h1v1h-1z`;
    }
  }
  const name = label.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll('"', "&quot;");
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${full} ${full}" ` +
    `role="img" aria-label="${name}" shape-rendering="crispEdges">` +
    `<rect width="${full}" height="${full}" fill="#fff"/><path fill="#000" d="${path}"/></svg>`;
}
