/**
 * privateshare's public API without the server: put, get and list, their
 * errors, TLS trust, certificates and known servers. {@link "./mod.ts"}
 * exports all of this and the server besides; the client program imports
 * this module, so that its start-up does not load the server's modules
 * (issue 16: `client.ts … list` as a whole process).
 *
 * @example List a server's files
 * ```ts
 * import { list } from "./client_mod.ts";
 *
 * const files = await list({ host: "localhost", port: 9999 }).catch(() => []);
 * console.log(files.map((f) => f.name));
 * ```
 *
 * @module
 */

export { VERSION } from "./version.ts";
export { CancelError, ProtocolError, type Reason, REASONS } from "./protocol/errors.ts";
export { freeName, nameProblem, RESERVED_PREFIX, validateName } from "./protocol/names.ts";
export type { ListEntry } from "./protocol/ps2.ts";
export { CLIENT_DEFAULTS, get, list, put } from "./client/client.ts";
export type {
  ConnectOptions,
  GetOptions,
  ListOptions,
  PutOptions,
  PutStream,
  RemoteFile,
  TransferOptions,
  TransferResult,
} from "./client/options.ts";
export type { Progress } from "./client/ps2.ts";
export type { Skipped } from "./transfer/tree_walk.ts";
export { FOLDER_LIMITS, type FolderLimits } from "./protocol/paths.ts";
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
  checkPrivateKey,
  createCertificate,
  defaultTlsDir,
  describeCertificate,
  ensureCertificate,
  machineNames,
  type OwnCertificate,
  validName,
} from "./net/certificate.ts";
export {
  defaultKnownServersFile,
  findKnownServer,
  forgetServer,
  type KnownServer,
  lookupKnownServer,
  rememberServer,
  serverKey,
} from "./client/known_servers.ts";
export { type FirstContact, type RememberNote, type SecurityOptions } from "./client/secure.ts";
export { userConfigDir } from "./net/user_config.ts";
export { parseShortCode, SHORT_CODE_BITS, shortCode } from "./net/short_code.ts";
export {
  formatLink,
  isLink,
  LINK_SCHEME,
  LinkError,
  parseLink,
  type ServerLink,
  type ServerLinks,
  serverLinks,
} from "./net/server_link.ts";
export { canReadNetworkAddresses, networkAddresses } from "./net/addresses.ts";
export {
  type FoundServer,
  MAX_SERVER_NAME_BYTES,
  type ServerAd,
  SERVICE_TYPE,
  validServerName,
} from "./net/service_ad.ts";
export { browse, type BrowseOptions, discover, type DiscoverOptions } from "./net/discover.ts";
export { MdnsSocketError, type MdnsSocketFailure } from "./net/mdns_socket.ts";
export {
  type FindFailure,
  findServer,
  FindServerError,
  matchServers,
} from "./client/find_server.ts";
