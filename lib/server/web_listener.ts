/**
 * Deno's HTTP server, kept listening. When `Deno.serve` fails to accept a
 * connection (the process is out of descriptors: a flood of connections
 * holds them all), its accept loop ends, its port closes and its `finished`
 * promise rejects. Left unhandled, that rejection ends the whole process,
 * the privateshare port with it; handled alone, the page would stay closed
 * for good. Here the loss is reported and the same port is listened on
 * again, after a wait that doubles while losses follow each other. The
 * failed server goes on serving its requests in flight; once they have
 * ended it is shut down, which closes its connections that carry no request
 * (the flood's: silent, trickling or idle), and so gives their descriptors
 * back.
 *
 * @module
 */

/** The first wait before listening again. */
const FIRST_RETRY_MS = 100;
/** The longest wait before listening again. */
const MAX_RETRY_MS = 5000;
/** After this long without a loss, the wait starts from the first again. */
const CALM_MS = 60_000;

/** Where and how a {@link WebListener} listens. */
export interface WebListenerOptions {
  /** The port; 0 for any free one. */
  port: number;
  /** The address; every address (IPv6 and IPv4, or IPv4 alone) when absent. */
  hostname?: string;
  /** The certificate and key, for HTTPS. */
  tls?: { cert: string; key: string };
  /** Answers a request whose handler threw. */
  onError(error: unknown): Response;
  /** Told when the server stopped accepting, and how long until it listens again. */
  onLost(message: string, retryMs: number): void;
}

/** A `Deno.serve` server that listens again on its port when its accept loop fails. */
export class WebListener {
  /** The address it listens on (the real port when 0 was asked). */
  readonly addr: Deno.NetAddr;
  readonly #options: WebListenerOptions;
  readonly #handler: Deno.ServeHandler<Deno.NetAddr>;
  readonly #hostname: string;
  /** Every server started, the failed ones too: their connections may still be open. */
  readonly #servers = new Set<Deno.HttpServer<Deno.NetAddr>>();
  #closed = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #retryMs = FIRST_RETRY_MS;
  #lastLoss = -Infinity;

  /**
   * Starts listening.
   *
   * @param options where and how
   * @param handler answers each request
   * @throws {Deno.errors.AddrInUse} and the other errors of `Deno.serve`
   */
  constructor(options: WebListenerOptions, handler: Deno.ServeHandler<Deno.NetAddr>) {
    this.#options = options;
    this.#handler = handler;
    let server: Deno.HttpServer<Deno.NetAddr>;
    if (options.hostname !== undefined) server = this.#listen(options.hostname, options.port);
    else {
      // Every address, IPv6 and IPv4, as the privateshare port; IPv4 alone where IPv6 is off.
      try {
        server = this.#listen("::", options.port);
      } catch (error) {
        if (error instanceof Deno.errors.AddrInUse) throw error;
        server = this.#listen("0.0.0.0", options.port);
      }
    }
    this.addr = server.addr;
    this.#hostname = server.addr.hostname;
  }

  #listen(hostname: string, port: number): Deno.HttpServer<Deno.NetAddr> {
    let inFlight = 0;
    let lost = false;
    const retire = () => {
      if (!lost || inFlight > 0) return;
      // Closes the connections that carry no request: a flood's, which hold the descriptors.
      server.shutdown().catch(() => {}).finally(() => this.#servers.delete(server));
    };
    const server = Deno.serve({
      port,
      hostname,
      onListen: () => {},
      onError: this.#options.onError,
      ...(this.#options.tls ?? {}),
    }, (request, info) => {
      inFlight++;
      info.completed.catch(() => {}).finally(() => {
        inFlight--;
        retire();
      });
      return this.#handler(request, info);
    });
    this.#servers.add(server);
    server.finished.catch((error) => {
      lost = true;
      this.#lost(error);
      retire();
    });
    return server;
  }

  #lost(error: unknown): void {
    if (this.#closed) return;
    const now = performance.now();
    if (now - this.#lastLoss > CALM_MS) this.#retryMs = FIRST_RETRY_MS;
    this.#lastLoss = now;
    const why = (error instanceof Error ? error.message : String(error)).replace(/^\w*Error: /, "");
    this.#options.onLost(`The web page could not accept a connection (${why})`, this.#retryMs);
    this.#retry();
  }

  #retry(): void {
    const ms = this.#retryMs;
    this.#retryMs = Math.min(ms * 2, MAX_RETRY_MS);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed) return;
      try {
        this.#listen(this.#hostname, this.addr.port);
      } catch (error) {
        // Still out of descriptors, or the port taken meanwhile: try again later.
        if (!(error instanceof Error)) throw error;
        this.#retry();
      }
    }, ms);
  }

  /**
   * Stops listening and ends the connections, waiting at most `graceMs`.
   *
   * @param graceMs how long requests in flight may take to end
   */
  async shutdown(graceMs: number): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...this.#servers].map((server) => server.shutdown())),
      new Promise((resolve) => timer = setTimeout(resolve, graceMs)),
    ]);
    clearTimeout(timer);
  }
}
