// The DNS codec of discovery (lib/net/dns_message.ts) and the checks on a
// found server's fields (lib/net/service_ad.ts), in process. Every packet
// here is one a hostile peer could send: each must end in a DnsFormatError
// (never a RangeError, a hang or a large allocation), and each field one
// step past its limit must be refused where the limit itself is accepted.

import assert from "node:assert/strict";
import {
  decodeMessage,
  DnsFormatError,
  type DnsFormatProblem,
  type DnsMessage,
  encodeMessage,
  encodeName,
  MAX_PACKET_BYTES,
  TYPE,
} from "../lib/net/dns_message.ts";
import { fitServerName, foundServer, txtOf, validServerName } from "../lib/net/service_ad.ts";

const enc = new TextEncoder();

function header(qd: number, an: number, ns = 0, ar = 0, flags = 0x8400): number[] {
  return [0, 0, flags >> 8, flags & 0xff, 0, qd, 0, an, 0, ns, 0, ar];
}

function refused(bytes: number[] | Uint8Array, problem: DnsFormatProblem): void {
  assert.throws(
    () => decodeMessage(Uint8Array.from(bytes)),
    (error) => error instanceof DnsFormatError && error.problem === problem,
    `expected ${problem}`,
  );
}

const sample: DnsMessage = {
  id: 0x1234,
  flags: 0x8400,
  questions: [{ name: "_privateshare._tcp.local", type: TYPE.PTR, unicastResponse: false }],
  answers: [
    {
      name: "_privateshare._tcp.local",
      ttl: 4500,
      cacheFlush: false,
      data: { type: TYPE.PTR, target: "lap\\.top (ab12)._privateshare._tcp.local" },
    },
    {
      name: "lap\\.top (ab12)._privateshare._tcp.local",
      ttl: 120,
      cacheFlush: true,
      data: { type: TYPE.SRV, priority: 0, weight: 0, port: 3650, target: "ps-1.local" },
    },
  ],
  additionals: [
    {
      name: "lap\\.top (ab12)._privateshare._tcp.local",
      ttl: 4500,
      cacheFlush: true,
      data: { type: TYPE.TXT, strings: [enc.encode("txtvers=1"), enc.encode("name=lap.top")] },
    },
    {
      name: "ps-1.local",
      ttl: 120,
      cacheFlush: true,
      data: { type: TYPE.A, address: "192.0.2.7" },
    },
    {
      name: "ps-1.local",
      ttl: 120,
      cacheFlush: true,
      data: { type: TYPE.AAAA, address: "fe80:0:0:0:0:0:0:1" },
    },
  ],
};

Deno.test("a message reads back as it was written, a dot inside the instance label kept", () => {
  assert.deepEqual(decodeMessage(encodeMessage(sample)), sample);
});

Deno.test("a compressed name is followed back to its earlier labels", () => {
  // Question "a.local" at 12; the answer's name is a pointer to it (0xc00c).
  const name = [1, 97, 5, ...enc.encode("local"), 0];
  const bytes = [
    ...header(1, 1),
    ...name,
    0,
    12,
    0,
    1,
    0xc0,
    12,
    0,
    1,
    0,
    1,
    0,
    0,
    0,
    120,
    0,
    4,
    10,
    0,
    0,
    1,
  ];
  const message = decodeMessage(Uint8Array.from(bytes));
  assert.equal(message.answers[0]?.name, "a.local");
  assert.deepEqual(message.answers[0]?.data, { type: TYPE.A, address: "10.0.0.1" });
});

Deno.test("records of other types and classes are skipped, not refused", () => {
  const bytes = [
    ...header(0, 2),
    0,
    0,
    99,
    0,
    1,
    0,
    0,
    0,
    1,
    0,
    2,
    7,
    7,
    0,
    0,
    1,
    0,
    3,
    0,
    0,
    0,
    1,
    0,
    4,
    1,
    2,
    3,
    4,
  ];
  assert.deepEqual(decodeMessage(Uint8Array.from(bytes)).answers, []);
});

Deno.test("a compression pointer to itself, forward, or in a loop is refused", () => {
  const self = [...header(1, 0), 0xc0, 12, 0, 12, 0, 1];
  refused(self, "bad-pointer");
  const forward = [...header(1, 0), 0xc0, 14, 1, 97, 0, 0, 12, 0, 1];
  refused(forward, "bad-pointer");
  // a -> pointer back to a label that leads to the same pointer again.
  const loop = [...header(2, 0), 1, 97, 0, 0, 12, 0, 1, 1, 98, 0xc0, 19, 0, 12, 0, 1];
  refused(loop, "bad-pointer");
  const out = [...header(1, 0), 0xff, 0xff, 0, 12, 0, 1];
  refused(out, "bad-pointer");
});

