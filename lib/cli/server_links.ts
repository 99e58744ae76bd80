/**
 * The server's start lines about its links: one per address it can be
 * reached at, the permission that would show the others, and for a plain
 * server how to turn TLS on.
 *
 * @module
 */

import { formatLink, serverLinks } from "../mod.ts";
import type { StartLine } from "./security.ts";

/**
 * The lines about a listening server's links (see docs/PROTOCOL.md, "Links"):
 * one per address it can be reached at, the flag that would show the
 * others, and for a plain server how to turn TLS on.
 *
 * @param host the address it listens on
 * @param port the port it listens on
 * @param fingerprint its certificate's fingerprint, for a TLS server
 * @param names the names given with --tls-name, which get links of their own
 * @returns the lines
 */
export function linkLines(
  host: string,
  port: number,
  fingerprint: string | undefined,
  names: string[],
): StartLine[] {
  const { links: own, localOnly } = serverLinks(host, port, fingerprint);
  // The names given with --tls-name (a router's public address, a DNS name) are how clients on
  // other networks reach it: their links come first.
  const named = fingerprint === undefined
    ? []
    : names.map((name) => formatLink({ host: name, port, fingerprint }));
  const links = [...new Set([...named, ...own])];
  const lines: StartLine[] = links.map((link) => ({
    event: "link",
    message: `Link: ${link}`,
    fields: { link },
  }));
  if (localOnly) {
    lines.push({
      event: "links",
      message: "Links for other computers need this computer's addresses: run deno with " +
        "--allow-sys=networkInterfaces",
      fields: { localOnly: true },
    });
  }
  if (fingerprint === undefined) {
    lines.push({
      event: "no-tls",
      message: "No TLS: files, names and listings cross the network readable by anyone on the " +
        "way; start with --tls to encrypt (clients then compare the server's code once)",
      fields: { tls: false },
    });
  }
  return lines;
}
