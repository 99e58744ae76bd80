/**
 * A privateshare server with its web page, for the benchmark's web case:
 * `deno run --allow-all bench/web_serve.ts ROOT` serves ROOT on loopback
 * (both ports free ones), prints one JSON line with the page's address (with
 * its token) and the privateshare port, and runs until it is killed.
 *
 * @module
 */

import { startServer } from "../lib/mod.ts";

if (import.meta.main) {
  const root = Deno.args[0];
  if (!root) {
    console.error("web_serve: give the folder to serve");
    Deno.exit(2);
  }
  const server = startServer({
    root,
    port: 0,
    host: "127.0.0.1",
    idleTimeoutMs: 0,
    web: { port: 0, host: "127.0.0.1" },
  });
  console.log(JSON.stringify({ url: server.web!.url("127.0.0.1"), port: server.addr.port }));
  await server.finished;
}
