// Hostile input: a seeded fuzz of the command decoders (default protocol and
// classic), and a network fuzz of a real server process that must survive
// thousands of malformed connections with its folder, its neighbours and its
// memory intact.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { looksClassic, parseClassic } from "../lib/protocol/classic.ts";
import { CancelError, ProtocolError, REASONS } from "../lib/protocol/errors.ts";
import { nameProblem, RESERVED_PREFIX, validateName } from "../lib/protocol/names.ts";
import { type Command, decodeCommand, MAGIC } from "../lib/protocol/ps2.ts";
import { runClient, startTestServer, tempDir, until } from "./helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

// ---------------------------------------------------------------------------
// A small seeded generator, so that every run fuzzes the same inputs and a
// failure can be replayed from its case number.

/** mulberry32: a 32-bit state PRNG, plenty for fuzzing. */
class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

// ---------------------------------------------------------------------------
// Generators of hostile commands.

const SHA = "0123456789abcdef".repeat(4);

/** Valid default-protocol commands, the seeds of the mutations. */
const PS2_TEMPLATES = [
  '{"op":"list"}',
  '{"op":"get","name":"a.txt"}',
  '{"op":"get","name":"b c.bin","offset":0}',
  `{"op":"get","name":"a.txt","offset":3,"prefixSha256":"${SHA}"}`,
  '{"op":"put","name":"new.bin","size":5}',
  '{"op":"put","name":"ünï 文件.txt","size":0,"resume":true}',
  '{"op":"put","name":"x","size":1048576,"resume":false}',
];

/** Valid classic commands. */
const CLASSIC_TEMPLATES = ["list", "get,a.txt", "get,b c.bin", "put,new.bin", "put,a,b.txt"];

/** Bits of names that break one rule or another, and some that break none. */
const NAME_PIECES = [
  "..",
  ".",
  "/",
  "\\",
  "a",
  "b.txt",
  " ",
  ",",
  "é",
  "文",
  "😀",
  "\u0000",
  "\n",
  "\r",
  "\t",
  "\u007f",
  "\u0085",
  "\u009f",
  "\u00a0",
  "\u202e",
  "\u2028",
  "\ufeff",
  "\uffff",
  "\ud800",
  "\udfff",
  "%",
  "%2e",
  "%2E",
  "%2f",
  "%2F",
  "%5c",
  "%00",
  "%25",
  "%zz",
  "%c0%ae",
  "C:",
  "z:",
  ":",
  "*",
  "?",
  "~",
  "$HOME",
  "CON",
  "nul",
  "Aux ",
  "com7",
  "LPT¹",
  "conout$",
  "<",
  ">",
  '"',
  "|",
  RESERVED_PREFIX,
  RESERVED_PREFIX + "partial-",
  RESERVED_PREFIX + "tmp-",
  "../outside/secret.txt",
  "/etc/passwd",
];

function randomName(rng: Rng): string {
  let name = "";
  const pieces = 1 + rng.int(6);
  for (let i = 0; i < pieces; i++) name += rng.pick(NAME_PIECES);
  if (rng.chance(0.05)) name = name.repeat(20 + rng.int(60));
  if (rng.chance(0.05)) name = "a".repeat(250 + rng.int(10)) + name.slice(0, 3);
  if (rng.chance(0.05)) name = String.fromCodePoint(rng.int(0x110000));
  return name;
}

/** JSON texts (or near-JSON) for fields that should hold a size or an offset. */
const HOSTILE_NUMBERS = [
  "0",
  "-0",
  "1",
  "-1",
  "0.5",
  "1.0",
  "1e2",
  "1e-7",
  "5e-324",
  "1e21",
  "1e308",
  "1e400",
  "-1e400",
  "9007199254740991",
  "9007199254740992",
  "9007199254740993",
  "-9007199254740991",
  "1" + "0".repeat(400),
  "NaN",
  "Infinity",
  "-Infinity",
  "0x10",
  "01",
  "+1",
  ".5",
  "5.",
  '"5"',
  '""',
  "null",
  "true",
  "false",
  "[]",
  "[5]",
  "{}",
  '{"valueOf":5}',
  "\u0035",
  "５",
];

/** JSON texts for fields of other kinds. */
const HOSTILE_VALUES = [
  ...HOSTILE_NUMBERS,
  '"put"',
  '"get"',
  '"list"',
  '"PUT"',
  '"put "',
  '"put\\u0000"',
  '"__proto__"',
  '"constructor"',
  '"toString"',
  '"delete"',
  '["put"]',
  '{"op":"put"}',
  `"${SHA}"`,
  `"${SHA.toUpperCase()}"`,
  `"${SHA.slice(1)}"`,
  `"${SHA}0"`,
  '"\\ud800"',
  '"\\u0000"',
  '"raw\u0001control"',
  '"unterminated',
];