Deno.test("a label of 64 bytes is refused and one of 63 read", () => {
  const name = (size: number) => [size, ...new Array(size).fill(97), 0];
  assert.equal(
    decodeMessage(Uint8Array.from([...header(1, 0), ...name(63), 0, 12, 0, 1])).questions[0]?.name,
    "a".repeat(63),
  );
  // On the wire, a length of 64 (0x40) is a label type of its own that no one defined.
  refused([...header(1, 0), ...name(64), 0, 12, 0, 1], "bad-label");
  refused([...header(1, 0), 0x80, 0, 0, 12, 0, 1], "bad-label");
  assert.throws(() => encodeName("a".repeat(64) + ".local"), DnsFormatError);
});

Deno.test("a name of 256 bytes is refused and one of 255 read", () => {
  // Four labels of 62 bytes and one of n: 4 * 63 + (n + 1) + 1 bytes.
  const name = (last: number) => [
    ...[0, 1, 2, 3].flatMap(() => [62, ...new Array(62).fill(98)]),
    last,
    ...new Array(last).fill(99),
    0,
  ];
  assert.equal(name(1).length, 255);
  decodeMessage(Uint8Array.from([...header(1, 0), ...name(1), 0, 12, 0, 1]));
  refused([...header(1, 0), ...name(2), 0, 12, 0, 1], "name-too-long");
});

Deno.test("a name made long by compression is refused", () => {
  // A chain of pointers, each to a name of 60 bytes before it: more than 255 in all.
  const bytes = [...header(5, 0)];
  let previous = -1;
  for (let i = 0; i < 5; i++) {
    const at = bytes.length;
    bytes.push(60, ...new Array(60).fill(100));
    if (previous < 0) bytes.push(0);
    else bytes.push(0xc0 | (previous >> 8), previous & 0xff);
    bytes.push(0, 12, 0, 1);
    previous = at;
  }
  refused(bytes, "name-too-long");
});

Deno.test("counts larger than the packet can hold are refused before anything is read", () => {
  refused(header(0xffff, 0), "counts");
  refused(header(0, 0, 0, 0xffff), "counts");
  refused(header(1, 0), "counts");
});

Deno.test("every read past the end is a format error, at every cut of a good packet", () => {
  const good = encodeMessage(sample);
  for (let length = 0; length < good.length; length++) {
    try {
      decodeMessage(good.subarray(0, length));
      assert.fail(`a packet cut at ${length} bytes was read`);
    } catch (error) {
      assert.ok(error instanceof DnsFormatError, `cut at ${length}: ${error}`);
    }
  }
});

Deno.test("random bytes never throw anything but a format error", () => {
  let state = 7;
  const next = () => (state = (state * 1103515245 + 12345) >>> 0) >>> 24;
  const good = encodeMessage(sample);
  for (let round = 0; round < 3000; round++) {
    const bytes = round % 2 === 0
      ? Uint8Array.from({ length: next() + 12 }, next)
      : good.map((b) => (next() < 8 ? next() : b));
    try {
      decodeMessage(bytes);
    } catch (error) {
      assert.ok(error instanceof DnsFormatError, `round ${round}: ${error}`);
    }
  }
});

Deno.test("a packet over 9000 bytes is refused unread, one of 9000 read", () => {
  const packet = (size: number) => {
    const bytes = new Uint8Array(size);
    bytes.set(header(0, 0));
    return bytes;
  };
  decodeMessage(packet(MAX_PACKET_BYTES));
  refused(packet(MAX_PACKET_BYTES + 1), "too-large");
});

Deno.test("an A record that is not 4 bytes, or data shorter than its length, is refused", () => {
  const a = (length: number) => [
    ...header(0, 1),
    0,
    0,
    1,
    0,
    1,
    0,
    0,
    0,
    1,
    0,
    length,
    ...new Array(length).fill(1),
  ];
  decodeMessage(Uint8Array.from(a(4)));
  refused(a(5), "bad-record");
  refused(a(3), "bad-record");
  // A TXT string that claims more than its record holds.
  refused([...header(0, 1), 0, 0, 16, 0, 1, 0, 0, 0, 1, 0, 2, 5, 97], "truncated");
});

// The fields of a found server.

const fp = "ab".repeat(32);
const txt = (...pairs: string[]) => pairs.map((p) => enc.encode(p));
const good = () => txt("txtvers=1", "name=laptop", "v=2", "tls=1", "pw=0", "up=1", `fp=${fp}`);

