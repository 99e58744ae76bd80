// A hostile or curious mDNS peer for the discovery tests, run in a test's
// network namespace (`deno run --allow-net mdns_peer.ts MODE`):
// - garbage: sends malformed, oversized and compression-loop packets to the group;
// - flood COUNT: sends COUNT identical PTR queries from port 5353 as fast as it
//   can, then prints {"answers": N, "ms": T}: the answers seen from the first
//   query until 500 ms after the last, and T that span;
// - conflict LABEL: answers, as another responder, with an SRV record for the
//   instance LABEL that points to another host;
// - legacy: asks once from a port other than 5353 with ID 0x4242 and prints
//   the ID and port of the answer it gets, unicast;
// - poison KIND: another responder, sending from 127.0.0.2, that learns a real
//   server's records from its answers and, after each of them, sends records
//   about that server's names: "address" an A record (cache flush) that moves
//   its host to 127.0.0.2, "goodbye" its PTR with TTL 0, "port" its PTR, SRV
//   (same host, port 1) and TXT, "elsewhere" a server of its own (instance
//   "elsewhere", the TXT copied) whose A record is another host's, 127.0.0.9.
//   Prints "listening" once its sockets are open,
//   and runs until killed;
// - many COUNT: another responder, sending from 127.0.0.2, that answers the first
//   query it sees with COUNT servers of its own (flood-0, flood-1, ...), records
//   with the longest TTL there is. Prints "listening", then runs until killed.

import { createSocket } from "node:dgram";
import { Buffer } from "node:buffer";
import { decodeMessage, type DnsRecord, encodeMessage, TYPE } from "../../lib/net/dns_message.ts";

const GROUP = "224.0.0.251";
const [mode = "garbage", countText = "100"] = Deno.args;

/** A socket that sends to the group from 127.0.0.2. */
async function speaker() {
  const socket = createSocket({ type: "udp4", reuseAddr: true });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.2", () => resolve()));
  socket.setMulticastTTL(1);
  socket.setMulticastLoopback(true);
  return socket;
}

/** A PTR query for the service, with an ID. */
function query(id: number): Uint8Array {
  const name = [13, ..."_privateshare".split("").map((c) => c.charCodeAt(0))]
    .concat([4, ..."_tcp".split("").map((c) => c.charCodeAt(0))])
    .concat([5, ..."local".split("").map((c) => c.charCodeAt(0))], [0]);
  return Uint8Array.from([id >> 8, id & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, ...name, 0, 12, 0, 1]);
}

function open(port: number) {
  const socket = createSocket({ type: "udp4", reuseAddr: true });
  return new Promise<typeof socket>((resolve) =>
    socket.bind(port, () => {
      if (port === 5353) socket.addMembership(GROUP);
      socket.setMulticastTTL(1);
      socket.setMulticastLoopback(true);
      resolve(socket);
    })
  );
}

function send(socket: ReturnType<typeof createSocket>, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => socket.send(Buffer.from(bytes), 5353, GROUP, () => resolve()));
}

