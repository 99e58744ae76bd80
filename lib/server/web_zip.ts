/**
 * A folder from the web page as one `.zip`, made as it is sent: stored, not
 * compressed (photos and videos are compressed already), ZIP64 where a size
 * or offset needs it (client-zip writes the format). The folder is walked
 * as a PS/2 folder get walks it, with the same limits, and no link is
 * followed; its files are opened one at a time, each through its checked
 * folder, and must still be what the walk saw. A file that changed or
 * vanished cuts the download (its length is announced, so the browser sees
 * it short) and is logged: the zip never holds other bytes than the files'.
 *
 * @module
 */

import { makeZip, predictLength } from "client-zip";
import { CancelError } from "../protocol/errors.ts";
import type { Manifest } from "../protocol/folder.ts";
import { nameProblem, quoteName } from "../protocol/names.ts";
import { lastName } from "../protocol/paths.ts";
import type { Dir } from "../transfer/dir.ts";
import type { FolderFile } from "../transfer/files.ts";
import { DirCursor } from "../transfer/tree_walk.ts";
import { type BodySource, pulledBody } from "./web_body.ts";
import { attachment, fileSource } from "./web_download.ts";
import { WEB_HEADERS } from "./web_page.ts";
import type { WebRequest, WebRoute } from "./web_route.ts";

/** One entry of the zip, as client-zip takes it. */
type ZipEntry =
  | { name: string; lastModified: Date }
  | { name: string; lastModified: Date; size: number; input: ReadableStream<Uint8Array> };

/**
 * The route of `GET /zip/P` (and HEAD): the folder `P`, or the whole served
 * folder for `/zip/`, as `NAME.zip` holding the folder `NAME`.
 *
 * @param serverName the server's name: the whole folder's zip is named after it
 * @returns the route
 */
export function zipRoute(serverName: string): WebRoute {
  return {
    method: "GET",
    path: "/zip/",
    handle: (web) => zipFolder(web, serverName),
  };
}

async function zipFolder(web: WebRequest, serverName: string): Promise<Response> {
  const { path, record } = web;
  record.op = "get";
  record.name = path === "" ? "/" : path;
  const opened = await web.store.openFolder(path === "" ? null : path);
  if (!opened) throw new CancelError("not-found", `No folder ${quoteName(path)} on the server`);
  const { dir, manifest } = opened;
  try {
    // Named after the server when it is the whole folder, as the page calls it.
    const top = path === ""
      ? (nameProblem(serverName) ? "privateshare" : serverName)
      : lastName(path);
    record.size = manifest.size;
    record.files = manifest.files.size;
    const headers = {
      ...WEB_HEADERS,
      "cache-control": "no-store",
      "content-type": "application/zip",
      "content-disposition": attachment(`${top}.zip`),
      // Announced, so that a browser shows progress and sees a cut-off zip as cut off.
      "content-length": String(predictLength(sizes(top, manifest))),
    };
    if (web.request.method === "HEAD") {
      await dir.close();
      return new Response(null, { headers });
    }
    const open = { file: undefined as FolderFile | undefined };
    const walk = entries(dir, manifest, top, open);
    const zip = makeZip(walk).getReader();
    const source: BodySource = {
      async next() {
        const { value, done } = await zip.read();
        return done ? undefined : value;
      },
      async close() {
        // Not zip.cancel(): client-zip then throws into its generator and leaves the
        // rejection unhandled, which would end the process. The walk is ended instead
        // (closing its folders), and the file being read is closed here.
        walk.return(undefined).catch(() => {});
        await open.file?.close();
        await dir.close();
      },
    };
    return new Response(pulledBody(web, source), { headers });
  } catch (error) {
    await dir.close();
    throw error;
  }
}

/** The names and sizes of the zip's entries, in order, for its exact length. */
function sizes(
  top: string,
  manifest: Manifest,
): ({ name: string } | { name: string; size: number })[] {
  return [
    { name: `${top}/` },
    ...manifest.entries.map((entry) =>
      "type" in entry
        ? { name: `${top}/${entry.path}/` }
        : { name: `${top}/${entry.path}`, size: entry.size }
    ),
  ];
}

/** The zip's entries, in manifest order, each file opened when the zip reaches it. */
async function* entries(
  top: Dir,
  manifest: Manifest,
  name: string,
  open: { file: FolderFile | undefined },
): AsyncGenerator<ZipEntry> {
  const cursor = new DirCursor(top);
  try {
    yield { name: `${name}/`, lastModified: (await top.facts()).mtime ?? new Date() };
    for (const entry of manifest.entries) {
      const changed = () =>
        new Error(`${quoteName(entry.path)} changed while the folder was sent: send it again`);
      const { dir, name: last } = await cursor.parentOf(entry.path).catch(() => {
        throw changed();
      });
      if ("type" in entry) {
        const facts = await dir.lstat(last);
        if (!facts?.isFolder) throw changed();
        yield { name: `${name}/${entry.path}/`, lastModified: new Date(facts.mtimeMs) };
        continue;
      }
      const file = await dir.openFile(last).catch(() => {
        throw changed();
      });
      open.file = file;
      const facts = await file.facts();
      if (!facts.isFile || facts.size !== entry.size) throw changed();
      yield {
        name: `${name}/${entry.path}`,
        lastModified: new Date(facts.mtimeMs),
        size: entry.size,
        input: streamOf(fileSource(file, facts, entry.path, 0, entry.size)),
      };
      open.file = undefined;
    }
  } finally {
    await open.file?.close();
    await cursor.close();
  }
}

/** A source as a stream of its own, closed when it ends, fails or is cancelled. */
function streamOf(source: BodySource): ReadableStream<Uint8Array> {
  return new ReadableStream({
    async pull(controller) {
      try {
        const chunk = await source.next();
        if (chunk) return controller.enqueue(chunk);
        await source.close();
        controller.close();
      } catch (error) {
        await source.close();
        controller.error(error);
      }
    },
    cancel: () => source.close(),
  });
}