Deno.test("a found server's TXT fields are read, its code derived from the fingerprint", () => {
  const found = foundServer("laptop (ab12)", 3650, good(), ["192.0.2.7"]);
  assert.equal(found?.name, "laptop");
  assert.equal(found?.tls, true);
  assert.equal(found?.uploads, true);
  assert.equal(found?.password, false);
  assert.equal(found?.fingerprint, "AB:".repeat(31) + "AB");
  assert.match(found?.code ?? "", /^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
  const ad = { name: "laptop", port: 1, version: "2", tls: true, password: false, uploads: true };
  assert.deepEqual(
    txtOf({ ...ad, fingerprint: "AB:".repeat(31) + "AB" }).map((b) => new TextDecoder().decode(b)),
    ["txtvers=1", "name=laptop", "v=2", "tls=1", "pw=0", "up=1", `fp=${fp}`],
  );
});

Deno.test("a found server whose fields do not pass is dropped, one step off each limit", () => {
  const without = (key: string, ...extra: string[]) =>
    foundServer(
      "x",
      3650,
      [
        ...good().filter((b) => !new TextDecoder().decode(b).startsWith(`${key}=`)),
        ...txt(...extra),
      ],
      [],
    );
  assert.ok(foundServer("x", 65535, good(), []));
  assert.equal(foundServer("x", 65536, good(), []), undefined);
  assert.equal(foundServer("x", 0, good(), []), undefined);
  assert.ok(without("name", `name=${"é".repeat(31)}a`), "63 bytes");
  assert.equal(without("name", `name=${"é".repeat(32)}`), undefined, "64 bytes");
  assert.equal(without("name", "name=lap\u001btop"), undefined);
  assert.equal(without("name", "name=lap\u202etop"), undefined);
  assert.equal(without("name", "name="), undefined);
  assert.equal(without("name"), undefined);
  assert.equal(without("fp", `fp=${fp.slice(1)}`), undefined);
  assert.equal(without("fp", `fp=${fp}0`), undefined);
  assert.equal(without("fp", `fp=${fp.slice(1)}g`), undefined);
  assert.equal(without("fp"), undefined, "TLS without a fingerprint");
  assert.equal(without("tls", "tls=2"), undefined);
  assert.equal(without("txtvers", "txtvers=2"), undefined);
  assert.equal(foundServer("x", 1, [Uint8Array.of(0x6e, 0x3d, 0xff)], []), undefined, "not UTF-8");
  // The first of a repeated key counts: a second name cannot replace it.
  assert.equal(foundServer("x", 1, [...good(), ...txt("name=other")], [])?.name, "laptop");
});

Deno.test("a found server's web port is 1-65535 in digits, else it is listed without a page", () => {
  const web = (value?: string) =>
    foundServer("x", 3650, [...good(), ...(value === undefined ? [] : txt(`web=${value}`))], []);
  assert.equal(web("3651")?.web, 3651);
  assert.equal(web("1")?.web, 1);
  assert.equal(web("65535")?.web, 65535);
  assert.equal(web()?.web, undefined, "no key: no page");
  for (const hostile of ["0", "65536", "12a", "", "-1", "+3651", " 3651", "3651 ", "0x10", "1e3"]) {
    const found = web(hostile);
    assert.ok(found, `web=${hostile}: the server is still listed`);
    assert.equal(found.web, undefined, `web=${hostile}: no page`);
    assert.equal(found.port, 3650);
  }
  assert.equal(web("00080")?.web, 80, "leading zeros are digits");
  assert.equal(web("000080")?.web, undefined, "more than five digits");
  // The first of a repeated key counts.
  assert.equal(
    foundServer("x", 1, [...good(), ...txt("web=3651", "web=4000")], [])?.web,
    3651,
  );
  const ad = {
    name: "laptop",
    port: 3650,
    version: "2",
    tls: false,
    password: false,
    uploads: true,
  };
  assert.deepEqual(
    txtOf({ ...ad, web: 3651 }).map((b) => new TextDecoder().decode(b)).at(-1),
    "web=3651",
  );
  assert.ok(!txtOf(ad).some((b) => new TextDecoder().decode(b).startsWith("web=")));
});

Deno.test("a server name is fitted to 63 bytes at a character boundary, controls dropped", () => {
  assert.equal(fitServerName(" lap\u0007top\n"), "laptop");
  const long = fitServerName("é".repeat(40));
  assert.equal(new TextEncoder().encode(long).length, 62);
  assert.ok(validServerName(long));
  assert.equal(validServerName(""), false);
});
