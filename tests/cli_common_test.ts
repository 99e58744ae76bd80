// What both command lines share (exit codes, parsing of numbers, the line
// for an unexpected error) and the client's wording of each library failure,
// which is where a flag that fixes it is named.

import assert from "node:assert/strict";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ClientError, type FailureKind, get } from "../lib/mod.ts";
import { describe } from "../lib/cli/client.ts";
import {
  describeUnexpected,
  EXIT,
  EXIT_FOR,
  isParseArgsError,
  parseCount,
  parsePort,
  parseSeconds,
  UsageError,
} from "../lib/cli/common.ts";
import { tempDir } from "./helpers.ts";

function usageError(fn: () => unknown, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof UsageError, `a UsageError, not ${error}`);
    assert.equal(error.message, message);
    return true;
  });
}

Deno.test("every kind of client failure exits with the code README documents", () => {
  const documented: Record<FailureKind, number> = {
    usage: 2,
    refused: 3,
    connection: 4,
    corrupt: 5,
    local: 6,
    protocol: 7,
    untrusted: 8,
    aborted: 130,
  };
  assert.deepEqual(EXIT_FOR, documented);
  assert.equal(EXIT.ok, 0);
  assert.equal(EXIT.internal, 1);
});

Deno.test("parsePort takes a whole number from 0 to 65535 and names anything else", () => {
  assert.equal(parsePort("0"), 0);
  assert.equal(parsePort("365"), 365);
  assert.equal(parsePort("65535"), 65535);
  usageError(() => parsePort(undefined), "Missing PORT: give a port number such as 365");
  for (const bad of ["65536", "-1", "3.5", "abc", "", " 80", "0x50", "1e3"]) {
    usageError(
      () => parsePort(bad),
      `Invalid port '${bad}': give a whole number from 0 to 65535`,
    );
  }
});

Deno.test("parseSeconds takes 0 or more seconds, fractions too, as milliseconds", () => {
  assert.equal(parseSeconds("--timeout", undefined, 30_000), 30_000, "the default");
  assert.equal(parseSeconds("--timeout", "0", 30_000), 0);
  assert.equal(parseSeconds("--timeout", "1.5", 30_000), 1500);
  assert.equal(parseSeconds("--timeout", "0.0004", 30_000), 0);
  assert.equal(parseSeconds("--grace", "86400", 1), 86_400_000);
  for (const bad of ["-1", "", " ", "abc", "Infinity", "NaN", "1s"]) {
    usageError(
      () => parseSeconds("--grace", bad, 1),
      `Invalid --grace '${bad}': give a number of seconds, 0 or more`,
    );
  }
});

Deno.test("parseCount takes a whole number of at least 1", () => {
  assert.equal(parseCount("--max-connections", undefined, 128), 128);
  assert.equal(parseCount("--max-connections", "1", 128), 1);
  assert.equal(parseCount("--max-connections", "1000", 128), 1000);
  for (const bad of ["0", "-2", "1.5", "x", ""]) {
    usageError(
      () => parseCount("--max-connections", bad, 128),
      `Invalid --max-connections '${bad}': give a whole number, 1 or more`,
    );
  }
});

Deno.test("a usage error shows the usage line unless told not to", () => {
  assert.equal(new UsageError("x").showUsage, true);
  assert.equal(new UsageError("x", false).showUsage, false);
});

Deno.test("isParseArgsError tells a flag mistake from other errors", () => {
  let thrown: unknown;
  try {
    parseArgs({ args: ["--nope"], options: {} });
  } catch (error) {
    thrown = error;
  }
  assert.ok(isParseArgsError(thrown));
  assert.ok(!isParseArgsError(new Error("other")));
  assert.ok(!isParseArgsError(undefined));
});

Deno.test("an unexpected error is one line with its name, message and place, asking for a report", () => {
  const line = describeUnexpected(new RangeError("Offset out of range"));
  assert.match(
    line,
    /^Unexpected error: RangeError: Offset out of range \(at .+\): please report it$/,
  );
  assert.ok(!line.includes("\n"));
  assert.equal(describeUnexpected("a string"), "Unexpected error: a string: please report it");
});

Deno.test("describe names the flag that fixes each failure the library reports by code", () => {
  const cases: [ClientError, string][] = [
    [
      new ClientError("usage", "privateshare needs write permission to save 'a.txt'", {
        code: "permission",
        permission: "write",
        purpose: "to save 'a.txt'",
      }),
      "privateshare needs --allow-write to save 'a.txt': run it with --allow-write",
    ],
    [
      new ClientError("local", "'a.txt' already exists", { code: "exists", path: "a.txt" }),
      "'a.txt' already exists: add --force to overwrite it, or --output to save elsewhere",
    ],
    [
      new ClientError("local", "'a.txt' appeared while downloading and was left alone", {
        code: "appeared",
      }),
      "'a.txt' appeared while downloading and was left alone: add --force to overwrite it " +
      "(the finished download is kept)",
    ],
    [
      new ClientError("protocol", "The server at h:1 did not answer in the privateshare protocol", {
        code: "not-privateshare",
      }),
      "The server at h:1 did not answer in the privateshare protocol: " +
      "if it is an original privateshare server, add --classic",
    ],
    [
      new ClientError("refused", 'The server refused: No file named "x" on the server', {
        reason: "not-found",
      }),
      'The server refused: No file named "x" on the server',
    ],
  ];
  for (const [error, line] of cases) assert.equal(describe(error), line);
});

Deno.test("describe words a real failure of the library: a get over an existing file", async () => {
  await using dir = await tempDir();
  const existing = join(dir.path, "here.txt");
  await Deno.writeTextFile(existing, "mine");
  // Refused before any connection: no server is needed.
  const error = await get("here.txt", { host: "127.0.0.1", port: 9, output: existing })
    .catch((e) => e);
  assert.ok(error instanceof ClientError);
  assert.equal(
    describe(error),
    `'${existing}' already exists: add --force to overwrite it, or --output to save elsewhere`,
  );
  assert.equal(await Deno.readTextFile(existing), "mine");
});
