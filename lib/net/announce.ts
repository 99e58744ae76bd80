/**
 * The responder: a server announcing itself with DNS-SD over multicast DNS
 * (RFC 6762, RFC 6763). It announces at start (twice, a second apart),
 * answers PTR queries for `_privateshare._tcp.local` and the DNS-SD meta
 * query, and SRV, TXT and A queries for its own names, and says goodbye (TTL
 * 0) when closed. On each interface its address records are those of the
 * addresses valid there (RFC 6762 6.2). The same question is answered at most once a second, so
 * that it amplifies no flood. Its instance label carries a random suffix, so
 * that two servers of the same name (even on one computer) never collide;
 * the name people see is the TXT `name`.
 *
 * @module
 */

import {
  type DnsMessage,
  type DnsQuestion,
  type DnsRecord,
  FLAG_AUTHORITATIVE,
  FLAG_RESPONSE,
  sameName,
  TYPE,
} from "./dns_message.ts";
import {
  interfaceAddresses,
  MDNS_PORT,
  type MdnsSocket,
  multicastRouteAddress,
  openMdnsSocket,
  type Sender,
} from "./mdns_socket.ts";
import { fitServerName, type ServerAd, SERVICE_TYPE, txtOf } from "./service_ad.ts";

/** The DNS-SD meta query: which service types are announced here (RFC 6763 9). */
export const SERVICES_META = "_services._dns-sd._udp.local";

/** How long answers may be cached, in seconds (RFC 6762 10: 120 for host records, 4500 others). */
const HOST_TTL = 120;
const SERVICE_TTL = 4500;
/** The second unsolicited announcement follows the first after this long (RFC 6762 8.3). */
const ANNOUNCE_AGAIN_MS = 1000;
/** The same question is answered at most once in this long (RFC 6762 6). */
const ANSWER_EVERY_MS = 1000;
/** Legacy unicast answers, all questions and askers together, at most this many a second. */
const UNICAST_PER_SECOND = 20;

/** How to announce. */
export interface AnnounceOptions {
  /** The addresses to announce (default: this computer's, as far as it may list them). */
  addresses?: string[];
}

/** A running announcement. */
export interface Announcement extends AsyncDisposable {
  /** The DNS-SD instance label, unique on the network. */
  readonly instance: string;
  /** The name people see. */
  readonly name: string;
  /** The addresses in its A records. */
  readonly addresses: string[];
  /** Whether it joined the group on each interface (false: the default one only). */
  readonly everyInterface: boolean;
  /** Says goodbye (TTL 0) and closes the socket. */
  close(): Promise<void>;
}

/**
 * Announces a server on the local network until closed.
 *
 * @param ad what to announce
 * @param options the addresses, when the server listens on one address only
 * @returns the running announcement
 * @throws {import("./mdns_socket.ts").MdnsSocketError} when the mDNS socket cannot be opened
 * @example
 * ```ts ignore
 * await using announcement = await announce({
 *   name: "laptop", port: 3650, version: "2", tls: false, password: false, uploads: true,
 * });
 * ```
 */
