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

export { VERSION } from "./version.ts";
export { CancelError, ProtocolError, type Reason, REASONS } from "./protocol/errors.ts";
export { nameProblem, RESERVED_PREFIX, validateName } from "./protocol/names.ts";
export type { ListEntry } from "./protocol/ps2.ts";
export { FOLDER_LIMITS, type FolderLimits } from "./protocol/paths.ts";
export { ListenError, type ListenFailure } from "./net/socket.ts";
export {
  checkRoot,
  RootError,
  Server,
  SERVER_DEFAULTS,
  type ServerOptions,
  startServer,
} from "./server/server.ts";
export {
  type RequestRecord,
  type ServerEvent,
  ServerEvents,
  type ServerListener,
} from "./server/events.ts";
export { type EventLogLine, type LogFormat, Logger, type RequestLogLine } from "./server/log.ts";
export { READ_ONLY_MESSAGE } from "./server/store.ts";
export { listServedFolder } from "./server/served_folder.ts";
export {
  CLIENT_DEFAULTS,
  type ConnectOptions,
  get,
  type GetOptions,
  list,
  type ListOptions,
  put,
  type PutOptions,
  type PutStream,
  type RemoteFile,
  type TransferOptions,
  type TransferResult,
} from "./client/client.ts";
export type { Progress } from "./client/ps2.ts";
export type { Skipped } from "./transfer/tree_walk.ts";
export { cancelled, ClientError, type FailureCode, type FailureKind } from "./client/errors.ts";
export { printable } from "./protocol/printable.ts";
export {
  parseFingerprint,
  TlsError,
  type TlsFailure,
  type TlsServerKeys,
  type TlsTrust,
} from "./net/tls.ts";
export {
  canReadMachineNames,
  CertificateError,
  type CertificateInfo,
  createCertificate,
  defaultTlsDir,
  describeCertificate,
  ensureCertificate,
  keyReadableByOthers,
  machineNames,
  type OwnCertificate,
  validName,
} from "./net/certificate.ts";
export { SecurityError, type ServerSecurityOptions, type TlsFiles } from "./server/security.ts";
export { AUTH_LIMITS, type AuthLimits, type GuardEvent } from "./server/guard.ts";
export {
  defaultKnownServersFile,
  findKnownServer,
  forgetServer,
  type KnownServer,
  lookupKnownServer,
  rememberServer,
  serverKey,
} from "./client/known_servers.ts";
export { type RememberNote, type SecurityOptions } from "./client/secure.ts";
export { userConfigDir } from "./net/user_config.ts";
