/**
 * The security flags of both programs: TLS, certificates, fingerprints, the
 * known-servers file and the password; the lines the server prints about
 * them at start, and the wording, with the flag to use, of each refusal.
 *
 * @module
 */

import { join } from "node:path";
import {
  canReadMachineNames,
  CertificateError,
  checkPrivateKey,
  type ClientError,
  defaultKnownServersFile,
  defaultTlsDir,
  describeCertificate,
  ensureCertificate,
  machineNames,
  type RememberNote,
  type SecurityOptions,
  type ServerLink,
  shortCode,
  validName,
} from "../client_mod.ts";
import type { ServerSecurityOptions } from "../mod.ts";
import { UsageError } from "./common.ts";
import { canReadPasswordVariable, givenPassword, PASSWORD_VARIABLE } from "./password.ts";
import { givenTrust, terminalConfirm } from "./trust.ts";

/** The server's security flags, for parseArgs. */
export const SERVER_FLAGS = {
  tls: { type: "boolean" },
  cert: { type: "string" },
  key: { type: "string" },
  "tls-dir": { type: "string" },
  "tls-name": { type: "string", multiple: true },
  "password-file": { type: "string" },
} as const;

/** The client's security flags, for parseArgs. */
export const CLIENT_FLAGS = {
  tls: { type: "boolean" },
  ca: { type: "string" },
  fingerprint: { type: "string" },
  code: { type: "string" },
  "known-servers": { type: "string" },
  "password-file": { type: "string" },
} as const;

/** The server's help on its security flags. */
export const SERVER_HELP = `
TLS and a password (see README, "Sharing across networks"):
  --tls                    speak TLS; without --cert/--key, with a certificate made once
                           and kept in --tls-dir (the server prints its fingerprint)
  --cert FILE --key FILE   speak TLS with this certificate and key (PEM)
  --tls-dir DIR            where the made certificate is kept (default: privateshare/tls in
                           your configuration folder, ~/.config/privateshare/tls on Linux)
  --tls-name NAME          a name or address clients use, put in the made certificate
                           (repeat for more; localhost and this computer's are always in)
  --password-file FILE     every request must carry the password in FILE's first line
                           (or set ${PASSWORD_VARIABLE}); needs TLS
`;

/** The client's help on its security flags. */
export const CLIENT_HELP = `
TLS and a password (see README, "Sharing across networks"):
  --tls                 speak TLS (trusting only publicly trusted certificates, or a
                        server remembered in the known-servers file)
  --ca FILE             trust the server's certificate in FILE (its cert.pem)
  --fingerprint FP      trust the server whose certificate has this SHA-256 fingerprint
  --code CODE           trust, on first contact, the server whose certificate has this
                        short code (it prints it at start: Code: K7QF-3M2D); at a terminal
                        the client shows the code and asks instead
  --known-servers FILE  the file that remembers trusted servers (default: privateshare/
                        known_servers in your configuration folder, ~/.config on Linux)
  --password-file FILE  the password, in FILE's first line (or set ${PASSWORD_VARIABLE});
                        at a terminal the client asks when the server needs one
`;

type ServerValues = {
  tls?: boolean;
  cert?: string;
  key?: string;
  "tls-dir"?: string;
  "tls-name"?: string[];
  "password-file"?: string;
};

type ClientValues = {
  tls?: boolean;
  ca?: string;
  fingerprint?: string;
  code?: string;
  "known-servers"?: string;
  "password-file"?: string;
};

/** A line for the server's log at start. */
export interface StartLine {
  /** The event name. */
  event: string;
  /** The sentence. */
  message: string;
  /** JSON fields. */
  fields: Record<string, unknown>;
}

/**
 * Turns the server's security flags into library options, making or
 * reusing the certificate, and says what to print about them at start.
 *
 * @param values the parsed flags
 * @returns the options, the lines to log once listening, and the certificate's fingerprint
 * @throws {UsageError} for flags that do not go together or files that cannot be used
 */