const KEYS = ["op", "name", "size", "resume", "offset", "prefixSha256", "__proto__", "constructor"];

/** A JSON-ish object built field by field, so that any field can be hostile. */
function structuredCommand(rng: Rng): string {
  const op = rng.chance(0.9) ? rng.pick(["put", "get", "list"]) : "";
  const pairs: [string, string][] = [];
  pairs.push(["op", op ? JSON.stringify(op) : rng.pick(HOSTILE_VALUES)]);
  if (op === "put" || op === "get") {
    pairs.push([
      "name",
      JSON.stringify(rng.chance(0.5) ? rng.pick(["a.txt", "n.bin"]) : randomName(rng)),
    ]);
  }
  if (op === "put") {
    pairs.push(["size", rng.chance(0.5) ? String(rng.int(1 << 20)) : rng.pick(HOSTILE_NUMBERS)]);
    if (rng.chance(0.5)) pairs.push(["resume", rng.pick(["true", "false", ...HOSTILE_VALUES])]);
  }
  if (op === "get") {
    if (rng.chance(0.5)) pairs.push(["offset", rng.pick(HOSTILE_NUMBERS)]);
    if (rng.chance(0.4)) pairs.push(["prefixSha256", rng.pick(HOSTILE_VALUES)]);
  }
  const edits = rng.int(3);
  for (let i = 0; i < edits; i++) {
    if (pairs.length === 0) pairs.push(["op", rng.pick(HOSTILE_VALUES)]);
    const at = rng.int(pairs.length);
    switch (rng.int(5)) {
      case 0: // a field of the wrong type or range
        pairs[at]![1] = rng.pick(HOSTILE_VALUES);
        break;
      case 1: // a missing field
        pairs.splice(at, 1);
        break;
      case 2: // an extra field
        pairs.push([rng.pick(KEYS), rng.pick(HOSTILE_VALUES)]);
        break;
      case 3: // a duplicate key: JSON.parse keeps the last
        pairs.push([pairs[at]?.[0] ?? "op", rng.pick(HOSTILE_VALUES)]);
        break;
      case 4: // a name with a hostile piece
        pairs.push(["name", JSON.stringify(randomName(rng))]);
        break;
    }
  }
  const space = rng.chance(0.1) ? rng.pick([" ", "\t", "\r", "\n", "\u00a0", "\ufeff"]) : "";
  return space + "{" + pairs.map(([k, v]) => `${JSON.stringify(k)}:${space}${v}`).join(",") + "}" +
    space;
}

/** Fragments spliced into commands to break their JSON. */
const FRAGMENTS = [
  '"',
  "\\",
  "{",
  "}",
  "[",
  "]",
  ",",
  ":",
  "null",
  "1e400",
  "-1",
  '"\\ud800"',
  '"\\u0000"',
  "\\u002e\\u002e",
  '"op":"put"',
  '"op":"list"',
  '"name":"../x"',
  '"size":-5',
  '"size":0.5',
  '"__proto__":{"op":"list"}',
  "\u0000",
  "\n",
  "\r\n",
  "\u00ff",
  "😀",
  MAGIC,
  "PS/2",
  "put,",
  "list",
];

const INTERESTING_BYTES = [0x00, 0x0a, 0x0d, 0x20, 0x22, 0x2c, 0x2f, 0x5c, 0x7f, 0x80, 0xc0, 0xff];

