/**
 * How the client opens its connection, securely where it can: plain TCP, or
 * TLS trusting a certificate (`ca`), a fingerprint, a server remembered in
 * the known-servers file, or the public roots; with the password attached
 * only to a TLS connection. Also turns what went wrong on such a connection
 * into the {@link ClientError} a person can act on: a plain client that met
 * a TLS server, a certificate that changed, a password asked for or wrong.
 *
 * @module
 */

import { CancelError } from "../protocol/errors.ts";
import { connect, peekCertificate, pinnedCertificate } from "../net/socket.ts";
import { shortCode } from "../net/short_code.ts";
// Deferred: node:crypto costs a process a few tens of milliseconds to start, which a
// list, and a client's start-up, need not pay (issue 16).
import defer * as nodeCrypto from "node:crypto";
import {
  derToPem,
  fingerprintOf,
  looksLikeTls,
  parseFingerprint,
  pemCertificates,
  TlsError,
  type TlsTrust,
} from "../net/tls.ts";
import { Wire } from "../net/wire.ts";
import { attachPassword } from "../exchange/auth.ts";
import { ClientError } from "./errors.ts";
import {
  findKnownServer,
  type KnownServer,
  knownServers,
  knownServersAllowed,
  rememberServer,
} from "./known_servers.ts";

/** The security options of {@link ConnectOptions}. */
export interface SecurityOptions {
  /**
   * Speak TLS, trusting `ca`, or a server with `fingerprint`; with neither
   * (`{}`), only certificates the public roots vouch for.
   */
  tls?: TlsTrust;
  /** The password, for a server that asks for one. It is only ever sent inside TLS. */
  password?: string;
  /**
   * The known-servers file (see {@link defaultKnownServersFile}). A server
   * found there is spoken to in TLS and must show the remembered certificate;
   * a server trusted through `ca` or `fingerprint` is remembered there.
   */
  knownServers?: string;
  /** Told when a server is remembered, or could not be. */
  onRemember?: (note: RememberNote) => void;
  /**
   * Asked, before anything is sent, whether to trust a TLS server met for
   * the first time: one that nothing given or remembered pins and whose
   * certificate no public authority vouches for. It gets the certificate's
   * fingerprint and short code; a person compares the code with the one the
   * server shows. When it answers true, the client connects again pinned to
   * that full fingerprint (a different certificate then is refused) and
   * remembers it; false refuses the server. Without it, such a server is
   * refused. Nobody is asked about a certificate that the known-servers file
   * remembers for another address (the same server, moved): it is trusted
   * and remembered at the new address too.
   */
  confirm?: (server: FirstContact) => Promise<boolean>;
}

/** A TLS server met for the first time, as {@link SecurityOptions.confirm} is asked about it. */
export interface FirstContact {
  /** `host:port`. */
  where: string;
  /** The SHA-256 fingerprint of the certificate it showed. */
  fingerprint: string;
  /** That fingerprint's short code (`K7QF-3M2D`), to compare with the one the server shows. */
  code: string;
}

/** A server remembered in the known-servers file (or not, and why). */
export interface RememberNote {
  /** `host:port`. */
  where: string;
  /** The fingerprint remembered (absent when none could be). */
  fingerprint?: string;
  /** The fingerprint remembered before, when it changed. */
  previous?: string;
  /** The known-servers file. */
  file: string;
  /** Why it could not be remembered, when it could not. */
  failure?: string;
}

/** What a connection was opened with, for explaining its failures. */
interface Opened {
  tls: boolean;
  password: boolean;
}

const opened = new WeakMap<Wire, Opened>();

/**
 * Opens the connection for one request: TLS when asked or when the server
 * is known, its certificate checked before anything is sent, the password
 * attached only then; a server newly trusted through `ca` or `fingerprint`
 * is remembered.
 *
 * @param options host, port and the security options
 * @param timeoutMs give up when no connection is made in this long
 * @param signal gives up when aborted
 * @returns the connection
 * @throws {ClientError} `usage` for a password without TLS, `untrusted` for a certificate
 *   refused, `protocol` for a server that does not speak TLS
 * @throws {ConnectError} when no connection is made
 */
