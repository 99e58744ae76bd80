/**
 * Who gets a connection slot. A connection that has not sent its command
 * yet is "pending": pending connections live in a bounded pool of their
 * own, where a newcomer never waits and is never refused: when the pool is
 * full, the oldest pending connection of the address that holds the most of
 * them is closed to make room (as OpenSSH's `MaxStartups` drops
 * connections). A connection that has sent its command is "serving", and
 * takes one of `maxConnections` slots, of which one address may hold
 * `maxPerAddress` (as nginx's `limit_conn`); over either, its command is
 * answered `busy` at once. So silent or trickling connections can never take
 * the slots of working transfers, and a flood from one address, even one
 * shared through a NAT with a real user, locks nobody out.
 *
 * @module
 */

/** The limits of an {@link Admission}. */
export interface AdmissionLimits {
  /** Most connections that have not sent a command. */
  maxPending: number;
  /** Most connections serving a request. */
  maxConnections: number;
  /** Most connections serving a request from one address. */
  maxPerAddress: number;
}

/** One admitted connection. */
export interface Ticket {
  /** The peer's address, without the port. */
  readonly address: string;
  /** `pending` until its command is accepted, then `serving`. */
  state: "pending" | "serving" | "gone";
  /** Closes the connection (to make room for a newer one). */
  readonly evict: () => void;
}

/** Why a command could not be served now. */
export type Refusal = "connections" | "address";

/** The connection slots of one server. */
export class Admission {
  readonly #limits: AdmissionLimits;
  /** The pool's size now: lowered when the process ran out of descriptors. */
  #maxPending: number;
  /** Pending tickets by address, oldest first. */
  #pending = new Map<string, Ticket[]>();
  #pendingCount = 0;
  #serving = new Map<string, number>();
  #servingCount = 0;

  /**
   * Creates an Admission.
   *
   * @param limits the limits
   */
  constructor(limits: AdmissionLimits) {
    this.#limits = limits;
    this.#maxPending = limits.maxPending;
  }

  /**
   * The process ran out of descriptors with this many pending connections:
   * the pool shrinks to leave `headroom` descriptors for serving, and the
   * oldest pending connections beyond it are closed.
   *
   * @param headroom descriptors to keep free
   */
  outOfDescriptors(headroom: number): void {
    this.#maxPending = Math.max(1, Math.min(this.#maxPending, this.#pendingCount - headroom));
    while (this.#pendingCount >= this.#maxPending && this.#evictOne()) { /* make room */ }
  }

  /** Connections that have not sent a command. */
  get pending(): number {
    return this.#pendingCount;
  }

  /** Connections serving a request. */
  get serving(): number {
    return this.#servingCount;
  }

  /**
   * Admits a new connection as pending, closing the oldest pending
   * connection of the busiest address first when the pool is full.
   *
   * @param address the peer's address
   * @param evict closes the new connection, should it be evicted later
   * @returns the ticket, and whether someone was evicted to make room
   */
  admit(address: string, evict: () => void): { ticket: Ticket; evicted: boolean } {
    let evicted = false;
    if (this.#pendingCount >= this.#maxPending) evicted = this.#evictOne();
    const ticket: Ticket = { address, state: "pending", evict };
    let list = this.#pending.get(address);
    if (!list) this.#pending.set(address, list = []);
    list.push(ticket);
    this.#pendingCount++;
    return { ticket, evicted };
  }

  /**
   * Moves a pending connection whose command has arrived to a serving slot.
   *
   * @param ticket the connection's ticket
   * @returns undefined when admitted, else which limit refused it (the ticket stays pending)
   */
  serve(ticket: Ticket): Refusal | undefined {
    if (ticket.state !== "pending") return undefined;
    if (this.#servingCount >= this.#limits.maxConnections) return "connections";
    if ((this.#serving.get(ticket.address) ?? 0) >= this.#limits.maxPerAddress) return "address";
    this.#unpend(ticket);
    ticket.state = "serving";
    this.#serving.set(ticket.address, (this.#serving.get(ticket.address) ?? 0) + 1);
    this.#servingCount++;
    return undefined;
  }

  /**
   * Gives a connection's slot back when it ends.
   *
   * @param ticket the connection's ticket
   */
  release(ticket: Ticket): void {
    if (ticket.state === "pending") this.#unpend(ticket);
    if (ticket.state === "serving") {
      const left = (this.#serving.get(ticket.address) ?? 1) - 1;
      if (left > 0) this.#serving.set(ticket.address, left);
      else this.#serving.delete(ticket.address);
      this.#servingCount--;
    }
    ticket.state = "gone";
  }

  /**
   * Closes every pending connection (the server is stopping).
   *
   * @returns how many were closed
   */
  evictAll(): number {
    const all = [...this.#pending.values()].flat();
    for (const ticket of all) this.#evict(ticket);
    return all.length;
  }

  /** Closes the oldest pending connection of the address with the most of them. */
  #evictOne(): boolean {
    let busiest: Ticket[] | undefined;
    for (const list of this.#pending.values()) {
      if (!busiest || list.length > busiest.length) busiest = list;
    }
    const oldest = busiest?.[0];
    if (!oldest) return false;
    this.#evict(oldest);
    return true;
  }

  #evict(ticket: Ticket): void {
    this.#unpend(ticket);
    ticket.state = "gone";
    ticket.evict();
  }

  #unpend(ticket: Ticket): void {
    const list = this.#pending.get(ticket.address);
    const at = list?.indexOf(ticket) ?? -1;
    if (!list || at < 0) return;
    list.splice(at, 1);
    if (list.length === 0) this.#pending.delete(ticket.address);
    this.#pendingCount--;
  }
}

/**
 * The host of a peer's address, IPv4 addresses mapped into IPv6 unmapped.
 *
 * @param addr the peer's address
 * @returns the host
 */
export function hostOf(addr: Deno.Addr): string {
  if (addr.transport !== "tcp" && addr.transport !== "udp") return addr.transport;
  return addr.hostname.startsWith("::ffff:") ? addr.hostname.slice(7) : addr.hostname;
}

/**
 * What counts as one address for the limits and the password guard: an
 * IPv4 address (also when mapped into IPv6), or an IPv6 /64 network (one
 * host commonly holds a whole /64, and could otherwise pose as millions of
 * addresses).
 *
 * @param host a host from {@link hostOf}
 * @returns the key its connections are counted under
 */
export function addressKey(host: string): string {
  // An IPv4 address mapped into IPv6 (a dual-stack listener) is that IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped) return mapped[1]!;
  if (!host.includes(":")) return host;
  const [head = "", tail = ""] = host.split("%")[0]!.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === "" ? [] : tail.split(":");
  const groups = host.includes("::")
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right]
    : left;
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "").toLowerCase()).join(":") +
    "::/64";
}

/**
 * A peer's address for the log: `host:port`, `[host]:port` for IPv6.
 *
 * @param addr the peer's address
 * @returns the text
 */
export function peerName(addr: Deno.Addr): string {
  const host = hostOf(addr);
  if (addr.transport !== "tcp" && addr.transport !== "udp") return host;
  return host.includes(":") ? `[${host}]:${addr.port}` : `${host}:${addr.port}`;
}
