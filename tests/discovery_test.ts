// Finding servers end to end (issue 23): real server and client processes,
// each test in a network namespace of its own (tests/support/netns.ts), so
// that no multicast reaches the host's network. Every server is started
// with the permissions README gives it, and waited for until it logs that
// it is announced; every "not found" has a positive control beside it.

import assert from "node:assert/strict";
import { join } from "node:path";
import { shortCode } from "../lib/net/short_code.ts";
import { onLocalLink } from "../lib/net/mdns_socket.ts";
import { matchServers } from "../lib/client/find_server.ts";
import { serverLines } from "../lib/cli/discover.ts";
import { makeNetns, type Netns, NETNS_UNAVAILABLE } from "./support/netns.ts";
import {
  ROOT,
  runClient,
  runServer,
  startTestServer,
  type TestServer,
} from "./support/processes.ts";
import { sameBytes, tempDir, writeRandomFile } from "./support/data.ts";
import { CLIENT_TS, lineMatching, SERVER_TS } from "./support/processes.ts";
import { permissionsFor, PROGRAMS } from "../tools/build.ts";

const ignored = NETNS_UNAVAILABLE === undefined ? "" : ` (ignored: ${NETNS_UNAVAILABLE})`;
const decoder = new TextDecoder();

/** A discovery test: in a namespace of its own, or ignored with the reason. */
function discoveryTest(name: string, body: (ns: Netns) => Promise<void>): void {
  Deno.test({
    name: name + ignored,
    ignore: NETNS_UNAVAILABLE !== undefined,
    async fn() {
      await using ns = makeNetns();
      await body(ns);
    },
  });
}

/** The server's permissions with --tls, as README's table gives them. */
const TLS_PERMS = ["--allow-sys", "--allow-env"];

/** Starts a server in the namespace and waits until it says it is announced (or quiet). */
async function announcedServer(
  ns: Netns,
  root: string,
  args: string[] = [],
  perms: string[] = [],
  write = true,
): Promise<TestServer & AsyncDisposable> {
  const server = await startTestServer({ root, args, perms, write, wrap: ns.wrap });
  if (!args.includes("--no-announce")) await server.waitFor((l) => l.event === "announced");
  return Object.assign(server, { [Symbol.asyncDispose]: () => server.stop() });
}

type Found = {
  instance: string;
  name: string;
  port: number;
  tls: boolean;
  password: boolean;
  uploads: boolean;
  addresses: string[];
  code?: string;
  fingerprint?: string;
};

async function discoverJson(ns: Netns, timeout = "2"): Promise<Found[]> {
  const result = await runClient(["discover", "--json", "--timeout", timeout], {
    perms: ["--allow-net"],
    wrap: ns.wrap,
  });
  assert.ok(result.code === 0 || result.code === 9, result.stderr);
  return JSON.parse(result.stdout);
}

discoveryTest(
  "client.ts discover finds an announcing server: name, port, TLS and code",
  async (ns) => {
    await using root = await tempDir();
    await using tls = await tempDir();
    await using server = await announcedServer(
      ns,
      root.path,
      ["--name", "laptop", "--tls", "--tls-dir", tls.path],
      TLS_PERMS,
    );
    const fingerprint = server.lines.find((l) => l.event === "tls")?.fingerprint as string;
    const found = await discoverJson(ns);
    assert.equal(found.length, 1, JSON.stringify(found));
    const [one] = found as [Found];
    assert.equal(one.name, "laptop");
    assert.equal(one.port, server.port);
    assert.equal(one.tls, true);
    assert.equal(one.uploads, true);
    assert.equal(one.password, false);
    assert.equal(one.fingerprint, fingerprint);
    assert.equal(one.code, shortCode(fingerprint));
    assert.deepEqual(one.addresses, ["127.0.0.1"]);
    const text = await runClient(["discover"], { perms: ["--allow-net"], wrap: ns.wrap });
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      new RegExp(`^laptop  127\\.0\\.0\\.1:${server.port}  TLS, code ${one.code}`),
    );
    // A TLS server found by name is spoken to in TLS: its made certificate is not
    // trusted yet (exit 8), where plain TCP would have failed as another protocol (7).
    await using out = await tempDir();
    const get = await runClient(["laptop", "list"], { cwd: out.path, wrap: ns.wrap });
    assert.equal(get.code, 8, get.stderr);
    assert.match(get.stderr, new RegExp(`127\\.0\\.0\\.1:${server.port}`));
  },
);

