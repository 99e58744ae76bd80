/**
 * Helpers for the TLS and password tests: a deadline for each test, a
 * certificate made in a temporary folder, a relay that records every byte
 * that crosses it, a raw PS/2 exchange over TLS (the hostile or simple peer
 * a test plays), and an environment that keeps the user's own files and
 * password out of the programs under test.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { createCertificate } from "../lib/mod.ts";
import { fingerprintOf, pemCertificates } from "../lib/net/tls.ts";

/**
 * Runs a test body with a deadline: it fails, instead of hanging, when the
 * body takes longer.
 *
 * @param ms the deadline
 * @param body the test
 * @returns the test function
 */
export function withDeadline(ms: number, body: () => Promise<void>): () => Promise<void> {
  return async () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`The test took more than ${ms} ms`)), ms);
    });
    try {
      await Promise.race([body(), late]);
    } finally {
      clearTimeout(timer);
    }
  };
}

/** A certificate and key written to files. */
export interface TestCertificate {
  /** The certificate file. */
  certFile: string;
  /** The key file. */
  keyFile: string;
  /** The certificate, PEM. */
  cert: string;
  /** The key, PEM. */
  key: string;
  /** Its SHA-256 fingerprint. */
  fingerprint: string;
}

/**
 * Makes a self-signed certificate for `names` in `dir` with the library.
 *
 * @param dir the folder
 * @param names the names it is made out to (default: localhost and loopback)
 * @param prefix a prefix for the file names
 * @returns the files and their text
 */
export async function makeCertificate(
  dir: string,
  names = ["localhost", "127.0.0.1", "::1"],
  prefix = "",
): Promise<TestCertificate> {
  const { cert, key } = await createCertificate(names);
  const certFile = join(dir, `${prefix}cert.pem`);
  const keyFile = join(dir, `${prefix}key.pem`);
  await Deno.writeTextFile(certFile, cert);
  await Deno.writeTextFile(keyFile, key, { mode: 0o600 });
  return { certFile, keyFile, cert, key, fingerprint: fingerprintOf(pemCertificates(cert)[0]!) };
}

/**
 * Runs openssl in `dir`; fails the test when it fails.
 *
 * @param args its arguments
 * @param dir where it runs
 */
export async function openssl(args: string[], dir: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

/**
 * Another certificate authority (an inspection proxy's) made with openssl
 * in `dir`, and a certificate it signed for `localhost` and 127.0.0.1.
 *
 * @param dir the folder
 * @returns the authority's certificate file, and the certificate it signed
 */
export async function otherAuthority(
  dir: string,
): Promise<{ caFile: string; leaf: TestCertificate }> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await openssl([
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=Inspection CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign",
  ], dir);
  await openssl(
    ["req", ...ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost"],
    dir,
  );
  await Deno.writeTextFile(
    join(dir, "leaf.ext"),
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n" +
      "extendedKeyUsage=serverAuth\n",
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    "leaf.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "leaf.pem",
    "-days",
    "2",
    "-extfile",
    "leaf.ext",
  ], dir);
  const cert = await Deno.readTextFile(join(dir, "leaf.pem"));
  return {
    caFile: join(dir, "ca.pem"),
    leaf: {
      certFile: join(dir, "leaf.pem"),
      keyFile: join(dir, "leaf.key"),
      cert,
      key: await Deno.readTextFile(join(dir, "leaf.key")),
      fingerprint: fingerprintOf(pemCertificates(cert)[0]!),
    },
  };
}

/** A server of a test's own, and what each connection sent it. */
export interface CountingServer extends AsyncDisposable {
  /** Its port on 127.0.0.1. */
  port: number;
  /** The bytes each finished connection sent (after its handshake, over TLS), as they ended. */
  received: number[];
  /** Connections accepted so far. */
  readonly connections: number;
}

/**
 * A fake server that accepts every connection of `listener` and counts the
 * bytes each sends: a server that must receive nothing.
 *
 * @param listener a TCP or TLS listener on 127.0.0.1
 * @returns the server
 */
export function countingServer(listener: Deno.Listener): CountingServer {
  const received: number[] = [];
  let connections = 0;
  const done = (async () => {
    for await (const conn of listener) {
      connections++;
      (async () => {
        let total = 0;
        const buffer = new Uint8Array(16 * 1024);
        try {
          while (true) {
            const n = await conn.read(buffer);
            if (n === null) break;
            total += n;
          }
        } catch {
          // A client that leaves, mid-handshake (refusing the certificate) or after it.
        } finally {
          received.push(total);
          try {
            conn.close();
          } catch {
            // Closed already.
          }
        }
      })();
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    received,
    get connections() {
      return connections;
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      await done.catch(() => {});
    },
  };
}

/**
 * A {@link countingServer} over TLS that shows `cert`.
 *
 * @param cert its certificate and key
 * @returns the server
 */
export function tlsCounter(cert: TestCertificate): CountingServer {
  return countingServer(
    Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: cert.cert, key: cert.key }),
  );
}

/**
 * A TCP front on 127.0.0.1 that sends its n-th connection to `backends[n]`
 * (the last one for the rest): a server whose certificate changes from one
 * connection to the next.
 *
 * @param backends the ports, in the order connections reach them
 * @returns the front, with the count of connections it has taken
 */
