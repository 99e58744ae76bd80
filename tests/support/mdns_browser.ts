// A DNS-SD browser that privateshare did not write (npm:multicast-dns): asks
// for PTR _privateshare._tcp.local and prints, as one JSON line per
// instance, the TXT strings and SRV port it got. Run in a test's network
// namespace: `deno run --allow-net --allow-env --allow-read --allow-sys
// mdns_browser.ts COUNT`; it ends once COUNT instances have their TXT and SRV.

import makeMdns from "npm:multicast-dns@7.2.5";

type Answer = { name: string; type: string; data: unknown };

const want = Number(Deno.args[0] ?? "1");
const mdns = makeMdns({ bind: "0.0.0.0" });
const seen = new Map<string, { txt?: string[]; port?: number; target?: string }>();
const printed = new Set<string>();
const ask = () => mdns.query({ questions: [{ name: "_privateshare._tcp.local", type: "PTR" }] });
mdns.on("response", (response: { answers: Answer[]; additionals: Answer[] }) => {
  for (const record of [...response.answers, ...response.additionals]) {
    if (record.type === "PTR" && record.name === "_privateshare._tcp.local") {
      if (!seen.has(record.data as string)) seen.set(record.data as string, {});
    }
    const entry = seen.get(record.name);
    if (entry && record.type === "TXT") {
      entry.txt = (record.data as Uint8Array[]).map((b) => new TextDecoder().decode(b));
    }
    if (entry && record.type === "SRV") {
      const srv = record.data as { port: number; target: string };
      [entry.port, entry.target] = [srv.port, srv.target];
    }
  }
  for (const [instance, entry] of seen) {
    if (entry.txt && entry.port && !printed.has(instance)) {
      printed.add(instance);
      console.log(JSON.stringify({ instance, ...entry }));
    }
  }
  if (printed.size >= want) {
    clearInterval(again);
    mdns.destroy();
  }
});
ask();
const again = setInterval(ask, 1000);