discoveryTest(
  "client.ts laptop get fetches a file from the server of that name, byte for byte",
  async (ns) => {
    await using root = await tempDir();
    await writeRandomFile(join(root.path, "apple.jpg"), 300_000);
    await using _server = await announcedServer(ns, root.path, ["--name", "Laptop"]);
    await using out = await tempDir();
    const get = await runClient(["laptop", "get", "apple.jpg"], { cwd: out.path, wrap: ns.wrap });
    assert.equal(get.code, 0, get.stderr);
    assert.ok(await sameBytes(join(root.path, "apple.jpg"), join(out.path, "apple.jpg")));
    // One character off is no match.
    const off = await runClient(["laptops", "list"], { cwd: out.path, wrap: ns.wrap });
    assert.equal(off.code, 9, off.stderr);
  },
);

discoveryTest(
  "a server with --no-announce is not found; the announcing one beside it is",
  async (ns) => {
    await using rootA = await tempDir();
    await using rootB = await tempDir();
    await using quiet = await announcedServer(ns, rootA.path, ["--no-announce"]);
    await using loud = await announcedServer(ns, rootB.path, ["--name", "desk"]);
    const found = await discoverJson(ns);
    assert.deepEqual(found.map((s) => [s.name, s.port]), [["desk", loud.port]]);
    assert.ok(!quiet.lines.some((l) => l.event === "announced"));
  },
);

discoveryTest(
  "two servers of one name are both listed and told apart; the name is refused",
  async (ns) => {
    await using rootA = await tempDir();
    await using rootB = await tempDir();
    await using a = await announcedServer(ns, rootA.path, ["--name", "laptop"]);
    await using b = await announcedServer(ns, rootB.path, ["--name", "laptop"]);
    const found = await discoverJson(ns);
    assert.deepEqual(found.map((s) => s.name), ["laptop", "laptop"]);
    assert.deepEqual(found.map((s) => s.port).sort(), [a.port, b.port].sort());
    assert.notEqual(found[0]!.instance, found[1]!.instance);
    const text = await runClient(["discover"], { perms: ["--allow-net"], wrap: ns.wrap });
    for (const s of found) assert.ok(text.stdout.includes(`[${s.instance}]`), text.stdout);
    const list = await runClient(["laptop", "list"], { wrap: ns.wrap });
    assert.equal(list.code, 2, list.stderr);
    assert.equal(list.stderr.trim().split("\n").length, 1, list.stderr);
    for (const port of [a.port, b.port]) assert.ok(list.stderr.includes(`127.0.0.1:${port}`));
    // An instance label picks one of them.
    const one = await runClient([found[0]!.instance, "list"], { wrap: ns.wrap });
    assert.equal(one.code, 0, one.stderr);
  },
);

discoveryTest(
  "discover with no server prints one line on what stands in the way, exit 9",
  async (ns) => {
    const result = await runClient(["discover", "--timeout", "1"], {
      perms: ["--allow-net"],
      wrap: ns.wrap,
    });
    assert.equal(result.code, 9);
    assert.equal(result.stdout, "");
    const lines = result.stderr.trim().split("\n");
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /another network or VLAN/);
    assert.match(lines[0]!, /Private networks/);
    assert.match(lines[0]!, /An address always works/);
    const json = await runClient(["discover", "--json", "--timeout", "1"], {
      perms: ["--allow-net"],
      wrap: ns.wrap,
    });
    assert.equal(json.code, 9);
    assert.deepEqual(JSON.parse(json.stdout), []);
  },
);

