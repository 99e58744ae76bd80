/**
 * The privateshare server: the accept loop, one handler per connection,
 * connection limits, deadlines, idle shutdown, graceful shutdown and the
 * request log.
 *
 * @module
 */

import { handleClassic, looksClassic } from "./classic.ts";
import type { Logger, RequestRecord } from "./log.ts";
import {
  CancelError,
  type Command,
  decodeCommand,
  decodeStart,
  decodeTrailer,
  encodeLine,
  type ListEntry,
  MAGIC,
  MAX_COMMAND_BYTES,
  MAX_REPLY_BYTES,
  type Reply,
  toCancel,
} from "./protocol.ts";
import { Store, type Upload } from "./store.ts";
import { ChunkPool, hashPrefix, newHash, receiveBody, sendBody } from "./transfer.ts";
import { isConnectionError, TimeoutError, TruncatedError, Wire } from "./wire.ts";

/** How a server is set up. */
export interface ServerOptions {
  /** The folder to serve. */
  root: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Address to listen on; default all interfaces, IPv4 and IPv6. */
  host?: string;
  /** Whether uploads are accepted. */
  writable: boolean;
  /** Shut down after this long without a connection; 0 never. */
  idleTimeoutMs: number;
  /** Most connections served at once; more get `busy`. */
  maxConnections: number;
  /** Deadline for a client's command. */
  commandTimeoutMs: number;
  /** Deadline for progress while data flows. */
  dataTimeoutMs: number;
  /** Partial uploads older than this are removed. */
  partialTtlMs: number;
  /** Most bytes all transfer buffers together may hold. */
  bufferBytes: number;
  /** Where log lines go. */
  log: Logger;
}

/** Defaults for everything but root, port, writable and log. */
export const SERVER_DEFAULTS = {
  idleTimeoutMs: 300_000,
  maxConnections: 128,
  commandTimeoutMs: 10_000,
  dataTimeoutMs: 30_000,
  partialTtlMs: 24 * 3600_000,
  bufferBytes: 512 * 1024 * 1024,
} as const;

/** What a protocol handler needs from the server. */
export interface HandlerContext {
  /** The served folder. */
  store: Store;
  /** Buffers for bodies. */
  pool: ChunkPool;
  /** The request being served; handlers fill it in. */
  record: RequestRecord;
  /** Server options. */
  options: ServerOptions;
  /** Whether this connection is over the connection limit. */
  overLimit: boolean;
}

/** A running server. */
export class Server {
  /** The address it listens on (with the real port when 0 was asked). */
  readonly addr: Deno.NetAddr;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /** The served folder. */
  readonly store: Store;
  readonly #listener: Deno.Listener;
  readonly #options: ServerOptions;
  readonly #pool: ChunkPool;
  readonly #wires = new Set<Wire>();
  readonly #handlers = new Set<Promise<void>>();
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #closing = false;

  /** @param options how to serve; see {@link ServerOptions} */
  constructor(options: ServerOptions) {
    this.#options = options;
    this.store = new Store(options.root, { writable: options.writable });
    this.#pool = new ChunkPool(options.bufferBytes);
    this.#listener = _listen(options.port, options.host);
    this.addr = this.#listener.addr as Deno.NetAddr;
    this.#armIdle();
    this.finished = this.#acceptLoop();
    const sweepEvery = Math.min(options.partialTtlMs, 3600_000);
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
        this.#options.log.event("accept-error", `Accept failed: ${error}`);
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
  }

