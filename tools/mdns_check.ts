/**
 * Says whether multicast DNS works on this machine: announces a made-up
 * server, looks for it, and prints one line with the outcome. CI runs it on
 * each system (Deno issue 31059 reported `addMembership` failing on Windows)
 * to show whether discovery can work there. It sends on the machine's own
 * network: for CI runners and people, never for tests.
 *
 *     deno run --allow-net --allow-sys=hostname,networkInterfaces tools/mdns_check.ts
 *
 * Exit codes: 0 it found itself, 1 it did not, 2 the socket could not be opened.
 *
 * @module
 */

import { announce, discover, MdnsSocketError, VERSION } from "../lib/mod.ts";

if (import.meta.main) {
  const name = `mdns-check-${crypto.randomUUID().slice(0, 8)}`;
  const where =
    `${Deno.build.os} ${Deno.build.arch}, Deno ${Deno.version.deno}, privateshare ${VERSION}`;
  try {
    await using _announcement = await announce({
      name,
      port: 9,
      version: "2",
      tls: false,
      password: false,
      uploads: false,
    });
    const found = await discover({ timeoutMs: 3000 });
    if (found.some((s) => s.name === name)) {
      console.log(`Multicast DNS works on ${where}: the announcement was found`);
    } else {
      console.log(
        `Multicast DNS did not work on ${where}: the announcement was not found ` +
          `(${found.length} other server(s) seen)`,
      );
      Deno.exitCode = 1;
    }
  } catch (error) {
    if (!(error instanceof MdnsSocketError)) throw error;
    console.log(`Multicast DNS cannot work on ${where}: ${error.message}`);
    Deno.exitCode = 2;
  }
}
