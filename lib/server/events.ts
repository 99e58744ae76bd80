/**
 * What a server tells its subscribers: typed events for the start, each
 * request (began, progressed, ended), idleness, housekeeping and the stop.
 * The log is one subscriber; a GUI is another.
 *
 * @module
 */

import type { GuardEvent } from "./guard.ts";

/** What one request did; handlers fill it in as they go. */
export interface RequestRecord {
  /** A number unique within this server's run. */
  id: number;
  /** Peer address, `host:port`. */
  peer: string;
  /** `ps2` for the default protocol, `classic` for the original's, `web` for the web page. */
  protocol: "ps2" | "classic" | "web" | "unknown";
  /** put, get, list, or `-` before the command was read. */
  op: string;
  /** The file name, when the operation has one. */
  name?: string;
  /** The body's size, when known; of a folder, the bytes of all its files. */
  size?: number;
  /** A folder's files (put-folder, or a get of a folder). */
  files?: number;
  /** Body bytes moved in this request. */
  bytes: number;
  /** Where a resumed transfer started. */
  resumedFrom?: number;
  /** ok, cancel, closed (the client went away: `message` says so), timeout or error. */
  outcome: "ok" | "cancel" | "closed" | "timeout" | "error";
  /** The reason code of a cancel. */
  reason?: string;
  /** What went wrong, for a person. */
  message?: string;
  /**
   * Ended without a command during a flood (closed to make room for a newer
   * connection, or one of many that ended so): counted in a `flood` event
   * rather than logged one by one.
   */
  summarized?: boolean;
}

/** Everything a server reports, one `type` each. */
export type ServerEvent =
  | {
    type: "started";
    /** The port it listens on. */
    port: number;
    /** The address it listens on. */
    host: string;
    /** The served folder, absolute. */
    root: string;
    /** Whether uploads are refused. */
    readOnly: boolean;
    /** Shutdown after this long without a connection; 0 never. */
    idleTimeoutMs: number;
    /** Its TLS certificate, when it speaks TLS. */
    tls?: { fingerprint: string; certFile?: string };
    /** Whether every request must carry a password. */
    password?: boolean;
  }
  | GuardEvent
  | { type: "request-start"; record: Readonly<RequestRecord> }
  | { type: "request-progress"; record: Readonly<RequestRecord> }
  | { type: "request-end"; record: Readonly<RequestRecord>; ms: number }
  | { type: "idle-shutdown"; idleTimeoutMs: number }
  | { type: "partials-removed"; count: number }
  | {
    type: "folder";
    /**
     * `unreadable`: a file the server may not read; `no-hard-links`: uploads
     * use the weaker commit; `skipped`: a folder get left an entry out;
     * `unsafe`: folders in the served folder are refused (others could swap them).
     */
    what: "unreadable" | "no-hard-links" | "skipped" | "unsafe";
    /** The file concerned, if one. */
    name?: string;
    /** One sentence. */
    message: string;
  }
  | {
    type: "flood";
    /** The time the counts cover. */
    seconds: number;
    /** Connections without a command closed to make room for newer ones. */
    evicted: number;
    /** Other connections of the flood that ended without a command (closed, timed out). */
    withoutCommand: number;
    /** Accepts that failed (out of descriptors, ...). */
    acceptErrors: number;
    /** The size of the pool of connections without a command. */
    maxPending: number;
    /** The last accept failure, in the system's words. */
    lastAcceptError?: string;
  }
  | { type: "error"; what: "accept" | "sweep" | "web"; message: string }
  | {
    type: "stopping";
    /** Requests in flight (connections without a command are closed at once). */
    active: number;
    graceMs: number;
  }
  | {
    type: "stopped";
    /** Requests that were still stuck (in the file system, say) when the server stopped. */
    stuck?: number;
  };

/** A function that receives a server's events. */
export type ServerListener = (event: ServerEvent) => void;

/**
 * The subscribers of one server. A subscriber that throws is reported on
 * stderr and kept from harming the server or the other subscribers.
 */
export class ServerEvents {
  #listeners = new Set<ServerListener>();

  /**
   * Adds a subscriber.
   *
   * @param listener called with each event
   * @returns a function that removes it
   */
  subscribe(listener: ServerListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Whether anyone listens (progress events are only built then). */
  get active(): boolean {
    return this.#listeners.size > 0;
  }

  /**
   * Sends an event to every subscriber.
   *
   * @param event the event
   */
  emit(event: ServerEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        // A broken subscriber must not break a transfer.
        console.error(`privateshare: an event subscriber failed: ${error}`);
      }
    }
  }
}
