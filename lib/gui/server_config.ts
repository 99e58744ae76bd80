/**
 * What the server's page remembers between runs, with its defaults: TLS on
 * (the GUI encrypts unless told not to), this computer's name on the
 * network, and announcing on. Never the password.
 *
 * @module
 */

import {
  computerName as announcedComputerName,
  MAX_SERVER_NAME_BYTES,
  SERVER_DEFAULTS,
  validServerName,
} from "../mod.ts";

/** What the page remembers between runs. */
export interface ServerConfig {
  port: number;
  root: string;
  uploads: boolean;
  idleSeconds: number;
  /** Whether to speak TLS; the password is never kept. */
  tls: boolean;
  /** The name the server is announced under. */
  name: string;
  /** Whether to announce the server on the local network. */
  announce: boolean;
}

/** The default port: the original's 365 needs administrator rights on most systems. */
export const DEFAULT_PORT = 3650;
/** The longest name on the network, in UTF-8 bytes: one DNS label. */
export const NAME_MAX = MAX_SERVER_NAME_BYTES;

/**
 * The page's settings from what an earlier run saved, defaults for the rest.
 *
 * @param saved the saved settings
 * @returns the settings
 */
export function serverConfig(saved: Record<string, unknown>): ServerConfig {
  return {
    port: validPort(saved.port) ?? DEFAULT_PORT,
    root: typeof saved.root === "string" ? saved.root : "",
    uploads: typeof saved.uploads === "boolean" ? saved.uploads : true,
    idleSeconds: typeof saved.idleSeconds === "number" && saved.idleSeconds >= 0
      ? saved.idleSeconds
      : SERVER_DEFAULTS.idleTimeoutMs / 1000,
    tls: typeof saved.tls === "boolean" ? saved.tls : true,
    // A saved name is used only as it would be announced: one that checkName refuses is not kept.
    name: typeof saved.name === "string" && !("error" in checkName(saved.name))
      ? saved.name.trim()
      : computerName(),
    announce: typeof saved.announce === "boolean" ? saved.announce : true,
  };
}

/**
 * This computer's name, where privateshare may read it: the host name up to
 * its first dot (`laptop` of `laptop.example.org`), as it is announced (cut
 * to {@link NAME_MAX} bytes, nothing unprintable).
 *
 * @returns the name, or "" when it may not be read
 */
export function computerName(): string {
  return announcedComputerName() ?? "";
}

/**
 * The name field as the server is announced under it, or why it cannot be:
 * a name is announced exactly as the page accepts it, never cut or stripped,
 * so that the name the page shows is the one clients see.
 *
 * @param value the page's field
 * @returns the name (trimmed; "" for none), or an error message
 */
export function checkName(value: unknown): { name: string } | { error: string } {
  const name = typeof value === "string" ? value.trim() : "";
  if (name === "" || validServerName(name)) return { name };
  if (new TextEncoder().encode(name).length > NAME_MAX) {
    return {
      error: `A name on the network is at most ${NAME_MAX} bytes long (letters outside ` +
        "A to Z take two or more): shorten it",
    };
  }
  return {
    error: "A name on the network has no control characters or direction marks: type it again",
  };
}

/**
 * A port from the page: a whole number from 0 to 65535, as a number or text.
 *
 * @param value the field
 * @returns the port, or undefined when it is not one
 */
export function validPort(value: unknown): number | undefined {
  const port = typeof value === "string" && /^\d+$/.test(value.trim()) ? Number(value) : value;
  return typeof port === "number" && Number.isInteger(port) && port >= 0 && port <= 65535
    ? port
    : undefined;
}