export async function serverSecurity(
  values: ServerValues,
): Promise<{ options: ServerSecurityOptions; lines: StartLine[]; fingerprint?: string }> {
  const names = values["tls-name"] ?? [];
  const given = values.cert !== undefined || values.key !== undefined;
  const tls = values.tls === true || given || values["tls-dir"] !== undefined || names.length > 0;
  const password = await givenPassword(values["password-file"]);
  const options: ServerSecurityOptions = {};
  const lines: StartLine[] = [];
  if (password && !tls) {
    throw new UsageError(
      `A password needs TLS (from ${password.source}, it would cross the network in the ` +
        "clear): add --tls",
      false,
    );
  }
  if (!tls) return { options, lines };
  let certFile: string, keyFile: string, created = false;
  if (given) {
    if (values.cert === undefined || values.key === undefined) {
      throw new UsageError("--cert and --key go together: give both, or neither to use --tls-dir");
    }
    if (names.length > 0 || values["tls-dir"] !== undefined) {
      throw new UsageError(
        "--tls-name and --tls-dir are for the certificate privateshare makes, " +
          "not with --cert and --key",
      );
    }
    [certFile, keyFile] = [values.cert, values.key];
    for (const file of [certFile, keyFile]) requireRead(file, "--cert and --key");
  } else {
    ({ certFile, keyFile, created } = await ownCertificate(values["tls-dir"], names, lines));
  }
  options.tls = { certFile, keyFile };
  let info;
  try {
    info = await describeCertificate(await Deno.readTextFile(certFile));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`The certificate '${certFile}' does not exist: check --cert`, false);
    }
    if (!(error instanceof CertificateError)) throw error;
    throw new UsageError(`'${certFile}' is not a PEM certificate: check --cert`, false);
  }
  lines.unshift(
    {
      event: "tls",
      message:
        `TLS certificate '${certFile}'${created ? " (made now)" : ""}, SHA-256 fingerprint ` +
        info.fingerprint,
      fields: { certFile, fingerprint: info.fingerprint, created, names: info.names },
    },
    {
      event: "code",
      message: `Code: ${shortCode(info.fingerprint)} (clients that meet this server for the ` +
        "first time ask whether it shows this)",
      fields: { code: shortCode(info.fingerprint) },
    },
    {
      event: "tls-names",
      message: `Clients that trust the certificate (--ca) can connect as: ${info.names.join(", ")}`,
      fields: { names: info.names },
    },
  );
  if (given) await givenKeyPrivate(keyFile);
  if (password) {
    options.password = password.password;
    lines.push({
      event: "password",
      message: `Password required (from ${password.source})`,
      fields: { required: true },
    });
  } else {
    const unread = canReadPasswordVariable()
      ? ""
      : ` (${PASSWORD_VARIABLE} not read: run deno with --allow-env to use it)`;
    lines.push({
      event: "password",
      message: `No password: anyone who can reach the port can use this server${unread}`,
      fields: { required: false },
    });
  }
  return { options, lines, fingerprint: info.fingerprint };
}

/** The certificate made once and kept in the TLS folder. */
async function ownCertificate(
  tlsDir: string | undefined,
  names: string[],
  lines: StartLine[],
): Promise<{ certFile: string; keyFile: string; created: boolean }> {
  const dir = tlsDir ?? defaultTlsDir();
  if (dir === undefined) {
    throw new UsageError(
      "--tls keeps its certificate in your configuration folder, which needs --allow-env to " +
        "find: run deno with --allow-env, or give --tls-dir DIR",
      false,
    );
  }
  for (const name of names) {
    if (!validName(name)) {
      throw new UsageError(`Invalid --tls-name '${name}': give a DNS name or an IP address`);
    }
  }
  for (const access of ["read", "write"] as const) {
    if (Deno.permissions.querySync({ name: access, path: dir }).state !== "granted") {
      throw new UsageError(
        `--tls keeps its certificate in '${dir}', which needs --allow-${access}: run deno ` +
          `with --allow-${access}, or give --cert and --key`,
        false,
      );
    }
  }
  const exists = await Deno.stat(join(dir, "cert.pem")).then(() => true, () => false);
  if (!exists && !canReadMachineNames()) {
    throw new UsageError(
      "Making the TLS certificate needs this computer's name and addresses: run deno with " +
        "--allow-sys, or give --cert and --key",
      false,
    );
  }
  const auto = canReadMachineNames() ? machineNames() : ["localhost"];
  let own;
  try {
    own = await ensureCertificate(dir, [...auto, ...names]);
  } catch (error) {
    if (error instanceof CertificateError) throw new UsageError(error.message, false);
    if (
      error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotADirectory ||
      error instanceof Deno.errors.AlreadyExists
    ) {
      throw new UsageError(
        `Cannot keep the TLS certificate in '${dir}' (${error.message}): give --tls-dir a ` +
          "folder you can write",
        false,
      );
    }
    throw error;
  }
  const missing = own.missing.filter((name) => names.includes(name));
  if (missing.length > 0) {
    lines.push({
      event: "warning",
      message: `The certificate in '${dir}' was made without ${missing.join(", ")}: to add ` +
        "them, remove its cert.pem and key.pem and start again (clients must then trust the " +
        "new certificate)",
      fields: { missing },
    });
  }
  return { certFile: own.certFile, keyFile: own.keyFile, created: own.created };
}

