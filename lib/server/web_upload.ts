/**
 * Uploads from the web page (docs/PROTOCOL.md "Uploads"): resumable,
 * checked end to end by SHA-256, never replacing a file. A file is a PS/2
 * put of the store in four requests: begin (what the server holds of it),
 * restart, the bytes (streamed to the hidden file in bounded memory, hashed
 * as they land), and commit (all bytes and the page's digest, or nothing
 * appears). Folders are made one at a time.
 *
 * @module
 */

import { CancelError } from "../protocol/errors.ts";
import { freeName } from "../protocol/names.ts";
import { lastName, parentPath } from "../protocol/paths.ts";
import { newHash } from "../transfer/body.ts";
import { toCancel } from "./handler.ts";
import { WEB_HEADERS } from "./web_page.ts";
import type { WebRequest, WebRoute } from "./web_route.ts";
import { readSmallBody } from "./web_body.ts";
import { CANCELLED, type HeldUpload, UploadTable } from "./web_upload_table.ts";

export { UploadTable };

/** Most bytes of a JSON request body. */
const MAX_JSON_BYTES = 16 * 1024;
/** A `PUT`'s body is read into two buffers of this size an upload (bench/RESULTS.md, "Web page"). */
const BODY_BUFFER = 1024 * 1024;

/** A JSON answer that is never cached. */
function json(value: unknown, status = 200): Response {
  return Response.json(value, { status, headers: { ...WEB_HEADERS, "cache-control": "no-store" } });
}

/**
 * A refusal that carries how much of the file the server holds: a `PUT` at
 * another offset, a commit before every byte arrived.
 */
function offsetRefusal(web: WebRequest, held: HeldUpload, message: string): Response {
  web.record.outcome = "cancel";
  web.record.reason = "bad-request";
  web.record.message = message;
  return json({ code: "bad-request", error: message, offset: held.held }, 409);
}

/**
 * Reads a small JSON object from a request body: at most
 * {@link MAX_JSON_BYTES}, within the data deadline.
 */
async function readJson(web: WebRequest): Promise<Record<string, unknown>> {
  const bytes = await readSmallBody(web, MAX_JSON_BYTES, {
    large: () => new CancelError("too-large", "The request is too large"),
    late: () => new CancelError("timeout", "The request's body did not arrive in time"),
  });
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new CancelError("bad-request", "The request's body is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CancelError("bad-request", "The request's body is not a JSON object");
  }
  return value as Record<string, unknown>;
}

/** The path of a request body, checked by the store later: a string at least. */
function pathOf(body: Record<string, unknown>): string {
  if (typeof body.path !== "string") throw new CancelError("bad-request", "Say which path");
  return body.path;
}

/** Whether a request body asks for "Keep both"; anything else but nothing is refused. */
function keepsBoth(body: Record<string, unknown>): boolean {
  if (body.onExists === undefined || body.onExists === "keep-both") {
    return body.onExists === "keep-both";
  }
  throw new CancelError("bad-request", 'onExists is "keep-both" or absent');
}

/**
 * Receives a `PUT`'s body into an upload's hidden file: each chunk is read
 * into a buffer of the upload's own (a BYOB read: what has arrived, up to
 * {@link BODY_BUFFER}), written while the next arrives, and hashed once it is on disk, so that
 * what the file holds and its digest never part. Bytes past the size are
 * refused, a body that stalls for the data deadline is cut; what arrived
 * before either is kept.
 */
