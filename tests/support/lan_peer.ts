// A raw mDNS peer for tests/discovery_lan_test.ts, run in one computer
// (network namespace) of a test's LAN: `deno run --allow-net lan_peer.ts MODE LINK ON OFF`,
// where LINK is this computer's address on the link (the interface to use), ON a source
// address on the link's subnet and OFF one outside every subnet of the other computer
// (both assigned to this computer).
// - respond: answers every PTR query for _privateshare._tcp.local it sees with two
//   made-up servers, each sent from its own source: "fake-on" from ON and "fake-off"
//   from OFF (port 1, A record the source itself). Prints "listening" once its sockets
//   are open, and runs until killed;
// - ask: sends a one-shot ("legacy unicast") PTR query from OFF, then the same from
//   ON; when ON's answer has come, asks once more from ON (so that an answer to OFF,
//   sent before ON's first, has surely arrived), and prints {"on": N, "off": M,
//   "addresses": [...]}: the answers each source got, and the A records' addresses in
//   ON's. OFF "-" sends nothing from off the subnet.

import { createSocket, type Socket } from "node:dgram";
import { Buffer } from "node:buffer";
import { decodeMessage, type DnsRecord, encodeMessage, TYPE } from "../../lib/net/dns_message.ts";
import { SERVICE_TYPE, txtOf } from "../../lib/net/service_ad.ts";

const GROUP = "224.0.0.251";
const [mode, link, on, off] = Deno.args;
if (link === undefined || on === undefined || off === undefined) {
  throw new Error("usage: lan_peer.ts respond|ask LINK ON OFF");
}

/** A socket bound to one source address, sending multicast out the link. */
function bound(address: string, port: number): Promise<Socket> {
  const socket = createSocket({ type: "udp4", reuseAddr: true });
  return new Promise((resolve) =>
    socket.bind(port, address, () => {
      socket.setMulticastInterface(link!);
      socket.setMulticastTTL(1);
      resolve(socket);
    })
  );
}

function send(socket: Socket, bytes: Uint8Array, port = 5353, address = GROUP): Promise<void> {
  return new Promise((resolve) => socket.send(Buffer.from(bytes), port, address, () => resolve()));
}

/** A server of its own, `label`, at `address`. */
function fakeServer(label: string, address: string): DnsRecord[] {
  const instance = `${label}.${SERVICE_TYPE}`;
  const host = `${label}.local`;
  const txt = txtOf({
    name: label,
    port: 1,
    version: "2",
    tls: false,
    password: false,
    uploads: true,
  });
  return [
    { name: SERVICE_TYPE, ttl: 4500, data: { type: TYPE.PTR, target: instance } },
    {
      name: instance,
      ttl: 120,
      cacheFlush: true,
      data: { type: TYPE.SRV, priority: 0, weight: 0, port: 1, target: host },
    },
    { name: instance, ttl: 4500, cacheFlush: true, data: { type: TYPE.TXT, strings: txt } },
    { name: host, ttl: 120, cacheFlush: true, data: { type: TYPE.A, address } },
  ];
}

const query = (id: number) =>
  encodeMessage({
    id,
    flags: 0,
    questions: [{ name: SERVICE_TYPE, type: TYPE.PTR }],
    answers: [],
    additionals: [],
  });

if (mode === "respond") {
  const listen = createSocket({ type: "udp4", reuseAddr: true });
  await new Promise<void>((resolve) => listen.bind(5353, () => resolve()));
  listen.addMembership(GROUP, link);
  const speakers = [
    { socket: await bound(on, 5353), label: "fake-on", address: on },
    { socket: await bound(off, 5353), label: "fake-off", address: off },
  ];
  listen.on("message", async (bytes: Uint8Array) => {
    const message = decodeMessage(bytes);
    const asked = (message.flags & 0x8000) === 0 &&
      message.questions.some((q) => q.name.toLowerCase() === SERVICE_TYPE);
    if (!asked) return;
    for (const { socket, label, address } of speakers) {
      await send(
        socket,
        encodeMessage({
          id: 0,
          flags: 0x8400,
          questions: [],
          answers: fakeServer(label, address),
          additionals: [],
        }),
      );
    }
  });
  console.log("listening");
  await new Promise(() => {});
} else if (mode === "ask") {
  const counts = { on: 0, off: 0, addresses: [] as string[] };
  const fromOff = await bound(off === "-" ? on : off, 0);
  const fromOn = await bound(on, 0);
  const again = await bound(on, 0);
  const answered = (socket: Socket, key: "on" | "off") =>
    new Promise<void>((resolve) =>
      socket.on("message", (bytes: Uint8Array) => {
        const message = decodeMessage(bytes);
        if ((message.flags & 0x8000) === 0) return;
        counts[key]++;
        if (key === "on") {
          for (const r of [...message.answers, ...message.additionals]) {
            if (r.data.type === TYPE.A && !counts.addresses.includes(r.data.address)) {
              counts.addresses.push(r.data.address);
            }
          }
        }
        resolve();
      })
    );
  answered(fromOff, "off");
  const first = answered(fromOn, "on");
  const second = answered(again, "on");
  if (off !== "-") await send(fromOff, query(0x0ff));
  await send(fromOn, query(0x011));
  await first;
  await send(again, query(0x012));
  await second;
  console.log(JSON.stringify(counts));
  for (const socket of [fromOff, fromOn, again]) socket.close();
} else {
  throw new Error(`unknown mode '${mode}'`);
}
