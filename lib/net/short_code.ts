/**
 * The short code of a TLS server: eight characters that a person compares
 * between two screens ("Does the server show K7QF-3M2D?") instead of a
 * 95-character fingerprint. It is the first 40 bits of the certificate's
 * SHA-256, in Crockford's base32, in two groups of four. Trust is never the
 * code itself: once a person says the codes match, the client pins the full
 * fingerprint of the certificate it saw.
 *
 * Strength: to pass as a server, an attacker needs a certificate whose
 * SHA-256 starts with the same 40 bits, about 2^40 (10^12) certificate
 * signatures and hashes on average, and must find it in the moment between
 * the server showing its code and the person comparing: hours to days of
 * one machine's work for one code, for each server it targets.
 *
 * @module
 */

/** Crockford's base32 digits: no I, L, O or U, so that nothing reads as another. */
const DIGITS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** How many bits of the fingerprint the code carries. */
export const SHORT_CODE_BITS = 40;

/**
 * The short code of a certificate's SHA-256 fingerprint.
 *
 * @param fingerprint the fingerprint as privateshare prints it (`AB:CD:...`) or 64 hex digits
 * @returns the code, `XXXX-XXXX`
 * @throws {TypeError} when the fingerprint is not 64 hex digits
 * @example
 * ```ts
 * shortCode("00".repeat(32)); // "0000-0000"
 * ```
 */
export function shortCode(fingerprint: string): string {
  const hex = fingerprint.replaceAll(":", "");
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new TypeError(`Not a SHA-256 fingerprint: '${fingerprint}'`);
  }
  let bits = BigInt(`0x${hex.slice(0, SHORT_CODE_BITS / 4)}`);
  let code = "";
  for (let i = 0; i < SHORT_CODE_BITS / 5; i++) {
    code = DIGITS[Number(bits & 31n)] + code;
    bits >>= 5n;
  }
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/**
 * Reads a short code as a person types it: any case, with or without the
 * dash or spaces, and Crockford's look-alikes (I and L for 1, O for 0).
 *
 * @param text the code as given
 * @returns it as {@link shortCode} prints it, or undefined when it is not a code
 * @example
 * ```ts
 * parseShortCode("k7qf 3m2d"); // "K7QF-3M2D"
 * ```
 */
export function parseShortCode(text: string): string | undefined {
  const plain = text.trim().toUpperCase().replace(/[\s-]/g, "").replace(/[IL]/g, "1")
    .replace(/O/g, "0");
  if (plain.length !== SHORT_CODE_BITS / 5) return undefined;
  for (const char of plain) if (!DIGITS.includes(char)) return undefined;
  return `${plain.slice(0, 4)}-${plain.slice(4)}`;
}