async function receive(web: WebRequest, held: HeldUpload, cut: AbortSignal): Promise<Response> {
  const room = held.size - held.held;
  const declared = web.request.headers.get("content-length");
  if (declared !== null && Number(declared) > room) {
    throw new CancelError("too-large", `The body is larger than the ${room} bytes still to come`);
  }
  const file = held.upload.file;
  await file.seek(held.held, Deno.SeekMode.Start);
  const reader = bodyReader(web.request.body);
  // A read takes its buffer and gives it back in its answer; a landed chunk's buffer is free again.
  const free: ArrayBuffer[] = [];
  let ending: "stalled" | "over" | "cut" | "cancelled" | "left" | undefined;
  const stop = (why: typeof ending) => {
    ending ??= why;
    reader?.cancel().catch(() => {});
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    if (web.dataTimeoutMs > 0) timer = setTimeout(() => stop("stalled"), web.dataTimeoutMs);
  };
  const signal = AbortSignal.any([web.signal, cut]);
  const onAbort = () => stop(cut.reason === CANCELLED ? "cancelled" : "cut");
  signal.addEventListener("abort", onAbort);
  if (signal.aborted) onAbort();
  let moved = 0;
  let pending: { written: Promise<void>; chunk: Uint8Array } | undefined;
  const land = async () => {
    if (!pending) return;
    const { written, chunk } = pending;
    pending = undefined;
    await written;
    held.hash.update(chunk);
    free.push(chunk.buffer as ArrayBuffer);
    held.held += chunk.length;
    moved += chunk.length;
    web.progress(moved);
  };
  try {
    arm();
    while (reader && !signal.aborted) {
      const into = new Uint8Array(free.pop() ?? new ArrayBuffer(BODY_BUFFER));
      const next = await reader.read(into).catch(() => {
        ending ??= "left";
        return { done: true as const, value: undefined };
      });
      if (next.done) break;
      let chunk = next.value;
      const left = held.size - held.held - (pending?.chunk.length ?? 0);
      if (chunk.length > left) {
        chunk = chunk.subarray(0, left);
        stop("over");
      }
      // A slow disk is not a stalled browser: the deadline counts while waiting for bytes.
      clearTimeout(timer);
      await land();
      arm();
      if (chunk.length > 0) {
        const written = writeAll(file, chunk);
        written.catch(() => {});
        pending = { written, chunk };
      }
      if (ending) break;
    }
    await land();
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
  const record = web.record;
  record.bytes = moved;
  if (ending === "over") {
    throw new CancelError("too-large", `The body is larger than the ${room} bytes still to come`);
  }
  if (ending === "stalled") {
    throw new CancelError(
      "timeout",
      `No data for ${web.dataTimeoutMs / 1000} s: the upload stopped; it resumes from here`,
    );
  }
  if (ending === "cut") {
    throw new CancelError(
      "busy",
      `The server stopped this upload (it is stopping, or the page asked again): ` +
        `${held.held} of ${held.size} bytes kept`,
    );
  }
  if (ending === "left" || ending === "cancelled") {
    record.outcome = "closed";
    // The page's Cancel is no refusal, and it removes the partial: nothing is kept.
    record.message = ending === "left"
      ? `the browser stopped sending: ${held.held} of ${held.size} bytes kept`
      : `the page cancelled this upload after ${held.held} of ${held.size} bytes`;
  }
  return json({ offset: held.held });
}

/**
 * Reads a body into the caller's buffers where the stream allows it (BYOB),
 * else chunk by chunk as it comes (the buffer given is then not used).
 */
function bodyReader(body: ReadableStream<Uint8Array> | null) {
  if (!body) return undefined;
  try {
    const byob = body.getReader({ mode: "byob" });
    return { read: (into: Uint8Array) => byob.read(into), cancel: () => byob.cancel() };
  } catch (error) {
    // Deno hands on a body of no or one byte as a stream of another kind.
    if (!(error instanceof TypeError)) throw error;
    const plain = body.getReader();
    return { read: (_into: Uint8Array) => plain.read(), cancel: () => plain.cancel() };
  }
}

async function writeAll(file: HeldUpload["upload"]["file"], bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
}

/**
 * Runs a route's work, turning the file-system failures a page can word (a full disk, a folder
 * swapped or unsafe) into refusals; anything else stays an error, logged as itself.
 */
async function answering(work: () => Promise<Response>): Promise<Response> {
  try {
    return await work();
  } catch (error) {
    const cancel = toCancel(error);
    throw cancel.reason === "internal" ? error : cancel;
  }
}

/**
 * The routes that write.
 *
 * @param uploads the uploads in progress
 * @returns the routes
 */
export function uploadRoutes(uploads: UploadTable): WebRoute[] {
  return [{
    method: "POST",
    path: "/api/uploads",
    handle: (web) =>
      answering(async () => {
        web.store.checkWritable();
        const body = await readJson(web);
        const path = pathOf(body);
        const size = body.size;
        if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
          throw new CancelError("bad-request", "Say the file's size in bytes");
        }
        web.record.op = "put-begin";
        web.record.name = path;
        web.record.size = size;
        const held = await uploads.begin(web.session, web.address, path, size, keepsBoth(body));
        web.record.name = held.path;
        return json({
          id: held.id,
          path: held.path,
          offset: held.held,
          ...(held.held > 0 ? { prefixSha256: held.hash.copy().digest("hex") } : {}),
        });
      }),
  }, {
    method: "PUT",
    path: "/api/uploads/",
    handle: (web) =>
      answering(async () => {
        web.store.checkWritable();
        const held = uploads.find(web.path, web.session);
        Object.assign(web.record, { op: "put", name: held.path, size: held.size });
        const offset = web.url.searchParams.get("offset") ?? "";
        if (!/^\d{1,16}$/.test(offset)) {
          throw new CancelError("bad-request", "Say the offset the bytes start at");
        }
        return await uploads.work(held, async (cut) => {
          if (Number(offset) !== held.held) {
            return offsetRefusal(web, held, `The server holds ${held.held} bytes of this file`);
          }
          if (held.held > 0) web.record.resumedFrom = held.held;
          try {
            return await receive(web, held, cut);
          } catch (error) {
            if (error instanceof CancelError) throw error;
            // A write failed (a full disk, say): what the file holds is not known, so it goes.
            await uploads.end(held, false);
            throw error;
          }
        });
      }),
  }, {
    method: "POST",
    path: "/api/uploads/",
    handle: (web) =>
      answering(async () => {
        web.store.checkWritable();
        const [id = "", action, ...more] = web.path.split("/");
        if (more.length > 0) throw new CancelError("not-found", "No such page");
        if (action === "restart") return await restart(web, uploads, uploads.find(id, web.session));
        if (action === "commit") return await commit(web, uploads, uploads.find(id, web.session));
        throw new CancelError("not-found", "No such page");
      }),
  }, {
    method: "DELETE",
    path: "/api/uploads/",
    handle: (web) =>
      answering(async () => {
        web.store.checkWritable();
        const held = uploads.find(web.path, web.session);
        Object.assign(web.record, { op: "put-cancel", name: held.path, size: held.size });
        await uploads.cancel(held);
        return json({});
      }),
  }, {
    method: "POST",
    path: "/api/folders",
    handle: (web) =>
      answering(async () => {
        web.store.checkWritable();
        const body = await readJson(web);
        const path = pathOf(body);
        Object.assign(web.record, { op: "mkdir", name: path });
        const made = await makeFolder(web, path, keepsBoth(body));
        web.record.name = made;
        return json({ path: made });
      }),
  }];
}

