/**
 * The client's side of the original privateshare format ("classic"), for
 * talking to an original server: no size, no checksum, no resume.
 *
 * @module
 */

import { CancelError, ProtocolError } from "../protocol/errors.ts";
import { decodeClassicList } from "../protocol/classic.ts";
import { looksLikeTls } from "../net/tls.ts";
import type { Wire } from "../net/wire.ts";
import { finishClassicPut, readClassicCode, sendClassicCommand } from "../exchange/classic.ts";
import {
  type BodySink,
  type BodySource,
  newHash,
  receiveBody,
  sendBody,
} from "../transfer/body.ts";
import { ClientError } from "./errors.ts";
import type { Moved, StepOptions } from "./ps2.ts";
import { clientRate } from "../exchange/budget.ts";

/** The longest classic listing the client accepts. */
const MAX_CLASSIC_LIST = 64 * 1024 * 1024;

/**
 * Sends a file to an original server.
 *
 * @param wire the connection
 * @param source the local data
 * @param name the name on the server
 * @param size bytes
 * @param options where, pool, progress
 * @returns what was moved
 */
export async function putClassic(
  wire: Wire,
  source: BodySource,
  name: string,
  size: number,
  options: StepOptions,
): Promise<Moved> {
  await sendClassicCommand(wire, "put", name);
  if (await codeWithin(wire, options) === "cancel") {
    throw new CancelError(
      "exists",
      `The server refused to store '${name}': the name is taken, invalid, or uploads are off`,
    );
  }
  const progress = options.onProgress;
  await sendBody(source, wire, size, {
    pool: options.pool,
    hash: newHash(),
    onProgress: progress && ((n) => progress({ done: n, total: size, resumedFrom: 0 })),
  });
  // The server only has to close: that must come within one answer's time.
  wire.setBudget(options.timeoutMs ?? 0);
  await finishClassicPut(wire);
  return { size, resumedFrom: 0 };
}

/**
 * Receives a file from an original server, until it closes.
 *
 * @param wire the connection
 * @param file where the bytes go
 * @param name the name on the server
 * @param options where, pool, progress
 * @returns what was moved
 */
export async function getClassic(
  wire: Wire,
  file: BodySink,
  name: string,
  options: StepOptions,
): Promise<Moved> {
  await sendClassicCommand(wire, "get", name);
  if (await codeWithin(wire, options) === "cancel") {
    throw new CancelError("not-found", `The server has no file named '${name}'`);
  }
  const progress = options.onProgress;
  const size = await clientRate(wire, options.timeoutMs, () =>
    receiveBody(wire, file, undefined, {
      pool: options.pool,
      hash: newHash(),
      onProgress: progress && ((n) => progress({ done: n, resumedFrom: 0 })),
    }));
  return { size, resumedFrom: 0 };
}

/**
 * Lists an original server's files, by name. The whole listing must arrive
 * within the time budget of one answer, however slowly it trickles in.
 *
 * @param wire the connection
 * @param options the time budget
 * @returns the names
 */
export async function listClassic(wire: Wire, options: StepOptions): Promise<string[]> {
  await sendClassicCommand(wire, "list", "");
  wire.setBudget(options.timeoutMs ?? 0);
  try {
    return checkListing(await wire.readToEnd(MAX_CLASSIC_LIST), options.where);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    throw new ClientError(
      "protocol",
      `The listing from ${options.where} is longer than ${MAX_CLASSIC_LIST / 1024 / 1024} MiB, ` +
        "the most the client accepts",
      { cause: error },
    );
  }
}

/** Reads a classic code within the time budget of one answer. */
async function codeWithin(wire: Wire, options: StepOptions): Promise<"pass" | "cancel"> {
  wire.setBudget(options.timeoutMs ?? 0);
  try {
    return await readClassicCode(wire);
  } finally {
    wire.setBudget(0);
  }
}

/**
 * The names of a classic listing, or the protocol error of a reply that is
 * not one: every name followed by `", "`, in UTF-8, without a NUL or a
 * slash, which no file name holds (a TLS alert or another program's bytes
 * are not a listing). Other control characters can be in a name: they are
 * escaped when shown.
 */
function checkListing(bytes: Uint8Array, where: string): string[] {
  if (looksLikeTls(bytes)) {
    throw new ClientError("protocol", `The server at ${where} speaks TLS`, { code: "needs-tls" });
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    text = "\0";
  }
  const names = decodeClassicList(bytes);
  // deno-lint-ignore no-control-regex
  const bad = /[\x00/]/;
  if ((text.length > 0 && !text.endsWith(", ")) || names.some((name) => bad.test(name))) {
    throw new ClientError(
      "protocol",
      `The server at ${where} did not answer with a classic listing`,
    );
  }
  return names;
}
