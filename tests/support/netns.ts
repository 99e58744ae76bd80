/**
 * A network namespace of its own for each discovery test: only loopback, up,
 * with multicast routed on it, so that announcing and finding servers never
 * sends a packet on the host's own network. Programs run in it through
 * `ip netns exec NAME deno ...`. Making one needs root (CI runs as root);
 * where it cannot be made, {@link NETNS_UNAVAILABLE} says why and the tests
 * are ignored with that reason in their names.
 *
 * @module
 */

const decoder = new TextDecoder();

function ip(args: string[]): { ok: boolean; stderr: string } {
  try {
    const out = new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).outputSync();
    return { ok: out.success, stderr: decoder.decode(out.stderr).trim() };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    return { ok: false, stderr: "the ip command is not installed (iproute2)" };
  }
}

function randomName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(5));
  return `ps-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Why no namespace can be made here, or undefined when one can. */
export const NETNS_UNAVAILABLE: string | undefined = (() => {
  if (Deno.build.os !== "linux") return "network namespaces are Linux's";
  if (Deno.uid() !== 0) return "making a network namespace needs root";
  const name = randomName();
  const made = ip(["netns", "add", name]);
  if (!made.ok) return `ip netns add failed: ${made.stderr}`;
  ip(["netns", "del", name]);
  return undefined;
})();

/** A namespace with its loopback up and multicast routed on it (or on its first link). */
export interface Netns extends AsyncDisposable {
  /** Its name (`ps-...`). */
  readonly name: string;
  /** The command that runs a program inside it: put it before the program. */
  readonly wrap: string[];
  /** Starts a program inside it that is killed when the namespace goes. */
  spawn(program: string, args: string[], options?: Deno.CommandOptions): Deno.ChildProcess;
  /** Runs `ip -n NAME ARGS...` (an address, a route), failing with ip's message. */
  ip(args: string[]): void;
}

/** How to make a namespace. */
export interface NetnsOptions {
  /**
   * Route multicast on loopback (default true): for a namespace that is one computer alone.
   * A computer of a {@link linkNetns} network has it routed on its first link instead, as
   * on a LAN where the default route goes out the network card.
   */
  loopbackMulticast?: boolean;
}

/**
 * Makes a namespace. Children started with {@link Netns.spawn} are killed,
 * and the namespace deleted, when it is disposed; programs started through
 * {@link Netns.wrap} by other helpers are theirs to stop.
 *
 * @returns the namespace
 * @throws {Error} when it cannot be made (check {@link NETNS_UNAVAILABLE} first)
 */
export function makeNetns(options: NetnsOptions = {}): Netns {
  const name = randomName();
  for (
    const args of [
      ["netns", "add", name],
      ["-n", name, "link", "set", "lo", "up"],
      // With `src`, multicast goes out from 127.0.0.1 (as from a LAN address on a real
      // network) rather than 0.0.0.0, so a finder can use the address a reply came from.
      ...(options.loopbackMulticast ?? true
        ? [["-n", name, "route", "add", "224.0.0.0/4", "dev", "lo", "src", "127.0.0.1"]]
        : []),
    ]
  ) {
    const result = ip(args);
    if (!result.ok) {
      ip(["netns", "del", name]);
      throw new Error(`ip ${args.join(" ")}: ${result.stderr}`);
    }
  }
  const children = new Set<Deno.ChildProcess>();
  const wrap = ["ip", "netns", "exec", name];
  return {
    name,
    wrap,
    spawn(program, args, options = {}) {
      const child = new Deno.Command("ip", {
        ...options,
        args: ["netns", "exec", name, program, ...args],
      }).spawn();
      children.add(child);
      child.status.finally(() => children.delete(child));
      return child;
    },
    ip(args) {
      const result = ip(["-n", name, ...args]);
      if (!result.ok) throw new Error(`ip -n ${name} ${args.join(" ")}: ${result.stderr}`);
    },
    async [Symbol.asyncDispose]() {
      for (const child of children) {
        try {
          child.kill("SIGKILL");
        } catch (error) {
          if (!(error instanceof TypeError)) throw error;
        }
      }
      await Promise.allSettled([...children].map((c) => c.status));
      ip(["netns", "del", name]);
    },
  };
}

/** One end of a link between two namespaces. */
export interface LinkEnd {
  /** The interface's name in its namespace (random, like the namespace's). */
  readonly device: string;
  /** Its IPv4 address, without the prefix length. */
  readonly address: string;
}

/** Namespaces that already have a link, and so their multicast route. */
const linked = new WeakSet<Netns>();

/**
 * Joins two namespaces with a veth pair, as two computers on one LAN: the
 * pair is made inside the first namespace with its peer moved into the
 * second (never in the host's), the ends get `SUBNET.1/24` and
 * `SUBNET.2/24` and are brought up. A namespace's first link also gets the
 * multicast route (`224.0.0.0/4`), as a computer's default route would
 * carry it; a later link is another network beside it. The pair goes with
 * the namespaces when they are disposed.
 *
 * @param a the first computer (made with `loopbackMulticast: false`)
 * @param b the second computer
 * @param subnet the first three octets of a /24 that no other link uses, such as `10.23.0`
 * @returns the two ends
 */
export function linkNetns(a: Netns, b: Netns, subnet: string): [LinkEnd, LinkEnd] {
  const suffix = randomName().slice(3, 9);
  const ends: [LinkEnd, LinkEnd] = [
    { device: `va${suffix}`, address: `${subnet}.1` },
    { device: `vb${suffix}`, address: `${subnet}.2` },
  ];
  a.ip([
    "link",
    "add",
    ends[0].device,
    "type",
    "veth",
    "peer",
    "name",
    ends[1].device,
    "netns",
    b.name,
  ]);
  for (const [ns, end] of [[a, ends[0]], [b, ends[1]]] as const) {
    ns.ip(["addr", "add", `${end.address}/24`, "dev", end.device]);
    ns.ip(["link", "set", end.device, "up"]);
    if (!linked.has(ns)) ns.ip(["route", "add", "224.0.0.0/4", "dev", end.device]);
    linked.add(ns);
  }
  return ends;
}