export async function openWire(
  options: SecurityOptions & { host: string; port: number },
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Wire> {
  const { host, port, knownServers: file } = options;
  const explicit = options.tls?.ca !== undefined || options.tls?.fingerprint !== undefined;
  if (file !== undefined && !explicit && !knownServersAllowed(file, "read")) {
    // Never less security than remembered: unread, the file could not pin this server.
    const purpose = `to read the known-servers file '${file}', which may remember this ` +
      "server's certificate";
    throw new ClientError("usage", `No permission ${purpose}`, {
      code: "permission",
      permission: "read",
      path: file,
      purpose,
    });
  }
  const known = file === undefined ? undefined : await findKnownServer(file, host, port);
  // A remembered server stays pinned to its certificate, --tls or not; only --ca or
  // --fingerprint given now replace what was remembered. The certificate remembered with the
  // fingerprint spares reading it from the server first (see connect).
  const remembered = known?.certificate === undefined ? {} : { certificate: known.certificate };
  const givenIsKnown = options.tls?.fingerprint !== undefined && known !== undefined &&
    parseFingerprint(options.tls.fingerprint) === known.fingerprint;
  const trust = explicit
    ? (givenIsKnown ? { ...remembered, ...options.tls } : options.tls)
    : known
    ? { fingerprint: known.fingerprint, ...remembered }
    : options.tls;
  const fromFile = !explicit && known !== undefined ? file : undefined;
  if (options.password !== undefined && trust === undefined) {
    throw new ClientError(
      "usage",
      "A password is only ever sent inside TLS, and this connection would not use TLS",
      { code: "password-needs-tls" },
    );
  }
  let conn: Deno.Conn;
  try {
    conn = await connect(host, port, timeoutMs, signal, trust);
  } catch (error) {
    if (!(error instanceof TlsError)) throw error;
    const firstContact = (options.confirm !== undefined || file !== undefined) &&
      trust !== undefined && !explicit && known === undefined && trust.code === undefined &&
      (error.code === "untrusted" || error.code === "name");
    if (!firstContact) throw refusal(error, known?.fingerprint, fromFile);
    conn = await confirmFirstContact(host, port, timeoutMs, signal, options.confirm, file, error);
  }
  const wire = new Wire(conn);
  opened.set(wire, {
    tls: trust !== undefined,
    password: options.password !== undefined,
  });
  if (options.password !== undefined) attachPassword(wire, options.password);
  // Remembered: a server pinned by what was given, by a code or a person's yes (its certificate,
  // seen on this connection), or remembered already; not one a public authority vouched for.
  if (file !== undefined && trust !== undefined) {
    const where = `${host}:${port}`;
    const learned = learn(conn, trust);
    if (learned === "ca" && explicit) {
      const failure = "the certificate given is a CA's, not the server's own";
      options.onRemember?.({ where, file, failure });
    } else if (learned !== "ca" && learned !== undefined) {
      await remember(file, host, port, learned, known, options.onRemember);
    }
  }
  return wire;
}

/**
 * First contact with a server that nothing pins at this address: reads the
 * certificate it shows (on a connection closed at once, nothing sent). A
 * certificate the known-servers file remembers for another address (the
 * same server, moved: a new DHCP lease, another network) is trusted as it
 * was there; otherwise the person is asked, and without anyone to ask it is
 * refused. Either way the client connects again pinned to the full
 * fingerprint.
 */
async function confirmFirstContact(
  host: string,
  port: number,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  confirm: ((server: FirstContact) => Promise<boolean>) | undefined,
  file: string | undefined,
  refused: TlsError,
): Promise<Deno.Conn> {
  const where = `${host}:${port}`;
  try {
    const { fingerprint, certificate } = await peekCertificate(host, port, timeoutMs, signal);
    const elsewhere = file === undefined
      ? false
      : (await knownServers(file)).some((server) => server.fingerprint === fingerprint);
    // The certificate read is given beside its fingerprint: it need not be read again.
    const pinned = { fingerprint, certificate };
    if (elsewhere) return await connect(host, port, timeoutMs, signal, pinned);
    if (confirm === undefined) throw refusal(refused, undefined);
    // The operation's signal (Ctrl-C) ends the wait for a person's answer.
    let stop = () => {};
    const aborted = new Promise<never>((_, reject) => {
      const onAbort = () => reject(signal?.reason);
      if (signal?.aborted) onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      stop = () => signal?.removeEventListener("abort", onAbort);
    });
    const asked = confirm({ where, fingerprint, code: shortCode(fingerprint) });
    const trusted = await Promise.race([asked, aborted]).finally(stop);
    if (!trusted) {
      throw new ClientError(
        "untrusted",
        `The server at ${where} was not trusted; nothing was sent`,
        {
          code: "declined",
        },
      );
    }
    return await connect(host, port, timeoutMs, signal, pinned);
  } catch (error) {
    if (!(error instanceof TlsError)) throw error;
    throw refusal(error, undefined);
  }
}

/**
 * What a connection tells of the server's certificate: shown on a pinned
 * connection, or the one certificate given when it is a server's own (not
 * a CA's, which vouches for others).
 */
function learn(conn: Deno.Conn, trust: TlsTrust): KnownServer | "ca" | undefined {
  const pinned = pinnedCertificate(conn);
  if (pinned) return { fingerprint: pinned.fingerprint, certificate: derToPem(pinned.certificate) };
  if (trust.ca === undefined) return undefined;
  const ders = pemCertificates(trust.ca);
  if (ders.length !== 1 || new nodeCrypto.X509Certificate(ders[0]!).ca) return "ca";
  return { fingerprint: fingerprintOf(ders[0]!), certificate: derToPem(ders[0]!) };
}

/**
 * Remembers what was learned of a server: said aloud when it is new or
 * replaces another certificate, quietly when it only adds the certificate
 * to a fingerprint already remembered.
 */
async function remember(
  file: string,
  host: string,
  port: number,
  learned: KnownServer,
  known: KnownServer | undefined,
  onRemember: SecurityOptions["onRemember"],
): Promise<void> {
  const same = known?.fingerprint === learned.fingerprint;
  if (same && (known?.certificate || !learned.certificate)) return;
  const note: RememberNote = {
    where: `${host}:${port}`,
    fingerprint: learned.fingerprint,
    file,
    ...(known && !same ? { previous: known.fingerprint } : {}),
  };
  const say = same ? undefined : onRemember;
  if (!knownServersAllowed(file, "write")) {
    say?.({ ...note, failure: "no permission to write it" });
    return;
  }
  try {
    await rememberServer(file, host, port, learned.fingerprint, learned.certificate);
  } catch (error) {
    if (!(error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotFound)) {
      throw error;
    }
    say?.({ ...note, failure: error.message });
    return;
  }
  say?.(note);
}

/** The ClientError for a server whose certificate was refused, or that does not speak TLS. */
function refusal(error: TlsError, known: string | undefined, fromFile?: string): ClientError {
  const cause = { cause: error };
  if (error.code === "handshake") {
    return new ClientError(
      "connection",
      `${error.message}: check that the server is running and not overloaded, then try again; ` +
        "nothing was sent",
      cause,
    );
  }
  if (error.code === "not-tls") {
    const remembered = fromFile ? `, though '${fromFile}' remembers it as a TLS server` : "";
    return new ClientError(
      "protocol",
      `The server at ${error.where} does not speak TLS${remembered}`,
      { code: "not-tls", ...(fromFile ? { path: fromFile } : {}), ...cause },
    );
  }
  if (error.code === "fingerprint" && fromFile) {
    return new ClientError(
      "untrusted",
      `The certificate of ${error.where} has CHANGED since it was remembered in '${fromFile}': ` +
        `it was ${known}, it is now ${error.fingerprint}. Someone may be intercepting the ` +
        "connection; nothing was sent",
      { code: "server-changed", path: fromFile, ...cause },
    );
  }
  const shown = error.fingerprint ? ` (it shows SHA-256 fingerprint ${error.fingerprint})` : "";
  const plain = error.code === "fingerprint" || error.code === "short-code";
  return new ClientError(
    "untrusted",
    `${error.message}${plain ? "" : shown}; nothing was sent`,
    {
      code: error.code === "fingerprint" || error.code === "short-code"
        ? error.code
        : error.code === "name"
        ? "name"
        : "untrusted",
      ...cause,
    },
  );
}

/**
 * Explains a failure on a connection that {@link openWire} opened: a plain
 * client answered with TLS bytes, and the password refusals. Other errors
 * pass unchanged.
 *
 * @param error what was thrown
 * @param wire the connection, if one was opened
 * @param where `host:port`
 * @returns the error to report
 */
export function explainFailure(error: unknown, wire: Wire | undefined, where: string): unknown {
  const how = wire && opened.get(wire);
  if (!how) return error;
  if (!how.tls && looksLikeTls(wire.buffered)) {
    return new ClientError("protocol", `The server at ${where} speaks TLS`, {
      code: "needs-tls",
      cause: error,
    });
  }
  if (!(error instanceof CancelError) || error.reason !== "unauthorized") return error;
  const details = { reason: error.reason, cause: error };
  if (!how.tls) {
    return new ClientError(
      "refused",
      `The server at ${where} asks for a password over a connection without TLS, where ` +
        "privateshare never sends one",
      { ...details, code: "password-needs-tls" },
    );
  }
  if (!how.password) {
    return new ClientError("refused", `The server at ${where} needs a password`, {
      ...details,
      code: "password-needed",
    });
  }
  return new ClientError("refused", `The server refused: ${error.message}`, {
    ...details,
    code: "password-wrong",
  });
}
