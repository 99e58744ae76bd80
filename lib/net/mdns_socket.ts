/**
 * The multicast DNS socket that announcing and finding servers share: UDP
 * port 5353 with the address reused (other responders on the same computer
 * keep theirs), the group 224.0.0.251 joined once on each IPv4 interface (or the
 * default one without `--allow-sys=networkInterfaces`), TTL 1, loopback on.
 * It never asks for a permission it was not given.
 *
 * Packets from a source outside this computer's subnets are dropped (RFC
 * 6762 11): multicast DNS is link-local, and only a unicast from afar could
 * bring one (to poison a finder's list, or to have a responder answer a
 * forged source). node:dgram shows neither the IP TTL nor the destination
 * address, so the check is the source's subnet; it needs the list of
 * interfaces (`--allow-sys=networkInterfaces`), and without it every source
 * is taken, as it cannot be told.
 *
 * @module
 */

import type { RemoteInfo, Socket } from "node:dgram";
import { canReadNetworkAddresses, isLoopback } from "./addresses.ts";
import { decodeMessage, DnsFormatError, type DnsMessage, encodeMessage } from "./dns_message.ts";

/** The multicast DNS group and port. */
export const MDNS_GROUP = "224.0.0.251";
/** The multicast DNS port. */
export const MDNS_PORT = 5353;

/**
 * Why the socket could not be opened: `no-route` when the interfaces cannot be listed
 * and the computer has no route for multicast (no default route, as on a cable between
 * two computers or a network without a router), so no network to join is known;
 * `socket` for the rest.
 */
export type MdnsSocketFailure = "no-route" | "socket";

/** Why the socket could not be opened. */
export class MdnsSocketError extends Error {
  /** What failed. */
  readonly code: MdnsSocketFailure;

  /**
   * Creates an MdnsSocketError.
   *
   * @param message what failed
   * @param options the cause
   * @param code what failed, as a code
   */
  constructor(message: string, options?: ErrorOptions, code: MdnsSocketFailure = "socket") {
    super(message, options);
    this.name = "MdnsSocketError";
    this.code = code;
  }
}

/** Where a message came from. */
export interface Sender {
  /** Its address, as reported (may be 0.0.0.0 for a multicast sender on loopback). */
  address: string;
  /** Its port: not 5353 for a one-shot ("legacy unicast") querier. */
  port: number;
}

/**
 * A message, or how to make it for the interface it goes out on: given the
 * IPv4 addresses of that interface (undefined where they cannot be told), it
 * returns the message, or undefined to send nothing there. A responder's
 * address records on an interface are the addresses valid on it (RFC 6762
 * 6.2): another network's address is of no use there, and tells of it.
 */
export type Outgoing = DnsMessage | ((local: string[] | undefined) => DnsMessage | undefined);

/** The open socket. */
export interface MdnsSocket {
  /**
   * The IPv4 address the group was joined with on each interface, one an interface
   * (empty: the default interface).
   */
  readonly interfaces: string[];
  /** Sends a message to the group on every interface joined, or to one querier. */
  send(message: Outgoing, to?: Sender): Promise<void>;
  /** Closes the socket. */
  close(): void;
}

/** An interface as the socket uses it: its IPv4 addresses and their subnets. */
interface Link {
  /** Its first address: the group is joined, and multicast sent, with it. */
  address: string;
  /** All its IPv4 addresses. */
  addresses: string[];
  /** Their subnets. */
  subnets: Subnet[];
}

/**
 * The non-loopback interfaces with IPv4 addresses, each once however many
 * addresses it has (joining the group twice on one interface fails), or
 * none without the permission to list them.
 */
function links(): Link[] {
  if (!canReadNetworkAddresses()) return [];
  const byName = new Map<string, Link>();
  for (const i of Deno.networkInterfaces()) {
    if (i.family !== "IPv4" || isLoopback(i.address)) continue;
    const link = byName.get(i.name);
    if (link === undefined) {
      byName.set(i.name, { address: i.address, addresses: [i.address], subnets: [i] });
    } else if (!link.addresses.includes(i.address)) {
      link.addresses.push(i.address);
      link.subnets.push(i);
    }
  }
  return [...byName.values()];
}

