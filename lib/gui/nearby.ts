/**
 * The client page's "On this network": the servers remembered from earlier
 * (the known-servers file, and the addresses the page used), each probed
 * directly so that one on another subnet reached once stays one click away,
 * merged with the servers that discovery finds on the local network, which
 * appear and disappear live. A discovered server's fingerprint is shown as
 * its code but is never trust: connecting to it asks about the certificate
 * actually seen. A server that announces its web page gets its address, for
 * "Open in browser".
 *
 * @module
 */

import {
  browse,
  defaultKnownServersFile,
  type FoundServer,
  knownServers,
  printable,
  reachable,
  shortCode,
} from "../mod.ts";

/** A server as the page lists it: what discovery says, or what was remembered, and how it is. */
export interface NearbyServer {
  name: string;
  port: number;
  tls: boolean;
  /** Whether it wants a password (undefined: not known for a remembered server). */
  password?: boolean;
  /** Whether it accepts uploads (undefined: not known). */
  uploads?: boolean;
  /** Its short code (a discovered one: what it announces, which is not trust). */
  code?: string;
  /** Tells entries apart, also two of the same name. */
  instance: string;
  addresses: string[];
  /** Found by discovery just now. */
  discovered: boolean;
  /** Reached from this computer earlier (the known-servers file or the page's addresses). */
  remembered: boolean;
  /** For a remembered server not discovered: whether it answered the probe (null: probing). */
  reachable: boolean | null;
  /** The address of its web page for phones and browsers, when it announces one (no token). */
  webUrl?: string;
}

/** The event that tells the pages the servers now. */
export interface NearbyEvent {
  [field: string]: unknown;
  type: "nearby";
  servers: NearbyServer[];
}

/** A server remembered from earlier: its address, and whether it was reached in TLS. */
export interface RememberedServer {
  host: string;
  port: number;
  tls: boolean;
  fingerprint?: string;
}

/** Remembered servers probed at the most (the most recent). */
const MAX_REMEMBERED = 20;
/** How long a probe waits for a remembered server. */
const PROBE_MS = 2000;

/** The servers of "On this network", sent to the page as `nearby` events whenever they change. */
export class Nearby {
  readonly #send: (event: NearbyEvent) => void;
  readonly #pageServers: () => RememberedServer[];
  readonly #knownServersFile: () => string | undefined;
  readonly #stop = new AbortController();
  #found: FoundServer[] = [];
  #remembered: { server: RememberedServer; reachable: boolean | null }[] = [];
  #probing: Promise<void> | undefined;

  /**
   * @param send sends an event to the pages
   * @param pageServers the addresses the page itself remembers
   * @param knownServersFile where the known-servers file is (default: the user's)
   */
  constructor(
    send: (event: NearbyEvent) => void,
    pageServers: () => RememberedServer[],
    knownServersFile: () => string | undefined = defaultKnownServersFile,
  ) {
    this.#send = send;
    this.#pageServers = pageServers;
    this.#knownServersFile = knownServersFile;
  }

  /**
   * Starts browsing and probes the remembered servers.
   *
   * @returns this
   */
  start(): this {
    // Discovery (DNS-SD over multicast DNS) feeds the live part of the list.
    browse({ signal: this.#stop.signal, onChange: (servers) => this.found(servers) })
      .catch((error) => console.error(`privateshare: finding servers failed: ${error}`));
    this.refresh();
    return this;
  }

  /** Stops browsing and probing. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#probing;
  }

  /**
   * The servers discovery finds now (each call replaces the last list).
   *
   * @param servers what discovery reports
   */
  found(servers: FoundServer[]): void {
    this.#found = servers;
    this.#emit();
  }

  /** The event that brings a page that opens up to date. */
  snapshot(): unknown[] {
    return [this.#event()];
  }

  /**
   * Reads the remembered servers again and probes each (one round at a time).
   *
   * @returns when every probe has answered
   */
  refresh(): Promise<void> {
    this.#probing ??= this.#probe().finally(() => this.#probing = undefined);
    return this.#probing;
  }

  async #probe(): Promise<void> {
    const servers = await this.#rememberedServers();
    this.#remembered = servers.map((server) => ({ server, reachable: null }));
    this.#emit();
    await Promise.all(this.#remembered.map(async (entry) => {
      const { host, port } = entry.server;
      entry.reachable = await reachable(host, port, PROBE_MS, this.#stop.signal).catch(() => false);
      if (!this.#stop.signal.aborted) this.#emit();
    }));
  }

  async #rememberedServers(): Promise<RememberedServer[]> {
    const file = this.#knownServersFile();
    const known = file === undefined ? [] : await knownServers(file);
    const all = new Map<string, RememberedServer>();
    for (const server of [...this.#pageServers(), ...known.map((k) => ({ ...k, tls: true }))]) {
      const key = keyOf(server.host, server.port);
      all.delete(key);
      all.set(key, { ...all.get(key), ...server });
    }
    return [...all.values()].slice(-MAX_REMEMBERED).reverse();
  }

  #emit(): void {
    this.#send(this.#event());
  }

  #event(): NearbyEvent {
    const rememberedKeys = new Set(
      this.#remembered.map(({ server }) => keyOf(server.host, server.port)),
    );
    const seen = new Set<string>();
    const servers: NearbyServer[] = [];
    for (const found of this.#found) {
      // Only the address its answers came from (the first, where Connect goes) makes it a
      // remembered server: the others are what it announces, and any peer can announce another
      // one's address, to hide that server or to pass for it.
      const first = found.addresses[0];
      const key = first === undefined ? undefined : keyOf(first, found.port);
      if (key !== undefined) seen.add(key);
      const code = found.code ?? (found.fingerprint ? codeOf(found.fingerprint) : undefined);
      servers.push({
        name: printable(found.name),
        port: found.port,
        tls: found.tls,
        password: found.password,
        uploads: found.uploads,
        ...(code ? { code: printable(code) } : {}),
        ...(first !== undefined && found.web !== undefined
          ? { webUrl: webUrl(first, found.web, found.tls) }
          : {}),
        instance: printable(found.instance),
        addresses: found.addresses.map((address) => printable(address)),
        discovered: true,
        remembered: key !== undefined && rememberedKeys.has(key),
        reachable: true,
      });
    }
    for (const { server, reachable } of this.#remembered) {
      const key = keyOf(server.host, server.port);
      if (seen.has(key)) continue;
      const code = server.fingerprint ? codeOf(server.fingerprint) : undefined;
      servers.push({
        name: printable(server.host),
        port: server.port,
        tls: server.tls,
        ...(code ? { code } : {}),
        instance: `remembered ${printable(key)}`,
        addresses: [printable(server.host)],
        discovered: false,
        remembered: true,
        reachable,
      });
    }
    return { type: "nearby", servers };
  }
}

/**
 * The address of a found server's web page, at the address its answers came from: HTTPS on a
 * TLS server. Without the token: the person who opens it is given the page's address with its
 * code, or signs in.
 */
function webUrl(address: string, port: number, tls: boolean): string {
  const host = address.includes(":") ? `[${address}]` : address;
  return new URL(`${tls ? "https" : "http"}://${host}:${port}/`).href;
}

/** One address, whatever its case and brackets. */
function keyOf(host: string, port: number): string {
  return `${host.toLowerCase().replace(/^\[(.*)\]$/, "$1")}:${port}`;
}

function codeOf(fingerprint: string): string | undefined {
  try {
    return shortCode(fingerprint);
  } catch (error) {
    if (error instanceof TypeError) return undefined;
    throw error;
  }
}
