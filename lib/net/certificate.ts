/**
 * The server's own certificate: made once (a WebCrypto ECDSA P-256 key and
 * a self-signed certificate, not a CA, built with `@peculiar/x509`), kept as
 * `cert.pem` and `key.pem` in a folder, the key readable by its owner only,
 * and reused on every later start. Refuses, as sshd refuses a host key, a
 * key that other users may read or change and a folder where they could put
 * their own key. Also reads what a certificate holds: its SHA-256
 * fingerprint and the names it is made out to.
 *
 * @module
 */

// Deferred: node:net costs a process a few tens of milliseconds to start (issue 16).
import defer * as nodeNet from "node:net";
import { join } from "node:path";
import { openKey, openKeyFolder, openTlsFolder } from "./key_modes.ts";
import { fingerprintOf, hasPrivateKey, pemCertificates } from "./tls.ts";
import { userConfigDir } from "./user_config.ts";

/** The files of a certificate and what it holds. */
export interface CertificateInfo {
  /** The certificate, PEM. */
  certFile: string;
  /** The private key, PEM. */
  keyFile: string;
  /** SHA-256 fingerprint of the certificate, `AB:CD:...`. */
  fingerprint: string;
  /** The names (DNS names and addresses) it is made out to. */
  names: string[];
}

/** A certificate in a folder, made now or found there. */
export interface OwnCertificate extends CertificateInfo {
  /** Whether it was made by this call (false: an earlier one was reused). */
  created: boolean;
  /** Names asked for that the reused certificate does not hold. */
  missing: string[];
}

/** A certificate that cannot be made, read, or used. */
export class CertificateError extends Error {
  /**
   * `name` (a name that cannot go in a certificate), `incomplete` (one file
   * of the pair), `invalid`, `exposed` (a key, or the folder it is in, that
   * other users may read or change).
   */
  readonly code: "name" | "incomplete" | "invalid" | "exposed";

  /**
   * Creates a CertificateError.
   *
   * @param code what is wrong
   * @param message one sentence: what is wrong and what to do
   * @param options the cause
   */
  constructor(code: CertificateError["code"], message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CertificateError";
    this.code = code;
  }
}

/** Years a made certificate is valid: it is trusted by fingerprint, not renewed. */
const VALID_YEARS = 10;

/**
 * The default folder for the server's certificate: `tls` in the per-user
 * configuration folder (`~/.config/privateshare/tls` on Linux).
 *
 * @returns the folder, or undefined when the environment cannot be read
 */
export function defaultTlsDir(): string | undefined {
  const base = userConfigDir();
  return base === undefined ? undefined : join(base, "tls");
}

/**
 * This computer's names and addresses for a certificate: `localhost`,
 * loopback, the machine's name (and `NAME.local`), and the address of every
 * network interface (link-local ones aside). Needs `--allow-sys`.
 *
 * @returns the names
 * @throws {Deno.errors.NotCapable} when the system may not be asked
 */
export function machineNames(): string[] {
  const names = ["localhost", "127.0.0.1", "::1"];
  const host = Deno.hostname();
  if (validName(host)) names.push(host);
  if (validName(host) && !host.includes(".")) names.push(`${host}.local`);
  for (const iface of Deno.networkInterfaces()) {
    const linkLocal = /^fe[89ab]/i.test(iface.address) || iface.address.startsWith("169.254.");
    if (!linkLocal) names.push(iface.address);
  }
  return unique(names);
}

/**
 * Whether the names of this computer can be read without a prompt.
 *
 * @returns true when `--allow-sys` (hostname and interfaces) is granted
 */
export function canReadMachineNames(): boolean {
  return ["hostname", "networkInterfaces"].every((kind) =>
    Deno.permissions.querySync({ name: "sys", kind: kind as "hostname" }).state === "granted"
  );
}

/**
 * Whether a name can go in a certificate: an IP address, or a DNS name
 * (labels of letters, digits and hyphens; a leading `*.` for a wildcard).
 *
 * @param name the name
 */
