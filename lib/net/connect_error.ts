/**
 * The error of a server that could not be reached, shared by the ways of
 * connecting (socket.ts, node_tls_connect.ts).
 *
 * @module
 */

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
