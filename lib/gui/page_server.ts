/**
 * What a client page's request names, checked: the server with the TLS and
 * password fields as library options, and a local folder to put whole.
 *
 * @module
 */

import { isAbsolute, join } from "node:path";
import { freeName, printable, type RememberNote, type SecurityOptions } from "../mod.ts";
import { takenIn } from "./folders.ts";
import { serverOf } from "./requests.ts";
import { clientSecurity } from "./tls.ts";

/** The server a request went to, and whether it carried a password. */
export type Target = { host: string; port: number; password: boolean };

/** A request's server, its security options, and its target. */
export interface PageServer {
  server: { host: string; port: number };
  security: SecurityOptions;
  target: Target;
}

/**
 * The server a page's request names, with its TLS and password fields.
 *
 * @param host the address field
 * @param port the port field
 * @param field reads `tls`, `fingerprint` and `password`
 * @param log where to say what the known-servers file now remembers differently
 * @returns the server, or the one-line reason the fields are wrong
 */
export function pageServer(
  host: unknown,
  port: unknown,
  field: (key: string) => unknown,
  log?: (line: string, level: "info" | "error") => void,
): PageServer | string {
  const server = serverOf(host, port);
  if (typeof server === "string") return server;
  const security = clientSecurity(field);
  if (typeof security === "string") return security;
  if (log) security.onRemember = (note) => rememberLine(note, log);
  return { server, security, target: { ...server, password: security.password !== undefined } };
}

/**
 * Says what the known-servers file now remembers differently: a certificate
 * that replaced another (a fingerprint or link given for a remembered
 * address), or one that could not be remembered. A server remembered the
 * first time is said by the page's Trust.
 */
function rememberLine(note: RememberNote, log: (line: string, level: "info" | "error") => void) {
  if (note.failure !== undefined) {
    log(printable(`Could not remember the server at ${note.where}: ${note.failure}`), "error");
  } else if (note.previous !== undefined) {
    log(
      printable(
        `The certificate remembered for ${note.where} was replaced by the one given: ` +
          `it was ${note.previous}, it is now ${note.fingerprint}`,
      ),
      "info",
    );
  }
}

/**
 * A local folder the page asks to put whole: a whole path to a folder.
 *
 * @param path the page's field
 * @returns the path, or why it cannot be put
 */
export async function folderToPut(path: unknown): Promise<{ path: string } | string> {
  if (typeof path !== "string" || path.trim() === "") return "Choose the folder to put";
  if (!isAbsolute(path)) {
    return `Give the whole path of the folder to put, not '${printable(path)}'`;
  }
  try {
    if ((await Deno.stat(path)).isDirectory) return { path };
    return `'${printable(path)}' is not a folder: choose a folder to put`;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return `The folder '${printable(path)}' does not exist: choose another`;
    }
    if (
      error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable
    ) {
      return `Cannot read '${printable(path)}': choose a folder privateshare may read`;
    }
    throw error;
  }
}

/**
 * Where a get saves: the folder, or with Keep both a free name in it (the
 * first of the form `name (2).ext` the folder does not hold).
 *
 * @param folder the folder to save into, checked
 * @param name the path on the server
 * @param keep whether to keep both
 * @returns the get's `output`
 */
export async function getOutput(folder: string, name: string, keep: boolean): Promise<string> {
  if (!keep) return folder;
  return join(
    folder,
    await freeName(name.replace(/\/+$/, "").split("/").pop() ?? name, takenIn(folder)),
  );
}