async function restart(web: WebRequest, uploads: UploadTable, held: HeldUpload): Promise<Response> {
  Object.assign(web.record, { op: "put-restart", name: held.path, size: held.size });
  return await uploads.work(held, async () => {
    await held.upload.restart();
    held.held = 0;
    held.hash = newHash();
    return json({ offset: 0 });
  });
}

async function commit(web: WebRequest, uploads: UploadTable, held: HeldUpload): Promise<Response> {
  Object.assign(web.record, { op: "put-commit", name: held.path, size: held.size });
  const body = await readJson(web);
  const sha256 = typeof body.sha256 === "string" ? body.sha256.toLowerCase() : "";
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw new CancelError("bad-request", "Say the file's SHA-256, in hex");
  }
  return await uploads.work(held, async () => {
    if (held.held < held.size) {
      return offsetRefusal(web, held, `The server holds ${held.held} of ${held.size} bytes`);
    }
    if (held.hash.copy().digest("hex") !== sha256) {
      await uploads.end(held, false);
      throw new CancelError(
        "corrupt",
        "The file the server received does not match the page's SHA-256: nothing was kept; " +
          "send it again",
      );
    }
    try {
      await held.upload.commit();
    } finally {
      // Committed, or refused (the name was taken meanwhile): either way it is over.
      await uploads.end(held, false);
    }
    web.record.bytes = held.size;
    return json({ path: held.path, sha256 });
  });
}

/** Makes a folder, or with "Keep both" the first free `name (2)` beside it. */
async function makeFolder(web: WebRequest, path: string, keepBoth: boolean): Promise<string> {
  try {
    await web.store.makeFolder(path);
    return path;
  } catch (error) {
    if (!keepBoth || !(error instanceof CancelError) || error.reason !== "exists") throw error;
  }
  const folder = parentPath(path);
  let tries = 0;
  const name = await freeName(lastName(path), async (candidate) => {
    if (++tries > 1000) throw new CancelError("exists", "No free name for the folder: rename it");
    try {
      await web.store.makeFolder(folder ? `${folder}/${candidate}` : candidate);
      return false;
    } catch (error) {
      if (error instanceof CancelError && error.reason === "exists") return true;
      throw error;
    }
  });
  return folder ? `${folder}/${name}` : name;
}
