/**
 * What the server's page remembers between runs, with its defaults: TLS on
 * (the GUI encrypts unless told not to), this computer's name on the
 * network, and announcing on. Never the password.
 *
 * @module
 */

import { SERVER_DEFAULTS } from "../mod.ts";
import { granted } from "./system.ts";

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
/** The longest name on the network: one DNS label. */
export const NAME_MAX = 63;

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
    name: typeof saved.name === "string" ? saved.name.slice(0, NAME_MAX) : computerName(),
    announce: typeof saved.announce === "boolean" ? saved.announce : true,
  };
}

/**
 * This computer's name, where privateshare may read it: the host name up to
 * its first dot (`laptop` of `laptop.example.org`).
 *
 * @returns the name, or "" when it may not be read
 */
export function computerName(): string {
  if (!granted({ name: "sys", kind: "hostname" })) return "";
  return Deno.hostname().split(".")[0]!.slice(0, NAME_MAX);
}

/**
 * The name field as the server is announced under it, or why it cannot be.
 *
 * @param value the page's field
 * @returns the name (trimmed; "" for none), or an error message
 */
export function checkName(value: unknown): { name: string } | { error: string } {
  const name = typeof value === "string" ? value.trim() : "";
  if (name.length > NAME_MAX) {
    return { error: `A name on the network is at most ${NAME_MAX} characters long` };
  }
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) {
    return { error: "A name on the network has no control characters" };
  }
  return { name };
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
