/**
 * What the client page remembers between runs: the server's address and
 * port, the download folder, and whether the server at that address asked
 * for a password, so that a page that opens lists it only when it can; for
 * each address, whether TLS was ticked and the fingerprint given (a
 * fingerprint is public: the server shows it to everyone). Never the
 * password itself.
 *
 * @module
 */

import { portOf } from "./requests.ts";
import { homeFolder, Settings } from "./system.ts";

/** The client page's remembered settings. */
export interface ClientConfig {
  host: string;
  port: number | null;
  folder: string;
  /** The server at this address asked for a password. */
  password: boolean;
  /** TLS ticked for this address. */
  tls: boolean;
  /** The fingerprint given for this address. */
  fingerprint: string;
  /** The TLS tick and fingerprint of each address used, by `host:port`. */
  servers: Record<string, ServerTrust>;
}

/** The TLS tick and fingerprint the page had for one address. */
export interface ServerTrust {
  tls: boolean;
  fingerprint: string;
}

/** Addresses whose TLS tick is remembered, the most recent kept. */
const SERVERS = 50;

/** The key of an address in {@link ClientConfig.servers}. */
function keyOf(host: string, port: number | null): string {
  return `${host}:${port ?? ""}`;
}

/** The remembered addresses of a settings file, each checked. */
function serversOf(value: unknown): Record<string, ServerTrust> {
  const servers: Record<string, ServerTrust> = {};
  if (typeof value !== "object" || value === null) return servers;
  for (const [key, trust] of Object.entries(value).slice(-SERVERS)) {
    if (typeof trust !== "object" || trust === null) continue;
    const { tls, fingerprint } = trust as Record<string, unknown>;
    servers[key] = {
      tls: tls === true,
      fingerprint: typeof fingerprint === "string" ? fingerprint.slice(0, 200) : "",
    };
  }
  return servers;
}

/** The client page's settings, kept in the user's configuration folder. */
export class RememberedConfig {
  readonly #settings = new Settings("client-gui.json");
  readonly #onError: (line: string) => void;
  #config: ClientConfig;

  /**
   * Loads the settings saved by an earlier run.
   *
   * @param onError reports a settings file that cannot be written
   */
  constructor(onError: (line: string) => void) {
    this.#onError = onError;
    const saved = this.#settings.load();
    const host = typeof saved.host === "string" ? saved.host : "";
    const port = typeof saved.port === "number" ? saved.port : null;
    const servers = serversOf(saved.servers);
    const trust = servers[keyOf(host, port)];
    this.#config = {
      host,
      port,
      folder: typeof saved.folder === "string" ? saved.folder : homeFolder(),
      password: saved.password === true,
      tls: trust?.tls ?? false,
      fingerprint: trust?.fingerprint ?? "",
      servers,
    };
  }

  /** The settings now. */
  get current(): ClientConfig {
    return this.#config;
  }

  /**
   * The addresses the page used, each with its TLS tick; never the
   * fingerprints typed (only the known-servers file is trust).
   *
   * @returns the addresses, the most recent last
   */
  usedServers(): { host: string; port: number; tls: boolean }[] {
    const { host, port, servers } = this.#config;
    const used = Object.entries(servers).map(([key, trust]) => {
      const [, name, number] = /^(.*):(\d+)$/.exec(key) ?? [];
      return { host: name ?? "", port: Number(number), tls: trust.tls };
    });
    if (host !== "" && port !== null) {
      used.push({ host, port, tls: servers[keyOf(host, port)]?.tls ?? false });
    }
    return used.filter((server) => server.host !== "" && server.port > 0);
  }

  /**
   * Remembers the page's fields, the TLS tick and fingerprint with the
   * address; another address forgets that a password was asked for.
   *
   * @param body the page's host, port, folder, TLS tick and fingerprint
   */
  async remember(body: Record<string, unknown> | undefined): Promise<void> {
    const config = this.#config;
    const host = typeof body?.host === "string" ? body.host.trim() : config.host;
    const port = body?.port === null ? null : portOf(body?.port) ?? config.port;
    const folder = typeof body?.folder === "string" ? body.folder : config.folder;
    const same = host === config.host && port === config.port;
    const old = config.servers[keyOf(host, port)];
    const tls = typeof body?.tls === "boolean" ? body.tls : old?.tls ?? false;
    const fingerprint = typeof body?.fingerprint === "string"
      ? body.fingerprint.trim().slice(0, 200)
      : old?.fingerprint ?? "";
    const servers = { ...config.servers };
    const key = keyOf(host, port);
    // The address used last goes last, so that the oldest are forgotten first.
    delete servers[key];
    // Only what differs from a fresh page: TLS ticked or a fingerprint given, at a whole address.
    if (host !== "" && port !== null && (tls || fingerprint !== "")) {
      servers[key] = { tls, fingerprint };
    }
    const kept = Object.fromEntries(Object.entries(servers).slice(-SERVERS));
    this.#config = {
      host,
      port,
      folder,
      password: same && config.password,
      tls,
      fingerprint,
      servers: kept,
    };
    await this.#save();
  }

  /**
   * Remembers whether the server the page names asks for a password.
   *
   * @param server the server a request went to
   * @param needed whether it needed one
   */
  async notePassword(server: { host: string; port: number }, needed: boolean): Promise<void> {
    const config = this.#config;
    if (server.host !== config.host || server.port !== config.port) return;
    if (config.password === needed) return;
    this.#config = { ...config, password: needed };
    await this.#save();
  }

  async #save(): Promise<void> {
    // The TLS tick and fingerprint are kept with their address only; a password, only when asked.
    const { password, tls: _tls, fingerprint: _fingerprint, servers, ...rest } = this.#config;
    const error = await this.#settings.save({
      ...rest,
      ...(password ? { password } : {}),
      ...(Object.keys(servers).length > 0 ? { servers } : {}),
    });
    if (error) this.#onError(error);
  }
}