discoveryTest("a DNS-SD browser privateshare did not write sees the TXT fields", async (ns) => {
  await using root = await tempDir();
  await using tls = await tempDir();
  await using server = await announcedServer(
    ns,
    root.path,
    ["--name", "laptop", "--tls", "--tls-dir", tls.path],
    TLS_PERMS,
  );
  const fingerprint = server.lines.find((l) => l.event === "tls")?.fingerprint as string;
  const out = await new Deno.Command("ip", {
    args: [
      ...ns.wrap.slice(1),
      Deno.execPath(),
      "run",
      "--no-prompt",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      join(ROOT, "tests", "support", "mdns_browser.ts"),
      "1",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, decoder.decode(out.stderr));
  const seen = JSON.parse(decoder.decode(out.stdout).trim());
  assert.equal(seen.port, server.port);
  assert.deepEqual(seen.txt, [
    "txtvers=1",
    "name=laptop",
    "v=2",
    "tls=1",
    "pw=0",
    "up=1",
    `fp=${fingerprint.replaceAll(":", "").toLowerCase()}`,
  ]);
});

/** Runs tests/support/mdns_peer.ts in the namespace and returns its JSON line. */
async function peer(ns: Netns, ...args: string[]): Promise<Record<string, number>> {
  const out = await new Deno.Command("ip", {
    args: [
      ...ns.wrap.slice(1),
      Deno.execPath(),
      "run",
      "--no-prompt",
      "--allow-net",
      join(ROOT, "tests", "support", "mdns_peer.ts"),
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, decoder.decode(out.stderr));
  return JSON.parse(decoder.decode(out.stdout).trim());
}

discoveryTest(
  "garbage, oversized and looping packets leave the server serving and found",
  async (ns) => {
    await using root = await tempDir();
    await Deno.writeTextFile(join(root.path, "a.txt"), "a");
    await using server = await announcedServer(ns, root.path, ["--name", "laptop"]);
    assert.equal((await peer(ns, "garbage")).sent, 7);
    const found = await discoverJson(ns);
    assert.deepEqual(found.map((s) => s.port), [server.port]);
    const list = await runClient(["127.0.0.1", String(server.port), "list"], { wrap: ns.wrap });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /a\.txt/);
  },
);

discoveryTest("a flood of one question gets at most one answer a second", async (ns) => {
  await using root = await tempDir();
  await using _server = await announcedServer(ns, root.path, ["--name", "laptop"]);
  const { answers, ms } = await peer(ns, "flood", "200") as { answers: number; ms: number };
  // One a second of the window, and the server's own second announcement.
  assert.ok(answers >= 1, "the flood got no answer at all");
  assert.ok(answers <= Math.ceil(ms / 1000) + 2, `${answers} answers in ${ms} ms for 200 queries`);
});

discoveryTest(
  "a query from another port than 5353 gets a unicast answer with its ID",
  async (ns) => {
    await using root = await tempDir();
    await using _server = await announcedServer(ns, root.path, ["--name", "laptop"]);
    const got = await peer(ns, "legacy");
    assert.equal(got.id, 0x4242);
    assert.equal(got.port, 5353);
  },
);

discoveryTest(
  "under --allow-net --allow-read alone the server announces and says which flag adds more",
  async (ns) => {
    await using root = await tempDir();
    await using server = await announcedServer(ns, root.path, [], [], false);
    const notes = server.lines.filter((l) => l.event === "announce-permissions");
    assert.equal(notes.length, 1, JSON.stringify(server.lines));
    assert.match(
      String(notes[0]!.message),
      /--allow-sys=hostname,networkInterfaces/,
    );
    const found = await discoverJson(ns);
    assert.deepEqual(found.map((s) => [s.name, s.port, s.uploads]), [[
      "privateshare",
      server.port,
      false,
    ]]);
    // Without the list of interfaces it sends no A record: the finder uses the reply's source.
    assert.deepEqual(found[0]!.addresses, ["127.0.0.1"]);
  },
);

discoveryTest("browse sees a server appear, and go when it stops (its goodbye)", async (ns) => {
  const probe = ns.spawn(Deno.execPath(), [
    "run",
    "--no-prompt",
    "--allow-net",
    join(ROOT, "tests", "support", "browse_probe.ts"),
  ], { stdout: "piped", stderr: "null", stdin: "null" });
  const reader = probe.stdout.pipeThrough(new TextDecoderStream()).getReader();
  await using root = await tempDir();
  const server = await announcedServer(ns, root.path, ["--name", "laptop"]);
  await lineMatching(reader, (l) => l === JSON.stringify([["laptop", server.port]]));
  await server.stop();
  // The server's records live for minutes: only its goodbye empties the list this soon.
  await lineMatching(reader, (l) => l === "[]");
  await reader.cancel();
});

discoveryTest(
  "a server that cannot open the mDNS port still serves and says why in one line",
  async (ns) => {
    // A socket on UDP 5353 without address reuse keeps every other from binding it.
    const blocker = ns.spawn(Deno.execPath(), [
      "eval",
      "import { createSocket } from 'node:dgram'; const s = createSocket('udp4'); " +
      "s.bind(5353, () => console.log('bound'));",
    ], { stdout: "piped", stderr: "null", stdin: "null" });
    const reader = blocker.stdout.pipeThrough(new TextDecoderStream()).getReader();
    await lineMatching(reader, (l) => l === "bound");
    await using root = await tempDir();
    await Deno.writeTextFile(join(root.path, "a.txt"), "a");
    const announcing = await startTestServer({
      root: root.path,
      args: ["--name", "laptop"],
      wrap: ns.wrap,
    });
    try {
      const line = await announcing.waitFor((l) => l.event === "not-announced");
      assert.match(
        String(line.message),
        /^Not announced on the local network \(.*\): clients connect by address$/,
      );
      const list = await runClient(["127.0.0.1", String(announcing.port), "list"], {
        wrap: ns.wrap,
      });
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /a\.txt/);
    } finally {
      await reader.cancel();
      await announcing.stop();
    }
  },
);

discoveryTest(
  "tools/mdns_check.ts, which CI runs on each system, finds its own announcement",
  async (ns) => {
    const out = await new Deno.Command("ip", {
      args: [
        ...ns.wrap.slice(1),
        Deno.execPath(),
        "run",
        "--no-prompt",
        "--allow-net",
        join(ROOT, "tools", "mdns_check.ts"),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, decoder.decode(out.stderr));
    assert.match(
      decoder.decode(out.stdout),
      /^Multicast DNS works on linux .*: the announcement was found\n$/,
    );
  },
);

// The flags themselves: refused before anything listens or is sent, so no namespace is needed.

Deno.test("--name is refused when empty, too long or with a control character, not at 63 bytes", async () => {
  await using root = await tempDir();
  const run = (name: string, more: string[] = []) =>
    runServer(["0", "--root", root.path, "--name", name, ...more, "--idle-timeout", "0.01"]);
  for (const bad of ["", "é".repeat(32), "lap\u001btop", " laptop"]) {
    const result = await run(bad);
    assert.equal(result.code, 2, bad);
    assert.match(
      result.stderr,
      /^privateshare-server: Invalid --name '.*': give a name of 1 to 63/,
    );
  }
  const both = await run("laptop", ["--no-announce"]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /give it or --no-announce, not both/);
  // 63 bytes is a name; on loopback only the server does not announce, and says so.
  const fine = await run(`${"é".repeat(31)}a`, ["--host", "127.0.0.1"]);
  assert.equal(fine.code, 0, fine.stderr);
  assert.match(fine.stdout, /Not announced on the local network: listening on loopback only/);
});

Deno.test("an address without its port is refused, not looked up as a name", async () => {
  for (const host of ["192.168.1.5", "::1"]) {
    const result = await runClient([host, "list"], { perms: ["--allow-net"] });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, new RegExp(`Missing PORT after '${host.replace(/\./g, "\\.")}'`));
  }
});

discoveryTest(
  "a server that sees another responder claim its instance label takes another",
  async (ns) => {
    await using root = await tempDir();
    await using server = await announcedServer(ns, root.path, ["--name", "laptop"]);
    const first = server.lines.find((l) => l.event === "announced")?.instance as string;
    assert.match(first, /^laptop \([0-9a-f]{4}\)$/);
    await peer(ns, "conflict", first);
    const found = await discoverJson(ns);
    assert.equal(found.length, 1, JSON.stringify(found));
    assert.equal(found[0]!.port, server.port);
    assert.match(found[0]!.instance, /^laptop \([0-9a-f]{4}\)$/);
    assert.notEqual(found[0]!.instance, first);
  },
);

/** Starts tests/support/mdns_peer.ts MODE ARG in the namespace, sending from 127.0.0.2. */
async function poisoner(ns: Netns, kind: string, mode = "poison"): Promise<AsyncDisposable> {
  const child = ns.spawn(Deno.execPath(), [
    "run",
    "--no-prompt",
    "--allow-net",
    join(ROOT, "tests", "support", "mdns_peer.ts"),
    mode,
    kind,
  ], { stdout: "piped", stderr: "null", stdin: "null" });
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  await lineMatching(reader, (l) => l === "listening");
  return {
    async [Symbol.asyncDispose]() {
      child.kill("SIGKILL");
      await reader.cancel();
      await child.status;
    },
  };
}

discoveryTest(
  "another responder's A record for a server's host name does not move the server",
  async (ns) => {
    await using _poison = await poisoner(ns, "address");
    await using root = await tempDir();
    await using server = await announcedServer(ns, root.path, ["--name", "laptop"]);
    const found = await discoverJson(ns);
    assert.deepEqual(
      found.map((s) => [s.name, s.port, s.addresses]),
      [["laptop", server.port, ["127.0.0.1"]]],
    );
  },
);

discoveryTest(
  "another responder's goodbye for a server's instance does not remove the server",
  async (ns) => {
    await using _poison = await poisoner(ns, "goodbye");
    await using root = await tempDir();
    await using server = await announcedServer(ns, root.path, ["--name", "laptop"]);
    const found = await discoverJson(ns);
    assert.deepEqual(found.map((s) => [s.name, s.port]), [["laptop", server.port]]);
  },
);

discoveryTest(
  "another responder's records for a server's instance are another candidate: the name is refused",
  async (ns) => {
    await using _poison = await poisoner(ns, "port");
    await using root = await tempDir();
    await using server = await announcedServer(ns, root.path, ["--name", "laptop"]);
    const found = await discoverJson(ns);
    assert.deepEqual(
      found.map((s) => [s.name, s.port, s.addresses]).sort(),
      [["laptop", 1, ["127.0.0.2"]], ["laptop", server.port, ["127.0.0.1"]]],
    );
    // Neither the name nor the instance label they share is resolved to one of them.
    for (const name of ["laptop", found[0]!.instance]) {
      const list = await runClient([name, "list"], { wrap: ns.wrap });
      assert.equal(list.code, 2, list.stderr);
      assert.match(list.stderr, new RegExp(`127\\.0\\.0\\.1:${server.port}`));
      assert.match(list.stderr, /127\.0\.0\.2:1/);
    }
  },
);

discoveryTest(
  "one responder announcing 200 servers that never expire gets 16 places; a real server still shows",
  async (ns) => {
    await using _flood = await poisoner(ns, "200", "many");
    const probe = ns.spawn(Deno.execPath(), [
      "run",
      "--no-prompt",
      "--allow-net",
      join(ROOT, "tests", "support", "browse_probe.ts"),
    ], { stdout: "piped", stderr: "null", stdin: "null" });
    const reader = probe.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const flood = (line: string) =>
      (JSON.parse(line) as [string, number][]).filter(([name]) => name.startsWith("flood-"));
    await lineMatching(reader, (l) => flood(l).length > 0);
    await using root = await tempDir();
    await using server = await announcedServer(ns, root.path, ["--name", "laptop"]);
    const line = await lineMatching(reader, (l) => l.includes(`["laptop",${server.port}]`));
    assert.equal(flood(line).length, 16, line);
    await reader.cancel();
  },
);

discoveryTest(
  "a server is reached where its answer came from, before any address its records name",
  async (ns) => {
    await using _poison = await poisoner(ns, "elsewhere");
    await using root = await tempDir();
    await using server = await announcedServer(ns, root.path, ["--name", "laptop"]);
    const found = await discoverJson(ns);
    assert.deepEqual(
      found.map((s) => [s.instance, s.port, s.addresses]).sort(),
      [["elsewhere", 1, ["127.0.0.2", "127.0.0.9"]], [found[1]!.instance, server.port, [
        "127.0.0.1",
      ]]].sort(),
    );
  },
);

/** Runs a command on a pseudo-terminal (util-linux `script`) in the namespace, without --no-prompt. */
function onTerminal(ns: Netns, args: string[], cwd?: string) {
  const command = [...ns.wrap, Deno.execPath(), "run", ...args].map((w) => `'${w}'`).join(" ");
  return ns.spawn("script", ["-qefc", command, "/dev/null"], {
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
    ...(cwd ? { cwd } : {}),
  });
}

discoveryTest(
  "at a terminal, README's server (--allow-net --allow-read, port 365) and the release client's " +
    "permissions find each other without one permission prompt",
  async (ns) => {
    await using root = await tempDir();
    await Deno.writeTextFile(join(root.path, "a.txt"), "a");
    const server = onTerminal(ns, [
      "--allow-net",
      "--allow-read",
      SERVER_TS,
      "365",
      "--root",
      root.path,
    ]);
    const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const started = await lineMatching(
      reader,
      (l) => /Announced on the local network|Deno requests|Allow\?/.test(l),
    );
    assert.match(started, /Announced on the local network as 'privateshare'/);
    const client = permissionsFor(PROGRAMS[1]!, "x86_64-unknown-linux-gnu");
    await using out = await tempDir();
    for (const args of [["discover"], ["privateshare", "list"]]) {
      const child = onTerminal(ns, [...client, CLIENT_TS, ...args], out.path);
      await child.stdin.close();
      const { code, stdout } = await child.output();
      const text = decoder.decode(stdout);
      assert.equal(code, 0, text);
      assert.doesNotMatch(text, /Deno requests|Allow\?/);
      assert.match(text, args[0] === "discover" ? /^privateshare {2}127\.0\.0\.1:365 /m : /a\.txt/);
    }
    await reader.cancel();
  },
);

Deno.test("an mDNS packet is taken only from a source on one of this computer's subnets", () => {
  const subnets = [{ cidr: "192.168.1.20/24" }, { cidr: "10.1.2.3/32" }];
  assert.ok(onLocalLink("192.168.1.0", subnets));
  assert.ok(onLocalLink("192.168.1.255", subnets));
  assert.ok(!onLocalLink("192.168.2.0", subnets));
  assert.ok(!onLocalLink("192.168.0.255", subnets));
  assert.ok(onLocalLink("10.1.2.3", subnets));
  assert.ok(!onLocalLink("10.1.2.2", subnets));
  assert.ok(!onLocalLink("10.1.2.4", subnets));
  assert.ok(!onLocalLink("8.8.8.8", subnets));
  // Loopback, and the unspecified source of a multicast sender on loopback, are this computer.
  assert.ok(onLocalLink("127.0.0.2", []));
  assert.ok(onLocalLink("0.0.0.0", []));
  assert.ok(!onLocalLink("192.168.1.20", []));
  assert.ok(!onLocalLink("192.168.1.256", subnets));
  assert.ok(!onLocalLink("::ffff:192.168.1.1", subnets));
  assert.ok(onLocalLink("203.0.113.9", [{ cidr: "0.0.0.0/0" }]));
});

Deno.test("a name that is one server's label and another's name matches both: neither wins", () => {
  const server = (instance: string, name: string, address: string) => ({
    instance,
    name,
    port: 365,
    version: "2",
    tls: false,
    password: false,
    uploads: true,
    addresses: [address],
  });
  const real = server("laptop (3f9a)", "laptop", "127.0.0.1");
  // Another responder's label is the real server's name.
  const other = server("laptop", "desk", "127.0.0.2");
  assert.deepEqual(matchServers([real, other], "laptop"), [real, other]);
  assert.deepEqual(matchServers([other, real], "LAPTOP"), [other, real]);
  // The closest ones: a label alone, a name alone, one character off.
  assert.deepEqual(matchServers([real, other], "laptop (3f9a)"), [real]);
  assert.deepEqual(matchServers([real, other], "desk"), [other]);
  assert.deepEqual(matchServers([real, other], "laptop (3f9b)"), []);
  assert.deepEqual(matchServers([real, other], "lapto"), []);
  // Listed, each shows its label, so that a person sees why the name is refused.
  const lines = serverLines([real, other]);
  assert.ok(lines[0]!.startsWith("laptop [laptop (3f9a)]  127.0.0.1:365"), lines[0]);
  assert.ok(lines[1]!.startsWith("desk [laptop]  127.0.0.2:365"), lines[1]);
  assert.ok(serverLines([real])[0]!.startsWith("laptop  127.0.0.1:365"));
});
