/**
 * Whom the client is told to trust on its command line: `--ca`,
 * `--fingerprint`, `--code` and a server's link, which must agree where
 * more than one is given; and, at a terminal, the question asked on first
 * contact with a server nothing pins ("Does the server show K7QF-3M2D?").
 *
 * @module
 */

import {
  CertificateError,
  describeCertificate,
  type FirstContact,
  LinkError,
  parseFingerprint,
  parseLink,
  parseShortCode,
  type ServerLink,
  shortCode,
  type TlsTrust,
} from "../client_mod.ts";
import { UsageError } from "./common.ts";

/** What the client's trust flags hold, as parsed. */
export interface TrustValues {
  /** `--tls`. */
  tls?: boolean;
  /** `--ca FILE`. */
  ca?: string;
  /** `--fingerprint FP`. */
  fingerprint?: string;
  /** `--code CODE`. */
  code?: string;
}

/**
 * Reads a server's link given where HOST PORT go.
 *
 * @param text the argument
 * @returns where it points, with the fingerprint it pins for a TLS server
 * @throws {UsageError} with the link's one-line problem
 */
export function readLink(text: string): ServerLink {
  try {
    return parseLink(text);
  } catch (error) {
    if (!(error instanceof LinkError)) throw error;
    throw new UsageError(error.message, false);
  }
}

/**
 * What the flags and the link say to trust: a certificate (`--ca`), a full
 * fingerprint (`--fingerprint` or the link's), or a short code (`--code`).
 * Given together, they must name the same certificate.
 *
 * @param values the parsed flags
 * @param link the link given where HOST PORT go, if one was
 * @returns the trust for TLS, or undefined for plain TCP
 * @throws {UsageError} for a value that is not one, or values that disagree
 */
export async function givenTrust(
  values: TrustValues,
  link?: ServerLink,
): Promise<TlsTrust | undefined> {
  if (values.ca !== undefined && values.fingerprint !== undefined) {
    throw new UsageError("Give --ca or --fingerprint, not both");
  }
  let flagged: string | undefined;
  if (values.fingerprint !== undefined) {
    flagged = parseFingerprint(values.fingerprint);
    if (flagged === undefined) {
      throw new UsageError(
        `Invalid --fingerprint '${values.fingerprint}': give the 64 hex digits the server ` +
          "printed (in pairs, with or without colons)",
      );
    }
  }
  const code = values.code === undefined ? undefined : parseShortCode(values.code);
  if (values.code !== undefined && code === undefined) {
    throw new UsageError(
      `Invalid --code '${values.code}': give the 8 characters the server printed ` +
        "(such as K7QF-3M2D)",
    );
  }
  const ca = values.ca === undefined ? undefined : await readCa(values.ca);
  const pins: [string, string][] = [];
  if (link?.fingerprint !== undefined) pins.push(["the link's", link.fingerprint]);
  if (flagged !== undefined) pins.push(["--fingerprint", flagged]);
  if (ca !== undefined && pins.length > 0) {
    pins.push(["the certificate in --ca", await caFingerprint(values.ca!, ca)]);
  }
  for (const [name, pin] of pins.slice(1)) {
    if (pin !== pins[0]![1]) {
      throw new UsageError(
        `${capital(pins[0]![0])} fingerprint ${pins[0]![1]} and ${name} ${pin} differ: ` +
          "give one of them",
        false,
      );
    }
  }
  const pinned = pins[0]?.[1];
  if (code !== undefined && values.ca !== undefined && pinned === undefined) {
    throw new UsageError("Give --code or --ca, not both: --ca trusts the certificate itself");
  }
  if (code !== undefined && pinned !== undefined && shortCode(pinned) !== code) {
    throw new UsageError(
      `--code ${code} is not the code of ${pins[0]![0]} fingerprint ${pinned} ` +
        `(${shortCode(pinned)}): give one of them`,
      false,
    );
  }
  if (pinned !== undefined) return { fingerprint: pinned };
  if (ca !== undefined) return { ca };
  if (code !== undefined) return { code };
  return values.tls ? {} : undefined;
}

async function readCa(file: string): Promise<string> {
  if (Deno.permissions.querySync({ name: "read", path: file }).state !== "granted") {
    throw new UsageError(
      `Reading '${file}' (--ca) needs --allow-read: run deno with --allow-read`,
      false,
    );
  }
  let ca: string;
  try {
    ca = await Deno.readTextFile(file);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new UsageError(`The certificate '${file}' does not exist: check --ca`, false);
  }
  if (!ca.includes("-----BEGIN CERTIFICATE-----")) {
    throw new UsageError(
      `'${file}' holds no PEM certificate: give --ca the server's cert.pem`,
      false,
    );
  }
  return ca;
}

async function caFingerprint(file: string, ca: string): Promise<string> {
  try {
    return (await describeCertificate(ca)).fingerprint;
  } catch (error) {
    if (!(error instanceof CertificateError)) throw error;
    throw new UsageError(`'${file}' is not a PEM certificate: check --ca`, false);
  }
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * The question asked on first contact with a TLS server that nothing pins,
 * when a person is there to answer it: stdin and stderr are both terminals.
 * The server's code is printed and the person answers whether the server
 * shows it; only `y` or `yes` trusts.
 *
 * @param program the name that starts the client's lines
 * @returns the question, or undefined without a terminal (the server is then refused)
 */
export function terminalConfirm(
  program: string,
): ((server: FirstContact) => Promise<boolean>) | undefined {
  if (!Deno.stdin.isTerminal() || !Deno.stderr.isTerminal()) return undefined;
  return async (server) => {
    const encoder = new TextEncoder();
    // A line typed before the question (a habitual "y" while the client looked the server
    // up) answers nothing: nobody has seen the code yet. Deno cannot flush a terminal's
    // input, so what is already there is read, for a moment, before the question is asked.
    let typedAhead = false;
    const early = readLine().finally(() => typedAhead = true);
    await new Promise((resolve) => setTimeout(resolve, TYPED_AHEAD_MS));
    const ahead = typedAhead;
    Deno.stderr.writeSync(encoder.encode(
      `${program}: ${server.where} is not trusted yet; its certificate's code is ` +
        `${server.code} (SHA-256 ${server.fingerprint})\n` +
        (ahead ? "What was typed before this question is not its answer. " : "") +
        `Does the server show ${server.code}? [y/N] `,
    ));
    const line = ahead ? ((await early) === undefined ? undefined : await readLine()) : await early;
    const answer = line?.trim().toLowerCase();
    return answer === "y" || answer === "yes";
  };
}

/** How long what a terminal holds already is read before the question is asked. */
const TYPED_AHEAD_MS = 150;

/** One line from stdin (at a terminal, what was typed before Enter), or undefined at its end. */
async function readLine(): Promise<string | undefined> {
  const buffer = new Uint8Array(256);
  const decoder = new TextDecoder();
  let typed: string | undefined;
  while (true) {
    const n = await Deno.stdin.read(buffer);
    if (n === null) return typed === undefined ? undefined : typed + decoder.decode();
    const chunk = buffer.subarray(0, n);
    const end = chunk.findIndex((byte) => byte === 0x0a || byte === 0x0d);
    if (end >= 0) return (typed ?? "") + decoder.decode(chunk.subarray(0, end));
    typed = (typed ?? "") + decoder.decode(chunk, { stream: true });
  }
}