/**
 * The non-internal IPv4 addresses of this computer, or loopback when there
 * is none; empty without the permission to list them.
 *
 * @returns the addresses
 */
export function interfaceAddresses(): string[] {
  if (!canReadNetworkAddresses()) return [];
  const all = Deno.networkInterfaces().filter((i) => i.family === "IPv4");
  const outside = [...new Set(all.filter((i) => !isLoopback(i.address)).map((i) => i.address))];
  return outside.length > 0 ? outside : ["127.0.0.1"];
}

/** An IPv4 subnet, as `Deno.networkInterfaces()` gives it (`192.168.1.5/24`). */
export interface Subnet {
  /** The interface's address and prefix length. */
  cidr: string;
}

/**
 * Whether a packet's source is on one of this computer's IPv4 subnets (or
 * is loopback, or the unspecified address a multicast sender on loopback
 * may show as).
 *
 * @param address the source address
 * @param subnets the subnets of this computer's interfaces
 * @returns whether the source is on the local link
 */
export function onLocalLink(address: string, subnets: Subnet[]): boolean {
  if (address === "0.0.0.0" || isLoopback(address)) return true;
  const source = ipv4Number(address);
  if (source === undefined) return false;
  return subnets.some(({ cidr }) => {
    const [net, bits] = cidr.split("/");
    const base = ipv4Number(net ?? "");
    const prefix = Number(bits);
    if (base === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return false;
    const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
    return ((source & mask) >>> 0) === ((base & mask) >>> 0);
  });
}

function ipv4Number(address: string): number | undefined {
  const parts = address.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256)) {
    return undefined;
  }
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

/** How long a read of the interfaces' subnets is used before it is read again. */
const SUBNETS_FOR_MS = 5000;

/** The subnets to check sources against, or undefined when they cannot be listed. */
function subnetReader(): () => Subnet[] | undefined {
  if (!canReadNetworkAddresses()) return () => undefined;
  let read = { at: -Infinity, subnets: [] as Subnet[] };
  return () => {
    const now = Date.now();
    if (now - read.at >= SUBNETS_FOR_MS) {
      read = {
        at: now,
        subnets: Deno.networkInterfaces().filter((i) => i.family === "IPv4"),
      };
    }
    return read.subnets;
  };
}

/**
 * Opens the socket and joins the group.
 *
 * @param onMessage called with each well-formed message from the local link (malformed and
 *   oversized ones are dropped, and those from a source outside this computer's subnets)
 * @returns the socket
 * @throws {MdnsSocketError} when the port cannot be bound or the group joined
 */
