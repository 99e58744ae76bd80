/**
 * Reading the folder from the web page: what the server is, listings, and
 * downloads (docs/PROTOCOL.md "Web page", "Reading"). Every file is opened
 * through the store, as a PS/2 get opens it: one file with HTTP ranges in
 * web_download.ts, a folder as one streamed zip in web_zip.ts.
 *
 * @module
 */

import { nameProblem } from "../protocol/names.ts";
import type { ListEntry } from "../protocol/ps2.ts";
import { bytesSource, pulledBody } from "./web_body.ts";
import { download } from "./web_download.ts";
import { WEB_HEADERS } from "./web_page.ts";
import type { WebRoute } from "./web_route.ts";
import { zipRoute } from "./web_zip.ts";

/** What the page is told about the server. */
export interface WebInfo {
  /** The server's name, as it announces itself. */
  name: string;
  /** Whether uploads are refused. */
  readOnly: boolean;
  /** Whether the page is HTTPS. */
  tls: boolean;
  /** The short code of the certificate, on a TLS server. */
  code?: string;
}

/**
 * The routes that read.
 *
 * @param info what the page is told about the server
 * @returns the routes
 */
export function fileRoutes(info: WebInfo): WebRoute[] {
  const json = { ...WEB_HEADERS, "cache-control": "no-store" };
  const encoded = new WeakMap<readonly ListEntry[], { path: string; bytes: Uint8Array }>();
  return [{
    method: "GET",
    path: "/api/info",
    quiet: true,
    handle() {
      return Response.json(info, { headers: json });
    },
  }, {
    method: "GET",
    path: "/api/list",
    async handle(web) {
      const { url, store, record } = web;
      const path = url.searchParams.get("path") ?? "";
      record.op = "list";
      if (path !== "") record.name = path;
      const entries = await store.list(path === "" ? undefined : path, true);
      // One encoding for the requests that share a listing (the store keeps it a moment).
      let known = encoded.get(entries);
      if (known?.path !== path) {
        encoded.set(entries, known = { path, bytes: encode(path, entries) });
      }
      const bytes = known.bytes;
      // Pulled as the browser reads, as a download is: a large folder's listing left unread
      // holds a slot until the data deadline, never the server's memory once the slot is free.
      const headers = {
        ...json,
        "content-type": "application/json",
        "content-length": String(bytes.length),
      };
      if (web.request.method === "HEAD") return new Response(null, { headers });
      return new Response(pulledBody(web, bytesSource(bytes)), { headers });
    },
  }, {
    method: "GET",
    path: "/files/",
    handle: download,
  }, zipRoute(info.name)];
}

/** A listing as the page reads it, encoded. */
function encode(path: string, entries: readonly ListEntry[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({
    path,
    // Only what the page can open: a name the rules refuse (`a"b`, `CON`, a newline) would
    // list a file that no download reaches, and a folder's zip leaves it out too.
    entries: entries.filter((entry) => !nameProblem(entry.name)).map((entry) => ({
      name: entry.name,
      type: entry.type === "folder" ? "folder" : "file",
      size: entry.size,
      mtime: entry.mtime,
    })),
  }));
}
