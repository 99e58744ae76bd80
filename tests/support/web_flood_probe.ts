/**
 * Run by tests/web_access_test.ts under a small descriptor limit (prlimit):
 * serves ROOT with its web page, both on 127.0.0.1, and prints one JSON line
 * with the two ports, then one line for each error event. SIGTERM stops it.
 *
 * Usage: deno run --allow-net --allow-read --allow-write web_flood_probe.ts ROOT
 *
 * @module
 */

import { startServer } from "../../lib/mod.ts";

const [root] = Deno.args as [string];
const server = startServer({
  root,
  port: 0,
  host: "127.0.0.1",
  idleTimeoutMs: 0,
  web: { port: 0, host: "127.0.0.1" },
  onEvent: (event) => {
    if (event.type === "error") console.log(JSON.stringify(event));
  },
});
console.log(JSON.stringify({ ps2: server.addr.port, web: server.web!.addr.port }));
Deno.addSignalListener("SIGTERM", () => server.close());
await server.finished;
