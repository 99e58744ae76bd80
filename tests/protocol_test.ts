// Unit tests: encoding and decoding every message, and the line framing of
// lib/net/wire.ts over a real loopback connection.

import assert from "node:assert/strict";
import { ProtocolError } from "../lib/protocol/errors.ts";
import {
  type Command,
  decodeCommand,
  decodeListEntry,
  decodeListing,
  decodeReply,
  decodeStart,
  decodeTrailer,
  encodeCommand,
  encodeLine,
  MAX_COMMAND_BYTES,
  type Reply,
} from "../lib/protocol/ps2.ts";
import { TruncatedError, Wire } from "../lib/net/wire.ts";
import { looksClassic } from "../lib/protocol/classic.ts";

const enc = new TextEncoder();
const line = (text: string) => enc.encode(text);
/** The bytes of an encoded message, without its newline. */
const body = (bytes: Uint8Array) => bytes.subarray(0, bytes.length - 1);

/** Malformed input is a ProtocolError, which a server answers with `bad-request`. */
function rejects(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${error}`);
    if (message) assert.match(error.message, message);
    return true;
  });
}

Deno.test("every command survives encode and decode", () => {
  const commands: Command[] = [
    { op: "put", name: "apple.jpg", size: 1048576, resume: true },
    { op: "put", name: "a, b — 文件 🍎.txt", size: 0, resume: false },
    { op: "get", name: "apple.jpg", offset: 0 },
    { op: "get", name: "apple.jpg", offset: 7, prefixSha256: "ab".repeat(32) },
    { op: "list" },
  ];
  for (const command of commands) {
    const bytes = encodeCommand(command);
    assert.equal(bytes[bytes.length - 1], 0x0a, "a command ends with a newline");
    assert.deepEqual(decodeCommand(body(bytes)), command);
  }
});

Deno.test("a command starts with the PS/2 magic", () => {
  assert.equal(new TextDecoder().decode(encodeCommand({ op: "list" })), 'PS/2 {"op":"list"}\n');
});

Deno.test("malformed commands are refused as bad-request", () => {
  const bad = [
    "",
    "PS/2",
    "PS/2 ",
    "PS/1 {}",
    'ps/2 {"op":"list"}',
    "PS/2 {",
    "PS/2 []",
    "PS/2 null",
    'PS/2 "list"',
    "PS/2 {}",
    'PS/2 {"op":"delete","name":"a"}',
    'PS/2 {"op":"put","name":"a"}',
    'PS/2 {"op":"put","name":"a","size":-1}',
    'PS/2 {"op":"put","name":"a","size":1.5}',
    'PS/2 {"op":"put","name":"a","size":"10"}',
    'PS/2 {"op":"put","name":"a","size":1e300}',
    'PS/2 {"op":"put","name":"a","size":9007199254740992}',
    'PS/2 {"op":"put","name":5,"size":1}',
    'PS/2 {"op":"put","name":"a","size":1,"resume":"yes"}',
    'PS/2 {"op":"get"}',
    'PS/2 {"op":"get","name":"a","offset":5}',
    'PS/2 {"op":"get","name":"a","offset":5,"prefixSha256":"xyz"}',
    'PS/2 {"op":"get","name":"a","offset":-5,"prefixSha256":"' + "a".repeat(64) + '"}',
  ];
  for (const text of bad) rejects(() => decodeCommand(line(text)));
});

Deno.test("a command that is not UTF-8 is refused as bad-request", () => {
  const bytes = new Uint8Array([...line('PS/2 {"op":"get","name":"'), 0xff, 0xfe, ...line('"}')]);
  rejects(() => decodeCommand(bytes), /UTF-8/);
});

Deno.test("a command longer than 8 KiB cannot be encoded", () => {
  rejects(
    () => encodeCommand({ op: "get", name: "x".repeat(MAX_COMMAND_BYTES), offset: 0 }),
    /longer than 8192 bytes/,
  );
});

Deno.test("every reply survives encode and decode", () => {
  const replies: Reply[] = [
    { code: "pass" },
    { code: "pass", offset: 0 },
    { code: "pass", size: 1048576, offset: 0 },
    { code: "pass", offset: 33554432, prefixSha256: "0f".repeat(32) },
    { code: "pass", count: 100 },
    { code: "done", sha256: "e3".repeat(32) },
    { code: "cancel", reason: "exists", message: "'apple.jpg' already exists on the server" },
  ];
  for (const reply of replies) assert.deepEqual(decodeReply(body(encodeLine(reply))), reply);
});

Deno.test("malformed replies are refused", () => {
  for (
    const text of [
      "pass",
      "cancel",
      "{}",
      '{"code":"maybe"}',
      '{"code":"done"}',
      '{"code":"done","sha256":"ABC"}',
      '{"code":"pass","size":-1}',
      '{"code":"pass","prefixSha256":"12"}',
    ]
  ) {
    rejects(() => decodeReply(line(text)));
  }
});

Deno.test("a cancel with an unknown reason is still a refusal", () => {
  assert.deepEqual(decodeReply(line('{"code":"cancel","reason":"solar-flare"}')), {
    code: "cancel",
    reason: "internal",
    message: "The server refused",
  });
});

Deno.test("trailer, start line and list entries decode and validate", () => {
  const digest = "9a".repeat(32);
  assert.equal(decodeTrailer(body(encodeLine({ sha256: digest }))), digest);
  rejects(() => decodeTrailer(line('{"sha256":"' + "9a".repeat(31) + '"}')));
  assert.equal(decodeStart(line('{"offset":42}')), 42);
  rejects(() => decodeStart(line('{"offset":-1}')));
  assert.deepEqual(decodeListEntry(line('{"name":"a","size":1,"mtime":2}')), {
    name: "a",
    size: 1,
    mtime: 2,
  });
  rejects(() => decodeListEntry(line('{"name":"a","size":1}')));
});

/** A loopback pair: what `send` writes arrives at the returned Wire. */
async function loopback(send: (conn: Deno.Conn) => Promise<void>): Promise<Wire> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  send(client).finally(() => client.close());
  return new Wire(server);
}

Deno.test("readLine reads lines split across writes and keeps the rest for the body", async () => {
  const wire = await loopback(async (conn) => {
    await conn.write(line('{"code":'));
    await new Promise((r) => setTimeout(r, 20));
    await conn.write(line('"pass"}\nBODY'));
  });
  try {
    assert.deepEqual(decodeReply((await wire.readLine(100))!), { code: "pass" });
    const rest = new Uint8Array(4);
    await wire.readFull(rest);
    assert.equal(new TextDecoder().decode(rest), "BODY");
    assert.equal(await wire.readLine(100), null, "a clean end of stream reads as null");
  } finally {
    wire.close();
  }
});

Deno.test("readLine refuses a line over its limit before reading it all", async () => {
  const wire = await loopback(async (conn) => {
    await conn.write(new Uint8Array(64 * 1024).fill(0x41)).catch(() => {});
  });
  try {
    await assert.rejects(wire.readLine(8192), (error: unknown) => {
      assert.ok(error instanceof ProtocolError);
      return true;
    });
  } finally {
    wire.close();
  }
});

Deno.test("readLine reports a line cut off by the end of stream as truncated", async () => {
  const wire = await loopback(async (conn) => {
    await conn.write(line('PS/2 {"op":"li'));
  });
  try {
    await assert.rejects(wire.readLine(8192), TruncatedError);
  } finally {
    wire.close();
  }
});

Deno.test("readFull reports a body cut off by the end of stream as truncated", async () => {
  const wire = await loopback(async (conn) => {
    await conn.write(new Uint8Array(10));
  });
  try {
    await assert.rejects(wire.readFull(new Uint8Array(11)), TruncatedError);
  } finally {
    wire.close();
  }
});

Deno.test("a listing decodes whole, and one that does not hold its announced count is refused", () => {
  const entries = [
    { name: "a.txt", size: 1, mtime: 2 },
    { name: "b, c 文件.bin", size: 3, mtime: 4 },
  ];
  const body = new Uint8Array(entries.flatMap((e) => [...encodeLine(e)]));
  assert.deepEqual(decodeListing(body, 2), entries);
  assert.deepEqual(decodeListing(new Uint8Array(), 0), []);
  rejects(() => decodeListing(body, 3), /3 entries/);
  rejects(() => decodeListing(body.subarray(0, body.length - 1), 2));
  rejects(() => decodeListing(line('{"name":"a","size":-1,"mtime":0}\n'), 1));
  rejects(() => decodeListing(new Uint8Array([0xff, 0x0a]), 1), /UTF-8/);
});

Deno.test("looksClassic takes put, get and list, and nothing a byte off", () => {
  for (const text of ["list", "put,a.txt", "get,a.txt", "get,", "put,", "list,x"]) {
    assert.equal(looksClassic(line(text)), true, text);
  }
  const near = [
    "lis",
    "List",
    "LIST",
    "lisT",
    "put",
    "put.a",
    "get;a",
    "gets",
    " list",
    "",
    "PS/2 ",
  ];
  for (const text of near) assert.equal(looksClassic(line(text)), false, JSON.stringify(text));
  assert.equal(looksClassic(new Uint8Array([0x6c, 0x69, 0x73, 0x74 + 0x80])), false);
  // At most 259 bytes (`put,` and a name of 255): one more is not classic.
  assert.equal(looksClassic(line("put," + "a".repeat(255))), true);
  assert.equal(looksClassic(line("put," + "a".repeat(256))), false);
});

Deno.test("a wire's closed signal aborts at its close, asked for before or after it", async () => {
  const before = await loopback(async () => {});
  const early = before.closedSignal;
  assert.equal(early.aborted, false);
  before.close();
  assert.equal(early.aborted, true);
  const after = await loopback(async () => {});
  after.close();
  assert.equal(after.closedSignal.aborted, true);
});