export async function announce(ad: ServerAd, options: AnnounceOptions = {}): Promise<Announcement> {
  const name = fitServerName(ad.name) || "privateshare";
  let who = identity(name);
  let closing: Promise<void> | undefined;
  let addresses = options.addresses ?? interfaceAddresses();
  if (addresses.length === 0) {
    const routed = await multicastRouteAddress();
    addresses = routed === undefined ? [] : [routed];
  }
  const txt = txtOf({ ...ad, name });

  const records = (ttl: number, { fullName, host } = who) => {
    const ptr: DnsRecord = {
      name: SERVICE_TYPE,
      ttl: ttl && SERVICE_TTL,
      data: { type: TYPE.PTR, target: fullName },
    };
    const srv: DnsRecord = {
      name: fullName,
      ttl: ttl && HOST_TTL,
      cacheFlush: true,
      data: { type: TYPE.SRV, priority: 0, weight: 0, port: ad.port, target: host },
    };
    const text: DnsRecord = {
      name: fullName,
      ttl: ttl && SERVICE_TTL,
      cacheFlush: true,
      data: { type: TYPE.TXT, strings: txt },
    };
    const a: DnsRecord[] = addresses.map((address) => ({
      name: host,
      ttl: ttl && HOST_TTL,
      cacheFlush: true,
      data: { type: TYPE.A, address },
    }));
    const meta: DnsRecord = {
      name: SERVICES_META,
      ttl: ttl && SERVICE_TTL,
      data: { type: TYPE.PTR, target: SERVICE_TYPE },
    };
    return { ptr, srv, text, a, meta };
  };
  let live = records(1);

  const answer = (q: DnsQuestion): { answers: DnsRecord[]; additionals: DnsRecord[] } => {
    const any = q.type === TYPE.ANY;
    if (sameName(q.name, SERVICE_TYPE) && (any || q.type === TYPE.PTR)) {
      return { answers: [live.ptr], additionals: [live.srv, live.text, ...live.a] };
    }
    if (sameName(q.name, SERVICES_META) && (any || q.type === TYPE.PTR)) {
      return { answers: [live.meta], additionals: [] };
    }
    if (sameName(q.name, who.fullName)) {
      const answers = [
        ...(any || q.type === TYPE.SRV ? [live.srv] : []),
        ...(any || q.type === TYPE.TXT ? [live.text] : []),
      ];
      return { answers, additionals: answers.length > 0 && q.type !== TYPE.TXT ? live.a : [] };
    }
    if (sameName(q.name, who.host) && (any || q.type === TYPE.A)) {
      return { answers: live.a, additionals: [] };
    }
    return { answers: [], additionals: [] };
  };

  // RFC 6762 6.2: on each interface, the address records of the addresses valid on it, and
  // nothing where none is (a client there would reach the server at no announced address).
  const onInterface = (message: DnsMessage) => (local: string[] | undefined) => {
    if (local === undefined) return message;
    if (!addresses.some((address) => local.includes(address))) return undefined;
    const valid = (r: DnsRecord) => r.data.type !== TYPE.A || local.includes(r.data.address);
    return {
      ...message,
      answers: message.answers.filter(valid),
      additionals: message.additionals.filter(valid),
    };
  };

  const lastAnswered = new Map<string, number>();
  let unicastWindow = { start: 0, count: 0 };
  const allowed = (key: string, now: number) => {
    const last = lastAnswered.get(key);
    if (last !== undefined && now - last < ANSWER_EVERY_MS) return false;
    if (lastAnswered.size > 1024) lastAnswered.clear();
    lastAnswered.set(key, now);
    return true;
  };

  // Messages may arrive before openMdnsSocket returns: they wait for the next query.
  const held: { socket?: MdnsSocket } = {};
  const onMessage = (message: DnsMessage, from: Sender) => {
    const socket = held.socket;
    if (socket === undefined) return;
    if ((message.flags & FLAG_RESPONSE) !== 0) return conflict(message);
    const legacy = from.port !== MDNS_PORT;
    const now = Date.now();
    const answers: DnsRecord[] = [], additionals: DnsRecord[] = [];
    const questions: DnsQuestion[] = [];
    for (const q of message.questions.slice(0, 16)) {
      const reply = answer(q);
      if (reply.answers.length === 0) continue;
      const key = `${
        legacy ? `${from.address}:${from.port}` : "group"
      } ${q.name.toLowerCase()} ${q.type}`;
      if (!allowed(key, now)) continue;
      for (const r of reply.answers) if (!answers.includes(r)) answers.push(r);
      for (const r of reply.additionals) {
        if (!answers.includes(r) && !additionals.includes(r)) additionals.push(r);
      }
      questions.push({ name: q.name, type: q.type });
    }
    if (answers.length === 0) return;
    if (legacy) {
      if (now - unicastWindow.start >= 1000) unicastWindow = { start: now, count: 0 };
      if (++unicastWindow.count > UNICAST_PER_SECOND) return;
      // RFC 6762 6.7: the query's ID and questions, and no cache-flush bits.
      const plain = (r: DnsRecord) => ({ ...r, cacheFlush: false, ttl: Math.min(r.ttl, 10) });
      socket.send(
        onInterface({
          id: message.id,
          flags: FLAG_RESPONSE | FLAG_AUTHORITATIVE,
          questions,
          answers: answers.map(plain),
          additionals: additionals.map(plain),
        }),
        from,
      );
      return;
    }
    socket.send(onInterface({
      id: 0,
      flags: FLAG_RESPONSE | FLAG_AUTHORITATIVE,
      questions: [],
      answers,
      additionals,
    }));
  };
  const open = held.socket = await openMdnsSocket(onMessage);

  // Another responder with our instance name (one chance in 65,536 for two of
  // one name): say goodbye to it and take another (RFC 6762 9).
  let renames = 0;
  const conflict = (message: DnsMessage) => {
    const theirs = [...message.answers, ...message.additionals].some((r) =>
      r.data.type === TYPE.SRV && r.ttl > 0 && sameName(r.name, who.fullName) &&
      !sameName(r.data.target, who.host)
    );
    if (!theirs || closing !== undefined || renames++ >= 16) return;
    const old = records(0);
    who = identity(name);
    live = records(1);
    unsolicited(old).then(() => unsolicited(live));
  };

  const unsolicited = (set: ReturnType<typeof records>) =>
    open.send(onInterface({
      id: 0,
      flags: FLAG_RESPONSE | FLAG_AUTHORITATIVE,
      questions: [],
      answers: [set.ptr, set.srv, set.text, ...set.a],
      additionals: [],
    }));
  await unsolicited(live);
  let again: ReturnType<typeof setTimeout> | undefined = setTimeout(() => {
    again = undefined;
    unsolicited(live);
  }, ANNOUNCE_AGAIN_MS);
  const close = () =>
    closing ??= (async () => {
      if (again !== undefined) clearTimeout(again);
      await unsolicited(records(0));
      open.close();
    })();
  return {
    get instance() {
      return who.instance;
    },
    name,
    addresses,
    everyInterface: open.interfaces.length > 0,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A fresh instance label and host name: the name and random hex digits. */
function identity(name: string): { instance: string; fullName: string; host: string } {
  const hex = [...crypto.getRandomValues(new Uint8Array(4))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  const instance = `${fitServerName(name, 52)} (${hex.slice(0, 4)})`;
  const fullName = `${instance.replace(/[\\.]/g, (c) => `\\${c}`)}.${SERVICE_TYPE}`;
  return { instance, fullName, host: `ps-${hex}.local` };
}
