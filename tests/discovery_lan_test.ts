// Finding servers across a LAN (issue 23): two or three computers, each a
// network namespace of its own, joined by veth pairs (tests/support/netns.ts),
// so that A records of a real interface, group membership per interface, the
// address an answer came from and the off-subnet filter (RFC 6762 11) are
// exercised end to end, and no packet reaches the host's network. Programs
// run with the permissions of the release build (tools/build.ts) or of
// README's bare server; every "not found" has a positive control found in
// the same window.

import assert from "node:assert/strict";
import { join } from "node:path";
import { linkNetns, makeNetns, type Netns, NETNS_UNAVAILABLE } from "./support/netns.ts";
import {
  lineMatching,
  ROOT,
  runClient,
  startTestServer,
  type TestServer,
} from "./support/processes.ts";
import { sameBytes, tempDir, writeRandomFile } from "./support/data.ts";
import { permissionsFor, PROGRAMS } from "../tools/build.ts";

const ignored = NETNS_UNAVAILABLE === undefined ? "" : ` (ignored: ${NETNS_UNAVAILABLE})`;
const decoder = new TextDecoder();
const TARGET = "x86_64-unknown-linux-gnu";
/** The release server's permissions: hostname and networkInterfaces among them. */
const RELEASE_SERVER = permissionsFor(PROGRAMS[0]!, TARGET);
/** The release client's: the list of interfaces among them. */
const RELEASE_CLIENT = permissionsFor(PROGRAMS[1]!, TARGET);
/** README's `deno run --allow-net client.ts discover`: no list of interfaces. */
const README_DISCOVER = ["--allow-net"];
/** A client that may list the interfaces, and so drops packets from off its subnets. */
const CLIENT_WITH_INTERFACES = RELEASE_CLIENT;

/** Computers, each with loopback up and no multicast route until linked. */
function computers(count: number): Netns[] {
  return Array.from({ length: count }, () => makeNetns({ loopbackMulticast: false }));
}

/** A LAN test: ignored, with the reason in its name, where namespaces cannot be made. */
function lanTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: name + ignored, ignore: NETNS_UNAVAILABLE !== undefined, fn });
}

/** Disposes namespaces (and with them their links and spawned children). */
function disposing(hosts: Netns[]): AsyncDisposable {
  return {
    async [Symbol.asyncDispose]() {
      await Promise.all(hosts.map((h) => h[Symbol.asyncDispose]()));
    },
  };
}

/** Starts a server on a computer and waits until it says it is announced (or quiet). */
async function serverOn(
  ns: Netns,
  root: string,
  args: string[],
  perms: readonly string[],
  write = true,
): Promise<TestServer & AsyncDisposable> {
  const server = await startTestServer({ root, args, perms: [...perms], write, wrap: ns.wrap });
  if (!args.includes("--no-announce")) {
    const line = await server.waitFor((l) => /^(not-)?announced$/.test(String(l.event)));
    if (line.event !== "announced") {
      await server.stop();
      assert.fail(`The server did not announce: ${line.message}`);
    }
  }
  return Object.assign(server, { [Symbol.asyncDispose]: () => server.stop() });
}

type Found = {
  instance: string;
  name: string;
  port: number;
  tls: boolean;
  addresses: string[];
  code?: string;
  fingerprint?: string;
};

/** `client.ts discover --json` on a computer. */
async function discoverOn(ns: Netns, perms: readonly string[] = RELEASE_CLIENT): Promise<Found[]> {
  const result = await runClient(["discover", "--json", "--timeout", "2"], {
    perms: [...perms],
    wrap: ns.wrap,
  });
  assert.ok(result.code === 0 || result.code === 9, result.stderr);
  return JSON.parse(result.stdout);
}

const LAN_PEER = join(ROOT, "tests", "support", "lan_peer.ts");