export function validName(name: string): boolean {
  if (nodeNet.isIP(name)) return true;
  if (name.length === 0 || name.length > 253) return false;
  return name.replace(/^\*\./, "").split(".").every((label) =>
    /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label)
  );
}

/**
 * Makes a new key and a self-signed certificate for `names`, in memory.
 *
 * @param names DNS names and IP addresses it is made out to (the first is its common name)
 * @returns certificate and key, PEM
 * @throws {CertificateError} `name` for a name that cannot go in a certificate
 */
export async function createCertificate(names: string[]): Promise<{ cert: string; key: string }> {
  for (const name of names) {
    if (!validName(name)) {
      throw new CertificateError(
        "name",
        `'${name}' cannot go in a certificate: give a DNS name or an IP address`,
      );
    }
  }
  const x509 = await loadX509();
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0]! &= 0x7f;
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: [...serial].map((b) => b.toString(16).padStart(2, "0")).join(""),
    name: `CN=privateshare ${names.find((n) => !nodeNet.isIP(n) && n !== "localhost") ?? "server"}`,
    // An hour early, for clocks that differ a little.
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + VALID_YEARS * 365 * 24 * 3600_000),
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        names.map((name) => ({
          type: nodeNet.isIP(name) ? "ip" as const : "dns" as const,
          value: name,
        })),
      ),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    cert: certificate.toString("pem") + "\n",
    key: x509.PemConverter.encode(pkcs8, "PRIVATE KEY") + "\n",
  };
}

/**
 * Reads what a certificate holds.
 *
 * @param pem the certificate (the first of a chain counts)
 * @returns its fingerprint and names
 * @throws {CertificateError} `invalid` when the text holds no certificate
 */
export async function describeCertificate(
  pem: string,
): Promise<{ fingerprint: string; names: string[] }> {
  const der = pemCertificates(pem)[0];
  if (der === undefined) throw new CertificateError("invalid", "No certificate found");
  const x509 = await loadX509();
  let names: string[] = [];
  try {
    const san = new x509.X509Certificate(der).getExtension(x509.SubjectAlternativeNameExtension);
    names = san?.names.items.filter((n) =>
      n.type === "dns" || n.type === "ip"
    ).map((n) => n.type === "ip" ? canonicalIp(n.value) : n.value) ?? [];
  } catch (error) {
    throw new CertificateError("invalid", `The certificate cannot be read (${error})`, {
      cause: error,
    });
  }
  return { fingerprint: fingerprintOf(der), names };
}

/**
 * Returns the certificate kept in `dir`, making it (key, then certificate)
 * the first time. The key is written readable by its owner only (mode 600)
 * and the folder by its owner only (700). Two servers starting at once make
 * one pair between them. A folder that other users may write to is refused
 * before anything is read from it or written in it (they could have put
 * their own pair there), and so is a key found there that they may read or
 * change (sshd's rule for host keys).
 *
 * @param dir the folder; created when missing
 * @param names the names a new certificate is made out to
 * @returns the certificate, whether it was made now, and asked-for names an old one lacks
 * @throws {CertificateError} `exposed` for a folder or key open to others; `incomplete` when
 *   the folder holds one file of the pair; `invalid` when a file is not PEM
 */
