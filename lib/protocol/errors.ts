/**
 * The two errors of the protocol: a peer's refusal (`cancel`, with a reason
 * from a closed set) and malformed input (bytes that are not a valid
 * message). They mean different things to a user, so they are different
 * types: a client reports the first as a refusal and the second as a
 * protocol failure.
 *
 * @module
 */

/** Why a request was cancelled: a closed set, each with its own meaning. */
export type Reason =
  | "bad-request"
  | "invalid-name"
  | "exists"
  | "not-found"
  | "busy"
  | "read-only"
  | "too-large"
  | "no-space"
  | "unauthorized"
  | "corrupt"
  | "timeout"
  | "internal";

/** Every reason code, for validation. */
export const REASONS: readonly Reason[] = [
  "bad-request",
  "invalid-name",
  "exists",
  "not-found",
  "busy",
  "read-only",
  "too-large",
  "no-space",
  "unauthorized",
  "corrupt",
  "timeout",
  "internal",
];

/**
 * A refusal with a reason code: what a server sends as `cancel`, and what a
 * client raises when it receives one.
 */
export class CancelError extends Error {
  /** The reason code from the closed set. */
  readonly reason: Reason;

  /**
   * Creates a CancelError.
   *
   * @param reason the reason code
   * @param message a sentence for a person, naming what was wrong
   * @param options the error that caused this one, if any
   */
  constructor(reason: Reason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CancelError";
    this.reason = reason;
  }
}

/**
 * Bytes from the peer that are not a valid message: not UTF-8, not JSON,
 * a missing or wrong field, a line over its limit. A server answers it with
 * `cancel` `bad-request`; a client reports that the peer does not speak the
 * protocol.
 */
export class ProtocolError extends Error {
  /**
   * Creates a ProtocolError.
   *
   * @param message what was malformed
   * @param options the error that caused this one, if any
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
  }
}
