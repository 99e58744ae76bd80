/**
 * DNS messages as multicast DNS uses them (RFC 1035, RFC 6762): the header,
 * questions, and PTR, SRV, TXT, A and AAAA records; other record types are
 * skipped. Decoding takes bytes from anyone on the network, so every read is
 * checked: a malformed packet is a {@link DnsFormatError}, never a
 * RangeError, an endless loop or a large allocation.
 *
 * @module
 */

/** The largest packet looked at; anything larger is ignored (RFC 6762 17: 9000 bytes). */
export const MAX_PACKET_BYTES = 9000;

/** Record types this codec reads and writes. */
export const TYPE = { A: 1, PTR: 12, TXT: 16, AAAA: 28, SRV: 33, ANY: 255 } as const;

const CLASS_IN = 1;
/** The top bit of a record's class: the cache-flush bit (RFC 6762 10.2). */
const CACHE_FLUSH = 0x8000;
/** The top bit of a question's class: a unicast response is wanted (RFC 6762 5.4). */
const UNICAST_RESPONSE = 0x8000;
/** The QR bit of the header's flags: this message is a response. */
export const FLAG_RESPONSE = 0x8000;
/** The AA bit: an authoritative answer, as every mDNS response is. */
export const FLAG_AUTHORITATIVE = 0x0400;

const MAX_LABEL = 63;
const MAX_NAME = 255;
/** Each question takes at least 5 bytes and each record 11: counts above that are lies. */
const MIN_QUESTION = 5;
const MIN_RECORD = 11;

/** Why a packet could not be decoded. */
export type DnsFormatProblem =
  | "too-large"
  | "truncated"
  | "counts"
  | "label-too-long"
  | "name-too-long"
  | "bad-pointer"
  | "bad-label"
  | "bad-record";

/** A packet that is not a well-formed DNS message. */
export class DnsFormatError extends Error {
  /** What was wrong. */
  readonly problem: DnsFormatProblem;

  /**
   * Creates a DnsFormatError.
   *
   * @param problem what was wrong
   * @param message the detail
   */
  constructor(problem: DnsFormatProblem, message: string) {
    super(message);
    this.name = "DnsFormatError";
    this.problem = problem;
  }
}

/** A question. */
export interface DnsQuestion {
  /** The name asked about, without the final dot. */
  name: string;
  /** The record type asked for. */
  type: number;
  /** Whether the asker wants a unicast answer (QU). */
  unicastResponse?: boolean;
}

/** The data of the record types this codec knows. */
export type DnsData =
  | { type: typeof TYPE.A; address: string }
  | { type: typeof TYPE.AAAA; address: string }
  | { type: typeof TYPE.PTR; target: string }
  | { type: typeof TYPE.SRV; priority: number; weight: number; port: number; target: string }
  | { type: typeof TYPE.TXT; strings: Uint8Array[] };

/** A resource record. */
export interface DnsRecord {
  /** The owner name, without the final dot. */
  name: string;
  /** Seconds it may be cached; 0 is a goodbye. */
  ttl: number;
  /** The cache-flush bit: this set of records replaces what was cached. */
  cacheFlush?: boolean;
  /** The type and its data. */
  data: DnsData;
}

