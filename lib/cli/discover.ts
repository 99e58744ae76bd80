/**
 * Finding servers on the command line: `discover` (a table, or `--json`),
 * and a server's name where HOST PORT go. Says in one line what commonly
 * stands in the way when nothing answers, and that an address always works.
 *
 * @module
 */

import {
  discover,
  findServer,
  FindServerError,
  type FoundServer,
  MdnsSocketError,
  printable,
} from "../client_mod.ts";
import { compiledName, EXIT, fail, parseSeconds, UsageError } from "./common.ts";

/** The client's help on finding servers. */
export const DISCOVER_HELP =
  `Finding servers: discover lists the servers on this network that answer within
2 s (--timeout SECONDS to wait longer; --json for programs). A server's name, as
discover shows it, may stand where HOST PORT go: laptop list, laptop get NAME.
Two servers of one name are refused with both listed: give an address instead.
`;

/** What the client's lines start with, as every other line of the client does. */
const PREFIX = "privateshare";

/** How long `discover` and a name look, by default. */
export const DISCOVER_MS = 2000;

/**
 * The one line printed when no server answered.
 *
 * @param program the program's name for the example
 * @returns the line
 */
export function nothingFoundLine(program: string): string {
  return `No privateshare server answered on this network. ${causes(program)}`;
}

/** What commonly stands in the way, and that an address always works. */
function causes(program: string): string {
  return "Common causes: the server is on " +
    "another network or VLAN, the Wi-Fi keeps its clients apart, or a firewall blocks " +
    "multicast DNS (UDP 5353; Windows asks to allow the program on Private networks). " +
    `An address always works: ${program} HOST PORT list`;
}

/**
 * What stopped the client from looking, and what to do: without a default route only the
 * list of interfaces (a permission the compiled client does not ask for) names a network.
 */
function socketFailure(error: MdnsSocketError, program: string): string {
  if (error.code !== "no-route") return error.message;
  const allow = compiledName() === undefined
    ? "run the client with --allow-sys=networkInterfaces to look on each network, or give "
    : "give ";
  return `this computer has no default route, so no network to look on: ${allow}the ` +
    `server's address: ${program} HOST PORT list`;
}

/**
 * Runs `discover`: prints the servers found, or the one line and exits 9.
 *
 * @param values the parsed flags: `--json` and `--timeout`, and no other
 * @param signal stops the search
 * @param toJson writes JSON that is safe on a terminal
 * @returns the exit code
 */
export async function runDiscover(
  values: Record<string, unknown>,
  signal: AbortSignal,
  toJson: (value: unknown) => string,
): Promise<number> {
  for (const flag of Object.keys(values)) {
    if (flag !== "json" && flag !== "timeout") {
      throw new UsageError(`--${flag} goes with put, get or list, not with discover`);
    }
  }
  const program = compiledName() ?? "client.ts";
  const timeout = values.timeout as string | undefined;
  let servers: FoundServer[];
  try {
    servers = await discover({
      timeoutMs: parseSeconds("--timeout", timeout, DISCOVER_MS),
      signal,
    });
  } catch (error) {
    if (!(error instanceof MdnsSocketError)) throw error;
    fail(PREFIX, `Cannot look for servers: ${socketFailure(error, program)}`, EXIT.connection);
  }
  if (values.json) {
    console.log(toJson(servers));
    return servers.length === 0 ? EXIT.notFound : EXIT.ok;
  }
  if (servers.length === 0) fail(PREFIX, nothingFoundLine(program), EXIT.notFound);
  for (const line of serverLines(servers)) console.log(line);
  return EXIT.ok;
}

/** The words before the options: a server (HOST PORT, or a name), an operation, its items. */
export interface Target {
  /** HOST, or a server's name. */
  name: string;
  /** PORT, unless a name was given. */
  portText: string | undefined;
  /** Whether `name` is a server's name to look up. */
  byName: boolean;
  /** The operation word. */
  op: string | undefined;
  /** The rest. */
  items: string[];
}

/**
 * Splits the words: a second word that is not a port number makes the first
 * a server's name (`laptop list`). A link (`privateshare://...`) is not a name.
 *
 * @param positionals the words
 * @returns the parts
 * @throws {UsageError} when HOST is missing, or an address lacks its port
 */
export function splitTarget(positionals: string[]): Target {
  const [name, second] = positionals;
  if (name === undefined) throw new UsageError("Missing HOST: give the server's address");
  const byName = second !== undefined && !/^\d+$/.test(second) && !name.includes("://");
  if (byName && (/^[\d.]+$/.test(name) || name.includes(":"))) {
    throw new UsageError(`Missing PORT after '${name}': give HOST PORT, or a name discover shows`);
  }
  const [op, ...items] = positionals.slice(byName ? 1 : 2);
  return { name, portText: byName ? undefined : second, byName, op, items };
}

/**
 * One line per server: name (and instance label where another server has
 * that name or label),
 * addresses and port, TLS and its code, password, uploads.
 *
 * @param servers the servers found
 * @returns the lines, every network-given text escaped
 */
export function serverLines(servers: FoundServer[]): string[] {
  const fold = (text: string) => text.toLowerCase();
  return servers.map((s, i) => {
    // Its label is shown where a name would not tell it apart: another's name or label.
    const twin = servers.some((o, j) =>
      j !== i && (fold(o.name) === fold(s.name) || fold(o.instance) === fold(s.name) ||
        fold(o.name) === fold(s.instance))
    );
    const name = printable(s.name) + (twin ? ` [${printable(s.instance)}]` : "");
    const where = s.addresses.length > 0
      ? s.addresses.map((a) => `${a}:${s.port}`).join(", ")
      : `(no address) port ${s.port}`;
    const tls = s.tls ? `TLS, code ${s.code}` : "no TLS";
    return [
      name,
      where,
      tls,
      s.password ? "password" : "no password",
      s.uploads ? "uploads" : "read-only",
    ].join("  ");
  });
}

/**
 * The server a name stands for, or a one-line refusal: exit 2 listing the
 * candidates when the name is ambiguous, exit 9 when none answers.
 *
 * @param name the name given where HOST goes
 * @param program the program's name
 * @param signal stops the search
 * @returns the server
 */
export async function serverByName(
  name: string,
  program: string,
  signal: AbortSignal,
): Promise<FoundServer> {
  try {
    return await findServer(name, { timeoutMs: DISCOVER_MS, signal });
  } catch (error) {
    if (error instanceof MdnsSocketError) {
      const program = compiledName() ?? "client.ts";
      fail(
        PREFIX,
        `Cannot look for '${printable(name)}': ${socketFailure(error, program)}`,
        EXIT.connection,
      );
    }
    if (!(error instanceof FindServerError)) throw error;
    if (error.code === "ambiguous") {
      throw new UsageError(
        `${error.candidates.length} servers are named '${printable(name)}': give one's ` +
          `address and port instead: ${serverLines(error.candidates).join("; ")}`,
        false,
      );
    }
    if (error.code === "no-address") {
      fail(
        PREFIX,
        `The server '${printable(name)}' announced no address: give its address and port instead`,
        EXIT.notFound,
      );
    }
    fail(
      PREFIX,
      `No server named '${printable(name)}' answered on this network. ${causes(program)}`,
      EXIT.notFound,
    );
  }
}
