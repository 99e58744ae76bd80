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

/** A namespace with its loopback up and multicast routed on it. */
export interface Netns extends AsyncDisposable {
  /** Its name (`ps-...`). */
  readonly name: string;
  /** The command that runs a program inside it: put it before the program. */
  readonly wrap: string[];
  /** Starts a program inside it that is killed when the namespace goes. */
  spawn(program: string, args: string[], options?: Deno.CommandOptions): Deno.ChildProcess;
}

/**
 * Makes a namespace. Children started with {@link Netns.spawn} are killed,
 * and the namespace deleted, when it is disposed; programs started through
 * {@link Netns.wrap} by other helpers are theirs to stop.
 *
 * @returns the namespace
 * @throws {Error} when it cannot be made (check {@link NETNS_UNAVAILABLE} first)
 */
export function makeNetns(): Netns {
  const name = randomName();
  for (
    const args of [
      ["netns", "add", name],
      ["-n", name, "link", "set", "lo", "up"],
      // With `src`, multicast goes out from 127.0.0.1 (as from a LAN address on a real
      // network) rather than 0.0.0.0, so a finder can use the address a reply came from.
      ["-n", name, "route", "add", "224.0.0.0/4", "dev", "lo", "src", "127.0.0.1"],
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
