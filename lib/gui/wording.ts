/**
 * The client page's words for each failure the library reports: where the
 * command line names a flag, the page names its own control (a field, the
 * TLS box, a button) and, where there is a fix, offers it as an action the
 * page shows as a button. Every code, kind and refusal reason has an entry,
 * so that a new one cannot reach the page without wording of its own.
 *
 * @module
 */

import type { ClientError, FailureCode, FailureKind, Reason } from "../mod.ts";

/** A fix the page offers as a button. */
export type PageAction = "replace" | "keep-both" | "skip";

/** A failure as the page shows it. */
export interface PageFailure {
  /** One line for a person, naming the page's controls, never a flag. */
  message: string;
  /** The fixes to offer as buttons, in order. */
  actions?: PageAction[];
  /** The TLS box as the fix needs it: the page sets it and the message says so. */
  tls?: boolean;
  /** Whether it is a cancel (neutral, not an error). */
  cancelled?: boolean;
}

/** What the wording depends on besides the error. */
export interface FailureContext {
  /** The operation that failed. */
  op: "put" | "get" | "list";
  /** Whether the thing in the way at the download folder is a folder (no "Keep both" then). */
  folder?: boolean;
}

type Words = (error: ClientError, context: FailureContext) => PageFailure;

const AGAIN = { put: "put it again", get: "get it again", list: "List files again" } as const;

const PERMISSION = {
  read: "reading files",
  write: "writing files",
  net: "network access",
} as const;

/** Words for each failure code; a new code fails type-checking until it has its own. */
const CODES: Record<FailureCode, Words> = {
  permission: (e) => ({
    message: `privateshare has no permission ${e.purpose ?? ""}: start it again with ` +
      `${PERMISSION[e.permission ?? "read"]} allowed`,
  }),
  exists: (e, c) => ({
    message: `${e.message} in the download folder: ${choices(c)}`,
    actions: c.folder ? ["replace", "skip"] : ["replace", "keep-both", "skip"],
  }),
  appeared: (e, c) => ({
    message: `${e.message} (the finished download is kept): ${choices(c)}`,
    actions: c.folder ? ["replace", "skip"] : ["replace", "keep-both", "skip"],
  }),
  "in-the-way": (e) => ({
    message: `${e.message}: move or remove it, or choose another download folder`,
  }),
  "not-privateshare": (e) => ({
    message: `${e.message}: an original privateshare server is reached by the command line ` +
      "program, not by this page",
  }),
  restart: (e) => ({ message: `${e.message}: starting over` }),
  cancelled: cancelledWords,
  "needs-tls": (e, c) => ({
    message: `${e.message}: TLS is now ticked; ${AGAIN[c.op]} (paste the server's ` +
      "fingerprint into Server's fingerprint if it is not trusted yet)",
    tls: true,
  }),
  "not-tls": (e, c) =>
    e.path
      ? { message: `${e.message}: if it no longer uses TLS, remove its line from '${e.path}'` }
      : {
        message: `${e.message}: TLS is now unticked and the fingerprint cleared; ${AGAIN[c.op]}`,
        tls: false,
      },
  // The page asks whether the server shows the code of the certificate it presented.
  untrusted: (e) => ({
    message: `${e.message}: compare the code the server's page shows when asked, or paste ` +
      "the fingerprint it shows into Server's fingerprint",
  }),
  name: (e) => ({
    message: `${e.message}: connect by a name it holds (the server's page shows them), or ` +
      "paste its fingerprint into Server's fingerprint",
  }),
  fingerprint: (e) => ({
    message: `${e.message}: check Server's fingerprint with the server's owner`,
  }),
  "short-code": (e) => ({
    message: `${e.message}: check the code with the server's owner; another server may be ` +
      "answering in its place",
  }),
  declined: (e) => ({ message: e.message, cancelled: true }),
  "server-changed": (e) => ({
    message: `${e.message}. If its owner made a new certificate, check its fingerprint with ` +
      "them and paste the new one into Server's fingerprint",
  }),
  "password-needs-tls": (e) => ({
    message: e.kind === "usage"
      ? `${e.message}: tick TLS, or clear Password`
      : `${e.message}: tick TLS`,
  }),
  "password-needed": (e) => ({ message: `${e.message}: enter it in Password` }),
  "password-wrong": (e) => ({ message: `${e.message}: check Password` }),
};

/** Words for each refusal reason; `undefined`: the server's own sentence says it all. */
const REFUSALS: Record<Reason, Words | undefined> = {
  "bad-request": undefined,
  "invalid-name": (e, c) => ({
    message: c.op === "put"
      ? `${e.message}: rename the file on this computer and put it again`
      : `${e.message}: choose a file or folder from the list`,
  }),
  // Only a put meets this refusal: the server never replaces what it has.
  exists: (e) => ({
    message: `${e.message}: Keep both (put it under a free name) or Skip`,
    actions: ["keep-both", "skip"],
  }),
  "not-found": undefined,
  busy: undefined,
  "read-only": undefined,
  "too-large": undefined,
  "no-space": undefined,
  unauthorized: (e) => ({ message: `${e.message}: check Password` }),
  corrupt: undefined,
  timeout: undefined,
  internal: undefined,
};

/** Words for each kind without a code; `undefined`: the library's sentence stands. */
const KINDS: Record<FailureKind, Words | undefined> = {
  usage: undefined,
  refused: undefined,
  connection: undefined,
  corrupt: undefined,
  local: undefined,
  protocol: undefined,
  aborted: cancelledWords,
  untrusted: undefined,
};

/** Every failure code, kind and refusal reason the page has words for. */
export const WORDED = {
  codes: Object.keys(CODES) as FailureCode[],
  kinds: Object.keys(KINDS) as FailureKind[],
  reasons: Object.keys(REFUSALS) as Reason[],
};

/** The fixes of a name in the way, in words: a folder is replaced whole or skipped. */
function choices(context: FailureContext): string {
  return context.folder ? "Replace it or Skip" : "Replace it, Keep both, or Skip";
}

function cancelledWords(_error: ClientError, context: FailureContext): PageFailure {
  return {
    message: context.op === "list"
      ? "Cancelled"
      : `Cancelled: it resumes where it stopped when you ${context.op} it again`,
    cancelled: true,
  };
}

/**
 * A failure in the page's words: the control to use, and the fixes to offer.
 *
 * @param error the failure
 * @param context the operation, and what is in the way
 * @returns what the page shows
 */
export function pageFailure(error: ClientError, context: FailureContext): PageFailure {
  const words = (error.code && CODES[error.code]) ??
    (error.kind === "refused" && error.reason ? REFUSALS[error.reason] : undefined) ??
    KINDS[error.kind];
  return words ? words(error, context) : { message: error.message };
}
