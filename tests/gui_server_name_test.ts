/**
 * The server page's "Name on the network": the name the page accepts is the
 * name announced, byte for byte, so that what the page says it announces is
 * what clients see. A name the announcement would cut (over 63 UTF-8 bytes)
 * or strip (bidirectional overrides, separators) is refused with words.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fitServerName } from "../lib/net/service_ad.ts";
import { checkName } from "../lib/gui/server_config.ts";

Deno.test("the server page's name: 63 UTF-8 bytes are announced as typed; one byte more is refused, not cut", () => {
  const at = "é".repeat(31) + "a"; // 63 bytes, 32 characters
  assert.deepEqual(checkName(at), { name: at });
  assert.equal(fitServerName(at), at, "announced as typed");
  const over = "é".repeat(32); // 64 bytes, 32 characters
  const refused = checkName(over);
  assert.ok("error" in refused, `'${over}' would be announced cut`);
  assert.match(refused.error, /63 bytes/);
  assert.deepEqual(checkName("a".repeat(63)), { name: "a".repeat(63) });
  assert.ok("error" in checkName("a".repeat(64)));
});

Deno.test("the server page's name: a bidirectional override or a line separator is refused, not stripped", () => {
  for (const char of ["\u202e", "\u2066", "\u200f", "\u2028", "\u0085", "\u001b"]) {
    const name = `attic${char}box`;
    const checked = checkName(name);
    assert.ok("error" in checked, `U+${char.codePointAt(0)!.toString(16)} accepted`);
    assert.match(checked.error, /no control characters/);
  }
  // The closest good names: plain letters, spaces inside, another script.
  for (const name of ["attic box", "Ärger", "חדר", ""]) {
    assert.deepEqual(checkName(name), { name });
    assert.equal(fitServerName(name), name);
  }
  assert.deepEqual(checkName("  attic  "), { name: "attic" });
});