export async function openMdnsSocket(
  onMessage: (message: DnsMessage, from: Sender) => void,
): Promise<MdnsSocket> {
  const { createSocket, Buffer } = await nodeModules();
  const socket = createSocket({ type: "udp4", reuseAddr: true });
  let closed = false;
  const subnets = subnetReader();
  socket.on("message", (bytes: Uint8Array, from: RemoteInfo) => {
    const local = subnets();
    if (local !== undefined && !onLocalLink(from.address, local)) return;
    let message: DnsMessage;
    try {
      message = decodeMessage(bytes);
    } catch (error) {
      if (error instanceof DnsFormatError) return;
      throw error;
    }
    onMessage(message, { address: from.address, port: from.port });
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error) => {
      closed = true;
      try {
        socket.close();
      } catch {
        // Never opened.
      }
      reject(
        new MdnsSocketError(`Cannot open UDP port ${MDNS_PORT}: ${error.message}`, {
          cause: error,
        }),
      );
    };
    socket.once("error", failed);
    try {
      socket.bind(MDNS_PORT, () => {
        socket.off("error", failed);
        resolve();
      });
    } catch (error) {
      failed(error as Error);
    }
  });
  // Errors after start (a send to a vanished interface) must not end the program.
  socket.on("error", () => {});
  const joined = links();
  const interfaces = joined.map((l) => l.address);
  try {
    if (interfaces.length === 0) socket.addMembership(MDNS_GROUP);
    else for (const address of interfaces) socket.addMembership(MDNS_GROUP, address);
    socket.setMulticastTTL(1);
    socket.setMulticastLoopback(true);
  } catch (error) {
    closed = true;
    socket.close();
    // Joined on no interface named: the kernel picks the one multicast is routed on.
    if (interfaces.length === 0 && (await multicastRouteAddress()) === undefined) {
      throw new MdnsSocketError(
        "This computer has no route for multicast (no default route): no network to join is known",
        { cause: error },
        "no-route",
      );
    }
    throw new MdnsSocketError(
      `Cannot join the multicast group ${MDNS_GROUP}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const sendTo = (bytes: Uint8Array, port: number, address: string) =>
    new Promise<void>((resolve) => {
      if (closed) return resolve();
      try {
        socket.send(Buffer.from(bytes), port, address, () => resolve());
      } catch {
        resolve();
      }
    });
  // One send at a time: switching the outgoing interface must not race a send.
  let queue = Promise.resolve();
  return {
    interfaces,
    send(message, to) {
      // Encoded now, so that a message that cannot be encoded fails its caller, not the queue.
      const bytesFor = (local: string[] | undefined) => {
        const made = typeof message === "function" ? message(local) : message;
        return made === undefined ? undefined : encodeMessage(made);
      };
      let sends: { bytes: Uint8Array | undefined; via?: string; port: number; address: string }[];
      if (to !== undefined) {
        // A one-shot querier gets the addresses of the interface on its subnet.
        const here = isLoopback(to.address) || to.address === "0.0.0.0";
        const link = here ? undefined : joined.find((l) => onLocalLink(to.address, l.subnets));
        sends = [{ bytes: bytesFor(link?.addresses), port: to.port, address: to.address }];
      } else if (joined.length === 0) {
        sends = [{ bytes: bytesFor(undefined), port: MDNS_PORT, address: MDNS_GROUP }];
      } else {
        sends = joined.map((link) => ({
          bytes: bytesFor(link.addresses),
          via: link.address,
          port: MDNS_PORT,
          address: MDNS_GROUP,
        }));
      }
      queue = queue.then(async () => {
        for (const { bytes, via, port, address } of sends) {
          if (closed) return;
          if (bytes === undefined) continue;
          if (via !== undefined) {
            try {
              socket.setMulticastInterface(via);
            } catch {
              continue;
            }
          }
          await sendTo(bytes, port, address);
        }
      });
      return queue;
    },
    close() {
      if (closed) return;
      closed = true;
      socket.close();
    },
  };
}

/**
 * The address the kernel would send multicast from, found without listing
 * interfaces: a UDP socket connected to the group says which address it got.
 *
 * @returns the address, or undefined when it cannot tell
 */
export async function multicastRouteAddress(): Promise<string | undefined> {
  const { createSocket } = await nodeModules();
  const probe: Socket = createSocket("udp4");
  try {
    return await new Promise<string | undefined>((resolve) => {
      probe.on("error", () => resolve(undefined));
      try {
        probe.connect(MDNS_PORT, MDNS_GROUP, () => {
          const { address } = probe.address();
          resolve(address === "0.0.0.0" ? undefined : address);
        });
      } catch {
        resolve(undefined);
      }
    });
  } finally {
    probe.close();
  }
}

/**
 * node:dgram and node:buffer, loaded at the first socket: every client
 * program imports this module, and loading them costs a process about 2 ms
 * at start that a list or a transfer by address never uses (issue 25).
 */
async function nodeModules(): Promise<
  {
    createSocket: typeof import("node:dgram").createSocket;
    Buffer: typeof import("node:buffer").Buffer;
  }
> {
  const [dgram, buffer] = await Promise.all([import("node:dgram"), import("node:buffer")]);
  return { createSocket: dgram.createSocket, Buffer: buffer.Buffer };
}
