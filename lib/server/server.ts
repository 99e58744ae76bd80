/**
 * The privateshare server: the accept loop, one handler per connection,
 * connection limits, deadlines, idle shutdown, graceful shutdown, and the
 * events that the log and a GUI subscribe to.
 *
 * @module
 */

import { looksClassic } from "../protocol/classic.ts";
import { MAGIC } from "../protocol/ps2.ts";
import { listen } from "../net/socket.ts";
import { Wire } from "../net/wire.ts";
import { ChunkPool } from "../transfer/pool.ts";
import { type RequestRecord, ServerEvents, type ServerListener } from "./events.ts";
import { handleClassic } from "./handle_classic.ts";
import { handlePs2 } from "./handle_ps2.ts";
import { type HandlerContext, recordError } from "./handler.ts";
import { Store } from "./store.ts";

/** How a server is set up; {@link SERVER_DEFAULTS} fills in what is left out. */
export interface ServerOptions {
  /** The folder to serve. */
  root: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Address to listen on; default all interfaces, IPv4 and IPv6. */
  host?: string;
  /** Refuse uploads (default false). */
  readOnly?: boolean;
  /** What a client that tries to upload to a read-only server is told. */
  readOnlyMessage?: string;
  /** Shut down after this long without a connection; 0 never. */
  idleTimeoutMs?: number;
  /** Most connections served at once; more get `busy`. */
  maxConnections?: number;
  /** Deadline for a client's command. */
  commandTimeoutMs?: number;
  /** Deadline for progress while data flows. */
  dataTimeoutMs?: number;
  /** Partial uploads older than this are removed. */
  partialTtlMs?: number;
  /** Most bytes all transfer buffers together may hold. */
  bufferBytes?: number;
  /** Receives every event, from the first (`started`) on. */
  onEvent?: ServerListener;
}

/** Defaults for every option that has one. */
export const SERVER_DEFAULTS = {
  idleTimeoutMs: 300_000,
  maxConnections: 128,
  commandTimeoutMs: 10_000,
  dataTimeoutMs: 30_000,
  partialTtlMs: 24 * 3600_000,
  bufferBytes: 512 * 1024 * 1024,
  /** How long transfers in flight may finish when the server is asked to stop. */
  graceMs: 30_000,
} as const;

/** How often request progress is reported at the most. */
const PROGRESS_EVERY_MS = 250;

/** A folder that cannot be served. */
export class RootError extends Error {
  /** `missing`, `not-folder` or `denied`. */
  readonly code: "missing" | "not-folder" | "denied";

  /**
   * Creates a RootError.
   *
   * @param code what is wrong
   * @param message one sentence
   * @param options the system's error
   */
  constructor(code: RootError["code"], message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RootError";
    this.code = code;
  }
}

/**
 * Checks that a folder can be served: it exists and is a folder.
 *
 * @param root the folder
 * @throws {RootError} when it cannot be served
 */
