/**
 * Finding servers: DNS-SD browsing over multicast DNS. {@link discover}
 * collects the servers that answer within a short time; {@link browse} keeps
 * a live list (servers appear, and disappear on goodbye or when their
 * records expire) for a page. Everything found is untrusted input: a server
 * whose fields do not pass the checks of {@link foundServer} is left out.
 *
 * @module
 */

import { type DnsMessage, type DnsRecord, FLAG_RESPONSE, sameName, TYPE } from "./dns_message.ts";
import { type MdnsSocket, openMdnsSocket, type Sender } from "./mdns_socket.ts";
import { type FoundServer, foundServer, SERVICE_TYPE } from "./service_ad.ts";

/** The first queries go out this far apart; then the gap doubles up to {@link MAX_QUERY_GAP_MS}. */
const FIRST_QUERY_GAP_MS = 1000;
const MAX_QUERY_GAP_MS = 60_000;
/** At most this many instances are tracked, however many a network announces. */
const MAX_INSTANCES = 256;

/** How to browse. */
export interface BrowseOptions {
  /** Stops browsing. */
  signal?: AbortSignal;
  /** Called with the whole list whenever it changes. */
  onChange(servers: FoundServer[]): void;
}

/** How long to look. */
export interface DiscoverOptions {
  /** How long to collect answers, in milliseconds (default 2000). */
  timeoutMs?: number;
  /** Stops early, with what was found so far. */
  signal?: AbortSignal;
}

/**
 * The servers that answer within a short time.
 *
 * @param options how long to look
 * @returns the servers found, by name
 * @throws {import("./mdns_socket.ts").MdnsSocketError} when the mDNS socket cannot be opened
 * @example
 * ```ts ignore
 * for (const s of await discover()) console.log(s.name, s.addresses, s.port);
 * ```
 */
export async function discover(options: DiscoverOptions = {}): Promise<FoundServer[]> {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), options.timeoutMs ?? 2000);
  const outer = options.signal;
  const onAbort = () => stop.abort();
  outer?.addEventListener("abort", onAbort);
  let latest: FoundServer[] = [];
  try {
    await browse({ signal: stop.signal, onChange: (servers) => latest = servers });
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onAbort);
  }
  return latest;
}

/** What is known of one instance. */
interface Instance {
  fullName: string;
  srv?: { port: number; target: string; expires: number };
  txt?: { strings: Uint8Array[]; expires: number };
  seenFrom?: string;
}

/**
 * Browses until the signal aborts, calling `onChange` with the servers
 * found whenever the list changes.
 *
 * @param options the signal and the callback
 * @returns when the signal aborts
 * @throws {import("./mdns_socket.ts").MdnsSocketError} when the mDNS socket cannot be opened
 */