/** Refuses a `--key` that other users may read, or replace (sshd's rule for host keys). */
async function givenKeyPrivate(keyFile: string): Promise<void> {
  try {
    await checkPrivateKey(keyFile);
  } catch (error) {
    if (error instanceof CertificateError) throw new UsageError(error.message, false);
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`The key '${keyFile}' does not exist: check --key`, false);
    }
    if (error instanceof Deno.errors.NotCapable) {
      throw new UsageError(
        `Checking that other users cannot replace the key '${keyFile}' needs --allow-read on ` +
          `its folder (${error.message}): run deno with --allow-read`,
        false,
      );
    }
    throw error;
  }
}

function requireRead(path: string, flag: string): void {
  if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") {
    throw new UsageError(
      `Reading '${path}' (${flag}) needs --allow-read: run deno with --allow-read`,
      false,
    );
  }
}

/**
 * Turns the client's security flags, and a link given where HOST PORT go, into
 * library options: whom to trust (trust.ts), the known-servers file, the password,
 * and at a terminal the question asked on first contact with a TLS server that
 * nothing pins. Every way of naming a server (address, link, name) comes here.
 *
 * @param values the parsed flags
 * @param link the link given, if one was
 * @returns the options (the password included, when one was given)
 * @throws {UsageError} for flags that disagree, or a file, fingerprint or code that is not one
 */
export async function clientSecurity(
  values: ClientValues,
  link?: ServerLink,
): Promise<SecurityOptions> {
  const options: SecurityOptions = {};
  const trust = await givenTrust(values, link);
  if (trust !== undefined) options.tls = trust;
  const file = values["known-servers"] ?? defaultKnownServersFile();
  if (file !== undefined) options.knownServers = file;
  const explicit = options.tls?.ca !== undefined || options.tls?.fingerprint !== undefined;
  if (file === undefined && !explicit) {
    // Never less security than remembered: without the file, a server remembered as TLS
    // would be spoken to in plain TCP.
    throw new UsageError(
      "Cannot find your known-servers file, which may remember this server's certificate, " +
        "without --allow-env: run deno with --allow-env, or give --known-servers FILE",
      false,
    );
  }
  const confirm = terminalConfirm("privateshare");
  if (confirm !== undefined) options.confirm = confirm;
  const password = await givenPassword(values["password-file"]);
  if (password) options.password = password.password;
  return options;
}

/**
 * A line about a server remembered (or not) in the known-servers file.
 *
 * @param note what was remembered
 * @returns the line
 */
export function rememberLine(note: RememberNote): string {
  if (note.failure) {
    return `${note.where} is not remembered in '${note.file}' (${note.failure}): ` +
      "give --ca or --fingerprint again next time";
  }
  if (note.previous) {
    return `The certificate remembered for ${note.where} was ${note.previous}; it is now ` +
      `${note.fingerprint}, as you trusted it (remembered in '${note.file}')`;
  }
  return `Remembered ${note.where} (SHA-256 ${note.fingerprint}) in '${note.file}': later runs ` +
    "need no --ca or --fingerprint";
}

/**
 * A TLS or password failure in the words of the command line, with the
 * flag that fixes it; undefined for other failures.
 *
 * @param error the failure
 * @returns one line, or undefined
 */
export function describeSecurity(error: ClientError): string | undefined {
  const message = error.message;
  switch (error.code) {
    case "needs-tls":
      return `${message}: add --tls (with --ca FILE or --fingerprint FP)`;
    case "not-tls":
      return error.path
        ? `${message}: if it no longer uses TLS, remove its line from '${error.path}'`
        : `${message}: remove --tls, --ca and --fingerprint, or start the server with --tls`;
    case "untrusted":
      return `${message}: give --code with the code the server prints at start (Code: ...), ` +
        "--fingerprint with its fingerprint, or the server's link (privateshare://...) where " +
        "HOST PORT go; or --ca with its cert.pem";
    case "short-code":
      return `${message}: check the code with the server's owner; a different code may mean ` +
        "that another server is answering in its place";
    case "declined":
      return message;
    case "name":
      return `${message}: connect by a name it holds (the server prints them at start), ` +
        "start the server with --tls-name for this one, or use --fingerprint";
    case "fingerprint":
      return `${message}: check the fingerprint with the server's owner (a link carries it ` +
        "too); a different one may mean that the server made a new certificate, or that " +
        "another server is answering in its place";
    case "server-changed":
      return `${message}. If its owner made a new certificate, check its fingerprint with them ` +
        "and run again with --fingerprint NEW";
    case "password-needs-tls":
      return error.kind === "usage"
        ? `${message}: add --tls (with --ca FILE or --fingerprint FP), or do not give a ` +
          `password (${PASSWORD_VARIABLE}, --password-file)`
        : `${message}: add --tls`;
    case "password-needed":
      return `${message}: set ${PASSWORD_VARIABLE} or give --password-file FILE`;
    default:
      return undefined;
  }
}