export function checkRoot(root: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(root);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new RootError("missing", `The folder '${root}' does not exist`, { cause: error });
    }
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new RootError("denied", `Cannot serve '${root}': ${error.message}`, { cause: error });
    }
    throw error;
  }
  if (!info.isDirectory) throw new RootError("not-folder", `'${root}' is not a folder`);
}

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
  /** The events; subscribe to follow requests as they happen. */
  readonly events: ServerEvents = new ServerEvents();
  readonly #store: Store;
  readonly #listener: Deno.Listener;
  readonly #options: Required<Omit<ServerOptions, "host" | "onEvent" | "readOnlyMessage">>;
  readonly #pool: ChunkPool;
  readonly #wires = new Set<Wire>();
  readonly #handlers = new Set<Promise<void>>();
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #closing = false;
  #nextId = 1;

  /**
   * Creates a Server.
   *
   * @param options how to serve; see {@link ServerOptions}
   */
  constructor(options: ServerOptions) {
    checkRoot(options.root);
    const { host: _host, onEvent, readOnlyMessage, ...rest } = options;
    this.#options = { ...SERVER_DEFAULTS, readOnly: false, ...rest };
    if (onEvent) this.events.subscribe(onEvent);
    this.#store = new Store(options.root, {
      readOnly: this.#options.readOnly,
      onNotice: (notice) => this.events.emit({ type: "folder", ...notice }),
      ...(readOnlyMessage !== undefined ? { readOnlyMessage } : {}),
    });
    this.root = this.#store.root;
    this.readOnly = this.#store.readOnly;
    this.#pool = new ChunkPool(this.#options.bufferBytes);
    this.#listener = listen(options.port, options.host);
    this.addr = this.#listener.addr as Deno.NetAddr;
    this.events.emit({
      type: "started",
      port: this.addr.port,
      host: this.addr.hostname,
      root: this.#store.root,
      readOnly: this.#store.readOnly,
      idleTimeoutMs: this.#options.idleTimeoutMs,
    });
    this.#armIdle();
    this.finished = this.#acceptLoop();
    const sweepEvery = Math.min(this.#options.partialTtlMs, 3600_000);
    const sweep = () => this.#sweep();
    sweep();
    this.#sweepTimer = setInterval(sweep, Math.max(sweepEvery, 1000));
  }

  /** Connections being served now. */
  get activeConnections(): number {
    return this.#wires.size;
  }

  async #acceptLoop(): Promise<void> {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closing || error instanceof Deno.errors.BadResource) break;
        // A failed accept (out of file descriptors, ...) must not stop the server.
        this.events.emit({ type: "error", what: "accept", message: String(error) });
        await new Promise((r) => setTimeout(r, 100));
        continue;
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
    await Promise.allSettled([...this.#handlers]);
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    clearInterval(this.#sweepTimer);
    this.events.emit({ type: "stopped" });
  }

  #armIdle(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const ms = this.#options.idleTimeoutMs;
    if (ms <= 0 || this.#wires.size > 0 || this.#closing) return;
    this.#idleTimer = setTimeout(() => {
      this.events.emit({ type: "idle-shutdown", idleTimeoutMs: ms });
      this.close();
    }, ms);
  }

  #sweep(): void {
    if (this.#store.readOnly) return;
    this.#store.removeStalePartials(this.#options.partialTtlMs).then((count) => {
      if (count > 0) this.events.emit({ type: "partials-removed", count });
    }).catch((error) => this.events.emit({ type: "error", what: "sweep", message: String(error) }));
  }

  async #handle(conn: Deno.Conn): Promise<void> {
    const wire = new Wire(conn);
    const overLimit = this.#wires.size >= this.#options.maxConnections;
    this.#wires.add(wire);
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const started = performance.now();
    const record: RequestRecord = {
      id: this.#nextId++,
      peer: peerName(conn.remoteAddr),
      protocol: "unknown",
      op: "-",
      bytes: 0,
      outcome: "ok",
    };
    const events = this.events;
    let lastProgress = 0;
    const context: HandlerContext = {
      store: this.#store,
      pool: this.#pool,
      record,
      dataTimeoutMs: this.#options.dataTimeoutMs,
      overLimit,
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
      wire.setDeadline(this.#options.commandTimeoutMs);
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
          : "not a privateshare command";
      }
    } catch (error) {
      recordError(record, error);
    } finally {
      wire.close();
      this.#wires.delete(wire);
      events.emit({ type: "request-end", record, ms: performance.now() - started });
      this.#armIdle();
    }
  }

  /**
   * Stops accepting connections; transfers in flight may finish within
   * `graceMs`, then are cut (their partial uploads are kept for resume).
   *
   * @param graceMs how long transfers in flight may go on
   * @returns when the server has stopped
   */
  async close(graceMs = 0): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.events.emit({ type: "stopping", active: this.#wires.size, graceMs });
      try {
        this.#listener.close();
      } catch (error) {
        if (!(error instanceof Deno.errors.BadResource)) throw error;
      }
      if (this.#handlers.size > 0 && graceMs > 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const grace = new Promise((r) => timer = setTimeout(r, graceMs));
        await Promise.race([Promise.allSettled([...this.#handlers]), grace]);
        clearTimeout(timer);
      }
      for (const wire of this.#wires) wire.close();
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

function peerName(addr: Deno.Addr): string {
  if (addr.transport !== "tcp" && addr.transport !== "udp") return addr.transport;
  const host = addr.hostname.startsWith("::ffff:") ? addr.hostname.slice(7) : addr.hostname;
  return host.includes(":") ? `[${host}]:${addr.port}` : `${host}:${addr.port}`;
}

const MAGIC_BYTES = new TextEncoder().encode(MAGIC);

/** Tells the protocol from the first bytes. */
async function detect(wire: Wire): Promise<"ps2" | "classic" | "empty" | "other"> {
  while (true) {
    const head = wire.buffered;
    const n = Math.min(head.length, MAGIC_BYTES.length);
    let prefix = true;
    for (let i = 0; i < n; i++) if (head[i] !== MAGIC_BYTES[i]) prefix = false;
    if (prefix && n === MAGIC_BYTES.length) return "ps2";
    if (!prefix && head.length > 0) return looksClassic(head) ? "classic" : "other";
    if (!await wire.fill()) return head.length === 0 ? "empty" : "other";
  }
}