lanTest(
  "a TLS server on A is found from B at its LAN address with its code, and a get by name " +
    "crosses the link byte for byte; a --no-announce server beside it is not found",
  async () => {
    const [a, b] = computers(2) as [Netns, Netns];
    await using _hosts = disposing([a, b]);
    linkNetns(a, b, "10.23.0");
    await using root = await tempDir();
    await using tls = await tempDir();
    await using quietRoot = await tempDir();
    await writeRandomFile(join(root.path, "apple.jpg"), 1_000_000);
    await using server = await serverOn(
      a,
      root.path,
      ["--name", "laptop", "--tls", "--tls-dir", tls.path],
      RELEASE_SERVER,
    );
    await using quiet = await serverOn(a, quietRoot.path, ["--no-announce"], RELEASE_SERVER);
    const announced = server.lines.find((l) => l.event === "announced")!;
    assert.deepEqual(announced.addresses, ["10.23.0.1"]);
    const tlsLine = server.lines.find((l) => l.event === "tls")!;
    const code = server.lines.find((l) => l.event === "code")!.code;
    const found = await discoverOn(b);
    assert.deepEqual(
      found.map((s) => [s.name, s.port, s.tls, s.addresses, s.fingerprint]),
      [["laptop", server.port, true, ["10.23.0.1"], tlsLine.fingerprint]],
    );
    assert.ok(!found.some((s) => s.port === quiet.port));
    assert.equal(found[0]!.code, code);
    await using out = await tempDir();
    const get = await runClient(["laptop", "get", "apple.jpg", "--code", found[0]!.code!], {
      cwd: out.path,
      perms: RELEASE_CLIENT,
      wrap: b.wrap,
    });
    assert.equal(get.code, 0, get.stderr);
    assert.ok(await sameBytes(join(root.path, "apple.jpg"), join(out.path, "apple.jpg")));
    // It connected across the link, from B's address.
    const request = await server.waitFor((l) => l.event === "request" && l.op === "get");
    assert.match(String(request.peer), /^10\.23\.0\.2:\d+$/);
  },
);

lanTest(
  "README's bare server (--allow-net --allow-read) on A is found from B and reached at " +
    "the address its answer came from",
  async () => {
    const [a, b] = computers(2) as [Netns, Netns];
    await using _hosts = disposing([a, b]);
    linkNetns(a, b, "10.23.0");
    await using root = await tempDir();
    await Deno.writeTextFile(join(root.path, "a.txt"), "a");
    await using server = await serverOn(a, root.path, [], [], false);
    assert.ok(server.lines.some((l) => l.event === "announce-permissions"));
    const found = await discoverOn(b);
    assert.deepEqual(
      found.map((s) => [s.name, s.port, s.addresses]),
      [["privateshare", server.port, ["10.23.0.1"]]],
    );
    await using out = await tempDir();
    const list = await runClient(["privateshare", "list"], {
      cwd: out.path,
      perms: RELEASE_CLIENT,
      wrap: b.wrap,
    });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /a\.txt/);
  },
);

lanTest(
  "a server on two networks is found from each at its address on that network, and only that",
  async () => {
    const [a, b, c] = computers(3) as [Netns, Netns, Netns];
    await using _hosts = disposing([a, b, c]);
    linkNetns(a, b, "10.23.0");
    linkNetns(a, c, "10.24.0");
    await using root = await tempDir();
    await writeRandomFile(join(root.path, "pear.bin"), 200_000);
    await using server = await serverOn(a, root.path, ["--name", "laptop"], RELEASE_SERVER);
    const announced = server.lines.find((l) => l.event === "announced")!;
    assert.deepEqual(announced.addresses, ["10.23.0.1", "10.24.0.1"]);
    // A server that listens on B's side only is announced there only.
    await using bSide = await serverOn(
      a,
      root.path,
      ["--name", "desk", "--host", "10.23.0.1"],
      RELEASE_SERVER,
    );
    for (const [ns, own] of [[b, "10.23.0.1"], [c, "10.24.0.1"]] as const) {
      const found = await discoverOn(ns);
      // RFC 6762 6.2: the A records sent on an interface are the addresses valid on it.
      assert.deepEqual(
        found.map((s) => [s.name, s.port, s.addresses]),
        [
          ...(ns === b ? [["desk", bSide.port, ["10.23.0.1"]]] : []),
          ["laptop", server.port, [own]],
        ],
      );
      await using out = await tempDir();
      const get = await runClient(["laptop", "get", "pear.bin"], {
        cwd: out.path,
        perms: RELEASE_CLIENT,
        wrap: ns.wrap,
      });
      assert.equal(get.code, 0, get.stderr);
      assert.ok(await sameBytes(join(root.path, "pear.bin"), join(out.path, "pear.bin")));
      if (ns === c) {
        // A one-shot querier gets the address on its side too, and from the server on B's
        // side only, no answer (the second query's answer came: the first's had its chance).
        assert.deepEqual(await ask(c, "10.24.0.2", "-"), { on: 2, off: 0, addresses: [own] });
      }
    }
  },
);

