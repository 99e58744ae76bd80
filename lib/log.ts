/**
 * The server's log: one line per request and one per event, as text for a
 * person or as JSON for a machine.
 *
 * @module
 */

/** How log lines are written. */
export type LogFormat = "text" | "json";

/** What one request did. */
export interface RequestRecord {
  /** Peer address, `host:port`. */
  peer: string;
  /** `ps2` for the default protocol, `classic` for the original's. */
  protocol: "ps2" | "classic" | "unknown";
  /** put, get, list, or `-` before the command was read. */
  op: string;
  /** The file name, when the operation has one. */
  name?: string;
  /** Body bytes moved in this request. */
  bytes: number;
  /** Where a resumed transfer started. */
  resumedFrom?: number;
  /** ok, cancel, closed, timeout or error. */
  outcome: "ok" | "cancel" | "closed" | "timeout" | "error";
  /** The reason code of a cancel. */
  reason?: string;
  /** What went wrong, for a person. */
  message?: string;
}

/** Writes log lines to a stream (stdout by default). */
export class Logger {
  /** text or json. */
  readonly format: LogFormat;
  #write: (line: string) => void;

  /**
   * @param format text or json
   * @param write where each line goes (default: stdout)
   */
  constructor(format: LogFormat, write?: (line: string) => void) {
    this.format = format;
    const encoder = new TextEncoder();
    this.#write = write ?? ((line) => Deno.stdout.writeSync(encoder.encode(line + "\n")));
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
    this.#write(
      this.format === "json"
        ? JSON.stringify({ time, event, message, ...fields })
        : `${time} ${message}`,
    );
  }

  /**
   * Logs one finished request.
   *
   * @param record what the request did
   * @param ms how long it took
   */
  request(record: RequestRecord, ms: number): void {
    const time = new Date().toISOString();
    const mibps = ms > 0 ? record.bytes / 1048576 / (ms / 1000) : 0;
    if (this.format === "json") {
      this.#write(JSON.stringify({
        time,
        event: "request",
        ...record,
        ms: Math.round(ms * 10) / 10,
        mibps: Math.round(mibps * 10) / 10,
      }));
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
