/**
 * A server's security options, made ready to use: the certificate and key
 * for TLS (from files or PEM text) and the password with its guard. A
 * password without TLS is refused here, before anything listens.
 *
 * @module
 */

import { fingerprintOf, hasPrivateKey, pemCertificates, type TlsServerKeys } from "../net/tls.ts";
import { type AuthLimits, type GuardEvent, PasswordGuard } from "./guard.ts";

/** A certificate and key in files. */
export interface TlsFiles {
  /** The certificate (chain), PEM. */
  certFile: string;
  /** The private key, PEM. */
  keyFile: string;
}

/** The security options of {@link ServerOptions}. */
export interface ServerSecurityOptions {
  /** Speak TLS with this certificate and key: files, or PEM text. */
  tls?: TlsFiles | TlsServerKeys;
  /** Every request must carry this password. Needs `tls`: a password never travels in the clear. */
  password?: string;
  /** How wrong passwords from one address are slowed and then banned. */
  authLimits?: Partial<AuthLimits>;
}

/** Security options that cannot be used. */
export class SecurityError extends Error {
  /** `password-without-tls`, `empty-password`, or `certificate` (unreadable or not PEM). */
  readonly code: "password-without-tls" | "empty-password" | "certificate";

  /**
   * Creates a SecurityError.
   *
   * @param code what is wrong
   * @param message one sentence: what is wrong and what to do
   * @param options the cause
   */
  constructor(code: SecurityError["code"], message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SecurityError";
    this.code = code;
  }
}

/** What a server serves with: TLS keys, the certificate's fingerprint, the password's guard. */
export interface ServerSecurity {
  /** Certificate and key, PEM, when TLS is on. */
  keys?: TlsServerKeys;
  /** What the server tells about its TLS, when on. */
  tls?: { fingerprint: string; certFile?: string };
  /** The password check, when a password is set. */
  guard?: PasswordGuard;
}

/**
 * Checks the security options and loads what they name.
 *
 * @param options the server's options
 * @param emit receives the guard's events
 * @returns the keys, fingerprint and guard
 * @throws {SecurityError} for a password without TLS, an empty password, or an unreadable certificate or key
 */
export function resolveSecurity(
  options: ServerSecurityOptions,
  emit: (event: GuardEvent) => void,
): ServerSecurity {
  if (options.password !== undefined && options.tls === undefined) {
    throw new SecurityError(
      "password-without-tls",
      "A password needs TLS: it would otherwise cross the network in the clear",
    );
  }
  if (options.password === "") {
    throw new SecurityError("empty-password", "The password is empty");
  }
  const security: ServerSecurity = {};
  if (options.tls) {
    const keys = "certFile" in options.tls
      ? { cert: read(options.tls.certFile, "certificate"), key: read(options.tls.keyFile, "key") }
      : options.tls;
    const der = pemCertificates(keys.cert)[0];
    if (der === undefined) {
      throw new SecurityError("certificate", `${named(options.tls, "cert")}holds no certificate`);
    }
    if (!hasPrivateKey(keys.key)) {
      throw new SecurityError("certificate", `${named(options.tls, "key")}holds no private key`);
    }
    security.keys = keys;
    security.tls = {
      fingerprint: fingerprintOf(der),
      ...("certFile" in options.tls ? { certFile: options.tls.certFile } : {}),
    };
  }
  if (options.password !== undefined) {
    security.guard = new PasswordGuard(options.password, options.authLimits, emit);
  }
  return security;
}

function read(path: string, what: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "it does not exist"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new SecurityError("certificate", `Cannot read the TLS ${what} '${path}': ${why}`, {
      cause: error,
    });
  }
}

function named(tls: TlsFiles | TlsServerKeys, which: "cert" | "key"): string {
  if (!("certFile" in tls)) return `The ${which === "cert" ? "certificate" : "key"} given `;
  return `'${which === "cert" ? tls.certFile : tls.keyFile}' `;
}
