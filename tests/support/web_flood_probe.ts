/**
 * Run by tests/web_access_test.ts under a small descriptor limit (prlimit):
 * serves ROOT with its web page, both on 127.0.0.1 (with `tls`: over TLS,
 * with the password "sesame"), and prints one JSON line with the two ports
 * (and the certificate), then one line for each error event and one for each
 * request the server has begun (`{"type":"request-start","op":...}`).
 * SIGTERM stops it.
 *
 * Usage: deno run --allow-net --allow-read --allow-write web_flood_probe.ts ROOT [tls]
 *
 * @module
 */

import { createCertificate, startServer } from "../../lib/mod.ts";

const [root, mode] = Deno.args as [string, string | undefined];
const tls = mode === "tls" ? await createCertificate(["127.0.0.1"]) : undefined;
const server = startServer({
  root,
  port: 0,
  host: "127.0.0.1",
  idleTimeoutMs: 0,
  ...(tls ? { tls, password: "sesame" } : {}),
  web: { port: 0, host: "127.0.0.1" },
  onEvent: (event) => {
    if (event.type === "error") console.log(JSON.stringify(event));
    if (event.type === "request-start") {
      console.log(JSON.stringify({ type: event.type, op: event.record.op }));
    }
  },
});
console.log(JSON.stringify({ ps2: server.addr.port, web: server.web!.addr.port, cert: tls?.cert }));
Deno.addSignalListener("SIGTERM", () => server.close());
await server.finished;
