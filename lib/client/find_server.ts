/**
 * A server's name where an address goes: the servers on the local network
 * are looked up, and the name must pick exactly one of them. The name is
 * matched against the name each server announces (without regard to case)
 * or its instance label. What discovery finds only says where to connect:
 * trust is still the certificate the client sees there.
 *
 * @module
 */

import { discover, type DiscoverOptions } from "../net/discover.ts";
import type { FoundServer } from "../net/service_ad.ts";

/** Why a name did not give one server. */
export type FindFailure = "not-found" | "ambiguous" | "no-address";

/** A name that does not give exactly one server with an address. */
export class FindServerError extends Error {
  /** What went wrong. */
  readonly code: FindFailure;
  /** The servers the name matched (for ambiguous: all of them). */
  readonly candidates: FoundServer[];

  /**
   * Creates a FindServerError.
   *
   * @param code what went wrong
   * @param message the detail
   * @param candidates the servers the name matched
   */
  constructor(code: FindFailure, message: string, candidates: FoundServer[] = []) {
    super(message);
    this.name = "FindServerError";
    this.code = code;
    this.candidates = candidates;
  }
}

/**
 * The servers a name matches: every server whose instance label or
 * announced name it is, without regard to case. A label and a name are
 * both chosen by whoever announces them, so neither outranks the other:
 * a name that is one server's label and another's name matches both.
 *
 * @param servers the servers found
 * @param name the name given
 * @returns the matches
 */
export function matchServers(servers: FoundServer[], name: string): FoundServer[] {
  const folded = name.toLowerCase();
  return servers.filter((s) =>
    s.instance.toLowerCase() === folded || s.name.toLowerCase() === folded
  );
}

/**
 * Finds the one server on the local network that a name stands for.
 *
 * @param name a server's announced name or instance label
 * @param options how long to look
 * @returns the server, with at least one address
 * @throws {FindServerError} when none, or more than one, matches, or it announced no address
 * @throws {import("../net/mdns_socket.ts").MdnsSocketError} when the mDNS socket cannot be opened
 */
export async function findServer(
  name: string,
  options: DiscoverOptions = {},
): Promise<FoundServer> {
  const matches = matchServers(await discover(options), name);
  if (matches.length === 0) {
    throw new FindServerError("not-found", `No server named '${name}' answered`);
  }
  if (matches.length > 1) {
    throw new FindServerError(
      "ambiguous",
      `${matches.length} servers are named '${name}'`,
      matches,
    );
  }
  const [found] = matches as [FoundServer];
  if (found.addresses.length === 0) {
    throw new FindServerError("no-address", `The server '${name}' announced no address`, matches);
  }
  return found;
}
