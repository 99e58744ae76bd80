// Short codes and links (lib/net/short_code.ts, lib/net/server_link.ts): the two ways a
// person trusts a TLS server without pasting its fingerprint.

import assert from "node:assert/strict";
import { fingerprintOf } from "../lib/net/tls.ts";
import { parseShortCode, shortCode } from "../lib/net/short_code.ts";
import { formatLink, isLink, LinkError, parseLink } from "../lib/net/server_link.ts";

const FP = fingerprintOf(new TextEncoder().encode("a certificate"));

Deno.test("short code is the first 40 bits of the fingerprint in Crockford base32", () => {
  assert.equal(shortCode("00".repeat(32)), "0000-0000");
  assert.equal(shortCode("FF".repeat(32)), "ZZZZ-ZZZZ");
  // 0x0842108421 is 00001 00001 ... in 5-bit groups: every digit "1".
  assert.equal(shortCode("0842108421" + "00".repeat(27)), "1111-1111");
  assert.equal(shortCode(FP), shortCode(FP.replaceAll(":", "").toLowerCase()));
  assert.match(shortCode(FP), /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
});

Deno.test("short code changes when the first 40 bits change and not after", () => {
  const hex = FP.replaceAll(":", "");
  const flip = (at: number) =>
    hex.slice(0, at) + (parseInt(hex[at]!, 16) ^ 1).toString(16) + hex.slice(at + 1);
  assert.notEqual(shortCode(flip(9)), shortCode(hex)); // the last hex digit of the 40 bits
  assert.equal(shortCode(flip(10)), shortCode(hex)); // the first one after them
  assert.throws(() => shortCode(hex.slice(1)), TypeError);
  assert.throws(() => shortCode(hex + "0"), TypeError);
});

Deno.test("short code reads as people type it and refuses one character off", () => {
  const code = shortCode(FP);
  assert.equal(parseShortCode(code.toLowerCase()), code);
  assert.equal(parseShortCode(code.replace("-", " ")), code);
  assert.equal(parseShortCode(code.replace("-", "")), code);
  assert.equal(parseShortCode("oiL1-0000"), "0111-0000");
  assert.equal(parseShortCode(code.slice(0, -1)), undefined);
  assert.equal(parseShortCode(code + "0"), undefined);
  assert.equal(parseShortCode("K7QF-3M2U"), undefined); // U is not a digit
});

Deno.test("link carries host, port and the full fingerprint, and reads back", () => {
  const link = formatLink({ host: "192.168.1.20", port: 3650, fingerprint: FP });
  assert.match(link, /^privateshare:\/\/192\.168\.1\.20:3650\/#sha256=[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(parseLink(link), { host: "192.168.1.20", port: 3650, fingerprint: FP });
  assert.deepEqual(parseLink(`  ${link}\n`), parseLink(link));
  const v6 = formatLink({ host: "fe80::1", port: 365 });
  assert.equal(v6, "privateshare://[fe80::1]:365/");
  assert.deepEqual(parseLink(v6), { host: "fe80::1", port: 365 });
  assert.deepEqual(parseLink("privateshare://laptop.local:365"), {
    host: "laptop.local",
    port: 365,
  });
  assert.ok(isLink("PrivateShare://x:1/"));
  assert.ok(!isLink("localhost"));
});

Deno.test("link one character off is refused with what is wrong", () => {
  const link = formatLink({ host: "h", port: 65535, fingerprint: FP });
  const hash = link.slice(link.indexOf("#sha256=") + 8);
  const refused: [string, RegExp][] = [
    [link.slice(0, -1), /not a SHA-256/],
    [link + "A", /not a SHA-256/],
    [link.replace("#sha256=", "#sha1="), /not a SHA-256/],
    [link.replace(hash, hash.slice(0, -1) + "~"), /not a SHA-256/],
    ["privateshare://h:65536/", /Not a valid link/],
    ["privateshare://h:0/", /out of range/],
    ["privateshare://h/", /no port/],
    ["privateshare://h:1/x", /nothing after the port/],
    ["privateshare://h:1/?x=1", /nothing after the port/],
    ["privateshare://me:secret@h:1/", /no user name or password/],
    ["https://h:1/", /Not a privateshare link/],
  ];
  for (const [text, message] of refused) {
    assert.throws(() => parseLink(text), (error: Error) => {
      assert.ok(error instanceof LinkError, text);
      assert.match(error.message, message, text);
      return true;
    });
  }
});

Deno.test("link refuses a fingerprint whose last character is not canonical", () => {
  // 32 bytes take 43 characters whose last carries two unused bits; only zeros are accepted,
  // so that one certificate has one link.
  const link = formatLink({ host: "h", port: 1, fingerprint: "00".repeat(32) });
  assert.ok(link.endsWith("A"));
  assert.doesNotThrow(() => parseLink(link));
  assert.throws(() => parseLink(link.slice(0, -1) + "B"), LinkError);
});

Deno.test("link host is written one way: escapes, numeric forms, controls and spaces are refused", () => {
  const refused: [string, RegExp][] = [
    ["privateshare://h%6Fst:1/", /host/],
    ["privateshare://%31%32%37.0.0.1:1/", /host/],
    ["privateshare://0x7f.1:1/", /four decimal numbers/],
    ["privateshare://2130706433:1/", /four decimal numbers/],
    ["privateshare://127.1:1/", /four decimal numbers/],
    ["privateshare://127.0.0.01:1/", /four decimal numbers/],
    ["privateshare://a\u202eb:1/", /space or control/],
    ["privateshare://ho\tst:1/", /space or control/],
    ["privateshare://host:1/\n#sha256=" + "A".repeat(43), /space or control/],
    ["privateshare://ho st:1/", /space or control/],
  ];
  for (const [text, message] of refused) {
    assert.throws(() => parseLink(text), (error: Error) => {
      assert.ok(error instanceof LinkError, JSON.stringify(text));
      assert.match(error.message, message, JSON.stringify(text));
      return true;
    });
  }
  // The closest good ones.
  assert.deepEqual(parseLink("privateshare://host:1/"), { host: "host", port: 1 });
  assert.deepEqual(parseLink("privateshare://127.0.0.1:1/"), { host: "127.0.0.1", port: 1 });
  assert.deepEqual(parseLink("privateshare://HOST.Local:1/"), { host: "host.local", port: 1 });
  assert.deepEqual(parseLink("privateshare://bücher.example:1/"), {
    host: "xn--bcher-kva.example",
    port: 1,
  });
  assert.deepEqual(parseLink("privateshare://[::ffff:127.0.0.1]:1/"), {
    host: "::ffff:7f00:1",
    port: 1,
  });
  // A port is decimal, leading zeros and all, as PORT on the command line.
  assert.deepEqual(parseLink("PRIVATESHARE://host:0365/"), { host: "host", port: 365 });
});

Deno.test("link has nothing after the port but '/' and the fingerprint: dot segments, '?'", () => {
  for (
    const text of [
      "privateshare://h:1/.",
      "privateshare://h:1/./",
      "privateshare://h:1/%2e%2e",
      "privateshare://h:1/?",
      "privateshare://h:1?#",
      "privateshare://h:1//",
    ]
  ) {
    assert.throws(() => parseLink(text), /nothing after the port/, text);
  }
  assert.deepEqual(parseLink("privateshare://h:1/#"), { host: "h", port: 1 });
  assert.deepEqual(parseLink("privateshare://h:1"), { host: "h", port: 1 });
});
