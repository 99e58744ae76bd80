/**
 * What a route of the web page sees of a request, and what it is: the shape
 * shared by the web server and the modules that answer (page, files, uploads).
 *
 * @module
 */

import type { RequestRecord } from "./events.ts";
import type { Store } from "./store.ts";

/** One request, checked, as a route sees it. */
export interface WebRequest {
  /** The request. */
  request: Request;
  /** Its URL, parsed. */
  url: URL;
  /** The path after the route's prefix, percent-decoded ("" for none). */
  path: string;
  /** The served folder. */
  store: Store;
  /** What the log records of this request: set op, name, size, bytes. */
  record: RequestRecord;
  /** Reports body bytes moved so far. */
  progress(bytes: number): void;
  /** Aborted when the request is cut off, evicted, or the server stops. */
  signal: AbortSignal;
  /** How long a body may stall. */
  dataTimeoutMs: number;
  /**
   * Ends the request now (logged, its connection slot freed) rather than
   * when the browser has the response: for a body that failed while the
   * browser reads nothing, whose connection Deno.serve cannot close.
   */
  end(): void;
  /** The browser's address (its IP address), for per-address limits. */
  address: string;
  /** The page's origin, `http(s)://host:port`, as this request named it. */
  origin: string;
  /** The browser's session (its cookie), when it holds one of this server's. */
  session?: string;
}

/** One route: a method and a path prefix, and what answers them. */
export interface WebRoute {
  /** The HTTP method (GET routes answer HEAD too). */
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** The path, or the prefix when it ends with `/` (`/` itself is a path). */
  path: string;
  /** Whether it needs a session (default true). */
  open?: boolean;
  /** Whether the log leaves a success out (the page's assets). */
  quiet?: boolean;
  /**
   * Answers a request.
   *
   * @param web the checked request
   * @returns the response; its body is streamed, and the request logged when it ends
   */
  handle(web: WebRequest): Response | Promise<Response>;
}
