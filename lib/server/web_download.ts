/**
 * Downloads of one file from the web page: the file as the store opens it,
 * whole or one HTTP range, with the headers a browser needs to name it,
 * resume it and never join two versions of it.
 *
 * @module
 */

import { quoteName } from "../protocol/names.ts";
import type { FileFacts, FolderFile } from "../transfer/files.ts";
import { type BodySource, pulledBody } from "./web_body.ts";
import { WEB_HEADERS } from "./web_page.ts";
import { chooseRange, entityTag } from "./web_range.ts";
import type { WebRequest } from "./web_route.ts";

/** Bytes read from a file per chunk of a download. */
export const DOWNLOAD_CHUNK = 1024 * 1024;

/** Types a browser can show or hand to the right app; anything else is octet-stream. */
const TYPES: Record<string, string> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  gif: "image/gif",
  webp: "image/webp",
  avif: "image/avif",
  heic: "image/heic",
  heif: "image/heif",
  bmp: "image/bmp",
  tif: "image/tiff",
  tiff: "image/tiff",
  mp4: "video/mp4",
  m4v: "video/mp4",
  mov: "video/quicktime",
  webm: "video/webm",
  mkv: "video/x-matroska",
  avi: "video/x-msvideo",
  "3gp": "video/3gpp",
  mp3: "audio/mpeg",
  m4a: "audio/mp4",
  aac: "audio/aac",
  wav: "audio/wav",
  ogg: "audio/ogg",
  opus: "audio/opus",
  flac: "audio/flac",
  txt: "text/plain",
  md: "text/markdown",
  csv: "text/csv",
  log: "text/plain",
  pdf: "application/pdf",
  json: "application/json",
  zip: "application/zip",
};

/**
 * The `Content-Type` of a file, by its extension. Never a type a browser
 * runs as a page (HTML, SVG, XML): the folder's files are not trusted.
 *
 * @param name the file's name
 * @returns the media type
 */
export function contentType(name: string): string {
  const dot = name.lastIndexOf(".");
  const extension = dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
  return TYPES[extension] ?? "application/octet-stream";
}

/**
 * Characters that reorder how a name reads (bidirectional overrides, isolates and marks) or
 * break its line: a name such as `photo<U+202E>gpj.exe` shows as `photoexe.jpg`.
 */
const MISLEADING = /[\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * `Content-Disposition: attachment` with the name (RFC 6266): a plain ASCII
 * `filename` for old browsers and the name as UTF-8 in `filename*`, each
 * character that would make the saved file's name read as another (a
 * bidirectional override: `photo<U+202E>gpj.exe` shows as `photoexe.jpg`)
 * written `_`.
 *
 * @param name the file's name (its last path segment)
 * @returns the header's value
 */
export function attachment(name: string): string {
  const plain = name.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  const exact = encodeURIComponent(name.replace(MISLEADING, "_")).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${plain}"; filename*=UTF-8''${exact}`;
}

/**
 * Answers `GET /files/P` (and HEAD): the file, whole or one range of it.
 *
 * @param web the request
 * @returns the response, its body streamed
 */
export async function download(web: WebRequest): Promise<Response> {
  const { record, path, request } = web;
  record.op = "get";
  record.name = path;
  const { file } = await web.store.open(path);
  let answer: Response;
  try {
    const facts = await file.facts();
    const size = facts.size;
    record.size = size;
    const etag = entityTag(facts);
    const headers: Record<string, string> = {
      ...WEB_HEADERS,
      "cache-control": "no-cache",
      "accept-ranges": "bytes",
      etag,
      "last-modified": new Date(facts.mtimeMs).toUTCString(),
      "content-disposition": attachment(path.slice(path.lastIndexOf("/") + 1)),
      "content-type": contentType(path),
    };
    const range = chooseRange(
      request.headers.get("range"),
      request.headers.get("if-range"),
      size,
      etag,
    );
    if (range.kind === "unsatisfiable") {
      await file.close();
      record.outcome = "cancel";
      record.reason = "bad-request";
      record.message = "the range asked for is past the end of the file";
      return new Response("The range asked for is past the end of the file\n", {
        status: 416,
        headers: {
          ...headers,
          "content-type": "text/plain; charset=utf-8",
          "content-range": `bytes */${size}`,
        },
      });
    }
    const start = range.kind === "part" ? range.start : 0;
    const end = range.kind === "part" ? range.end : size - 1;
    const length = end - start + 1;
    headers["content-length"] = String(length);
    if (range.kind === "part") {
      headers["content-range"] = `bytes ${start}-${end}/${size}`;
      record.resumedFrom = start;
    }
    const status = range.kind === "part" ? 206 : 200;
    if (request.method === "HEAD" || length === 0) {
      await file.close();
      return new Response(null, { status, headers });
    }
    answer = new Response(pulledBody(web, fileSource(file, facts, path, start, length)), {
      status,
      headers,
    });
  } catch (error) {
    await file.close();
    throw error;
  }
  return answer;
}

/**
 * A file's bytes from `start`, `length` of them. A file written meanwhile
 * fails before its last chunk, so that the browser sees a cut download,
 * never a whole one that mixes two versions.
 *
 * @param file the open file; closed by the source's `close`
 * @param before its facts when it was opened, which the answer's headers say
 * @param path its path, for messages
 * @param start the first byte
 * @param length how many bytes
 * @returns the source
 */
export function fileSource(
  file: FolderFile,
  before: FileFacts,
  path: string,
  start: number,
  length: number,
): BodySource {
  let read = 0;
  let positioned = false;
  return {
    async next() {
      if (!positioned) {
        await file.seek(start, Deno.SeekMode.Start);
        positioned = true;
      }
      if (read >= length) return undefined;
      const chunk = new Uint8Array(Math.min(DOWNLOAD_CHUNK, length - read));
      const got = await file.read(chunk);
      if (got === null) throw new Error(`${quoteName(path)} shrank while it was sent`);
      read += got;
      if (read >= length && !unchanged(before, await file.facts())) {
        throw new Error(`${quoteName(path)} changed while it was sent`);
      }
      return got === chunk.length ? chunk : chunk.subarray(0, got);
    },
    close: () => file.close(),
  };
}

/** Whether a file is the same version as before: its size and both of its times. */
function unchanged(before: FileFacts, after: FileFacts): boolean {
  return before.size === after.size && before.mtimeMs === after.mtimeMs &&
    before.ctimeMs === after.ctimeMs;
}
