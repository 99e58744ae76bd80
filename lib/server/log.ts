/**
 * The server's log: a subscriber to its events that writes one line per
 * request and one per event, as text for a person or as JSON for a machine.
 *
 * @module
 */

import type { RequestRecord, ServerEvent } from "./events.ts";
import type { GuardEvent } from "./guard.ts";

/** How log lines are written. */
export type LogFormat = "text" | "json";

/** A JSON log line for a server event (`listening`, `idle-shutdown`, ...). */
export interface EventLogLine {
  /** ISO 8601 time. */
  time: string;
  /** The event's name. */
  event: string;
  /** The sentence a person reads. */
  message: string;
  /** Further fields, by event. */
  [field: string]: unknown;
}

/** A JSON log line for one finished request. */
export type RequestLogLine =
  & { time: string; event: "request"; ms: number; mibps: number }
  & Omit<
    RequestRecord,
    "id"
  >;

/** Writes log lines to a stream (stdout by default). */
export class Logger {
  /** text or json. */
  readonly format: LogFormat;
  #write: (line: string) => void;

  /**
   * Creates a Logger.
   *
   * @param format text or json
   * @param write where each line goes (default: stdout)
   */
  constructor(format: LogFormat, write?: (line: string) => void) {
    this.format = format;
    const encoder = new TextEncoder();
    this.#write = write ?? ((line) => Deno.stdout.writeSync(encoder.encode(line + "\n")));
  }

  /**
   * Logs a server event in its standard words; request progress is not logged.
   *
   * @param event what happened
   */
  handle(event: ServerEvent): void {
    switch (event.type) {
      case "started":
        return this.event(
          "listening",
          `Serving '${event.root}' on port ${event.port}, ` +
            (event.readOnly ? "read-only" : "accepting uploads") +
            (event.tls ? `, TLS (SHA-256 ${event.tls.fingerprint})` : "") +
            (event.password ? ", password required" : ""),
          { port: event.port, host: event.host, root: event.root, writable: !event.readOnly },
        );
      case "auth-failed":
      case "auth-banned":
        return this.guard(event);
      case "request-end":
        return this.request(event.record, event.ms);
      case "idle-shutdown":
        return this.event(
          "idle-shutdown",
          `No connection for ${event.idleTimeoutMs / 1000} s: shutting down`,
          { idleSeconds: event.idleTimeoutMs / 1000 },
        );
      case "partials-removed":
        return this.event(
          "partials-removed",
          `Removed ${event.count} stale partial upload(s)`,
          { count: event.count },
        );
      case "error":
        return this.event(
          `${event.what}-error`,
          `${event.what === "accept" ? "Accept" : "Sweep"} failed: ${event.message}`,
        );
      case "stopping":
        return this.event(
          "stopping",
          event.active === 0
            ? "Not accepting connections"
            : `Not accepting connections; letting ${event.active} connection(s) finish for ` +
              `up to ${event.graceMs / 1000} s`,
          { active: event.active, graceSeconds: event.graceMs / 1000 },
        );
      case "stopped":
        return this.event("stopped", "Server stopped");
      case "request-start":
      case "request-progress":
        return;
    }
  }

  /**
   * Logs a wrong password or a ban.
   *
   * @param event what the guard reported
   */
  guard(event: GuardEvent): void {
    const fields = { address: event.address, failures: event.failures };
    if (event.type === "auth-banned") {
      return this.event(
        "auth-banned",
        `${event.failures} wrong passwords in a row from ${event.address}: ` +
          `banned for ${event.banMs / 1000} s`,
        { ...fields, banSeconds: event.banMs / 1000 },
      );
    }
    this.event(
      "auth-failed",
      `Wrong password from ${event.address} (${event.failures} in a row): ` +
        `its next attempt waits ${event.delayMs / 1000} s`,
      { ...fields, delaySeconds: event.delayMs / 1000 },
    );
  }

  /**
   * Logs a server event (start, shutdown, ...).
   *
   * @param event a short event name, such as `listening`
   * @param message the sentence a person reads
   * @param fields extra fields for the JSON form
   */
  event(event: string, message: string, fields: Record<string, unknown> = {}): void {
    const time = new Date().toISOString();
    const line: EventLogLine = { time, event, message, ...fields };
    this.#write(this.format === "json" ? JSON.stringify(line) : `${time} ${message}`);
  }

  /**
   * Logs one finished request.
   *
   * @param record what the request did
   * @param ms how long it took
   */
  request(record: Readonly<RequestRecord>, ms: number): void {
    const time = new Date().toISOString();
    const mibps = ms > 0 ? record.bytes / 1048576 / (ms / 1000) : 0;
    if (this.format === "json") {
      const { id: _id, ...fields } = record;
      const line: RequestLogLine = {
        time,
        event: "request",
        ...fields,
        ms: Math.round(ms * 10) / 10,
        mibps: Math.round(mibps * 10) / 10,
      };
      this.#write(JSON.stringify(line));
      return;
    }
    const parts = [time, record.peer, record.protocol, record.op];
    if (record.name !== undefined) parts.push(JSON.stringify(record.name));
    parts.push(`${record.bytes} B`, `${(ms / 1000).toFixed(3)} s`, `${mibps.toFixed(1)} MiB/s`);
    if (record.resumedFrom) parts.push(`resumed-from=${record.resumedFrom}`);
    parts.push(record.outcome);
    if (record.reason) parts.push(record.reason);
    if (record.message && record.outcome !== "ok") parts.push(`(${record.message})`);
    this.#write(parts.join(" "));
  }
}
