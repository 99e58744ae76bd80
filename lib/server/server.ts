/**
 * The privateshare server: the accept loop, one handler per connection,
 * connection limits, deadlines, idle shutdown, graceful shutdown, and the
 * events that the log and a GUI subscribe to.
 *
 * @module
 */

import { CancelError } from "../protocol/errors.ts";
import { listen, listenError } from "../net/socket.ts";
import { Wire } from "../net/wire.ts";
import { ChunkPool } from "../transfer/pool.ts";
import { addressKey, Admission, hostOf, peerName, type Ticket } from "./admission.ts";
import { type RequestRecord, ServerEvents } from "./events.ts";
import { FloodMeter } from "./flood.ts";
import { handleClassic } from "./handle_classic.ts";
import { handlePs2 } from "./handle_ps2.ts";
import { detect, type HandlerContext, recordError } from "./handler.ts";
import { checkRoot, SERVER_DEFAULTS, type ServerOptions } from "./options.ts";
import { Store } from "./store.ts";
import type { PasswordGuard } from "./guard.ts";
import { resolveSecurity, type ServerSecurity, type ServerSecurityOptions } from "./security.ts";
import { type WebOptions, WebServer } from "./web_server.ts";
import { looksLikeTls } from "../net/tls.ts";
import { DescriptorReserve, outOfDescriptors } from "./reserve.ts";

export { checkRoot, RootError, SERVER_DEFAULTS, type ServerOptions } from "./options.ts";

/** How often request progress is reported at the most. */
const PROGRESS_EVERY_MS = 250;
/** A flood (connections closed to make room, failed accepts) is logged at most this often. */
const FLOOD_REPORT_MS = 10_000;
/** After the grace, handlers stuck in the file system get this long before the server stops anyway. */
const STUCK_MS = 1000;
/** Descriptors left free for serving when the process has run out of them. */
const DESCRIPTOR_HEADROOM = 16;
/** Failed accepts are retried after this long, so that a persistent failure cannot spin. */
const ACCEPT_RETRY_MS = 100;

type Options = Required<
  Omit<
    ServerOptions,
    | "host"
    | "onEvent"
    | "readOnlyMessage"
    | "folderLimits"
    | "freeSpace"
    | "web"
    | keyof ServerSecurityOptions
  >
>;

/** A running server; `await using` stops it at the end of a scope. */
export class Server implements AsyncDisposable {
  /** The address it listens on (with the real port when 0 was asked). */
  readonly addr: Deno.NetAddr;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /** The served folder, absolute. */
  readonly root: string;
  /** Whether uploads are refused. */
  readonly readOnly: boolean;
  /** The web page for phones and browsers, when asked for. */
  readonly web: WebServer | undefined;
  /** The events; subscribe to follow requests as they happen. */
  readonly events: ServerEvents = new ServerEvents();
  readonly #store: Store;
  readonly #listener: Deno.Listener;
  readonly #options: Options;
  readonly #guard: PasswordGuard | undefined;
  readonly #pool: ChunkPool;
  readonly #admission: Admission;
  readonly #flood: FloodMeter;
  readonly #wires = new Set<Wire>();
  readonly #handlers = new Set<Promise<void>>();
  /** A descriptor kept in reserve: closed to accept one connection when none are left. */
  readonly #reserve: DescriptorReserve;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #closing = false;
  #stuck: () => void = () => {};
  #stuckTimer: ReturnType<typeof setTimeout> | undefined;
  #nextId = 1;
  /** Web requests in flight: the server is not idle while any is. */
  #webHeld = 0;

