/**
 * How the client reports a failure: one error type with a kind (which the
 * CLI maps to an exit code), a code for the cases a caller may word in its
 * own terms, and one sentence for a person that names no command-line flag.
 *
 * @module
 */

import { CancelError, ProtocolError, type Reason } from "../protocol/errors.ts";
import { ConnectError } from "../net/socket.ts";
import { isConnectionError, TimeoutError } from "../net/wire.ts";
import { SourceEndedError } from "../transfer/body.ts";

/** What kind of failure ended an operation; the CLI maps each to an exit code. */
export type FailureKind =
  | "usage"
  | "refused"
  | "connection"
  | "corrupt"
  | "local"
  | "protocol"
  | "aborted"
  | "untrusted";

/**
 * The failures a caller may want to word itself (the CLI adds the flag that
 * fixes each): a missing permission, a local file at the destination, a file
 * that appeared during a download, a file at a partial download's path that
 * is not the client's own, a server that speaks another protocol, a stream
 * put that cannot resume the server's partial upload (put it again with
 * `resume: false`), an operation its caller cancelled.
 */
export type FailureCode =
  | "permission"
  | "exists"
  | "appeared"
  | "in-the-way"
  | "not-privateshare"
  | "restart"
  | "cancelled"
  // TLS and the password (see secure.ts).
  | "needs-tls"
  | "not-tls"
  | "untrusted"
  | "name"
  | "fingerprint"
  | "short-code"
  | "declined"
  | "server-changed"
  | "password-needs-tls"
  | "password-needed"
  | "password-wrong";

/** A failure of put, get or list, with a sentence for a person. */
export class ClientError extends Error {
  /** What kind of failure. */
  readonly kind: FailureKind;
  /** The server's reason code, for a refusal. */
  readonly reason?: Reason;
  /** Which failure, where a caller may want to word it itself. */
  readonly code?: FailureCode;
  /** The permission that is missing, for code `permission`. */
  readonly permission?: "read" | "write" | "net";
  /** The local path involved, where there is one. */
  readonly path?: string;
  /** What a missing permission is needed for, such as `to read 'a.txt'`. */
  readonly purpose?: string;
  /** The operation that failed, where it matters to the wording (a cancel). */
  readonly op?: "put" | "get" | "list";

  /**
   * Creates a ClientError.
   *
   * @param kind what kind of failure
   * @param message one line: what went wrong and what to do
   * @param details the reason, code, permission, path, purpose and cause, where known
   */
  constructor(
    kind: FailureKind,
    message: string,
    details: {
      reason?: Reason;
      code?: FailureCode;
      permission?: "read" | "write" | "net";
      path?: string;
      purpose?: string;
      op?: "put" | "get" | "list";
      cause?: unknown;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "ClientError";
    this.kind = kind;
    if (details.reason !== undefined) this.reason = details.reason;
    if (details.code !== undefined) this.code = details.code;
    if (details.permission !== undefined) this.permission = details.permission;
    if (details.path !== undefined) this.path = details.path;
    if (details.purpose !== undefined) this.purpose = details.purpose;
    if (details.op !== undefined) this.op = details.op;
  }
}

/**
 * Turns whatever an operation threw into a {@link ClientError}; rethrows
 * what no rule covers (a bug).
 *
 * @param error what was thrown
 * @param where `host:port`
 * @param op the operation, for what to advise
 * @param signal the caller's signal, to tell a cancel from a cut
 * @returns the error to throw
 */
export function toClientError(
  error: unknown,
  where: string,
  op: "put" | "get" | "list",
  signal?: AbortSignal,
): ClientError {
  // Once the caller cancelled, whatever broke next (a closed connection, say) is the cancel.
  if (signal?.aborted && !(error instanceof ClientError && error.kind === "corrupt")) {
    return cancelled(op, error);
  }
  if (error instanceof ClientError) return error;
  if (error instanceof CancelError) {
    if (error.reason === "corrupt") {
      return new ClientError("corrupt", error.message, { reason: "corrupt", cause: error });
    }
    return new ClientError("refused", `The server refused: ${error.message}`, {
      reason: error.reason,
      cause: error,
    });
  }
  if (error instanceof ProtocolError) {
    return new ClientError(
      "protocol",
      `The server at ${where} sent a malformed or unexpected answer (${error.message}): ` +
        "is it a privateshare server?",
      { cause: error },
    );
  }
  if (error instanceof ConnectError) {
    return new ClientError(
      "connection",
      `${error.message}: check that the server is running and the address is right`,
      { cause: error },
    );
  }
  const again = op === "list" ? "try again" : "run the same command again to resume";
  if (error instanceof TimeoutError) {
    return new ClientError("connection", `The server at ${where} stopped responding: ${again}`, {
      cause: error,
    });
  }
  if (error instanceof SourceEndedError) {
    return new ClientError("local", "The local file shrank while it was being sent: try again", {
      cause: error,
    });
  }
  if (isConnectionError(error)) {
    return new ClientError("connection", `The connection to ${where} was lost: ${again}`, {
      cause: error,
    });
  }
  if ((error as { code?: string })?.code === "ENOSPC") {
    return new ClientError("local", "The local disk is full: free some space and try again", {
      cause: error,
    });
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new ClientError("local", `Permission denied: ${error.message}`, { cause: error });
  }
  throw error;
}

/**
 * The error of an operation its caller cancelled.
 *
 * @param op the operation: a put or get keeps what it moved, for a resume
 * @param cause what broke when it was cancelled, if anything
 * @returns the error, kind `aborted`, code `cancelled`
 */
export function cancelled(op: "put" | "get" | "list", cause?: unknown): ClientError {
  return new ClientError(
    "aborted",
    op === "list" ? "Cancelled" : "Cancelled: the same put or get resumes where this one stopped",
    { code: "cancelled", op, ...(cause !== undefined ? { cause } : {}) },
  );
}
