/**
 * The server page's "Phones and browsers": the web page for phones and any
 * browser, started beside the server on the privateshare port + 1 (or on any
 * free port when that one is taken), and what the page shows of it: for each
 * of this computer's network addresses, the page's address (with its token,
 * unless the server asks for a password) and its QR code.
 *
 * @module
 */

import { ListenError, type Server, type ServerOptions, startServer } from "../mod.ts";
import { qrSvg } from "./qr.ts";

/** The page's address at one of this computer's addresses. */
export interface WebAddress {
  /** This computer's address. */
  host: string;
  /** The page's address there: what the QR code holds. */
  url: string;
  /** The QR code of {@link url}, an SVG image as a `data:` URL. */
  qr: string;
}

/** What the server's page shows of the web page. */
export interface WebPanel {
  /** The port it is served on. */
  port: number;
  /** Whether it is HTTPS (the browser then warns once). */
  secure: boolean;
  /** The page's address at each of this computer's addresses, the first one first. */
  addresses: WebAddress[];
}

/**
 * The web page's port for a privateshare port: the next one, or any free one
 * when the server takes any (0) or the last (65535).
 *
 * @param port the privateshare port
 * @returns the web page's port to try first
 */
export function preferredWebPort(port: number): number {
  return port > 0 && port < 65535 ? port + 1 : 0;
}

/** A server started with or without its web page. */
export interface StartedServer {
  server: Server;
  /** The web port that was taken, when the page went to another free port instead. */
  taken?: number;
}

/**
 * Starts a server, with its web page when asked: on the privateshare port + 1,
 * or on any free port when that one is in use. Failing to listen on the
 * privateshare port itself is thrown as it is.
 *
 * @param options the server's options, without `web`
 * @param web whether to serve the web page
 * @returns the server, and the web port that was taken if the page went elsewhere
 * @throws {ListenError} as {@link startServer} does
 */
export function startServerWithWeb(options: ServerOptions, web: boolean): StartedServer {
  if (!web) return { server: startServer(options) };
  const wanted = preferredWebPort(options.port);
  // The page listens where the server listens.
  const host = options.host !== undefined ? { host: options.host } : {};
  try {
    return { server: startServer({ ...options, web: { port: wanted, ...host } }) };
  } catch (error) {
    if (!(error instanceof ListenError) || error.code !== "in-use" || wanted === 0) throw error;
  }
  // Either the web port is taken (the page then takes any free one) or the privateshare port
  // is, and this fails again with its message.
  return { server: startServer({ ...options, web: { port: 0, ...host } }), taken: wanted };
}

/**
 * What the server's page shows of a running server's web page.
 *
 * @param server the running server
 * @param addresses this computer's network addresses, the one to show first first
 * @returns the panel, or null when the server serves no web page
 */
export function webPanel(server: Server, addresses: readonly string[]): WebPanel | null {
  const web = server.web;
  if (!web) return null;
  return {
    port: web.addr.port,
    secure: web.secure,
    addresses: addresses.map((host) => {
      const url = web.url(host);
      const svg = qrSvg(url, "QR code of the page's address");
      return { host, url, qr: `data:image/svg+xml;base64,${btoa(svg)}` };
    }),
  };
}
