/**
 * privateshare's public API: start a server, and put, get and list files on
 * one. The command-line programs and the GUI are built on exactly this.
 *
 * @example Serve a folder and fetch a file from it
 * ```ts
 * import { get, startServer } from "./mod.ts";
 *
 * await using server = startServer({ root: ".", port: 0, readOnly: true });
 * const result = await get("README.md", {
 *   host: "localhost",
 *   port: server.addr.port,
 *   output: await Deno.makeTempDir(),
 * });
 * console.log(result.sha256);
 * ```
 *
 * @module
 */

// Everything a client needs, as the client program loads it (without the server's modules).
export * from "./client_mod.ts";
export { ListenError, type ListenFailure } from "./net/socket.ts";
// Finding and trusting servers, as the GUI shows them.
export { knownServers } from "./client/known_servers.ts";
export { reachable } from "./net/probe.ts";
export { peekFingerprint } from "./net/socket.ts";
export { parseShortCode, SHORT_CODE_BITS, shortCode } from "./net/short_code.ts";
export {
  formatLink,
  isLink,
  LINK_SCHEME,
  LinkError,
  parseLink,
  type ServerLink,
} from "./net/server_link.ts";
export {
  checkRoot,
  RootError,
  Server,
  SERVER_DEFAULTS,
  type ServerOptions,
  startServer,
} from "./server/server.ts";
export { type WebOptions, WebServer } from "./server/web_server.ts";
export {
  type RequestRecord,
  type ServerEvent,
  ServerEvents,
  type ServerListener,
} from "./server/events.ts";
export { type EventLogLine, type LogFormat, Logger, type RequestLogLine } from "./server/log.ts";
export { READ_ONLY_MESSAGE } from "./server/store.ts";
export { listServedFolder } from "./server/served_folder.ts";
export { SecurityError, type ServerSecurityOptions, type TlsFiles } from "./server/security.ts";
export { AUTH_LIMITS, type AuthLimits, type GuardEvent } from "./server/guard.ts";
export { announce, type Announcement, type AnnounceOptions } from "./net/announce.ts";
export {
  type AnnounceNote,
  announceServer,
  type AnnounceServerOptions,
  computerName,
  FALLBACK_SERVER_NAME,
  type ServerAnnouncement,
} from "./server/announce_server.ts";