/** One to four byte-level mutations: flips, insertions, deletions, splices, truncation. */
function mutate(input: Uint8Array, rng: Rng): Uint8Array {
  let b = input;
  const rounds = 1 + rng.int(4);
  for (let r = 0; r < rounds; r++) {
    const at = rng.int(b.length + 1);
    switch (rng.int(9)) {
      case 0: { // flip a bit
        if (b.length === 0) break;
        const copy = b.slice();
        const i = rng.int(b.length);
        copy[i] = copy[i]! ^ (1 << rng.int(8));
        b = copy;
        break;
      }
      case 1: // insert a byte
        b = concat(
          b.subarray(0, at),
          Uint8Array.of(
            rng.chance(0.5) ? rng.pick(INTERESTING_BYTES) : rng.int(256),
          ),
          b.subarray(at),
        );
        break;
      case 2: // delete a few bytes
        b = concat(b.subarray(0, at), b.subarray(at + 1 + rng.int(4)));
        break;
      case 3: // truncate
        b = b.subarray(0, at);
        break;
      case 4: // splice in a JSON fragment
        b = concat(b.subarray(0, at), enc.encode(rng.pick(FRAGMENTS)), b.subarray(at));
        break;
      case 5: // overwrite a range with a fragment
        b = concat(
          b.subarray(0, at),
          enc.encode(rng.pick(FRAGMENTS)),
          b.subarray(at + 1 + rng.int(8)),
        );
        break;
      case 6: // duplicate a range
        b = concat(b.subarray(0, at), b.subarray(rng.int(at + 1), at), b.subarray(at));
        break;
      case 7: // replace a digit run with a huge or odd number
        b = enc.encode(dec.decode(b).replace(/\d+/, rng.pick(HOSTILE_NUMBERS)));
        break;
      case 8: // random bytes at the end
        b = concat(b, rng.bytes(rng.int(16)));
        break;
    }
  }
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A default-protocol command line, without its newline, in some state of damage. */
function ps2Input(rng: Rng): Uint8Array {
  const roll = rng.next();
  const magic = rng.chance(0.9)
    ? MAGIC
    : rng.pick(["", "PS/2", "PS/2  ", "ps/2 ", "PS/3 ", " PS/2 ", "PS/2\t", "PS/2 PS/2 "]);
  if (roll < 0.4) return mutate(enc.encode(MAGIC + rng.pick(PS2_TEMPLATES)), rng);
  if (roll < 0.75) return enc.encode(magic + structuredCommand(rng));
  if (roll < 0.9) return mutate(enc.encode(magic + structuredCommand(rng)), rng);
  if (roll < 0.98) return concat(enc.encode(magic), rng.bytes(rng.int(64)));
  // An overlong line: far past the 8 KiB limit the wire enforces.
  const name = "x".repeat(8 * 1024 + rng.int(64 * 1024));
  return enc.encode(MAGIC + `{"op":"put","name":"${name}","size":1}`);
}

/** A classic command in some state of damage. */
function classicInput(rng: Rng): Uint8Array {
  const roll = rng.next();
  if (roll < 0.45) return mutate(enc.encode(rng.pick(CLASSIC_TEMPLATES)), rng);
  if (roll < 0.85) {
    const op = rng.chance(0.85)
      ? rng.pick(["put", "get"])
      : rng.pick(["list", "PUT", "put ", "ge", "", "list,", "get,get", "put\u0000"]);
    const text = `${op},${randomName(rng)}`;
    return rng.chance(0.3) ? mutate(enc.encode(text), rng) : enc.encode(text);
  }
  if (roll < 0.95) {
    return concat(enc.encode(rng.pick(["put,", "get,", "list"])), rng.bytes(rng.int(300)));
  }
  return rng.bytes(rng.int(300));
}

/** Anything at all. */
function fuzzInput(rng: Rng): Uint8Array {
  const roll = rng.next();
  if (roll < 0.5) return ps2Input(rng);
  if (roll < 0.9) return classicInput(rng);
  return rng.bytes(rng.int(rng.chance(0.1) ? 20_000 : 300));
}

// ---------------------------------------------------------------------------
// The properties.

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * A refusal must be a ProtocolError (malformed input, answered `bad-request`)
 * or a CancelError with a known reason; anything else is a bug.
 */
function checkRefusal(error: unknown, where: string): string {
  if (error instanceof ProtocolError && error.message.length > 0) return "bad-request";
  if (!(error instanceof CancelError)) throw new Error(`${where} threw ${describe(error)}`);
  if (!REASONS.includes(error.reason)) throw new Error(`${where}: unknown reason ${error.reason}`);
  if (typeof error.message !== "string" || error.message.length === 0) {
    throw new Error(`${where}: a cancel without a message`);
  }
  return error.reason;
}

/** CON, PRN, AUX, NUL, CONIN$, CONOUT$, COMn, LPTn: alone, or before a dot (spaces between). */
const WINDOWS_DEVICE = /^(CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|COM[0-9¹²³]|LPT[0-9¹²³]) *(\.|$)/i;

/** Every rule of a good name, checked independently of lib/protocol/names.ts. */
function checkGoodName(name: string): void {
  const bytes = enc.encode(name).length;
  const broken = name.length === 0
    ? "empty"
    : bytes > 255
    ? "over 255 bytes"
    : name === "." || name === ".."
    ? "a folder"
    : /[/\\]/.test(name)
    ? "a separator"
    // deno-lint-ignore no-control-regex
    : /[\u0000-\u001f\u007f-\u009f]/.test(name)
    ? "a control character"
    : /^[A-Za-z]:/.test(name)
    ? "a drive letter"
    : /[<>:"|?*]/.test(name)
    ? "a character Windows forbids"
    : name.endsWith(".") || name.endsWith(" ")
    ? "a trailing dot or space"
    : WINDOWS_DEVICE.test(name)
    ? "a Windows device name"
    : name.startsWith(RESERVED_PREFIX)
    ? "the reserved prefix"
    : undefined;
  if (broken) throw new Error(`validateName accepted ${JSON.stringify(name)} (${broken})`);
}

/** validateName must accept a good name, or refuse with invalid-name, and agree with nameProblem. */
function checkName(name: string): "name-ok" | "name-refused" {
  let refused: unknown;
  try {
    validateName(name);
  } catch (error) {
    refused = error;
  }
  const problem = nameProblem(name);
  if (refused === undefined) {
    checkGoodName(name);
    if (problem !== undefined) throw new Error(`nameProblem and validateName disagree on ${name}`);
    return "name-ok";
  }
  if (checkRefusal(refused, "validateName") !== "invalid-name") {
    throw new Error(`validateName refused with ${(refused as CancelError).reason}`);
  }
  if (typeof problem !== "string") throw new Error(`nameProblem and validateName disagree`);
  return "name-refused";
}

const PUT_KEYS = ["name", "op", "resume", "size"];
const GET_KEYS = ["name", "offset", "op"];

function isSize(n: unknown): boolean {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

/** A decoded command must have exactly its fields, each of the right type and range. */
function checkCommand(c: Command): void {
  const keys = Object.keys(c).sort().join();
  const bad = (why: string) => new Error(`decodeCommand returned ${JSON.stringify(c)}: ${why}`);
  if (Object.getPrototypeOf(c) !== Object.prototype) throw bad("not a plain object");
  switch (c.op) {
    case "list":
      if (keys !== "op") throw bad("a list has only op");
      return;
    case "put":
      if (keys !== PUT_KEYS.join()) throw bad("put fields");
      if (typeof c.name !== "string") throw bad("name is not a string");
      if (!isSize(c.size)) throw bad("size out of range");
      if (typeof c.resume !== "boolean") throw bad("resume is not a boolean");
      return;
    case "get":
      if (
        keys !== (c.prefixSha256 === undefined ? GET_KEYS : [...GET_KEYS, "prefixSha256"]).join()
      ) {
        throw bad("get fields");
      }
      if (typeof c.name !== "string") throw bad("name is not a string");
      if (!isSize(c.offset)) throw bad("offset out of range");
      if (c.prefixSha256 !== undefined && !/^[0-9a-f]{64}$/.test(c.prefixSha256)) {
        throw bad("prefixSha256 is not 64 lowercase hex digits");
      }
      if (c.offset > 0 && c.prefixSha256 === undefined) throw bad("offset without prefixSha256");
      return;
    default:
      throw bad("unknown op");
  }
}

/** decodeCommand (and validateName for its name): a good command, or a CancelError. */
function checkPs2(line: Uint8Array, tally: Map<string, number>): void {
  let command: Command;
  try {
    command = decodeCommand(line);
  } catch (error) {
    count(tally, `ps2 refused: ${checkRefusal(error, "decodeCommand")}`);
    return;
  }
  checkCommand(command);
  const name = command.op === "list" ? "" : ` ${checkName(command.name)}`;
  count(tally, `ps2 ${command.op}${name}`);
}

/** looksClassic and parseClassic (and validateName): a good command, or a CancelError. */
function checkClassic(bytes: Uint8Array, tally: Map<string, number>): void {
  const looks = looksClassic(bytes);
  if (typeof looks !== "boolean") throw new Error("looksClassic returned a non-boolean");
  let parsed: { op: string; name: string };
  try {
    parsed = parseClassic(bytes);
  } catch (error) {
    count(tally, `classic refused: ${checkRefusal(error, "parseClassic")}`);
    return;
  }
  const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  if (parsed.op === "list") {
    if (text !== "list" || parsed.name !== "") throw new Error(`list parsed from ${text}`);
    count(tally, "classic list");
    return;
  }
  if (parsed.op !== "put" && parsed.op !== "get") throw new Error(`op ${parsed.op}`);
  if (typeof parsed.name !== "string" || `${parsed.op},${parsed.name}` !== text) {
    throw new Error(`parseClassic split ${JSON.stringify(text)} wrongly`);
  }
  // The server reads a classic command only when looksClassic says so.
  if (!looks && bytes.length <= 259) throw new Error(`looksClassic missed ${JSON.stringify(text)}`);
  count(tally, `classic ${parsed.op} ${checkName(parsed.name)}${looks ? "" : " (not served)"}`);
}

function count(tally: Map<string, number>, key: string): void {
  tally.set(key, (tally.get(key) ?? 0) + 1);
}

function hex(bytes: Uint8Array, max = 120): string {
  const shown = [...bytes.subarray(0, max)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return bytes.length > max ? `${shown}… (${bytes.length} bytes)` : shown;
}

const UNIT_SEED = 0x5eed2026;
const UNIT_CASES = 120_000;

Deno.test(
  `decodeCommand, looksClassic, parseClassic and validateName answer ${UNIT_CASES} hostile inputs with a command or a CancelError`,
  () => {
    const rng = new Rng(UNIT_SEED);
    const tally = new Map<string, number>();
    const failures: string[] = [];
    const started = performance.now();
    for (let i = 0; i < UNIT_CASES; i++) {
      const input = fuzzInput(rng);
      // Every input goes through both decoders, as the server may hand it to either.
      for (const [label, check] of [["ps2", checkPs2], ["classic", checkClassic]] as const) {
        try {
          check(input, tally);
        } catch (error) {
          count(tally, `${label} FAILED`);
          if (failures.length < 10) {
            failures.push(`case ${i} (${label}): ${describe(error)}; input hex ${hex(input)}`);
          }
        }
      }
    }
    const ms = performance.now() - started;
    const summary = [...tally].sort(([a], [b]) => a < b ? -1 : 1).map(([k, n]) => `${k}: ${n}`);
    console.log(`${UNIT_CASES} cases (seed ${UNIT_SEED.toString(16)}) in ${ms.toFixed(0)} ms`);
    console.log("  " + summary.join("\n  "));
    assert.deepEqual(failures, [], failures.join("\n"));
    // The fuzz reaches past the JSON parser: it decodes commands and judges their names.
    for (const reached of ["ps2 put name-ok", "ps2 get name-refused", "ps2 list"]) {
      assert.ok((tally.get(reached) ?? 0) > 100, `too few cases reached '${reached}'`);
    }
    for (const reached of ["classic put name-ok", "classic get name-refused"]) {
      assert.ok((tally.get(reached) ?? 0) > 100, `too few cases reached '${reached}'`);
    }
  },
);

// ---------------------------------------------------------------------------
// The network fuzz.

const NET_SEED = 0xc0ffee;
const NET_CONNECTIONS = 2_400;
const NET_WARMUP = 500;
const POOL_UPLOADS = 20;
const NET_CONCURRENCY = 50;
const NET_DEADLINE_MS = 10_000;
const MiB = 1024 * 1024;

/** The files the served folder starts with. */
const SERVED_FILES: Record<string, string> = {
  "a.txt": "apple\n",
  "b c.bin": "bytes ".repeat(1000),
  "ünï 文件.txt": "unicode\n",
};

/** How one fuzz connection behaves. */
interface Plan {
  kind: "ps2" | "classic" | "random" | "ps2-session" | "classic-session";
  /** What goes out first. */
  command: Uint8Array;
  /** What follows it without waiting for an answer. */
  trailing: Uint8Array;
  /** After sending: half-close and read to the end, close at once, or keep quiet and wait. */
  then: "half-close" | "abort" | "hold" | "trickle";
  /** For sessions: the name, body and whether the trailer carries the right digest. */
  session?: { name: string; body: Uint8Array; honest: boolean };
}

function planConnection(rng: Rng, label: string): Plan {
  const roll = rng.next();
  const thenRoll = rng.next();
  const then = thenRoll < 0.6
    ? "half-close"
    : thenRoll < 0.85
    ? "abort"
    : thenRoll < 0.93
    ? "trickle"
    : "hold";
  const trailing = rng.chance(0.3)
    ? rng.bytes(rng.int(rng.chance(0.1) ? 256 * 1024 : 2048))
    : new Uint8Array(0);
  if (roll < 0.4) {
    const line = rng.chance(0.95) ? ps2Input(rng) : enc.encode(MAGIC + "x".repeat(9000));
    return {
      kind: "ps2",
      command: rng.chance(0.9) ? concat(line, Uint8Array.of(0x0a)) : line,
      trailing,
      then,
    };
  }
  if (roll < 0.75) return { kind: "classic", command: classicInput(rng), trailing, then };
  if (roll < 0.85) return { kind: "random", command: rng.bytes(1 + rng.int(600)), trailing, then };
  const name = rng.chance(0.8)
    ? `fuzz ${label} ${rng.pick(["é", "文", "😀", "%", "..."])}.bin`
    : randomName(rng);
  const body = rng.bytes(rng.int(rng.chance(0.1) ? MiB : 4096));
  const kind = rng.chance(0.6) ? "ps2-session" : "classic-session";
  return {
    kind,
    command: kind === "ps2-session"
      ? enc.encode(MAGIC + JSON.stringify({ op: "put", name, size: body.length }) + "\n")
      : enc.encode(`put,${name}`),
    trailing: new Uint8Array(0),
    then: rng.chance(0.85) ? "half-close" : "abort",
    session: { name, body, honest: rng.chance(0.8) },
  };
}

/** What happened on one connection, seen from the client side. */
interface Outcome {
  deadline: boolean;
  error?: string;
  /** For sessions: the server's last word. */
  verdict?: string;
}

async function runConnection(port: number, plan: Plan, rng: Rng): Promise<Outcome> {
  const outcome: Outcome = { deadline: false };
  let conn: Deno.TcpConn | undefined;
  let closed = false;
  const close = () => {
    if (closed || !conn) return;
    closed = true;
    try {
      conn.close();
    } catch {
      // Already closed by the deadline.
    }
  };
  // The test's own deadline: no connection can hang the test.
  const timer = setTimeout(() => {
    outcome.deadline = true;
    close();
  }, NET_DEADLINE_MS);
  const delays = Array.from({ length: 4 }, () => 5 + rng.int(30));
  try {
    conn = await Deno.connect({
      hostname: "127.0.0.1",
      port,
      signal: AbortSignal.timeout(NET_DEADLINE_MS),
    });
    if (plan.session) {
      outcome.verdict = await runSession(conn, plan);
    } else if (plan.then === "trickle") {
      // The command in a few pieces, a little apart.
      const cuts = [...delays.keys()].map(() => rng.int(plan.command.length + 1)).sort((a, b) =>
        a - b
      );
      let from = 0;
      for (const [k, cut] of cuts.entries()) {
        await writeAll(conn, plan.command.subarray(from, cut));
        from = cut;
        await new Promise((r) => setTimeout(r, delays[k]));
      }
      await writeAll(conn, concat(plan.command.subarray(from), plan.trailing));
      await conn.closeWrite();
      await drain(conn);
    } else {
      await writeAll(conn, concat(plan.command, plan.trailing));
      if (plan.then === "half-close") {
        await conn.closeWrite();
        await drain(conn);
      } else if (plan.then === "hold") {
        // Say nothing more: the server's deadlines must end this.
        await drain(conn);
      }
    }
  } catch (error) {
    if (!outcome.deadline) outcome.error = error instanceof Error ? error.name : String(error);
  } finally {
    clearTimeout(timer);
    close();
  }
  return outcome;
}

/** A put that follows the protocol, with an honest or a lying trailer. */
async function runSession(conn: Deno.TcpConn, plan: Plan): Promise<string> {
  const { body, honest } = plan.session!;
  await writeAll(conn, plan.command);
  const reader = new LineReader(conn);
  if (plan.kind === "ps2-session") {
    const reply = await reader.line();
    if (!reply.includes('"pass"')) return reply;
    const digest = createHash("sha256").update(body).digest("hex");
    const sent = honest ? digest : digest.replace(/^./, (c) => c === "0" ? "1" : "0");
    await writeAll(conn, enc.encode('{"offset":0}\n'));
    if (plan.then === "abort") return "aborted";
    await writeAll(conn, concat(body, enc.encode(JSON.stringify({ sha256: sent }) + "\n")));
    return await reader.line();
  }
  const code = await reader.bytes(4);
  if (code !== "pass") return code;
  await writeAll(conn, body);
  if (plan.then === "abort") return "aborted";
  await conn.closeWrite();
  await drain(conn);
  return "classic-sent";
}

class LineReader {
  #conn: Deno.Conn;
  #pending = "";

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async line(): Promise<string> {
    while (!this.#pending.includes("\n")) {
      if (!await this.#more()) return this.#pending;
    }
    const at = this.#pending.indexOf("\n");
    const line = this.#pending.slice(0, at);
    this.#pending = this.#pending.slice(at + 1);
    return line;
  }

  async bytes(n: number): Promise<string> {
    while (this.#pending.length < n) if (!await this.#more()) break;
    return this.#pending.slice(0, n);
  }

  async #more(): Promise<boolean> {
    const buf = new Uint8Array(4096);
    const n = await this.#conn.read(buf);
    if (n === null) return false;
    this.#pending += dec.decode(buf.subarray(0, n));
    return true;
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let sent = 0;
  while (sent < bytes.length) sent += await conn.write(bytes.subarray(sent));
}

async function drain(conn: Deno.Conn): Promise<number> {
  const buf = new Uint8Array(64 * 1024);
  let total = 0;
  while (true) {
    const n = await conn.read(buf);
    if (n === null) return total;
    total += n;
  }
}

/** Every file under a folder with its bytes' digest; links as their target. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (path: string, rel: string) => {
    for await (const entry of Deno.readDir(path)) {
      const full = join(path, entry.name);
      const key = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isSymlink) {
        out.set(key, `link -> ${await Deno.readLink(full)}`);
      } else if (entry.isDirectory) {
        out.set(key, "dir");
        await walk(full, key);
      } else {
        const bytes = await Deno.readFile(full);
        out.set(key, createHash("sha256").update(bytes).digest("hex"));
      }
    }
  };
  await walk(dir, "");
  return out;
}

/**
 * Classic uploads of 2 MiB, all at once: each holds one of the server's
 * 32 MiB pool buffers, which the pool keeps for reuse, so that the fuzz
 * afterwards measures memory held per connection, not the pool filling up.
 */
async function fillPool(port: number): Promise<void> {
  const body = new Rng(7).bytes(2 * MiB);
  const conns = await Promise.all(
    Array.from({ length: POOL_UPLOADS }, () => Deno.connect({ hostname: "127.0.0.1", port })),
  );
  await Promise.all(conns.map(async (conn, i) => {
    try {
      await writeAll(conn, enc.encode(`put,warm-up pool ${i}.bin`));
      assert.equal(await new LineReader(conn).bytes(4), "pass");
      await writeAll(conn, body);
      await conn.closeWrite();
      await drain(conn);
    } finally {
      conn.close();
    }
  }));
}

/** Runs `count` planned connections, NET_CONCURRENCY at a time. */
async function fuzzRound(port: number, seed: number, count: number, label: string) {
  const rng = new Rng(seed);
  const plans = Array.from({ length: count }, (_, i) => planConnection(rng, `${label} ${i}`));
  const outcomes: Outcome[] = new Array(plans.length);
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < plans.length) {
      const i = next++;
      // Each connection draws its timing from its own generator: reproducible per case.
      outcomes[i] = await runConnection(port, plans[i]!, new Rng(seed + i));
    }
  };
  await Promise.all(Array.from({ length: NET_CONCURRENCY }, worker));
  return { plans, outcomes, ms: performance.now() - started };
}

function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`;
}

function vmRssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const match = status.match(/^VmRSS:\s+(\d+)\s+kB$/m);
  assert.ok(match, "VmRSS in /proc/<pid>/status");
  return Number(match[1]);
}

Deno.test(
  `the server survives ${NET_CONNECTIONS} hostile connections with its folder, its neighbours and its memory intact`,
  async () => {
    await using base = await tempDir();
    const served = join(base.path, "served");
    const outside = join(base.path, "outside");
    await Deno.mkdir(served);
    await Deno.mkdir(join(outside, "nested"), { recursive: true });
    for (const [name, text] of Object.entries(SERVED_FILES)) {
      await Deno.writeTextFile(join(served, name), text);
    }
    await Deno.writeTextFile(join(outside, "secret.txt"), "do not touch\n");
    await Deno.writeTextFile(join(outside, "nested", "deeper.txt"), "nor this\n");
    const outsideBefore = await snapshot(base.path);
    for (const key of [...outsideBefore.keys()]) {
      if (key.startsWith("served")) outsideBefore.delete(key);
    }
    const servedBefore = await snapshot(served);

    const server = await startTestServer({
      root: served,
      args: ["--command-timeout", "1", "--data-timeout", "2", "--idle-timeout", "0"],
    });
    let exited = false;
    server.exited.then(() => exited = true);
    try {
      const pid = server.process.pid;
      // Connections logged one by one, or, ending without a command in a
      // flood, counted in the flood's lines.
      const requests = () =>
        server.lines.filter((l) => l.event === "request").length +
        server.lines.filter((l) => l.event === "flood").reduce(
          (n, l) => n + (l.evicted as number) + (l.withoutCommand as number),
          0,
        );
      // Warm up with a smaller fuzz of its own, so that "before" is a server
      // whose allocator and buffer pool have seen this kind of traffic, and
      // growth from here means memory held per connection.
      const run = await runClient(["localhost", String(server.port), "list", "--json"]);
      assert.equal(run.code, 0, run.stderr);
      const rssStart = vmRssKiB(pid);
      await fillPool(server.port);
      await fuzzRound(server.port, NET_SEED ^ 0xffff, NET_WARMUP, "warm-up");
      await until(() => requests() >= 1 + POOL_UPLOADS + NET_WARMUP, 30_000);
      await new Promise((r) => setTimeout(r, 1000));
      const rssBefore = vmRssKiB(pid);
      const linesBefore = server.lines.length;

      const { plans, outcomes, ms: fuzzMs } = await fuzzRound(
        server.port,
        NET_SEED,
        NET_CONNECTIONS,
        "main",
      );
      // Every connection is logged once it is over on the server's side.
      await until(() => requests() >= 1 + POOL_UPLOADS + NET_WARMUP + NET_CONNECTIONS, 30_000);
      await new Promise((r) => setTimeout(r, 1000));

      assert.ok(!exited, "the server is still running");
      const rssAfter = vmRssKiB(pid);

      const kinds = new Map<string, number>();
      for (const plan of plans) count(kinds, `${plan.kind}/${plan.then}`);
      const records = server.lines.slice(linesBefore).filter((l) => l.event === "request");
      const outcomesLogged = new Map<string, number>();
      for (const r of records) {
        count(outcomesLogged, `${r.outcome}${r.reason ? ` ${r.reason}` : ""}`);
      }
      const clientSide = new Map<string, number>();
      for (const o of outcomes) {
        count(clientSide, o.deadline ? "test deadline" : o.error ? `error ${o.error}` : "ended");
      }
      const fmt = (m: Map<string, number>) =>
        [...m].sort(([a], [b]) => a < b ? -1 : 1).map(([k, n]) => `${k}: ${n}`).join(", ");
      console.log(
        `${NET_CONNECTIONS} connections, ${NET_CONCURRENCY} at a time, in ${fuzzMs.toFixed(0)} ms`,
      );
      console.log(`  plans: ${fmt(kinds)}`);
      console.log(`  client side: ${fmt(clientSide)}`);
      console.log(`  server log: ${fmt(outcomesLogged)}`);
      console.log(
        `  server VmRSS: at start ${mib(rssStart)}, before (after the warm-up) ${
          mib(rssBefore)
        }, after ${mib(rssAfter)}`,
      );

      // No connection outlived the server's deadlines by much.
      assert.equal(outcomes.filter((o) => o.deadline).length, 0, "a connection hung");
      // Nothing escaped the handlers as an unexpected error.
      const errors = records.filter((r) => r.outcome === "error");
      assert.deepEqual(errors, [], "requests that ended in an unexpected error");

      // The client still lists the folder correctly.
      const list = await runClient(["localhost", String(server.port), "list", "--json"]);
      assert.equal(list.code, 0, list.stderr);
      const listed: { name: string; size: number }[] = JSON.parse(list.stdout);
      const onDisk = [...Deno.readDirSync(served)]
        .filter((e) => e.isFile && !e.name.startsWith(RESERVED_PREFIX))
        .map((e) => ({ name: e.name, size: Deno.statSync(join(served, e.name)).size }))
        .sort((a, b) => a.name < b.name ? -1 : 1);
      assert.deepEqual(listed.map((f) => ({ name: f.name, size: f.size })), onDisk);

      // The original files are untouched.
      const servedAfter = await snapshot(served);
      for (const [name, digest] of servedBefore) {
        assert.equal(servedAfter.get(name), digest, `${name} is unchanged`);
      }
      // Everything new is a regular file that a valid put could have made, or
      // a resumable partial upload; never a leftover temporary file.
      const created: string[] = [];
      let partials = 0;
      for (const entry of Deno.readDirSync(served)) {
        if (servedBefore.has(entry.name)) continue;
        assert.ok(entry.isFile, `${JSON.stringify(entry.name)} is a regular file`);
        if (entry.name.startsWith(RESERVED_PREFIX + "partial-")) {
          partials++;
          continue;
        }
        assert.equal(
          nameProblem(entry.name),
          undefined,
          `${JSON.stringify(entry.name)} is a valid name`,
        );
        created.push(entry.name);
      }
      // Puts that the server confirmed hold exactly what was sent.
      let confirmed = 0;
      for (const [i, plan] of plans.entries()) {
        if (plan.kind !== "ps2-session" || !outcomes[i]!.verdict?.includes('"done"')) continue;
        confirmed++;
        const bytes = await Deno.readFile(join(served, plan.session!.name));
        assert.ok(plan.session!.honest, "only an honest trailer is confirmed");
        assert.equal(
          createHash("sha256").update(bytes).digest("hex"),
          createHash("sha256").update(plan.session!.body).digest("hex"),
        );
      }
      // A put whose trailer lies leaves nothing under its name.
      let corrupt = 0;
      for (const [i, plan] of plans.entries()) {
        const session = plan.session;
        if (plan.kind !== "ps2-session" || session!.honest || !session!.name.startsWith("fuzz ")) {
          continue;
        }
        assert.ok(!outcomes[i]!.verdict?.includes('"done"'), "a lying trailer is never confirmed");
        if (outcomes[i]!.verdict?.includes('"corrupt"')) corrupt++;
        assert.ok(
          !created.includes(session!.name),
          `${JSON.stringify(session!.name)} was not kept`,
        );
      }
      assert.ok(corrupt > 0, "some lying trailers were caught");
      console.log(
        `  new files: ${created.length} (${confirmed} confirmed default-protocol puts, ` +
          `${corrupt} refused as corrupt), ` +
          `resumable partials kept: ${partials}`,
      );
      assert.ok(confirmed > 0, "some honest puts went through");

      // Nothing outside the served folder changed.
      const outsideAfter = await snapshot(base.path);
      for (const key of [...outsideAfter.keys()]) {
        if (key.startsWith("served")) outsideAfter.delete(key);
      }
      assert.deepEqual(outsideAfter, outsideBefore);

      // Memory came back: bounded buffers, nothing held per dead connection.
      assert.ok(
        rssAfter < rssBefore + 64 * 1024,
        `VmRSS grew from ${rssBefore} KiB to ${rssAfter} KiB`,
      );
    } finally {
      await server.stop();
    }
  },
);
