/**
 * What the server's page remembers between runs, with its defaults: TLS on
 * (the GUI encrypts unless told not to), this computer's name on the
 * network, announcing on, and the web page for phones and browsers on.
 * Never the password. And how a start that fails points at a field.
 *
 * @module
 */

import {
  computerName as announcedComputerName,
  ListenError,
  MAX_SERVER_NAME_BYTES,
  RootError,
  SecurityError,
  SERVER_DEFAULTS,
  validServerName,
} from "../mod.ts";
import { json } from "./web.ts";

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
  /** Whether to serve the folder as a web page too, for phones and browsers. */
  web: boolean;
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
    web: typeof saved.web === "boolean" ? saved.web : true,
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

/**
 * A refusal of one of the page's fields, which the page points at.
 *
 * @param field the field's id
 * @param error what is wrong with it and what to do
 * @returns the API's answer
 */
export function invalid(field: string, error: string): Response {
  return json({ error, field }, 400);
}

/**
 * The page's field a start error is about, if one is.
 *
 * @param error why the server could not start
 * @returns the field's id, or undefined when no field is to blame
 */
export function fieldOf(error: RootError | ListenError | SecurityError): string | undefined {
  if (error instanceof RootError) return "root";
  if (error instanceof ListenError) return error.code === "tls" ? undefined : "port";
  return error.code === "certificate" ? undefined : "password";
}
