/**
 * The server's log: a subscriber to its events that writes one line per
 * request and one per event, as text for a person or as JSON for a machine.
 * Lines go out through a bounded queue, so that logging never blocks or ends
 * serving.
 *
 * @module
 */

import type { RequestRecord, ServerEvent } from "./events.ts";
import type { GuardEvent } from "./guard.ts";
import { LOG_QUEUE_BYTES, type LogOutput, LogQueue } from "./log_queue.ts";

export type { LogOutput } from "./log_queue.ts";

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

/** Where a {@link Logger} writes. */
export interface LoggerOptions {
  /** Receives each line at once, instead of the queue (a GUI, a test). */
  write?: (line: string) => void;
  /** Where queued lines go (default: stdout). */
  output?: LogOutput;
  /** Most bytes of lines that may wait for a slow output (default 1 MiB). */
  queueBytes?: number;
}

/**
 * Writes log lines to stdout (or another output) through a bounded queue:
 * a stalled reader costs dropped lines, counted and reported when it reads
 * again, never a stalled server; a closed output stops the log, not the
 * server.
 */
export class Logger {
  /** text or json. */
  readonly format: LogFormat;
  #write: (line: string) => void;
  #queue: LogQueue | undefined;

  /**
   * Creates a Logger.
   *
   * @param format text or json
   * @param options where lines go (default: stdout, through a 1 MiB queue); a
   *   function receives each line at once, as `write` does
   */
  constructor(format: LogFormat, options: LoggerOptions | ((line: string) => void) = {}) {
    this.format = format;
    if (typeof options === "function") options = { write: options };
    if (options.write) {
      this.#write = options.write;
      return;
    }
    const queue = new LogQueue(
      options.output ?? Deno.stdout,
      options.queueBytes ?? LOG_QUEUE_BYTES,
      (count) =>
        this.#line(
          "log-dropped",
          `Dropped ${count} log line(s): the log's reader was too slow`,
          { dropped: count },
        ),
      (error) => {
        // Said once, on stderr, without waiting for it.
        const text = `privateshare-server: the log's output failed (${
          error instanceof Error ? error.message : String(error)
        }): log lines are dropped from now on, serving goes on\n`;
        Deno.stderr.write(new TextEncoder().encode(text)).catch(() => {});
      },
    );
    this.#queue = queue;
    this.#write = (line) => queue.push(line);
  }

  /** Lines dropped so far (a full queue or a closed output). */
  get dropped(): number {
    return this.#queue?.dropped ?? 0;
  }

  /**
   * Waits until the queued lines are written, for at most `timeoutMs`: what
   * a program does before it exits.
   *
   * @param timeoutMs how long to wait at most
   * @returns true when every line was written
   */
  async flush(timeoutMs = 2000): Promise<boolean> {
    return await this.#queue?.flush(timeoutMs) ?? true;
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
      case "folder":
        return this.event(
          `folder-${event.what}`,
          event.message,
          event.name !== undefined ? { name: event.name } : {},
        );
      case "flood":
        return this.event("flood", floodMessage(event), {
          seconds: event.seconds,
          evicted: event.evicted,
          withoutCommand: event.withoutCommand,
          acceptErrors: event.acceptErrors,
          ...(event.lastAcceptError ? { lastAcceptError: event.lastAcceptError } : {}),
        });
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
        return event.stuck
          ? this.event(
            "stopped",
            `Server stopped; ${event.stuck} request(s) were stuck in the file system`,
            { stuck: event.stuck },
          )
          : this.event("stopped", "Server stopped");
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
    this.#write(this.#line(event, message, fields));
  }

  #line(event: string, message: string, fields: Record<string, unknown>): string {
    const time = new Date().toISOString();
    const line: EventLogLine = { time, event, message, ...fields };
    return this.format === "json" ? JSON.stringify(line) : `${time} ${message}`;
  }

  /**
   * Logs one finished request.
   *
   * @param record what the request did
   * @param ms how long it took
   */
  request(record: Readonly<RequestRecord>, ms: number): void {
    // Counted in the flood's summary instead.
    if (record.summarized) return;
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
    if (record.files !== undefined) parts.push(`files=${record.files}`, `size=${record.size ?? 0}`);
    if (record.resumedFrom) parts.push(`resumed-from=${record.resumedFrom}`);
    parts.push(record.outcome);
    if (record.reason) parts.push(record.reason);
    if (record.message && record.outcome !== "ok") parts.push(`(${record.message})`);
    this.#write(parts.join(" "));
  }
}

type FloodEvent = Extract<ServerEvent, { type: "flood" }>;

function floodMessage(event: FloodEvent): string {
  const parts: string[] = [];
  if (event.evicted > 0) {
    parts.push(
      `closed ${event.evicted} connection(s) that sent no command, to make room ` +
        `(at most ${event.maxPending} wait for their command)`,
    );
  }
  if (event.withoutCommand > 0) {
    parts.push(`${event.withoutCommand} more connection(s) ended without a command`);
  }
  if (event.acceptErrors > 0) {
    parts.push(
      `${event.acceptErrors} connection(s) could not be accepted` +
        (event.lastAcceptError ? ` (${event.lastAcceptError})` : ""),
    );
  }
  return `Flood in the last ${event.seconds} s: ${parts.join("; ")}`;
}