/** Runs tests/support/lan_peer.ts ask on a computer, from ON and OFF ("-": none). */
async function ask(ns: Netns, on: string, off: string): Promise<unknown> {
  const out = await new Deno.Command("ip", {
    args: [
      ...ns.wrap.slice(1),
      Deno.execPath(),
      "run",
      "--no-prompt",
      "--allow-net",
      LAN_PEER,
      "ask",
      on,
      on,
      off,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, decoder.decode(out.stderr));
  return JSON.parse(decoder.decode(out.stdout));
}

/** A, B linked on 10.23.0.0/24, B with 10.99.0.2 too, which A routes through B. */
function offSubnetLan(): { a: Netns; b: Netns; hosts: AsyncDisposable } {
  const [a, b] = computers(2) as [Netns, Netns];
  const hosts = disposing([a, b]);
  const [, end] = linkNetns(a, b, "10.23.0");
  b.ip(["addr", "add", "10.99.0.2/32", "dev", end.device]);
  // As a packet from afar would come: through a router (B), on a route A knows.
  a.ip(["route", "add", "10.99.0.0/24", "via", "10.23.0.2"]);
  return { a, b, hosts };
}

lanTest(
  "an announcement from off A's subnets is dropped by a client on A that may list its " +
    "interfaces; the same from B's address on the link is listed",
  async () => {
    const { a, b, hosts } = offSubnetLan();
    await using _hosts = hosts;
    const peer = b.spawn(
      Deno.execPath(),
      [
        "run",
        "--no-prompt",
        "--allow-net",
        LAN_PEER,
        "respond",
        "10.23.0.2",
        "10.23.0.2",
        "10.99.0.2",
      ],
      { stdout: "piped", stderr: "inherit", stdin: "null" },
    );
    const reader = peer.stdout.pipeThrough(new TextDecoderStream()).getReader();
    await lineMatching(reader, (l) => l === "listening");
    const filtered = await discoverOn(a, CLIENT_WITH_INTERFACES);
    assert.deepEqual(filtered.map((s) => [s.name, s.addresses]), [["fake-on", ["10.23.0.2"]]]);
    // The packets from 10.99.0.2 do reach A: a client that cannot list the interfaces (README's
    // discover, --allow-net alone) cannot tell, and lists both.
    const unfiltered = await discoverOn(a, README_DISCOVER);
    assert.deepEqual(
      unfiltered.map((s) => [s.name, s.addresses]),
      [["fake-off", ["10.99.0.2"]], ["fake-on", ["10.23.0.2"]]],
    );
    await reader.cancel();
  },
);

lanTest(
  "the release server on A ignores a query from off its subnets and answers the same from B's " +
    "address on the link",
  async () => {
    const { a, b, hosts } = offSubnetLan();
    await using _hosts = hosts;
    await using root = await tempDir();
    await using _server = await serverOn(a, root.path, ["--name", "laptop"], RELEASE_SERVER);
    assert.deepEqual(await ask(b, "10.23.0.2", "10.99.0.2"), {
      on: 2,
      off: 0,
      addresses: ["10.23.0.1"],
    });
  },
);

lanTest(
  "a server on a computer with two addresses on one interface joins it once and is found " +
    "at both",
  async () => {
    const { a, b, hosts } = offSubnetLan();
    await using _hosts = hosts;
    await using root = await tempDir();
    await using server = await serverOn(b, root.path, ["--name", "laptop"], RELEASE_SERVER);
    assert.deepEqual(
      server.lines.find((l) => l.event === "announced")!.addresses,
      ["10.23.0.2", "10.99.0.2"],
    );
    const found = await discoverOn(a, CLIENT_WITH_INTERFACES);
    assert.deepEqual(
      found.map((s) => [s.port, s.addresses]),
      [[server.port, ["10.23.0.2", "10.99.0.2"]]],
    );
  },
);

lanTest(
  "on a computer with no default route a client without the list of interfaces (README's " +
    "discover and list) says in one line what to do; the release client finds the server",
  async () => {
    const [a, b] = computers(2) as [Netns, Netns];
    await using _hosts = disposing([a, b]);
    linkNetns(a, b, "10.23.0");
    // A cable between two computers, or a network without a router: no default route on B.
    b.ip(["route", "del", "224.0.0.0/4"]);
    await using root = await tempDir();
    await using server = await serverOn(a, root.path, ["--name", "laptop"], RELEASE_SERVER);
    const found = await discoverOn(b, CLIENT_WITH_INTERFACES);
    assert.deepEqual(found.map((s) => [s.port, s.addresses]), [[server.port, ["10.23.0.1"]]]);
    const readme: [string[], string[]][] = [
      [["discover"], README_DISCOVER],
      [["laptop", "list"], ["--allow-net", "--allow-read", "--allow-env"]],
    ];
    for (const [args, perms] of readme) {
      const result = await runClient(args, { perms, wrap: b.wrap });
      assert.equal(result.code, 4, result.stderr);
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
      assert.match(
        result.stderr,
        /this computer has no default route, so no network to look on: run the client with --allow-sys=networkInterfaces to look on each network, or give the server's address: client\.ts HOST PORT list$/m,
      );
    }
  },
);
