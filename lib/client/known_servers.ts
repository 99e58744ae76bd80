/**
 * The client's known servers, as ssh's known_hosts: a per-user text file
 * that remembers, for each server a user was told to trust, its address and
 * the SHA-256 fingerprint of its certificate. A later connection to that
 * address needs no flag, speaks TLS, and is refused when the certificate
 * has changed.
 *
 * One line per server, `HOST:PORT FINGERPRINT [CERTIFICATE]` (`[::1]:3650`
 * for IPv6), the certificate in base64 DER when known, as ssh keeps a host's
 * key; `#` starts a comment.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fingerprintOf, parseFingerprint, pemCertificates } from "../net/tls.ts";
import { userConfigDir } from "../net/user_config.ts";

const HEADER = "# privateshare known servers: HOST:PORT and the SHA-256 fingerprint of its " +
  "certificate\n";

/**
 * The default known-servers file: `known_servers` in the per-user
 * configuration folder (`~/.config/privateshare/known_servers` on Linux).
 *
 * @returns the path, or undefined when the environment cannot be read
 */
export function defaultKnownServersFile(): string | undefined {
  const base = userConfigDir();
  return base === undefined ? undefined : join(base, "known_servers");
}

/**
 * The address a server is remembered under: `host:port`, the host in lower
 * case, an IPv6 address in brackets.
 *
 * @param host host name or address, as the user gave it
 * @param port port
 * @returns the key
 */
export function serverKey(host: string, port: number): string {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return name.includes(":") ? `[${name}]:${port}` : `${name}:${port}`;
}

/** A remembered server. */
export interface KnownServer {
  /** The SHA-256 fingerprint of its certificate. */
  fingerprint: string;
  /** The certificate itself (PEM), when remembered; its fingerprint is checked. */
  certificate?: string;
}

/**
 * Looks a server up. A file that is missing, or that may not be read
 * (no permission), knows no server.
 *
 * @param file the known-servers file
 * @param host host name or address
 * @param port port
 * @returns the remembered fingerprint, and certificate when remembered, or undefined
 */
export async function findKnownServer(
  file: string,
  host: string,
  port: number,
): Promise<KnownServer | undefined> {
  const text = await readKnown(file);
  const key = serverKey(host, port);
  for (const line of text.split("\n")) {
    const [address, fingerprint, der] = line.trim().split(/\s+/);
    const parsed = address === key && fingerprint !== undefined
      ? parseFingerprint(fingerprint)
      : undefined;
    if (parsed === undefined) continue;
    const certificate = der === undefined ? undefined : derPem(der);
    const matches = certificate !== undefined &&
      fingerprintOf(pemCertificates(certificate)[0]!) === parsed;
    return matches ? { fingerprint: parsed, certificate } : { fingerprint: parsed };
  }
  return undefined;
}

/**
 * Looks up the fingerprint remembered for a server.
 *
 * @param file the known-servers file
 * @param host host name or address
 * @param port port
 * @returns the fingerprint, or undefined
 */
export async function lookupKnownServer(
  file: string,
  host: string,
  port: number,
): Promise<string | undefined> {
  return (await findKnownServer(file, host, port))?.fingerprint;
}

/**
 * Every server remembered, in the file's order.
 *
 * @param file the known-servers file
 * @returns each server's host (an IPv6 address without brackets), port and fingerprint
 */
export async function knownServers(
  file: string,
): Promise<{ host: string; port: number; fingerprint: string }[]> {
  const found = [];
  for (const line of (await readKnown(file)).split("\n")) {
    const [address, given] = line.trim().split(/\s+/);
    const match = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(address ?? "");
    const fingerprint = given === undefined ? undefined : parseFingerprint(given);
    const port = Number(match?.[3]);
    if (!match || fingerprint === undefined || port < 1 || port > 65535) continue;
    found.push({ host: match[1] ?? match[2]!, port, fingerprint });
  }
  return found;
}

/** A PEM certificate from base64 DER, or undefined when it is not base64 of one. */
function derPem(base64: string): string | undefined {
  if (!/^[A-Za-z0-9+/]+=*$/.test(base64)) return undefined;
  const pem = `-----BEGIN CERTIFICATE-----\n${base64.match(/.{1,64}/g)!.join("\n")}\n` +
    "-----END CERTIFICATE-----\n";
  return pemCertificates(pem).length === 1 ? pem : undefined;
}

/**
 * Remembers a server, replacing what was remembered for its address. The
 * file is rewritten whole (a new file renamed over the old), so it is never
 * seen half-written.
 *
 * @param file the known-servers file; its folder is made when missing
 * @param host host name or address
 * @param port port
 * @param fingerprint the SHA-256 fingerprint of its certificate
 * @param certificate the certificate (PEM), kept when its fingerprint is `fingerprint`
 * @throws {Deno.errors.NotCapable} when writing the file is not permitted
 */
export async function rememberServer(
  file: string,
  host: string,
  port: number,
  fingerprint: string,
  certificate?: string,
): Promise<void> {
  const key = serverKey(host, port);
  const lines = (await readKnown(file) || HEADER).split("\n").filter((line) =>
    line.trim().split(/\s+/)[0] !== key
  );
  if (lines.at(-1) === "") lines.pop();
  const pinned = parseFingerprint(fingerprint) ?? fingerprint;
  const der = certificate === undefined ? undefined : pemCertificates(certificate)[0];
  const blob = der && fingerprintOf(der) === pinned ? ` ${btoa(String.fromCharCode(...der))}` : "";
  lines.push(`${key} ${pinned}${blob}`);
  await writeKnown(file, lines.join("\n") + "\n");
}

/**
 * Forgets a server.
 *
 * @param file the known-servers file
 * @param host host name or address
 * @param port port
 * @returns whether it was remembered
 */
export async function forgetServer(file: string, host: string, port: number): Promise<boolean> {
  const key = serverKey(host, port);
  const text = await readKnown(file);
  const lines = text.split("\n");
  const kept = lines.filter((line) => line.trim().split(/\s+/)[0] !== key);
  if (kept.length === lines.length) return false;
  await writeKnown(file, kept.join("\n"));
  return true;
}

/**
 * Whether the file may be read and written without a prompt.
 *
 * @param file the known-servers file
 * @param access `read` or `write`
 */
export function knownServersAllowed(file: string, access: "read" | "write"): boolean {
  const path = access === "read" ? file : dirname(file);
  return Deno.permissions.querySync({ name: access, path }).state === "granted";
}

async function readKnown(file: string): Promise<string> {
  if (!knownServersAllowed(file, "read")) return "";
  try {
    return await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "";
    throw error;
  }
}

async function writeKnown(file: string, text: string): Promise<void> {
  const dir = dirname(file);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const temporary = join(dir, `.known_servers.${crypto.randomUUID()}.tmp`);
  try {
    await Deno.writeTextFile(temporary, text, { createNew: true, mode: 0o600 });
    await Deno.rename(temporary, file);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}