/** A DNS message. */
export interface DnsMessage {
  /** The ID (0 in multicast; a legacy unicast query's own ID in its answer). */
  id: number;
  /** The header's flags. */
  flags: number;
  /** The questions. */
  questions: DnsQuestion[];
  /** The answers. */
  answers: DnsRecord[];
  /** The additional records (authority records are read past). */
  additionals: DnsRecord[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encodes a message (without name compression: mDNS answers are small).
 *
 * @param message the message
 * @returns its bytes
 * @throws {DnsFormatError} when a name has a label over 63 bytes or is over 255
 */
export function encodeMessage(message: DnsMessage): Uint8Array {
  const parts: number[] = [];
  const u16 = (n: number) => parts.push((n >> 8) & 0xff, n & 0xff);
  const u32 = (n: number) =>
    parts.push((n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
  const name = (text: string) => {
    for (const byte of encodeName(text)) parts.push(byte);
  };
  u16(message.id);
  u16(message.flags);
  u16(message.questions.length);
  u16(message.answers.length);
  u16(0);
  u16(message.additionals.length);
  for (const q of message.questions) {
    name(q.name);
    u16(q.type);
    u16(CLASS_IN | (q.unicastResponse ? UNICAST_RESPONSE : 0));
  }
  for (const r of [...message.answers, ...message.additionals]) {
    name(r.name);
    u16(r.data.type);
    u16(CLASS_IN | (r.cacheFlush ? CACHE_FLUSH : 0));
    u32(r.ttl);
    const data = encodeData(r.data);
    u16(data.length);
    for (const byte of data) parts.push(byte);
  }
  return Uint8Array.from(parts);
}

function encodeData(data: DnsData): Uint8Array {
  switch (data.type) {
    case TYPE.A:
      return Uint8Array.from(data.address.split(".").map(Number));
    case TYPE.AAAA:
      return encodeIpv6(data.address);
    case TYPE.PTR:
      return encodeName(data.target);
    case TYPE.SRV: {
      const target = encodeName(data.target);
      const head = [data.priority, data.weight, data.port].flatMap((n) => [n >> 8, n & 0xff]);
      return Uint8Array.from([...head, ...target]);
    }
    case TYPE.TXT: {
      const out: number[] = [];
      for (const s of data.strings.length > 0 ? data.strings : [new Uint8Array()]) {
        out.push(Math.min(s.length, 255), ...s.subarray(0, 255));
      }
      return Uint8Array.from(out);
    }
  }
}

function encodeIpv6(address: string): Uint8Array {
  const [head = "", tail = ""] = address.split("::");
  const groups = (text: string) => text === "" ? [] : text.split(":").map((g) => parseInt(g, 16));
  const front = groups(head), back = address.includes("::") ? groups(tail) : [];
  const all = [...front, ...new Array(8 - front.length - back.length).fill(0), ...back];
  return Uint8Array.from(all.flatMap((g) => [g >> 8, g & 0xff]));
}

/**
 * Encodes a name as labels.
 *
 * @param name dot-separated labels, with or without the final dot
 * @returns the wire form, ending in the root label
 * @throws {DnsFormatError} when a label is over 63 bytes or the name over 255
 */
export function encodeName(name: string): Uint8Array {
  const out: number[] = [];
  for (const label of splitName(name)) {
    const bytes = encoder.encode(label);
    if (bytes.length === 0) continue;
    if (bytes.length > MAX_LABEL) {
      throw new DnsFormatError("label-too-long", `A label is over ${MAX_LABEL} bytes: '${label}'`);
    }
    out.push(bytes.length, ...bytes);
  }
  out.push(0);
  if (out.length > MAX_NAME) {
    throw new DnsFormatError("name-too-long", `A name is over ${MAX_NAME} bytes`);
  }
  return Uint8Array.from(out);
}

/**
 * Splits a name into labels. The first label of a DNS-SD instance name may
 * hold dots (and then a backslash escapes them), so `\.` stays in its label.
 */
function splitName(name: string): string[] {
  const labels: string[] = [];
  let label = "";
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    if (c === "\\" && i + 1 < name.length) label += name[++i];
    else if (c === ".") labels.push(label), label = "";
    else label += c;
  }
  labels.push(label);
  return labels;
}

/** Joins labels into a name, escaping the dots and backslashes inside a label. */
function joinLabels(labels: string[]): string {
  return labels.map((l) => l.replace(/[\\.]/g, (c) => `\\${c}`)).join(".");
}

/**
 * Decodes a message.
 *
 * @param bytes the packet
 * @returns the message
 * @throws {DnsFormatError} when the packet is over {@link MAX_PACKET_BYTES} or malformed
 */
export function decodeMessage(bytes: Uint8Array): DnsMessage {
  if (bytes.length > MAX_PACKET_BYTES) {
    throw new DnsFormatError("too-large", `A packet of ${bytes.length} bytes is too large`);
  }
  const r = new Reader(bytes);
  const id = r.u16(), flags = r.u16();
  const [qd, an, ns, ar] = [r.u16(), r.u16(), r.u16(), r.u16()];
  if (qd * MIN_QUESTION + (an + ns + ar) * MIN_RECORD > bytes.length - r.at) {
    throw new DnsFormatError("counts", "The counts in the header are larger than the packet");
  }
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < qd; i++) {
    const name = r.name(), type = r.u16(), cls = r.u16();
    questions.push({ name, type, unicastResponse: (cls & UNICAST_RESPONSE) !== 0 });
  }
  const records = (count: number) => {
    const out: DnsRecord[] = [];
    for (let i = 0; i < count; i++) {
      const record = readRecord(r);
      if (record) out.push(record);
    }
    return out;
  };
  const answers = records(an);
  records(ns);
  const additionals = records(ar);
  return { id, flags, questions, answers, additionals };
}

function readRecord(r: Reader): DnsRecord | undefined {
  const name = r.name(), type = r.u16(), cls = r.u16(), ttl = r.u32(), length = r.u16();
  const end = r.at + length;
  if (end > r.bytes.length) throw new DnsFormatError("truncated", "A record runs past the packet");
  const cacheFlush = (cls & CACHE_FLUSH) !== 0;
  let data: DnsData | undefined;
  if ((cls & ~CACHE_FLUSH) === CLASS_IN) {
    if (type === TYPE.A) {
      if (length !== 4) throw new DnsFormatError("bad-record", "An A record is not 4 bytes");
      data = { type, address: [...r.take(4)].join(".") };
    } else if (type === TYPE.AAAA) {
      if (length !== 16) throw new DnsFormatError("bad-record", "An AAAA record is not 16 bytes");
      const b = r.take(16);
      const groups = [];
      for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
      data = { type, address: groups.join(":") };
    } else if (type === TYPE.PTR) {
      data = { type, target: r.name() };
    } else if (type === TYPE.SRV) {
      const [priority, weight, port] = [r.u16(), r.u16(), r.u16()];
      data = { type, priority, weight, port, target: r.name() };
    } else if (type === TYPE.TXT) {
      const strings: Uint8Array[] = [];
      while (r.at < end) {
        const size = r.u8();
        strings.push(r.take(size).slice());
      }
      data = { type, strings };
    }
  }
  if (data !== undefined && r.at !== end) {
    throw new DnsFormatError("bad-record", "A record's data does not fill its length");
  }
  r.at = end;
  return data === undefined ? undefined : { name, ttl, cacheFlush, data };
}

/** Reads a packet, every read checked against its end. */
class Reader {
  at = 0;
  constructor(readonly bytes: Uint8Array) {}

  u8(): number {
    if (this.at + 1 > this.bytes.length) throw truncated();
    return this.bytes[this.at++]!;
  }

  u16(): number {
    return (this.u8() << 8) | this.u8();
  }

  u32(): number {
    return ((this.u16() << 16) >>> 0) + this.u16();
  }

  take(length: number): Uint8Array {
    if (this.at + length > this.bytes.length) throw truncated();
    const out = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return out;
  }

  /**
   * A name, following compression pointers. Each pointer must point before
   * the last place jumped to (at first, before the name), so that following
   * pointers always ends.
   */
  name(): string {
    const labels: string[] = [];
    let at = this.at, jumped = false, size = 1, lowest = this.at;
    for (;;) {
      if (at >= this.bytes.length) throw truncated();
      const length = this.bytes[at]!;
      if (length === 0) {
        at += 1;
        break;
      }
      const kind = length & 0xc0;
      if (kind === 0xc0) {
        if (at + 2 > this.bytes.length) throw truncated();
        const target = ((length & 0x3f) << 8) | this.bytes[at + 1]!;
        if (target >= lowest) {
          throw new DnsFormatError("bad-pointer", "A compression pointer does not point back");
        }
        lowest = target;
        if (!jumped) this.at = at + 2;
        jumped = true;
        at = target;
        continue;
      }
      // A length over 63 sets a reserved top bit: no label is longer.
      if (kind !== 0) throw new DnsFormatError("bad-label", "A label has a reserved type");
      if (at + 1 + length > this.bytes.length) throw truncated();
      size += length + 1;
      if (size > MAX_NAME) {
        throw new DnsFormatError("name-too-long", `A name is over ${MAX_NAME} bytes`);
      }
      labels.push(decoder.decode(this.bytes.subarray(at + 1, at + 1 + length)));
      at += 1 + length;
    }
    if (!jumped) this.at = at;
    return joinLabels(labels);
  }
}

function truncated(): DnsFormatError {
  return new DnsFormatError("truncated", "The packet ends in the middle of a field");
}

/**
 * Compares two names as DNS does: ASCII letters without regard to case.
 *
 * @param a a name
 * @param b another
 * @returns whether they are the same name
 */
export function sameName(a: string, b: string): boolean {
  return a.replace(/[A-Z]/g, (c) => c.toLowerCase()) ===
    b.replace(/[A-Z]/g, (c) => c.toLowerCase());
}