  #armIdle(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const ms = this.#options.idleTimeoutMs;
    if (ms <= 0 || this.#wires.size > 0 || this.#closing) return;
    this.#idleTimer = setTimeout(() => {
      this.#options.log.event(
        "idle-shutdown",
        `No connection for ${ms / 1000} s: shutting down`,
        { idleSeconds: ms / 1000 },
      );
      this.close();
    }, ms);
  }

  #sweep(): void {
    if (!this.store.writable) return;
    this.store.removeStalePartials(this.#options.partialTtlMs).then((n) => {
      if (n > 0) {
        this.#options.log.event("partials-removed", `Removed ${n} stale partial upload(s)`, {
          count: n,
        });
      }
    }).catch((error) => this.#options.log.event("sweep-error", `Sweep failed: ${error}`));
  }

  async #handle(conn: Deno.Conn): Promise<void> {
    const wire = new Wire(conn);
    const overLimit = this.#wires.size >= this.#options.maxConnections;
    this.#wires.add(wire);
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const started = performance.now();
    const record: RequestRecord = {
      peer: _peer(conn.remoteAddr),
      protocol: "unknown",
      op: "-",
      bytes: 0,
      outcome: "ok",
    };
    const context: HandlerContext = {
      store: this.store,
      pool: this.#pool,
      record,
      options: this.#options,
      overLimit,
    };
    try {
      wire.setDeadline(this.#options.commandTimeoutMs);
      const kind = await _detect(wire);
      if (kind === "ps2") {
        record.protocol = "ps2";
        await _handlePs2(wire, context);
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
      _recordError(record, error);
    } finally {
      wire.close();
      this.#wires.delete(wire);
      this.#options.log.request(record, performance.now() - started);
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
}

/**
 * Starts a server.
 *
 * @param options how to serve; see {@link ServerOptions}
 * @returns the running server
 * @throws {Deno.errors.AddrInUse} when the port is taken
 * @example
 * ```ts
 * const server = startServer({ ...SERVER_DEFAULTS, root: ".", port: 0, writable: true,
 *   log: new Logger("text") });
 * console.log(server.addr.port);
 * await server.close();
 * ```
 */
export function startServer(options: ServerOptions): Server {
  return new Server(options);
}

function _listen(port: number, host: string | undefined): Deno.Listener {
  if (host !== undefined) return Deno.listen({ hostname: host, port });
  try {
    // "::" takes IPv4 too on a dual-stack system.
    return Deno.listen({ hostname: "::", port });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) throw error;
    return Deno.listen({ hostname: "0.0.0.0", port });
  }
}

function _peer(addr: Deno.Addr): string {
  if (addr.transport !== "tcp" && addr.transport !== "udp") return addr.transport;
  const host = addr.hostname.startsWith("::ffff:") ? addr.hostname.slice(7) : addr.hostname;
  return host.includes(":") ? `[${host}]:${addr.port}` : `${host}:${addr.port}`;
}

const _MAGIC_BYTES = new TextEncoder().encode(MAGIC);

/** Tells the protocol from the first bytes. */
async function _detect(wire: Wire): Promise<"ps2" | "classic" | "empty" | "other"> {
  while (true) {
    const head = wire.buffered;
    const n = Math.min(head.length, _MAGIC_BYTES.length);
    let prefix = true;
    for (let i = 0; i < n; i++) if (head[i] !== _MAGIC_BYTES[i]) prefix = false;
    if (prefix && n === _MAGIC_BYTES.length) return "ps2";
    if (!prefix && head.length > 0) return looksClassic(head) ? "classic" : "other";
    if (!await wire.fill()) return head.length === 0 ? "empty" : "other";
  }
}

function _recordError(record: RequestRecord, error: unknown): void {
  if (error instanceof CancelError) {
    record.outcome = "cancel";
    record.reason = error.reason;
    record.message = error.message;
  } else if (error instanceof TimeoutError) {
    record.outcome = "timeout";
    record.message = error.message;
  } else if (isConnectionError(error)) {
    record.outcome = "closed";
    record.message = error.message;
  } else {
    record.outcome = "error";
    record.message = error instanceof Error ? error.message : String(error);
  }
}

async function _reply(wire: Wire, reply: Reply): Promise<void> {
  await wire.write(encodeLine(reply));
}

/** Sends the cancel that an error stands for, and returns it. */
async function _cancel(wire: Wire, error: unknown): Promise<CancelError> {
  const cancel = toCancel(error);
  await _reply(wire, { code: "cancel", reason: cancel.reason, message: cancel.message });
  return cancel;
}

async function _handlePs2(wire: Wire, context: HandlerContext): Promise<void> {
  const line = await wire.readLine(MAX_COMMAND_BYTES);
  if (line === null) throw new TruncatedError("The client closed without a command");
  let command: Command;
  try {
    command = decodeCommand(line);
    context.record.op = command.op;
    if (command.op !== "list") context.record.name = command.name;
    if (context.overLimit) {
      throw new CancelError("busy", "The server is serving its maximum of connections: try again");
    }
  } catch (error) {
    if (error instanceof CancelError) await _cancel(wire, error);
    throw error;
  }
  wire.setDeadline(context.options.dataTimeoutMs);
  switch (command.op) {
    case "list":
      return await _list(wire, context);
    case "get":
      return await _get(wire, context, command.name, command.offset, command.prefixSha256);
    case "put":
      return await _put(wire, context, command.name, command.size, command.resume);
  }
}

/** The reply for a listing the store reuses is encoded once. */
const _encodedListings = new WeakMap<ListEntry[], Uint8Array>();

async function _list(wire: Wire, context: HandlerContext): Promise<void> {
  let entries;
  try {
    entries = context.store.list();
  } catch (error) {
    await _cancel(wire, error);
    throw error;
  }
  let bytes = _encodedListings.get(entries);
  if (!bytes) {
    let text = JSON.stringify({ code: "pass", count: entries.length }) + "\n";
    for (const entry of entries) text += JSON.stringify(entry) + "\n";
    bytes = new TextEncoder().encode(text);
    _encodedListings.set(entries, bytes);
  }
  await wire.write(bytes);
  context.record.bytes = bytes.length;
}

async function _get(
  wire: Wire,
  context: HandlerContext,
  name: string,
  offset: number,
  prefixSha256: string | undefined,
): Promise<void> {
  let opened;
  try {
    opened = await context.store.open(name);
  } catch (error) {
    const cancel = await _cancel(wire, error);
    throw cancel === error ? error : new Error(`Opening ${JSON.stringify(name)}: ${error}`);
  }
  const { file, size } = opened;
  try {
    let hash = newHash();
    let start = 0;
    if (offset > 0 && offset <= size && prefixSha256 !== undefined) {
      await hashPrefix(file, offset, hash, context.pool);
      if (hash.copy().digest("hex") === prefixSha256) {
        start = offset;
      } else {
        hash = newHash();
        await file.seek(0, Deno.SeekMode.Start);
      }
    }
    await _reply(wire, { code: "pass", size, offset: start });
    if (start > 0) context.record.resumedFrom = start;
    await sendBody(file, wire, size - start, {
      pool: context.pool,
      hash,
      onProgress: (n) => context.record.bytes = n,
    });
    await wire.write(encodeLine({ sha256: hash.digest("hex") }));
  } finally {
    file.close();
  }
}

async function _put(
  wire: Wire,
  context: HandlerContext,
  name: string,
  size: number,
  resume: boolean,
): Promise<void> {
  let upload;
  try {
    upload = await context.store.beginUpload(name, size, resume);
  } catch (error) {
    await _cancel(wire, error);
    throw error;
  }
  let keep = true;
  try {
    const hash = newHash();
    let offset = upload.offset;
    let prefix: string | undefined;
    if (offset > 0) {
      try {
        await hashPrefix(upload.file, offset, hash, context.pool);
        prefix = hash.copy().digest("hex");
      } catch (error) {
        if (!(error instanceof TruncatedError)) throw error;
        offset = 0;
      }
    }
    await _reply(
      wire,
      prefix ? { code: "pass", offset, prefixSha256: prefix } : { code: "pass", offset: 0 },
    );
    const startLine = await wire.readLine(MAX_REPLY_BYTES);
    if (startLine === null) throw new TruncatedError("The client closed before sending data");
    const start = decodeStart(startLine);
    if (start !== 0 && start !== offset) {
      throw new CancelError("bad-request", `Start offset ${start} is neither 0 nor ${offset}`);
    }
    if (start === 0 && offset > 0) {
      await upload.restart();
      return await _receiveAndCommit(wire, context, upload, size, 0, newHash(), () => keep = false);
    }
    if (start > 0) context.record.resumedFrom = start;
    await _receiveAndCommit(wire, context, upload, size, start, hash, () => keep = false);
  } catch (error) {
    if (!isConnectionError(error) && !(error instanceof CancelError)) {
      // A full disk or a failure of ours: tell the client why, then let its
      // data drain so that it reads the reason instead of a reset.
      const cancel = toCancel(error);
      await _cancelAndDrain(wire, cancel);
      keep = false;
      if (cancel.reason === "no-space") throw cancel;
    } else if (error instanceof CancelError && error.reason === "bad-request") {
      await _cancel(wire, error).catch(() => {});
    }
    throw error;
  } finally {
    await upload.abort(keep);
  }
}

async function _receiveAndCommit(
  wire: Wire,
  context: HandlerContext,
  upload: Upload,
  size: number,
  start: number,
  hash: ReturnType<typeof newHash>,
  discard: () => void,
): Promise<void> {
  await receiveBody(wire, upload.file, size - start, {
    pool: context.pool,
    hash,
    onProgress: (n) => context.record.bytes = n,
  });
  const trailer = await wire.readLine(MAX_REPLY_BYTES);
  if (trailer === null) throw new TruncatedError("The client closed before its checksum");
  const digest = hash.digest("hex");
  if (decodeTrailer(trailer) !== digest) {
    discard();
    throw await _cancel(
      wire,
      new CancelError(
        "corrupt",
        "The data the server received does not match the sender's SHA-256: nothing was kept",
      ),
    );
  }
  try {
    await upload.commit();
  } catch (error) {
    discard();
    await _cancel(wire, error);
    throw error;
  }
  await _reply(wire, { code: "done", sha256: digest });
}

async function _cancelAndDrain(wire: Wire, cancel: CancelError): Promise<void> {
  try {
    await _cancel(wire, cancel);
    await wire.closeWrite();
    wire.setDeadline(2000);
    const sink = new Uint8Array(64 * 1024);
    while (await wire.readInto(sink) > 0) { /* drain */ }
  } catch {
    // The client may already be gone; the cancel was best effort.
  }
}
