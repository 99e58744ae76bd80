// parseClassic takes `list` as bytes, without decoding it (issue 25), and
// nothing a byte off; put and get still go through the decoder.

import assert from "node:assert/strict";
import { ProtocolError } from "../lib/protocol/errors.ts";
import { parseClassic } from "../lib/protocol/classic.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("parseClassic takes list, and refuses every command a byte off it", () => {
  assert.deepEqual(parseClassic(bytes("list")), { op: "list", name: "" });
  for (const near of ["List", "lisT", "lis", "list ", " list", "list\n", "listt", "list,"]) {
    assert.throws(() => parseClassic(bytes(near)), ProtocolError, JSON.stringify(near));
  }
  assert.throws(() => parseClassic(new Uint8Array([0x6c, 0x69, 0x73, 0x74, 0xff])), ProtocolError);
});

Deno.test("parseClassic still splits put and get at the first comma", () => {
  assert.deepEqual(parseClassic(bytes("get,a,b.txt")), { op: "get", name: "a,b.txt" });
  assert.deepEqual(parseClassic(bytes("put,é.txt")), { op: "put", name: "é.txt" });
  assert.throws(() => parseClassic(new Uint8Array([0x67, 0x65, 0x74, 0x2c, 0xff])), ProtocolError);
});
