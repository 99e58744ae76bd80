/**
 * The server GUI's TLS certificate: made once and kept in the default TLS
 * folder, through the same library calls as the command line's `--tls`.
 *
 * @module
 */

import { join } from "node:path";
import {
  canReadMachineNames,
  CertificateError,
  defaultKnownServersFile,
  defaultTlsDir,
  ensureCertificate,
  machineNames,
  parseFingerprint,
  printable,
  type SecurityOptions,
} from "../mod.ts";
import { granted } from "./system.ts";

/** What a page says to do when privateshare was started without a permission it needs. */
export const START_FULLY = "start privateshare as its README's GUI section says (the downloaded " +
  "program, or deno task gui-server), which lets it";

/**
 * The certificate made once and kept in the default TLS folder, as `--tls`
 * makes it.
 *
 * @returns its files, or the one-line reason it cannot be had
 */
export async function ownCertificate(): Promise<{ certFile: string; keyFile: string } | string> {
  const dir = defaultTlsDir();
  if (dir === undefined) {
    return `TLS keeps its certificate in your configuration folder, which privateshare may not look up as it was started: ${START_FULLY}`;
  }
  for (const access of ["read", "write"] as const) {
    if (!granted({ name: access, path: dir })) {
      return `TLS keeps its certificate in '${dir}', which privateshare may not ${access} as it was started: ${START_FULLY}`;
    }
  }
  const exists = await Deno.stat(join(dir, "cert.pem")).then(() => true, () => false);
  if (!exists && !canReadMachineNames()) {
    return "Making the TLS certificate needs this computer's name and addresses, which " +
      `privateshare may not read as it was started: ${START_FULLY}`;
  }
  try {
    const own = await ensureCertificate(
      dir,
      canReadMachineNames() ? machineNames() : ["localhost"],
    );
    return { certFile: own.certFile, keyFile: own.keyFile };
  } catch (error) {
    if (error instanceof CertificateError) return error.message;
    if (
      error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotADirectory
    ) {
      return `Cannot keep the TLS certificate in '${dir}' (${error.message})`;
    }
    throw error;
  }
}

/**
 * The client page's TLS and password fields as library options: a
 * fingerprint (or TLS ticked) trusts the server, and the default
 * known-servers file is used as the command line uses it: without a
 * fingerprint, a page that cannot find the file does nothing rather than
 * connect with less security than a remembered server had.
 *
 * @param field reads a field: `tls` ("1" when ticked), `fingerprint`, `password`
 * @returns the options, or the one-line reason they are wrong
 */
export function clientSecurity(field: (key: string) => unknown): SecurityOptions | string {
  const text = (key: string) => {
    const value = field(key);
    return typeof value === "string" ? value.trim() : "";
  };
  const options: SecurityOptions = {};
  const given = text("fingerprint");
  if (given !== "") {
    const fingerprint = parseFingerprint(given);
    if (fingerprint === undefined) {
      return `Invalid fingerprint '${printable(given)}': give the 64 hex digits the server ` +
        "shows (in pairs, with or without colons)";
    }
    options.tls = { fingerprint };
  } else if (field("tls") === true || field("tls") === "1") {
    options.tls = {};
  }
  const file = defaultKnownServersFile();
  if (file === undefined && options.tls?.fingerprint === undefined) {
    // Never less security than remembered: without the file, a server remembered as TLS
    // would be spoken to in plain TCP (or checked against public roots only).
    return "Cannot find your known-servers file, which may remember this server's " +
      "certificate: start privateshare allowed to read its environment, or paste the " +
      "server's fingerprint into Server's fingerprint";
  }
  if (file !== undefined) options.knownServers = file;
  const password = field("password");
  if (typeof password === "string" && password !== "") options.password = password;
  return options;
}