export async function browse(options: BrowseOptions): Promise<void> {
  const { signal, onChange } = options;
  if (signal?.aborted) return;
  const instances = new Map<string, Instance>();
  const pointers = new Map<string, number>();
  const hosts = new Map<string, Map<string, number>>();
  let shown = "[]";

  const publish = () => {
    const now = Date.now();
    const servers: FoundServer[] = [];
    prune(now);
    for (const [key, expires] of pointers) {
      const instance = instances.get(key);
      if (expires <= now || instance === undefined) continue;
      const { srv, txt } = instance;
      if (srv === undefined || txt === undefined || srv.expires <= now || txt.expires <= now) {
        continue;
      }
      const label = instanceLabel(instance.fullName);
      if (label === undefined) continue;
      const addresses = [...(hosts.get(srv.target.toLowerCase()) ?? new Map<string, number>())]
        .filter(([, until]) => until > now).map(([address]) => address).sort();
      if (addresses.length === 0 && instance.seenFrom !== undefined) {
        addresses.push(instance.seenFrom);
      }
      const found = foundServer(label, srv.port, txt.strings, addresses);
      if (found) servers.push(found);
    }
    servers.sort((a, b) => a.name.localeCompare(b.name) || a.instance.localeCompare(b.instance));
    const text = JSON.stringify(servers);
    if (text !== shown) {
      shown = text;
      onChange(servers);
    }
  };

  // What expired goes, so that a peer that once filled the table with
  // short-lived names does not keep real servers out of it.
  const prune = (now: number) => {
    for (const [key, expires] of pointers) {
      if (expires <= now) pointers.delete(key), instances.delete(key);
    }
    for (const key of instances.keys()) if (!pointers.has(key)) instances.delete(key);
    const targets = new Set([...instances.values()].map((i) => i.srv?.target.toLowerCase()));
    for (const [key, addresses] of hosts) {
      for (const [address, until] of addresses) if (until <= now) addresses.delete(address);
      if (addresses.size === 0 || !targets.has(key)) hosts.delete(key);
    }
  };

  const learn = (record: DnsRecord, from: Sender) => {
    const expires = Date.now() + record.ttl * 1000;
    const data = record.data;
    if (data.type === TYPE.PTR && sameName(record.name, SERVICE_TYPE)) {
      const key = data.target.toLowerCase();
      if (!pointers.has(key) && pointers.size >= MAX_INSTANCES) return;
      pointers.set(key, expires);
      return;
    }
    if (data.type === TYPE.SRV || data.type === TYPE.TXT) {
      const key = record.name.toLowerCase();
      if (!pointers.has(key)) return;
      const instance = instances.get(key) ?? { fullName: record.name };
      instances.set(key, instance);
      if (from.address !== "0.0.0.0") instance.seenFrom = from.address;
      if (data.type === TYPE.SRV) instance.srv = { port: data.port, target: data.target, expires };
      else instance.txt = { strings: data.strings, expires };
      return;
    }
    if (data.type === TYPE.A) {
      const key = record.name.toLowerCase();
      const wanted = [...instances.values()].some((i) => i.srv?.target.toLowerCase() === key);
      if (!wanted) return;
      const addresses = hosts.get(key) ?? new Map<string, number>();
      if (record.cacheFlush && record.ttl > 0) {
        for (const [address, until] of addresses) {
          // RFC 6762 10.2: older records of a flushed set go after a second.
          if (address !== data.address) addresses.set(address, Math.min(until, Date.now() + 1000));
        }
      }
      addresses.set(data.address, expires);
      hosts.set(key, addresses);
    }
  };

  const onMessage = (message: DnsMessage, from: Sender) => {
    if ((message.flags & FLAG_RESPONSE) === 0) return;
    const records = [...message.answers, ...message.additionals];
    // PTR first, then SRV and TXT, then A: each step looks up what the one before named.
    const order = [TYPE.PTR, TYPE.SRV, TYPE.TXT, TYPE.A] as number[];
    records.sort((a, b) => order.indexOf(a.data.type) - order.indexOf(b.data.type));
    for (const record of records) learn(record, from);
    publish();
  };

  const socket: MdnsSocket = await openMdnsSocket(onMessage);
  const query = () =>
    socket.send({
      id: 0,
      flags: 0,
      questions: [{ name: SERVICE_TYPE, type: TYPE.PTR }],
      answers: [],
      additionals: [],
    });
  let gap = FIRST_QUERY_GAP_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = () => {
    query();
    publish();
    timer = setTimeout(tick, gap);
    gap = Math.min(gap * 2, MAX_QUERY_GAP_MS);
  };
  try {
    await new Promise<void>((resolve) => {
      signal?.addEventListener("abort", () => resolve(), { once: true });
      if (signal?.aborted) return resolve();
      tick();
      // Expiry is seen between queries too.
      const sweep = setInterval(publish, 1000);
      signal?.addEventListener("abort", () => clearInterval(sweep), { once: true });
    });
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    socket.close();
  }
}

/** The instance label of a full service instance name, unescaped. */
function instanceLabel(fullName: string): string | undefined {
  const suffix = `.${SERVICE_TYPE}`;
  if (!sameName(fullName.slice(-suffix.length), suffix)) return undefined;
  const escaped = fullName.slice(0, -suffix.length);
  // An unescaped dot would make it more than one label.
  if (/(^|[^\\])(\\\\)*\./.test(escaped)) return undefined;
  return escaped.replace(/\\(.)/g, "$1");
}