export function switchingFront(
  backends: number[],
): { port: number; readonly connections: number } & AsyncDisposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connections = 0;
  const open = new Set<Deno.Conn>();
  const closeQuietly = (conn: Deno.Conn) => {
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  };
  const pump = async (from: Deno.Conn, to: Deno.Conn) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buffer);
        if (n === null) break;
        let sent = 0;
        while (sent < n) sent += await to.write(buffer.subarray(sent, n));
      }
      await (to as Deno.TcpConn).closeWrite();
    } catch {
      // One side went away.
      closeQuietly(from);
      closeQuietly(to);
    }
  };
  const done = (async () => {
    for await (const client of listener) {
      const port = backends[Math.min(connections, backends.length - 1)]!;
      connections++;
      const server = await Deno.connect({ hostname: "127.0.0.1", port });
      open.add(client).add(server);
      Promise.all([pump(client, server), pump(server, client)]).finally(() => {
        for (const conn of [client, server]) {
          open.delete(conn);
          closeQuietly(conn);
        }
      });
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get connections() {
      return connections;
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const conn of open) closeQuietly(conn);
      await done.catch(() => {});
    },
  };
}

/**
 * The environment for a program under test: the user's configuration
 * folder replaced by `configHome` (known servers, certificates) and no
 * password unless given. Deno's own cache stays where it is.
 *
 * @param configHome the folder to use as XDG_CONFIG_HOME
 * @param extra more variables
 * @returns the variables to set
 */
export function testEnv(
  configHome: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return { XDG_CONFIG_HOME: configHome, PRIVATESHARE_PASSWORD: "", ...extra };
}

/** A TCP relay that records what crosses it. */
export interface Recorder extends AsyncDisposable {
  /** The port clients connect to. */
  port: number;
  /** Connections relayed so far. */
  connections: number;
  /** Every byte from clients to the server so far, all connections in order. */
  up(): Uint8Array;
  /** Every byte from the server to clients so far. */
  down(): Uint8Array;
}

/**
 * Starts a relay on 127.0.0.1 to `port` that records every byte both ways:
 * what anyone on the network path would see.
 *
 * @param port the server's port
 * @returns the relay
 */
export function startRecorder(port: number): Recorder {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const recorded = { up: [] as Uint8Array[], down: [] as Uint8Array[] };
  const pumps: Promise<void>[] = [];
  const conns = new Set<Deno.Conn>();
  const pump = async (from: Deno.Conn, to: Deno.Conn, into: Uint8Array[]) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buffer);
        if (n === null) break;
        into.push(buffer.slice(0, n));
        let sent = 0;
        while (sent < n) sent += await to.write(buffer.subarray(sent, n));
      }
      await to.closeWrite();
    } catch {
      // One side went away; the other follows.
      try {
        to.close();
      } catch {
        // Already closed.
      }
    }
  };
  const recorder: Recorder = {
    port: (listener.addr as Deno.NetAddr).port,
    connections: 0,
    up: () => concat(recorded.up),
    down: () => concat(recorded.down),
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      await accepting;
      await Promise.allSettled(pumps);
    },
  };
  const accepting = (async () => {
    try {
      for await (const client of listener) {
        recorder.connections++;
        const server = await Deno.connect({ hostname: "127.0.0.1", port });
        conns.add(client);
        conns.add(server);
        pumps.push(
          Promise.all([pump(client, server, recorded.up), pump(server, client, recorded.down)])
            .then(() => {
              for (const conn of [client, server]) {
                conns.delete(conn);
                try {
                  conn.close();
                } catch {
                  // Already closed.
                }
              }
            }),
        );
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  })();
  return recorder;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

/**
 * Whether any 64-byte run of `content` appears in `wire`. Every 64-byte run
 * holds a whole 32-byte block at an offset that is a multiple of 32, so it
 * is enough (and stronger) to look for each such block at every offset of
 * the wire.
 *
 * @param content the file's bytes
 * @param wire the recorded bytes
 * @returns the offset in `content` of a block found, or -1
 */
export function findContentRun(content: Uint8Array, wire: Uint8Array): number {
  const latin1 = (bytes: Uint8Array) => {
    let text = "";
    for (let i = 0; i < bytes.length; i += 8192) {
      text += String.fromCharCode(...bytes.subarray(i, i + 8192));
    }
    return text;
  };
  const wireText = latin1(wire);
  const blocks = new Map<string, number>();
  for (let at = 0; at + 32 <= content.length; at += 32) {
    blocks.set(latin1(content.subarray(at, at + 32)), at);
  }
  for (let at = 0; at + 32 <= wireText.length; at++) {
    const found = blocks.get(wireText.slice(at, at + 32));
    if (found !== undefined) return found;
  }
  return -1;
}

/**
 * Whether `needle` appears in `haystack`.
 *
 * @param haystack the bytes searched
 * @param needle the bytes looked for
 */
export function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/**
 * Sends raw bytes over TLS (trusting `ca`) and reads everything the server
 * answers until it closes: a peer that a test plays by hand.
 *
 * @param port the server's port
 * @param ca the certificate to trust
 * @param request the bytes to send
 * @param localAddress the address to connect from (default 127.0.0.1)
 * @returns the answer, as text
 */
export async function rawTls(
  port: number,
  ca: string,
  request: string,
  localAddress = "127.0.0.1",
): Promise<string> {
  const { connect } = await import("node:tls");
  return await new Promise<string>((resolve, reject) => {
    let answer = "";
    // localAddress is node's (net.connect), though not in tls's types.
    const options = { host: "127.0.0.1", port, ca: [ca], localAddress };
    const socket = connect(options, () => {
      socket.write(request);
    });
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => answer += chunk);
    socket.on("end", () => {
      socket.destroy();
      resolve(answer);
    });
    socket.on("error", reject);
  });
}
