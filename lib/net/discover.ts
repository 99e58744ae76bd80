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
/** At most this many of them from one responder, so that one cannot crowd the others out. */
const MAX_INSTANCES_PER_SOURCE = 16;
/** At most this many addresses of one host. */
const MAX_ADDRESSES = 16;
/** The longest a record is believed, in seconds, whatever its TTL (RFC 6762 10: 4500 at most). */
const MAX_TTL_S = 4500;

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

/** What one responder said of one instance. */
interface Instance {
  fullName: string;
  source: string;
  srv?: { port: number; target: string; expires: number };
  txt?: { strings: Uint8Array[]; expires: number };
}

/**
 * Browses until the signal aborts, calling `onChange` with the servers
 * found whenever the list changes.
 *
 * An instance is what one responder (one source address) says of it: the
 * same instance from two responders is two servers, never one merged or
 * overwritten by the later, so that a peer cannot move, change or remove
 * another's server (its addresses, port, TXT, goodbye), only add a
 * candidate beside it, which makes a name that both carry ambiguous.
 *
 * @param options the signal and the callback
 * @returns when the signal aborts
 * @throws {import("./mdns_socket.ts").MdnsSocketError} when the mDNS socket cannot be opened
 */
export async function browse(options: BrowseOptions): Promise<void> {
  const { signal, onChange } = options;
  if (signal?.aborted) return;
  // Keyed by `${source} ${name in lower case}`.
  const instances = new Map<string, Instance>();
  const pointers = new Map<string, number>();
  const hosts = new Map<string, Map<string, number>>();
  const perSource = new Map<string, number>();
  let shown = "[]";

  const publish = () => {
    const now = Date.now();
    const servers: FoundServer[] = [];
    prune(now);
    for (const [key, expires] of pointers) {
      const instance = instances.get(key);
      if (expires <= now || instance === undefined) continue;
      const { srv, txt, source } = instance;
      if (srv === undefined || txt === undefined || srv.expires <= now || txt.expires <= now) {
        continue;
      }
      const label = instanceLabel(instance.fullName);
      if (label === undefined) continue;
      const announced = [...(hosts.get(keyOf(source, srv.target)) ?? new Map<string, number>())]
        .filter(([, until]) => until > now).map(([address]) => address).sort();
      // The address the answer came from first, announced or not: it is on this network, and
      // it is the responder's own (A records could name any host, to send clients there).
      const addresses = source === "0.0.0.0"
        ? announced
        : [source, ...announced.filter((a) => a !== source)];
      const found = foundServer(label, srv.port, txt.strings, addresses);
      if (found) servers.push(found);
    }
    servers.sort((a, b) =>
      a.name.localeCompare(b.name) || a.instance.localeCompare(b.instance) ||
      (a.addresses[0] ?? "").localeCompare(b.addresses[0] ?? "")
    );
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
      if (expires <= now) forget(key);
    }
    for (const key of instances.keys()) if (!pointers.has(key)) instances.delete(key);
    const targets = new Set(
      [...instances.values()].map((i) => i.srv && keyOf(i.source, i.srv.target)),
    );
    for (const [key, addresses] of hosts) {
      for (const [address, until] of addresses) if (until <= now) addresses.delete(address);
      if (addresses.size === 0 || !targets.has(key)) hosts.delete(key);
    }
  };

  const forget = (key: string) => {
    if (!pointers.delete(key)) return;
    instances.delete(key);
    const source = key.slice(0, key.indexOf(" "));
    const left = (perSource.get(source) ?? 1) - 1;
    if (left > 0) perSource.set(source, left);
    else perSource.delete(source);
  };

  const learn = (record: DnsRecord, from: Sender) => {
    const source = from.address;
    // However long a record says it lives, it is looked at again within 75 minutes.
    const expires = Date.now() + Math.min(record.ttl, MAX_TTL_S) * 1000;
    const data = record.data;
    if (data.type === TYPE.PTR && sameName(record.name, SERVICE_TYPE)) {
      const key = keyOf(source, data.target);
      if (record.ttl === 0) {
        // A goodbye is kept for a second (RFC 6762 10.1), then the instance goes.
        if (pointers.has(key)) pointers.set(key, Math.min(pointers.get(key)!, expires + 1000));
        return;
      }
      if (!pointers.has(key)) {
        const count = perSource.get(source) ?? 0;
        if (pointers.size >= MAX_INSTANCES || count >= MAX_INSTANCES_PER_SOURCE) return;
        perSource.set(source, count + 1);
      }
      pointers.set(key, expires);
      return;
    }
    if (data.type === TYPE.SRV || data.type === TYPE.TXT) {
      const key = keyOf(source, record.name);
      if (!pointers.has(key)) return;
      const instance = instances.get(key) ?? { fullName: record.name, source };
      instances.set(key, instance);
      if (data.type === TYPE.SRV) instance.srv = { port: data.port, target: data.target, expires };
      else instance.txt = { strings: data.strings, expires };
      return;
    }
    if (data.type === TYPE.A) {
      const key = keyOf(source, record.name);
      const wanted = [...instances.values()].some((i) =>
        i.srv !== undefined && keyOf(i.source, i.srv.target) === key
      );
      if (!wanted) return;
      const addresses = hosts.get(key) ?? new Map<string, number>();
      if (record.cacheFlush && record.ttl > 0) {
        for (const [address, until] of addresses) {
          // RFC 6762 10.2: older records of a flushed set go after a second.
          if (address !== data.address) addresses.set(address, Math.min(until, Date.now() + 1000));
        }
      }
      if (addresses.has(data.address) || addresses.size < MAX_ADDRESSES) {
        addresses.set(data.address, expires);
      }
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

/** The key of a name as one responder gave it. */
function keyOf(source: string, name: string): string {
  return `${source} ${name.toLowerCase()}`;
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
