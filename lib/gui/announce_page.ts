/**
 * The server page's "Announce on this network": announces the running
 * server (lib/server/announce_server.ts) under the page's "Name on the
 * network", and words for the page's log what came of it, naming controls,
 * never flags.
 *
 * @module
 */

import { type AnnounceNote, announceServer, type Server } from "../mod.ts";
import { START_FULLY } from "./tls.ts";

/** What the announcement tells the page's log. */
export type AnnounceLog = (message: string, level: "info" | "error") => void;

/**
 * Announces a server that has just started, unless the page says not to.
 *
 * @param server the running server
 * @param options the page's name and checkbox, the server's fingerprint (TLS) and whether it
 *   wants a password, where its lines go, and who is told the name announced
 * @returns what ends the announcement (a goodbye on the network), or undefined when not announcing
 */
export function startAnnouncing(
  server: Server,
  options: {
    name: string;
    announce: boolean;
    fingerprint?: string;
    password: boolean;
    log: AnnounceLog;
    /** Told the name announced once the announcement runs, or undefined when it could not. */
    onAnnounced?: (name: string | undefined) => void;
  },
): AsyncDisposable | undefined {
  if (!options.announce) return undefined;
  const { log } = options;
  const running = announceServer(server, {
    ...(options.name !== "" ? { name: options.name } : {}),
    ...(options.fingerprint !== undefined ? { fingerprint: options.fingerprint } : {}),
    password: options.password,
  }).then((result) => {
    for (const note of result.notes) log(noteWords(note, result.name), "info");
    if (result.announcement) log(`Announced on this network as '${result.name}'`, "info");
    options.onAnnounced?.(result.announcement ? result.name : undefined);
    return result.announcement;
  }, (error) => {
    log(`Not announced on this network: ${error}`, "error");
    options.onAnnounced?.(undefined);
    return undefined;
  });
  return {
    async [Symbol.asyncDispose]() {
      await (await running)?.close();
    },
  };
}

function noteWords(note: AnnounceNote, name: string): string {
  switch (note.code) {
    case "no-hostname":
      return `Announced as '${name}': privateshare may not read this computer's name as it ` +
        `was started; type a name in Name on the network, or ${START_FULLY} read it`;
    case "no-interfaces":
      return "Announced on the default network only: privateshare may not list this " +
        `computer's networks as it was started; ${START_FULLY} list them`;
    case "loopback":
      return "Not announced: the server listens on this computer only";
    case "unavailable":
      return `Not announced on this network (${note.message}): clients connect by address`;
  }
}
