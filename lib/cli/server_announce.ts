/**
 * The server's announcement on the command line: `--name` and
 * `--no-announce`, and the start lines that say under which name it is
 * announced and which permission would announce more.
 *
 * @module
 */

import {
  type Announcement,
  announceServer,
  FALLBACK_SERVER_NAME,
  type Logger,
  type Server,
} from "../mod.ts";
import type { StartLine } from "./security.ts";

/**
 * Announces a running server and logs what happened, in one line for what
 * is missing and one for the name.
 *
 * @param server the running server
 * @param name the name given with `--name`
 * @param security the server's security options and start lines (for the fingerprint)
 * @param log where the lines go
 * @returns the announcement, or undefined when it could not start
 */
export async function announceOnCli(
  server: Server,
  name: string | undefined,
  security: { options: { password?: string }; lines: StartLine[] },
  log: Logger,
): Promise<Announcement | undefined> {
  const fingerprint = security.lines.find((l) => l.event === "tls")?.fields.fingerprint;
  const result = await announceServer(server, {
    ...(name !== undefined ? { name } : {}),
    ...(typeof fingerprint === "string" ? { fingerprint } : {}),
    password: security.options.password !== undefined,
  });
  const codes = new Set(result.notes.map((n) => n.code));
  if (codes.has("loopback")) {
    log.event(
      "not-announced",
      "Not announced on the local network: listening on loopback only (--host)",
      { reason: "loopback" },
    );
    return undefined;
  }
  const unavailable = result.notes.find((n) => n.code === "unavailable");
  if (unavailable?.code === "unavailable") {
    log.event(
      "not-announced",
      `Not announced on the local network (${unavailable.message}): clients connect by address`,
      { reason: unavailable.message },
    );
    return undefined;
  }
  const missing = ["hostname", "networkInterfaces"].filter((kind) =>
    codes.has(kind === "hostname" ? "no-hostname" : "no-interfaces")
  );
  if (missing.length > 0) {
    const gains = [
      ...(codes.has("no-hostname") ? ["this computer's name (or give --name NAME)"] : []),
      ...(codes.has("no-interfaces") ? ["each network it is on, with its address"] : []),
    ];
    const now = codes.has("no-interfaces") ? " on the default network only" : "";
    log.event(
      "announce-permissions",
      `Announcing as '${result.name}'${now}: run deno with --allow-sys=${missing.join(",")} ` +
        `to announce ${gains.join(" and ")}`,
      { missing: missing.map((kind) => `sys:${kind}`), fallbackName: FALLBACK_SERVER_NAME },
    );
  }
  log.event(
    "announced",
    `Announced on the local network as '${result.name}' (--no-announce keeps it quiet)`,
    {
      name: result.name,
      instance: result.announcement?.instance,
      addresses: result.announcement?.addresses,
    },
  );
  return result.announcement;
}
