/**
 * Opening connections: the only place that listens or connects, so that
 * TLS later changes one module. Errors come back as {@link ListenError} and
 * {@link ConnectError}, each with a code and one sentence for a person.
 *
 * @module
 */

/** Why a server could not listen. */
export type ListenFailure = "in-use" | "privileged" | "address";

/** A port or address that cannot be listened on. */
export class ListenError extends Error {
  /** What kind of failure. */
  readonly code: ListenFailure;

  /**
   * Creates a ListenError.
   *
   * @param code what kind of failure
   * @param message one sentence: what was wrong and what to do
   * @param options the system's error
   */
  constructor(code: ListenFailure, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ListenError";
    this.code = code;
  }
}

/**
 * Listens for TCP connections. Without a host it listens on every
 * interface, IPv6 and IPv4 (`::` takes both on a dual-stack system), and
 * falls back to IPv4 alone where IPv6 is off.
 *
 * @param port the port; 0 picks a free one
 * @param host the address to listen on, or undefined for all
 * @returns the listener
 * @throws {ListenError} for a port in use, a privileged port, or an address not of this computer
 */
export function listen(port: number, host: string | undefined): Deno.Listener {
  try {
    if (host !== undefined) return Deno.listen({ hostname: host, port });
    try {
      return Deno.listen({ hostname: "::", port });
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) throw error;
      return Deno.listen({ hostname: "0.0.0.0", port });
    }
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new ListenError(
        "in-use",
        `Port ${port} is already in use: choose another port or stop the program using it`,
        { cause: error },
      );
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new ListenError(
        "privileged",
        `Port ${port} needs administrator rights here: choose a port above 1023`,
        { cause: error },
      );
    }
    if (error instanceof Deno.errors.AddrNotAvailable) {
      throw new ListenError("address", `Address '${host}' is not one of this computer's`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** A server that could not be reached. */
export class ConnectError extends Error {
  /** `host:port` as asked. */
  readonly where: string;
  /** A short phrase: `connection refused`, `no answer`, or the system's words. */
  readonly why: string;

  /**
   * Creates a ConnectError.
   *
   * @param where `host:port`
   * @param why a short phrase
   * @param options the system's error
   */
  constructor(where: string, why: string, options?: ErrorOptions) {
    super(`Cannot connect to ${where} (${why})`, options);
    this.name = "ConnectError";
    this.where = where;
    this.why = why;
  }
}

/**
 * Connects to a server over TCP.
 *
 * @param host host name or address
 * @param port port
 * @param timeoutMs give up when no connection is made in this long
 * @param signal gives up when aborted
 * @returns the connection
 * @throws {ConnectError} when no connection is made
 */
export async function connect(
  host: string,
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Deno.Conn> {
  // A timer of our own, cleared once connected, rather than AbortSignal.timeout,
  // whose timer would outlive every request of a long-running caller.
  const abort = new AbortController();
  const timer = setTimeout(
    () => abort.abort(new DOMException("No answer", "TimeoutError")),
    timeoutMs,
  );
  const onAbort = () => abort.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const where = `${host}:${port}`;
  try {
    return await Deno.connect({ hostname: host, port, signal: abort.signal });
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    const why = error instanceof Deno.errors.ConnectionRefused
      ? "connection refused"
      : error instanceof DOMException && error.name === "TimeoutError"
      ? "no answer"
      : error instanceof Error
      ? error.message.replace(/\s*\(os error \d+\)$/, "")
      : String(error);
    throw new ConnectError(where, why, { cause: error });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}
