/**
 * The multicast DNS socket that announcing and finding servers share: UDP
 * port 5353 with the address reused (other responders on the same computer
 * keep theirs), the group 224.0.0.251 joined on each IPv4 interface (or the
 * default one without `--allow-sys=networkInterfaces`), TTL 1, loopback on.
 * It never asks for a permission it was not given.
 *
 * @module
 */

import type { RemoteInfo, Socket } from "node:dgram";
import { decodeMessage, DnsFormatError, type DnsMessage, encodeMessage } from "./dns_message.ts";

/** The multicast DNS group and port. */
export const MDNS_GROUP = "224.0.0.251";
/** The multicast DNS port. */
export const MDNS_PORT = 5353;

/** Why the socket could not be opened. */
export class MdnsSocketError extends Error {
  /**
   * Creates an MdnsSocketError.
   *
   * @param message what failed
   * @param options the cause
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MdnsSocketError";
  }
}

/** Where a message came from. */
export interface Sender {
  /** Its address, as reported (may be 0.0.0.0 for a multicast sender on loopback). */
  address: string;
  /** Its port: not 5353 for a one-shot ("legacy unicast") querier. */
  port: number;
}

/** The open socket. */
export interface MdnsSocket {
  /** The IPv4 addresses of the interfaces joined (empty: the default interface). */
  readonly interfaces: string[];
  /** Sends a message to the group on every interface joined, or to one querier. */
  send(message: DnsMessage, to?: Sender): Promise<void>;
  /** Closes the socket. */
  close(): void;
}

/**
 * Whether the program may list the network interfaces, without prompting.
 *
 * @returns whether `--allow-sys=networkInterfaces` (or more) was granted
 */
export function canListInterfaces(): boolean {
  return Deno.permissions.querySync({ name: "sys", kind: "networkInterfaces" }).state ===
    "granted";
}

/**
 * The non-internal IPv4 addresses of this computer, or loopback when there
 * is none; empty without the permission to list them.
 *
 * @returns the addresses
 */
export function interfaceAddresses(): string[] {
  if (!canListInterfaces()) return [];
  const all = Deno.networkInterfaces().filter((i) => i.family === "IPv4");
  const outside = [...new Set(all.filter((i) => !isLoopback(i.address)).map((i) => i.address))];
  return outside.length > 0 ? outside : ["127.0.0.1"];
}

function isLoopback(address: string): boolean {
  return address.startsWith("127.");
}

/**
 * Opens the socket and joins the group.
 *
 * @param onMessage called with each well-formed message (malformed and oversized ones are dropped)
 * @returns the socket
 * @throws {MdnsSocketError} when the port cannot be bound or the group joined
 */
export async function openMdnsSocket(
  onMessage: (message: DnsMessage, from: Sender) => void,
): Promise<MdnsSocket> {
  const { createSocket, Buffer } = await nodeModules();
  const socket = createSocket({ type: "udp4", reuseAddr: true });
  let closed = false;
  socket.on("message", (bytes: Uint8Array, from: RemoteInfo) => {
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
  const interfaces = interfaceAddresses().filter((a) => !isLoopback(a));
  try {
    if (interfaces.length === 0) socket.addMembership(MDNS_GROUP);
    else for (const address of interfaces) socket.addMembership(MDNS_GROUP, address);
    socket.setMulticastTTL(1);
    socket.setMulticastLoopback(true);
  } catch (error) {
    closed = true;
    socket.close();
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
      const bytes = encodeMessage(message);
      queue = queue.then(async () => {
        if (to !== undefined) return await sendTo(bytes, to.port, to.address);
        if (interfaces.length === 0) return await sendTo(bytes, MDNS_PORT, MDNS_GROUP);
        for (const address of interfaces) {
          if (closed) return;
          try {
            socket.setMulticastInterface(address);
          } catch {
            continue;
          }
          await sendTo(bytes, MDNS_PORT, MDNS_GROUP);
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