  /**
   * Creates a Server.
   *
   * @param options how to serve; see {@link ServerOptions}
   */
  constructor(options: ServerOptions) {
    checkRoot(options.root);
    const { host: _host, onEvent, readOnlyMessage, tls, password, authLimits, ...rest } = options;
    const { folderLimits, freeSpace, web, ...settings } = rest;
    this.#options = { ...SERVER_DEFAULTS, readOnly: false, ...settings };
    if (onEvent) this.events.subscribe(onEvent);
    this.#store = new Store(options.root, {
      readOnly: this.#options.readOnly,
      onNotice: (notice) => this.events.emit({ type: "folder", ...notice }),
      ...(readOnlyMessage !== undefined ? { readOnlyMessage } : {}),
      ...(folderLimits ? { folderLimits } : {}),
      ...(freeSpace ? { freeSpace } : {}),
    });
    this.root = this.#store.root;
    this.readOnly = this.#store.readOnly;
    this.#pool = new ChunkPool(this.#options.bufferBytes);
    this.#admission = new Admission(this.#options);
    this.#flood = new FloodMeter(FLOOD_REPORT_MS, (counts, seconds) =>
      this.events.emit({
        type: "flood",
        seconds,
        evicted: counts.evicted,
        withoutCommand: counts.withoutCommand,
        acceptErrors: counts.acceptErrors,
        maxPending: this.#options.maxPending,
        ...(counts.lastAcceptError ? { lastAcceptError: counts.lastAcceptError } : {}),
      }));
    const security = resolveSecurity({ tls, password, authLimits }, (e) => this.events.emit(e));
    this.#guard = security.guard;
    this.#listener = listen(options.port, options.host, security.keys);
    this.addr = this.#listener.addr as Deno.NetAddr;
    this.#reserve = new DescriptorReserve(this.#store.root);
    this.web = web ? this.#startWeb(web, security) : undefined;
    this.events.emit({
      type: "started",
      port: this.addr.port,
      host: this.addr.hostname,
      root: this.#store.root,
      readOnly: this.#store.readOnly,
      idleTimeoutMs: this.#options.idleTimeoutMs,
      ...(security.tls ? { tls: security.tls } : {}),
      password: this.#guard !== undefined,
    });
    this.#armIdle();
    this.finished = this.#run();
    const sweepEvery = Math.min(this.#options.partialTtlMs, 3600_000);
    this.#sweep();
    this.#sweepTimer = setInterval(() => this.#sweep(), Math.max(sweepEvery, 1000));
  }

  /** Connections open now, with a command or not. */
  get activeConnections(): number {
    return this.#wires.size;
  }

  async #run(): Promise<void> {
    await this.#acceptLoop();
    // Handlers end on their own; after close()'s grace a handler stuck in
    // the file system is no reason to keep running.
    const stuck = new Promise<void>((resolve) => this.#stuck = resolve);
    await Promise.race([Promise.allSettled([...this.#handlers]), stuck]);
    clearTimeout(this.#stuckTimer);
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    clearInterval(this.#sweepTimer);
    this.#flood.stop();
    this.#reserve.close();
    await this.#store.close().catch(() => {});
    this.events.emit({ type: "stopped", stuck: this.#handlers.size });
  }

  async #acceptLoop(): Promise<void> {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closing || error instanceof Deno.errors.BadResource) break;
        // A failed accept must not stop the server. Out of descriptors, the
        // reserve is given up to take this one connection, so that it is
        // served or told busy instead of waiting unanswered.
        this.#flood.note("acceptErrors", error);
        let taken: Deno.Conn | undefined;
        if (outOfDescriptors(error)) {
          // The pool of connections without a command shrinks to leave room
          // for serving (a file, a listing), and the reserve takes this one.
          const before = this.#admission.pending;
          this.#admission.outOfDescriptors(DESCRIPTOR_HEADROOM);
          for (let i = this.#admission.pending; i < before; i++) this.#flood.note("evicted");
          taken = await this.#reserve.accept(this.#listener, (failure) => {
            if (!this.#closing) this.#flood.note("acceptErrors", failure);
          });
        }
        if (!taken) {
          await new Promise((r) => setTimeout(r, ACCEPT_RETRY_MS));
          continue;
        }
        conn = taken;
      }
      if (this.#closing) {
        // Accepted just as the server began to stop: not served.
        conn.close();
        break;
      }
      const handler = this.#handle(conn);
      this.#handlers.add(handler);
      handler.finally(() => this.#handlers.delete(handler));
    }
  }

  #armIdle(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const ms = this.#options.idleTimeoutMs;
    if (ms <= 0 || this.#wires.size > 0 || this.#webHeld > 0 || this.#closing) return;
    this.#idleTimer = setTimeout(() => {
      this.events.emit({ type: "idle-shutdown", idleTimeoutMs: ms });
      this.close();
    }, ms);
  }

  #startWeb(options: WebOptions, security: ServerSecurity): WebServer {
    try {
      return new WebServer(options, {
        store: this.#store,
        events: this.events,
        admission: this.#admission,
        dataTimeoutMs: this.#options.dataTimeoutMs,
        nextId: () => this.#nextId++,
        hold: () => {
          this.#webHeld++;
          if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
          this.#idleTimer = undefined;
          return () => {
            this.#webHeld--;
            this.#armIdle();
          };
        },
        ...(security.guard ? { guard: security.guard } : {}),
        ...(security.keys ? { keys: security.keys } : {}),
      });
    } catch (error) {
      this.#listener.close();
      this.#reserve.close();
      throw listenError(error, options.port, options.host);
    }
  }

  #sweep(): void {
    if (this.#store.readOnly) return;
    this.#store.removeStalePartials(this.#options.partialTtlMs).then((count) => {
      if (count > 0) this.events.emit({ type: "partials-removed", count });
    }).catch((error) => this.events.emit({ type: "error", what: "sweep", message: String(error) }));
  }

  async #handle(conn: Deno.Conn): Promise<void> {
    const wire = new Wire(conn);
    this.#wires.add(wire);
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const started = performance.now();
    const address = addressKey(hostOf(conn.remoteAddr));
    const record: RequestRecord = {
      id: this.#nextId++,
      peer: peerName(conn.remoteAddr),
      protocol: "unknown",
      op: "-",
      bytes: 0,
      outcome: "ok",
    };
    const { ticket, evicted } = this.#admission.admit(address, () => {
      record.summarized = true;
      wire.close();
    });
    if (evicted) this.#flood.note("evicted");
    const [events, options] = [this.events, this.#options];
    const [guard, host] = [this.#guard, (conn.remoteAddr as Deno.NetAddr).hostname];
    let lastProgress = 0;
    const context: HandlerContext = {
      store: this.#store,
      pool: this.#pool,
      record,
      dataTimeoutMs: options.dataTimeoutMs,
      minRate: options.minRate,
      pace: { floorMs: options.commandTimeoutMs, minRate: options.minRate },
      classicPauseMs: options.classicPauseMs,
      begin: () => this.#begin(wire, ticket),
      ...(guard ? { authorize: (command) => guard.admit(command, host, wire.closedSignal) } : {}),
      progress(bytes: number) {
        record.bytes = bytes;
        if (!events.active) return;
        const now = performance.now();
        if (now - lastProgress < PROGRESS_EVERY_MS && bytes !== record.size) return;
        lastProgress = now;
        events.emit({ type: "request-progress", record });
      },
    };
    events.emit({ type: "request-start", record });
    try {
      // A total budget, not a deadline that each trickled byte extends.
      wire.setBudget(
        options.commandTimeoutMs,
        `No complete command within ${options.commandTimeoutMs / 1000} s`,
      );
      const kind = await detect(wire);
      if (kind === "ps2") {
        record.protocol = "ps2";
        await handlePs2(wire, context);
      } else if (kind === "classic") {
        record.protocol = "classic";
        await handleClassic(wire, context);
      } else {
        record.outcome = "closed";
        record.message = kind === "empty"
          ? "closed without a command"
          : looksLikeTls(wire.buffered)
          ? "a TLS client, and this server does not speak TLS"
          : "not a privateshare command";
      }
    } catch (error) {
      recordError(record, error);
    } finally {
      wire.release(); // every read of this connection is over
      if (record.op === "-" && !record.summarized && this.#flood.summarizes()) {
        record.summarized = true;
      }
      this.#admission.release(ticket);
      this.#wires.delete(wire);
      events.emit({ type: "request-end", record, ms: performance.now() - started });
      this.#armIdle();
    }
  }

  /** A connection's command has arrived: it takes a serving slot, or is told busy. */
  #begin(wire: Wire, ticket: Ticket): void {
    if (this.#closing) {
      throw new CancelError("busy", "The server is shutting down: try again later");
    }
    const refusal = this.#admission.serve(ticket);
    if (refusal === "connections") {
      throw new CancelError("busy", "The server is serving its maximum of connections: try again");
    }
    if (refusal === "address") {
      throw new CancelError(
        "busy",
        "The server is serving its maximum of connections from your address: try again",
      );
    }
    // The deadline first: the budget's alarm, due sooner, serves for both (issue 25).
    wire.setDeadline(this.#options.dataTimeoutMs);
    wire.setBudget(0);
  }

  /**
   * Stops accepting connections and closes those that have not sent a
   * command; requests in flight may finish within `graceMs`, then are cut
   * (their partial uploads are kept for resume). A request stuck in the file
   * system does not keep the server from stopping.
   *
   * @param graceMs how long requests in flight may go on
   * @returns when the server has stopped
   */
  async close(graceMs = 0): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.events.emit({ type: "stopping", active: this.#admission.serving, graceMs });
      this.#guard?.close();
      await this.web?.close();
      try {
        this.#listener.close();
      } catch (error) {
        if (!(error instanceof Deno.errors.BadResource)) throw error;
      }
      this.#admission.evictAll();
      if (this.#admission.serving > 0 && graceMs > 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const grace = new Promise((r) => timer = setTimeout(r, graceMs));
        await Promise.race([Promise.allSettled([...this.#handlers]), grace]);
        clearTimeout(timer);
      }
      for (const wire of this.#wires) wire.close();
      this.#stuckTimer = setTimeout(() => this.#stuck(), STUCK_MS);
    }
    await this.finished;
  }

  /** Stops the server at once, as {@link close} with no grace. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close(0);
  }
}

/**
 * Starts a server.
 *
 * @param options how to serve; see {@link ServerOptions}
 * @returns the running server
 * @throws {RootError} when the folder cannot be served
 * @throws {ListenError} when the port or address cannot be used
 * @example
 * ```ts
 * import { startServer } from "./server.ts";
 * await using server = startServer({ root: ".", port: 0, readOnly: true });
 * console.log(server.addr.port);
 * ```
 */
export function startServer(options: ServerOptions): Server {
  return new Server(options);
}