export async function ensureCertificate(dir: string, names: string[]): Promise<OwnCertificate> {
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  const open = await openTlsFolder(dir);
  if (open !== undefined) throw new CertificateError("exposed", open);
  const found = await readPair(certFile, keyFile);
  if (found) {
    await refuseOpenKey(keyFile);
    return { ...found, created: false, missing: missingNames(found.names, names) };
  }
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const made = await createCertificate(unique(names));
  // The key first and the certificate last: a certificate on disk means a
  // complete pair, for a server starting at the same moment.
  const mine = await place(keyFile, made.key, 0o600);
  if (!mine) {
    for (let i = 0; i < 100 && !await exists(certFile); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const theirs = await readPair(certFile, keyFile);
    if (!theirs) throw incomplete(dir, "key.pem", "cert.pem");
    await refuseOpenKey(keyFile);
    return { ...theirs, created: false, missing: missingNames(theirs.names, names) };
  }
  await place(certFile, made.cert, 0o644);
  const info = await describeCertificate(made.cert);
  return { certFile, keyFile, ...info, created: true, missing: [] };
}

/**
 * Refuses a private key given by its user (`--key`) that other users may
 * read or change, or that is in a folder they may write to without the
 * sticky bit (they could put their own key in its place), as sshd refuses
 * such a host key. The folder of a link is checked, and that of its target.
 * Nothing is checked where files have no modes (Windows).
 *
 * @param keyFile the key
 * @throws {CertificateError} `exposed`, with the `chmod` that fixes it
 * @throws {Deno.errors.NotFound} when the key does not exist
 * @throws {Deno.errors.NotCapable} without read permission on a folder to check
 */
export async function checkPrivateKey(keyFile: string): Promise<void> {
  const reason = await openKey(keyFile) ?? await openKeyFolder(keyFile);
  if (reason !== undefined) throw new CertificateError("exposed", reason);
}

async function refuseOpenKey(keyFile: string): Promise<void> {
  const reason = await openKey(keyFile);
  if (reason !== undefined) throw new CertificateError("exposed", reason);
}

async function readPair(certFile: string, keyFile: string): Promise<CertificateInfo | undefined> {
  const [cert, key] = await Promise.all([readIfPresent(certFile), readIfPresent(keyFile)]);
  if (cert === undefined && key === undefined) return undefined;
  const dir = join(certFile, "..");
  if (cert === undefined) throw incomplete(dir, "key.pem", "cert.pem");
  if (key === undefined) throw incomplete(dir, "cert.pem", "key.pem");
  if (!hasPrivateKey(key)) {
    throw new CertificateError("invalid", `'${keyFile}' holds no private key`);
  }
  try {
    return { certFile, keyFile, ...await describeCertificate(cert) };
  } catch (error) {
    if (!(error instanceof CertificateError)) throw error;
    throw new CertificateError("invalid", `'${certFile}': ${error.message}`, { cause: error });
  }
}

function incomplete(dir: string, has: string, lacks: string): CertificateError {
  return new CertificateError(
    "incomplete",
    `The folder '${dir}' holds ${has} but no ${lacks}: remove ${has} to make a new pair`,
  );
}

/** Writes a new file under `path` whole, or not at all; false when one is already there. */
async function place(path: string, text: string, mode: number): Promise<boolean> {
  const temporary = `${path}.${crypto.randomUUID()}.tmp`;
  const file = await Deno.open(temporary, { write: true, createNew: true, mode });
  try {
    await file.write(new TextEncoder().encode(text));
    await file.syncData();
  } finally {
    file.close();
  }
  try {
    if (Deno.build.os !== "windows") await Deno.chmod(temporary, mode);
    await Deno.link(temporary, path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    throw error;
  } finally {
    await Deno.remove(temporary);
  }
}

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  return await readIfPresent(path) !== undefined;
}

function missingNames(held: string[], asked: string[]): string[] {
  const have = new Set(held.map(canonical));
  return asked.filter((name) => !have.has(canonical(name)));
}

function canonical(name: string): string {
  return nodeNet.isIP(name) ? canonicalIp(name) : name.toLowerCase();
}

/** One spelling per address (`::1` for `0:0:0:0:0:0:0:1`). */
function canonicalIp(ip: string): string {
  if (nodeNet.isIP(ip) !== 6) return ip;
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

function unique(names: string[]): string[] {
  const seen = new Set<string>();
  return names.filter((name) => {
    const key = canonical(name);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The certificate library, loaded on first use (it needs reflect-metadata first). */
async function loadX509() {
  await import("reflect-metadata");
  return await import("@peculiar/x509");
}
