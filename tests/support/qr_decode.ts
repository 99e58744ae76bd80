/**
 * Reads a QR code that a program drew in a terminal with half blocks
 * (lib/gui/qr.ts `qrText` without colours: a drawn half is a light module)
 * with a decoder privateshare did not write (npm:jsqr): the characters
 * become an RGBA bitmap, several pixels a module, with a wide light margin.
 *
 * @module
 */

import jsqr from "npm:jsqr@1.4.0";

// A CommonJS package: its default import is its module.exports, the function itself.
const jsQR = jsqr as unknown as typeof jsqr.default;

/** Pixels a module. */
const SCALE = 6;
/** Light modules added around the drawing (the drawing has its own quiet zone too). */
const MARGIN = 4;

/** Whether each half of a character is light: top, bottom. */
const HALVES: Record<string, [boolean, boolean]> = {
  "█": [true, true],
  "▀": [true, false],
  "▄": [false, true],
  " ": [false, false],
};

/**
 * Whether a line is a row of a QR code drawn with half blocks.
 *
 * @param line a line of output
 * @returns true for a non-empty line of only half blocks, full blocks and spaces
 */
export function isQrRow(line: string): boolean {
  return /^[█▀▄ ]+$/.test(line) && /[█▀▄]/.test(line);
}

/**
 * Decodes a QR code drawn with half blocks, light modules drawn.
 *
 * @param rows the drawn lines, all of one width
 * @returns what the code holds, or undefined when it cannot be read
 */
export function decodeQrRows(rows: string[]): string | undefined {
  const modules = [...(rows[0] ?? "")].length;
  const width = (modules + 2 * MARGIN) * SCALE;
  const height = (rows.length * 2 + 2 * MARGIN) * SCALE;
  const pixels = new Uint8ClampedArray(width * height * 4).fill(255);
  rows.forEach((row, line) => {
    [...row].forEach((char, x) => {
      const halves = HALVES[char];
      if (halves === undefined) throw new Error(`Not a QR row: '${row}'`);
      halves.forEach((light, half) => {
        if (light) return;
        const top = (line * 2 + half + MARGIN) * SCALE;
        const left = (x + MARGIN) * SCALE;
        for (let py = top; py < top + SCALE; py++) {
          for (let px = left; px < left + SCALE; px++) {
            const at = (py * width + px) * 4;
            pixels[at] = pixels[at + 1] = pixels[at + 2] = 0;
          }
        }
      });
    });
  });
  // Only as drawn: a code that reads only inverted would show inverted in the terminal.
  return jsQR(pixels, width, height, { inversionAttempts: "dontInvert" })?.data;
}
