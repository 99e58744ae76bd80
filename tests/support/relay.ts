/**
 * A TCP relay for fault injection: flips a byte or holds traffic at an
 * exact point of a real connection.
 *
 * @module
 */

/** Which way bytes flow through a {@link Relay}. */
export type Direction = "up" | "down";

/** A TCP relay between a client and a server, for fault injection. */
export interface Relay {
  /** The port clients connect to. */
  port: number;
  /** Bytes forwarded so far on the current connection, client to server ("up") and back ("down"). */
  forwarded: Record<Direction, number>;
  /** Resolves when a direction has forwarded at least `bytes` (and is then held, if asked). */
  reached(direction: Direction, bytes: number): Promise<void>;
  /** Lets held traffic flow again. */
  release(): void;
  /** Closes every connection abruptly. */
  cut(): void;
  /** Stops the relay. */
  close(): Promise<void>;
}

/** What a relay does to the bytes it forwards. */
export interface RelaySpec {
  /** Flip one bit of the byte at this offset of the given direction's stream. */
  flip?: { direction: Direction; offset: number };
  /** Stop forwarding a direction once it has forwarded this many bytes, until release(). */
  holdAt?: { direction: Direction; bytes: number };
}

/**
 * Starts a relay on 127.0.0.1 that forwards every connection to `port`:
 * a real network hop in which a test can flip a byte, or hold traffic at an
 * exact point. This is fault injection: a real network rarely flips a bit
 * that TCP's checksum misses, but privateshare must catch it when it does.
 *
 * @param port the server's port
 * @param spec what to do to the traffic
 * @returns the relay
 */
export function startRelay(port: number, spec: RelaySpec = {}): Relay {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const forwarded: Record<Direction, number> = { up: 0, down: 0 };
  const waiters: { direction: Direction; bytes: number; resolve: () => void }[] = [];
  let held: (() => void) | undefined;
  let releasedHold = false;
  const notify = () => {
    for (const w of [...waiters]) {
      if (forwarded[w.direction] >= w.bytes) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const pump = async (from: Deno.Conn, to: Deno.Conn, direction: Direction) => {
    const buf = new Uint8Array(256 * 1024);
    try {
      while (true) {
        let want = buf.length;
        const hold = spec.holdAt;
        if (hold && !releasedHold && hold.direction === direction) {
          want = Math.min(want, hold.bytes - forwarded[direction]);
          if (want <= 0) {
            await new Promise<void>((resolve) => held = resolve);
            continue;
          }
        }
        const n = await from.read(buf.subarray(0, want));
        if (n === null) break;
        const chunk = buf.subarray(0, n);
        const flip = spec.flip;
        const start = forwarded[direction];
        if (
          flip && flip.direction === direction && flip.offset >= start && flip.offset < start + n
        ) {
          chunk[flip.offset - start]! ^= 0x01;
        }
        let sent = 0;
        while (sent < n) sent += await to.write(chunk.subarray(sent));
        forwarded[direction] += n;
        notify();
      }
      await to.closeWrite();
    } catch {
      // One side went away: the other follows.
      try {
        to.close();
      } catch {
        // Already closed.
      }
    }
  };
  const accepting = (async () => {
    for await (const client of listener) {
      forwarded.up = 0;
      forwarded.down = 0;
      releasedHold = false;
      let server: Deno.Conn;
      try {
        server = await Deno.connect({ hostname: "127.0.0.1", port });
      } catch {
        client.close();
        continue;
      }
      conns.add(client);
      conns.add(server);
      Promise.all([pump(client, server, "up"), pump(server, client, "down")]).finally(() => {
        for (const c of [client, server]) {
          conns.delete(c);
          try {
            c.close();
          } catch {
            // Already closed.
          }
        }
      });
    }
  })();
  return {
    port: listener.addr.port,
    forwarded,
    reached(direction, bytes) {
      if (forwarded[direction] >= bytes) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ direction, bytes, resolve }));
    },
    release() {
      releasedHold = true;
      held?.();
      held = undefined;
    },
    cut() {
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // Already closed.
        }
      }
      conns.clear();
      held?.();
      held = undefined;
    },
    async close() {
      listener.close();
      this.cut();
      await accepting.catch(() => {});
    },
  };
}