if (mode === "garbage") {
  const socket = await open(0);
  const header = (qd: number, an: number) => [0, 0, 0x84, 0, 0, qd, 0, an, 0, 0, 0, 0];
  const packets = [
    Uint8Array.from([1, 2, 3]),
    new Uint8Array(9001).fill(0xc0),
    Uint8Array.from([...header(1, 0), 0xc0, 12, 0, 12, 0, 1]),
    Uint8Array.from([...header(2, 0), 1, 97, 0, 0, 12, 0, 1, 1, 98, 0xc0, 19, 0, 12, 0, 1]),
    Uint8Array.from([...header(0xff, 0xff)]),
    Uint8Array.from([...header(0, 1), 0, 0, 16, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 5]),
    Uint8Array.from([
      0,
      0,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      64,
      ...new Array(64).fill(97),
      0,
      0,
      12,
      0,
      1,
    ]),
  ];
  for (const packet of packets) await send(socket, packet);
  socket.close();
  console.log(JSON.stringify({ sent: packets.length }));
} else if (mode === "flood") {
  const socket = await open(5353);
  let answers = 0, counting = true;
  socket.on("message", (bytes: Uint8Array) => {
    // A response (QR set) that carries an answer for the service.
    if (counting && bytes.length > 12 && (bytes[2]! & 0x80) !== 0 && bytes[7]! > 0) answers++;
  });
  const start = performance.now();
  for (let i = 0; i < Number(countText); i++) await send(socket, query(0));
  const ms = performance.now() - start;
  await new Promise((resolve) => setTimeout(resolve, 500));
  counting = false;
  socket.close();
  console.log(JSON.stringify({ answers, ms: ms + 500 }));
} else if (mode === "conflict") {
  const socket = await open(0);
  const name = `${countText.replace(/[\\.]/g, (c) => `\\${c}`)}._privateshare._tcp.local`;
  await send(
    socket,
    encodeMessage({
      id: 0,
      flags: 0x8400,
      questions: [],
      answers: [{
        name,
        ttl: 120,
        cacheFlush: true,
        data: { type: TYPE.SRV, priority: 0, weight: 0, port: 1, target: "elsewhere.local" },
      }],
      additionals: [],
    }),
  );
  socket.close();
  console.log(JSON.stringify({ sent: 1 }));
} else if (mode === "legacy") {
  const socket = await open(0);
  const answer = new Promise<{ id: number; port: number }>((resolve) =>
    socket.on("message", (bytes: Uint8Array, from: { port: number }) => {
      if ((bytes[2]! & 0x80) !== 0) resolve({ id: (bytes[0]! << 8) | bytes[1]!, port: from.port });
    })
  );
  await send(socket, query(0x4242));
  const got = await answer;
  socket.close();
  console.log(JSON.stringify(got));
} else if (mode === "poison") {
  const kind = countText;
  const listen = await open(5353);
  const speak = await speaker();
  let learned: { srv: DnsRecord; txt?: DnsRecord } | undefined;
  listen.on("message", (bytes: Uint8Array, from: { address: string }) => {
    if (from.address === "127.0.0.2") return;
    const message = decodeMessage(bytes);
    if ((message.flags & 0x8000) === 0) return;
    const records = [...message.answers, ...message.additionals];
    const srv = records.find((r) => r.data.type === TYPE.SRV && r.ttl > 0);
    if (srv === undefined) return;
    const txt = records.find((r) => r.data.type === TYPE.TXT && r.name === srv.name);
    learned = { srv, ...(txt ? { txt } : {}) };
    const host = (srv.data as { target: string }).target;
    const ptr = (ttl: number): DnsRecord => ({
      name: "_privateshare._tcp.local",
      ttl,
      data: { type: TYPE.PTR, target: srv.name },
    });
    const own = "elsewhere._privateshare._tcp.local";
    const answers: DnsRecord[] = kind === "elsewhere"
      ? [
        { name: "_privateshare._tcp.local", ttl: 4500, data: { type: TYPE.PTR, target: own } },
        {
          name: own,
          ttl: 120,
          data: { type: TYPE.SRV, priority: 0, weight: 0, port: 1, target: "elsewhere.local" },
        },
        ...(learned.txt ? [{ ...learned.txt, name: own }] : []),
        { name: "elsewhere.local", ttl: 120, data: { type: TYPE.A, address: "127.0.0.9" } },
      ]
      : kind === "address"
      ? [{ name: host, ttl: 120, cacheFlush: true, data: { type: TYPE.A, address: "127.0.0.2" } }]
      : kind === "goodbye"
      ? [ptr(0)]
      : [
        ptr(4500),
        { ...srv, data: { type: TYPE.SRV, priority: 0, weight: 0, port: 1, target: host } },
        ...(learned.txt ? [learned.txt] : []),
      ];
    const out = encodeMessage({ id: 0, flags: 0x8400, questions: [], answers, additionals: [] });
    speak.send(Buffer.from(out), 5353, GROUP);
  });
  console.log("listening");
  await new Promise(() => {});
} else if (mode === "many") {
  const listen = await open(5353);
  const speak = await speaker();
  const forever = 0xffffffff;
  const encoder = new TextEncoder();
  let flooded = false;
  listen.on("message", async (bytes: Uint8Array, from: { address: string }) => {
    if (flooded || from.address === "127.0.0.2" || (bytes[2]! & 0x80) !== 0) return;
    flooded = true;
    // Twenty servers a packet, so that the finder's receive buffer is not what limits them.
    for (let first = 0; first < Number(countText); first += 20) {
      const answers: DnsRecord[] = [];
      for (let i = first; i < Math.min(first + 20, Number(countText)); i++) {
        const instance = `flood-${i}._privateshare._tcp.local`;
        const host = `flood-${i}.local`;
        const txt = ["txtvers=1", `name=flood-${i}`, "v=2", "tls=0", "pw=0", "up=1"];
        answers.push(
          {
            name: "_privateshare._tcp.local",
            ttl: forever,
            data: { type: TYPE.PTR, target: instance },
          },
          {
            name: instance,
            ttl: forever,
            data: { type: TYPE.SRV, priority: 0, weight: 0, port: 1000 + i, target: host },
          },
          {
            name: instance,
            ttl: forever,
            data: { type: TYPE.TXT, strings: txt.map((t) => encoder.encode(t)) },
          },
          { name: host, ttl: forever, data: { type: TYPE.A, address: "127.0.0.2" } },
        );
      }
      const out = encodeMessage({ id: 0, flags: 0x8400, questions: [], answers, additionals: [] });
      await new Promise((resolve) => speak.send(Buffer.from(out), 5353, GROUP, resolve));
    }
  });
  console.log("listening");
  await new Promise(() => {});
}
