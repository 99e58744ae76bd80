/**
 * A running server announced on the local network: what it announces comes
 * from the server itself (port, TLS and fingerprint, password, uploads, the
 * web page's port), its name from the person or the computer. It asks for no
 * permission it was not given: without the computer's name it announces a
 * fallback name, without the list of interfaces the default one, and when the
 * multicast socket cannot be opened it does not announce; each face words the
 * notes it gets.
 *
 * @module
 */

import { announce, type Announcement } from "../net/announce.ts";
import { canReadNetworkAddresses, isLoopback } from "../net/addresses.ts";
import { MdnsSocketError } from "../net/mdns_socket.ts";
import { fitServerName } from "../net/service_ad.ts";
import type { Server } from "./server.ts";

/** The name announced when neither a name was given nor the computer's may be read. */
export const FALLBACK_SERVER_NAME = "privateshare";

/** The protocol version announced: PS/2. */
const PROTOCOL_VERSION = "2";

/** What the server's face needs to know about the announcement. */
export type AnnounceNote =
  /** The computer's name could not be read without a permission: the fallback name went out. */
  | { code: "no-hostname" }
  /** The interfaces could not be listed: announced on the default interface only. */
  | { code: "no-interfaces" }
  /** Not announced: the multicast socket could not be opened. */
  | { code: "unavailable"; message: string }
  /** Not announced: the server listens on loopback only, which no other computer reaches. */
  | { code: "loopback" };

/** How to announce a server. */
export interface AnnounceServerOptions {
  /** The name people see (default: this computer's name, or {@link FALLBACK_SERVER_NAME}). */
  name?: string;
  /** The certificate's SHA-256 fingerprint, for a TLS server. */
  fingerprint?: string;
  /** Whether the server wants a password. */
  password?: boolean;
}

/** The outcome. */
export interface ServerAnnouncement {
  /** The running announcement, unless it could not start. */
  announcement?: Announcement;
  /** The name announced (also when the announcement could not start). */
  name: string;
  /** What the face should tell its user. */
  notes: AnnounceNote[];
}

/**
 * The computer's name as people know it (its first label), when the program
 * may read it without prompting.
 *
 * @returns the name, or undefined
 */
export function computerName(): string | undefined {
  if (Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state !== "granted") {
    return undefined;
  }
  const first = Deno.hostname().split(".")[0] ?? "";
  return fitServerName(first) || undefined;
}

/**
 * Announces a running server until the announcement is closed (close it
 * before the server stops, so that clients see it go).
 *
 * @param server the running server
 * @param options its name, fingerprint and password
 * @returns the announcement (if it started), the name, and notes for the user
 */
export async function announceServer(
  server: Server,
  options: AnnounceServerOptions = {},
): Promise<ServerAnnouncement> {
  const notes: AnnounceNote[] = [];
  const host = server.addr.hostname;
  let name = options.name === undefined ? undefined : fitServerName(options.name);
  if (!name) {
    name = computerName();
    if (name === undefined && options.name === undefined) notes.push({ code: "no-hostname" });
    name ??= FALLBACK_SERVER_NAME;
  }
  const one = /^\d+\.\d+\.\d+\.\d+$/.test(host) && host !== "0.0.0.0";
  if (host === "localhost" || isLoopback(host)) return { name, notes: [{ code: "loopback" }] };
  if (!one && !canReadNetworkAddresses()) notes.push({ code: "no-interfaces" });
  try {
    const announcement = await announce({
      name,
      port: server.addr.port,
      version: PROTOCOL_VERSION,
      tls: options.fingerprint !== undefined,
      password: options.password ?? false,
      uploads: !server.readOnly,
      ...(options.fingerprint !== undefined ? { fingerprint: options.fingerprint } : {}),
      ...(server.web ? { web: server.web.addr.port } : {}),
    }, one ? { addresses: [host] } : {});
    return { announcement, name, notes };
  } catch (error) {
    if (!(error instanceof MdnsSocketError)) throw error;
    return { name, notes: [{ code: "unavailable", message: error.message }] };
  }
}
