/**
 * The server's web page on the command line: `--web` and `--web-port`, the
 * page's options, the start lines with its addresses and the QR code to
 * scan, and the wording of a web port that cannot be used.
 *
 * @module
 */

import {
  canReadNetworkAddresses,
  computerName,
  FALLBACK_SERVER_NAME,
  type ListenError,
  networkAddresses,
  type Server,
  shortCode,
  validName,
} from "../mod.ts";
import { UsageError } from "./common.ts";
import type { StartLine } from "./security.ts";

/** The web page's flags, for parseArgs. */
export const WEB_FLAGS = {
  web: { type: "boolean" },
  "web-port": { type: "string" },
} as const;

/** The server's help on the web page's flags. */
export const WEB_HELP = `
The web page for phones and any browser (see README, "From a phone or any browser"):
  --web                    serve the folder as a web page too, on PORT + 1 (any free port
                           when PORT is 0); the server prints its address and a QR code
  --web-port N             the web page's port (implies --web; 0 for any free one)
`;

type WebValues = { web?: boolean; "web-port"?: string };

/** What the command line asks of the web page (the library's WebOptions, and the page's name). */
export interface CliWebOptions {
  /** The page's port; 0 for any free one. */
  port: number;
  /** The address to listen on, as the privateshare port's. */
  host?: string;
  /** The computer's own names, which a browser may use in the address. */
  names: string[];
  /** The server's name, shown on the page. */
  name: string;
}

/**
 * The web page's options from the flags, or undefined without `--web` and
 * `--web-port`. Never prompts: the computer's names are used only where
 * `--allow-sys=hostname` is granted.
 *
 * @param values the parsed flags
 * @param port the privateshare port
 * @param host the address given with `--host`
 * @param name the name given with `--name`
 * @returns the options, or undefined
 * @throws {UsageError} for a port that is not a number, or the privateshare port itself
 */
export function webOptions(
  values: WebValues,
  port: number,
  host: string | undefined,
  name: string | undefined,
): CliWebOptions | undefined {
  const given = values["web-port"];
  if (!values.web && given === undefined) return undefined;
  let webPort: number;
  if (given !== undefined) {
    webPort = Number(given);
    if (!/^\d+$/.test(given) || webPort > 65535) {
      throw new UsageError(`Invalid --web-port '${given}': give a whole number from 0 to 65535`);
    }
    if (webPort !== 0 && webPort === port) {
      throw new UsageError(
        `--web-port ${given} is the privateshare port: give another, or 0 for any free one`,
      );
    }
  } else if (port === 65535) {
    throw new UsageError("--web serves on PORT + 1, past the last port: give --web-port N");
  } else webPort = port === 0 ? 0 : port + 1;
  return {
    port: webPort,
    ...(host !== undefined ? { host } : {}),
    names: ownNames(),
    name: name ?? computerName() ?? FALLBACK_SERVER_NAME,
  };
}

/** This computer's name and its `.local` name, when they may be read. */
function ownNames(): string[] {
  if (Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state !== "granted") return [];
  const host = Deno.hostname().toLowerCase();
  const first = host.split(".")[0] ?? "";
  return [...new Set([host, `${first}.local`])].filter((name) => name !== "" && validName(name));
}

/**
 * The one line for a web port that cannot be used, naming `--web-port`; for
 * any other failure, undefined (it is the privateshare port's).
 *
 * @param error what listening failed with
 * @param web the web page's options
 * @param given whether `--web-port` was given (else the port is PORT + 1)
 * @returns the error to report, or undefined
 */
export function webListenFailure(
  error: ListenError,
  web: CliWebOptions | undefined,
  given: boolean,
): UsageError | undefined {
  // The privateshare port is listened on first; a failure on the web port names that port.
  if (web === undefined || !error.message.startsWith(`Port ${web.port} `)) return undefined;
  const which = given ? "" : " (PORT + 1)";
  if (error.code === "in-use") {
    return new UsageError(
      `Port ${web.port} for the web page${which} is already in use: choose another ` +
        "--web-port (0 for any free one), or stop the program using it",
      false,
    );
  }
  if (error.code === "privileged") {
    return new UsageError(
      `Port ${web.port} for the web page${which} needs administrator rights here: choose a ` +
        "--web-port above 1023",
      false,
    );
  }
  return undefined;
}

/**
 * The lines about a running web page: its address at each of this
 * computer's addresses, the QR code of the first one that another device
 * can reach, and what a person should know (HTTPS and its code, the
 * password, plain HTTP on a shared network). The token is in the addresses:
 * these lines go to the terminal (or the log) only.
 *
 * @param server the running server, with its page
 * @param fingerprint the certificate's fingerprint, on a TLS server
 * @param password whether the server has a password
 * @param format the log's format: text draws the QR code in the message, JSON gives its rows
 * @returns the lines
 */
export async function webLines(
  server: Server,
  fingerprint: string | undefined,
  password: boolean,
  format: "text" | "json",
): Promise<StartLine[]> {
  const web = server.web;
  if (!web) return [];
  const listening = web.addr.hostname;
  const all = listening === "::" || listening === "0.0.0.0";
  const readable = canReadNetworkAddresses();
  const found = all && readable
    ? networkAddresses().filter((a) => listening === "::" || !a.includes(":"))
    : [];
  const hosts = !all ? [listening] : found.length > 0 ? found : ["localhost"];
  const urls = hosts.map((host) => web.url(host));
  const lines: StartLine[] = urls.map((url) => ({
    event: "web-page",
    message: `Web page: ${url}`,
    fields: { url },
  }));
  if (all && !readable) {
    lines.push({
      event: "web-pages",
      message: "Addresses of the web page for phones and other computers need this computer's " +
        "addresses: run deno with --allow-sys=networkInterfaces",
      fields: { localOnly: true },
    });
  }
  lines.push(
    password
      ? {
        event: "web-access",
        message: "The web page asks for the password; its address carries no key",
        fields: { password: true },
      }
      : {
        event: "web-access",
        message: "The web page's address is its key: share it only with people who may use " +
          "this folder (a restart makes a new one and signs every browser out)",
        fields: { password: false },
      },
  );
  if (fingerprint !== undefined) {
    const code = shortCode(fingerprint);
    lines.push({
      event: "web-tls",
      message: "HTTPS: the browser warns once, since the certificate is this server's own; " +
        `go on when the page shows the code ${code}`,
      fields: { code },
    });
  } else {
    lines.push({
      event: "web-no-tls",
      message: "Plain HTTP: on a shared network others could read the files and names that " +
        "pass; start with --tls for HTTPS",
      fields: { tls: false },
    });
  }
  const first = urls[0]!;
  const { qrText } = await import("../gui/qr.ts");
  // This computer's own address (no --allow-sys, or --host 127.0.0.1): a phone would open its own.
  const own = /^(localhost|127\.[\d.]+|\[::1\])$/.exec(new URL(first).hostname)?.[0];
  const scan = own
    ? `Open the address in a browser on this computer (a phone cannot reach ${own})`
    : "Scan with a phone's camera, or open the address in a browser";
  if (format === "json") {
    lines.push({
      event: "web-qr",
      message: scan,
      fields: { url: first, qr: qrText(first, false) },
    });
  } else {
    const drawn = qrText(first, Deno.stdout.isTerminal());
    lines.push({ event: "web-qr", message: `${scan}:\n${drawn}`, fields: { url: first } });
  }
  return lines;
}
