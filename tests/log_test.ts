// The server's log: the text and JSON line for every event, and the request
// line, whose JSON form is the declared type RequestLogLine.

import assert from "node:assert/strict";
import {
  type EventLogLine,
  Logger,
  type RequestLogLine,
  type RequestRecord,
  type ServerEvent,
} from "../lib/mod.ts";

const MiB = 1024 * 1024;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A logger of `format` that keeps its lines. */
function capture(format: "text" | "json"): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: new Logger(format, (line) => lines.push(line)), lines };
}

/** Logs one event and returns its only line, as text (time removed) and as JSON. */
function logged(event: ServerEvent): { text: string; json: EventLogLine } {
  const text = capture("text");
  const json = capture("json");
  text.log.handle(event);
  json.log.handle(event);
  assert.equal(text.lines.length, 1, "one text line");
  assert.equal(json.lines.length, 1, "one JSON line");
  const [time, ...rest] = text.lines[0]!.split(" ");
  assert.match(time!, ISO, "a text line starts with the time");
  const parsed = JSON.parse(json.lines[0]!) as EventLogLine;
  assert.match(parsed.time, ISO);
  return { text: rest.join(" "), json: parsed };
}

const record: RequestRecord = {
  id: 7,
  peer: "192.0.2.5:40000",
  protocol: "ps2",
  op: "put",
  name: "apple.jpg",
  size: 4 * MiB,
  bytes: 2 * MiB,
  resumedFrom: 2 * MiB,
  outcome: "ok",
};

Deno.test("started is logged as listening, saying whether uploads are accepted", () => {
  const started = {
    type: "started",
    port: 3650,
    host: "::",
    root: "/srv/share",
    idleTimeoutMs: 300_000,
  } as const;
  const writable = logged({ ...started, readOnly: false });
  assert.equal(writable.text, "Serving '/srv/share' on port 3650, accepting uploads");
  const { time: _t, ...fields } = writable.json;
  assert.deepEqual(fields, {
    event: "listening",
    message: "Serving '/srv/share' on port 3650, accepting uploads",
    port: 3650,
    host: "::",
    root: "/srv/share",
    writable: true,
  });
  const readOnly = logged({ ...started, readOnly: true });
  assert.equal(readOnly.text, "Serving '/srv/share' on port 3650, read-only");
  assert.equal(readOnly.json.writable, false);
});

Deno.test("idle shutdown, removed partials, errors, stopping and stopped each get their line", () => {
  const cases: [ServerEvent, string, string, Record<string, unknown>][] = [
    [
      { type: "idle-shutdown", idleTimeoutMs: 1500 },
      "idle-shutdown",
      "No connection for 1.5 s: shutting down",
      { idleSeconds: 1.5 },
    ],
    [
      { type: "partials-removed", count: 3 },
      "partials-removed",
      "Removed 3 stale partial upload(s)",
      { count: 3 },
    ],
    [
      { type: "error", what: "accept", message: "Too many open files" },
      "accept-error",
      "Accept failed: Too many open files",
      {},
    ],
    [
      { type: "error", what: "sweep", message: "Permission denied" },
      "sweep-error",
      "Sweep failed: Permission denied",
      {},
    ],
    [
      { type: "stopping", active: 0, graceMs: 30_000 },
      "stopping",
      "Not accepting connections",
      { active: 0, graceSeconds: 30 },
    ],
    [
      { type: "stopping", active: 2, graceMs: 30_000 },
      "stopping",
      "Not accepting connections; letting 2 connection(s) finish for up to 30 s",
      { active: 2, graceSeconds: 30 },
    ],
    [{ type: "stopped" }, "stopped", "Server stopped", {}],
  ];
  for (const [event, name, message, fields] of cases) {
    const line = logged(event);
    assert.equal(line.text, message);
    const { time: _t, ...json } = line.json;
    assert.deepEqual(json, { event: name, message, ...fields });
  }
});

Deno.test("request-start and request-progress write nothing; request-end writes the request line", () => {
  const { log, lines } = capture("text");
  log.handle({ type: "request-start", record });
  log.handle({ type: "request-progress", record });
  assert.deepEqual(lines, []);
  log.handle({ type: "request-end", record, ms: 1000 });
  assert.equal(lines.length, 1);
});

Deno.test("a request's text line: peer, protocol, op, name, bytes, duration, rate, resume, outcome", () => {
  const { log, lines } = capture("text");
  log.request(record, 1000);
  log.request(
    {
      ...record,
      op: "get",
      name: "missing.txt",
      bytes: 0,
      resumedFrom: 0,
      outcome: "cancel",
      reason: "not-found",
      message: 'No file named "missing.txt" on the server',
    },
    2.5,
  );
  log.request({
    id: 9,
    peer: "[::1]:5",
    protocol: "unknown",
    op: "-",
    bytes: 0,
    outcome: "timeout",
    message: "No command",
  }, 10_000);
  const texts = lines.map((line) => line.split(" ").slice(1).join(" "));
  assert.deepEqual(texts, [
    '192.0.2.5:40000 ps2 put "apple.jpg" 2097152 B 1.000 s 2.0 MiB/s resumed-from=2097152 ok',
    '192.0.2.5:40000 ps2 get "missing.txt" 0 B 0.003 s 0.0 MiB/s cancel not-found ' +
    '(No file named "missing.txt" on the server)',
    "[::1]:5 unknown - 0 B 10.000 s 0.0 MiB/s timeout (No command)",
  ]);
});

Deno.test("a name from the network cannot break a text log line in two", () => {
  const { log, lines } = capture("text");
  log.request({ ...record, name: "evil\nFORGED LINE\u001b[2J" }, 1);
  assert.equal(lines.length, 1);
  assert.ok(!lines[0]!.includes("\n"), "no newline inside the line");
  assert.ok(!lines[0]!.includes("\u001b"), "no terminal escape inside the line");
});

Deno.test("a request's JSON line is a RequestLogLine: the record without its id, ms and MiB/s rounded", () => {
  const { log, lines } = capture("json");
  log.request(record, 1234.5678);
  const line = JSON.parse(lines[0]!) as RequestLogLine;
  assert.match(line.time, ISO);
  const expected: RequestLogLine = {
    time: line.time,
    event: "request",
    peer: "192.0.2.5:40000",
    protocol: "ps2",
    op: "put",
    name: "apple.jpg",
    size: 4 * MiB,
    bytes: 2 * MiB,
    resumedFrom: 2 * MiB,
    outcome: "ok",
    ms: 1234.6,
    mibps: 1.6,
  };
  assert.deepEqual(line, expected);
  assert.ok(!("id" in line), "the id is the server's own");
});

Deno.test("a request that took no time logs a rate of 0, not infinity", () => {
  const json = capture("json");
  json.log.request(record, 0);
  assert.equal((JSON.parse(json.lines[0]!) as RequestLogLine).mibps, 0);
  const text = capture("text");
  text.log.request(record, 0);
  assert.match(text.lines[0]!, / 0\.000 s 0\.0 MiB\/s /);
});
