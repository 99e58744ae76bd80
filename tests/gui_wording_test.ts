/**
 * The client page's wording of failures, in process: every failure code,
 * kind and refusal reason the library has is worded for the page, names no
 * command-line flag, and offers the fixes the page shows as buttons.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ClientError, type FailureCode, type FailureKind, REASONS } from "../lib/mod.ts";
import { pageFailure, WORDED } from "../lib/gui/wording.ts";
import { describe } from "../lib/cli/failure.ts";
import { freeName, nameProblem } from "../lib/protocol/names.ts";

const FLAG = /--[a-z]/;
const OPS = ["put", "get", "list"] as const;

/** Every failure the library can report, as close to its real shape as the types allow. */
function everyFailure(): ClientError[] {
  const errors: ClientError[] = [];
  const kinds: FailureKind[] = WORDED.kinds;
  const codes: FailureCode[] = WORDED.codes;
  for (const op of OPS) {
    for (const code of codes) {
      for (const kind of kinds) {
        for (const path of [undefined, "/home/me/.config/privateshare/known_servers"]) {
          errors.push(
            new ClientError(kind, `The server at 127.0.0.1:3650 said no (${code})`, {
              code,
              op,
              permission: "write",
              purpose: "to save 'a.txt'",
              ...(path ? { path } : {}),
            }),
          );
        }
      }
    }
    for (const kind of kinds) errors.push(new ClientError(kind, `Something (${kind})`, { op }));
    for (const reason of REASONS) {
      errors.push(new ClientError("refused", `The server refused (${reason})`, { reason, op }));
    }
  }
  return errors;
}

Deno.test("every failure code, kind and reason has page wording, and none names a flag", () => {
  // The tables are typed as records over the library's unions: a new code without wording fails
  // type-checking; these are the same sets at run time.
  assert.deepEqual([...WORDED.reasons].sort(), [...REASONS].sort());
  assert.ok(WORDED.codes.includes("exists") && WORDED.codes.length >= 16);
  let flagged = 0;
  for (const error of everyFailure()) {
    for (const folder of [false, true]) {
      const words = pageFailure(error, { op: error.op ?? "get", folder });
      assert.doesNotMatch(words.message, FLAG, `${error.code ?? error.kind}: ${words.message}`);
      assert.ok(words.message.length > 0);
      for (const action of words.actions ?? []) {
        assert.ok(["replace", "keep-both", "skip"].includes(action));
      }
    }
    // The command line's wording of the same failure is where the flags are.
    if (FLAG.test(describe(error))) flagged++;
  }
  assert.ok(flagged > 0, "the command line names flags for some of the same failures");
});

Deno.test("the page offers Replace, Keep both and Skip for a get into a name that exists", () => {
  const exists = new ClientError("local", "'Downloads/a.txt' already exists", {
    code: "exists",
    path: "Downloads/a.txt",
  });
  assert.deepEqual(pageFailure(exists, { op: "get" }).actions, ["replace", "keep-both", "skip"]);
  // A folder in the way can be replaced (once the new one is whole) or skipped.
  assert.deepEqual(pageFailure(exists, { op: "get", folder: true }).actions, ["replace", "skip"]);
  const there = new ClientError("refused", "The server refused: 'a.txt' already exists", {
    reason: "exists",
  });
  const put = pageFailure(there, { op: "put" });
  assert.deepEqual(put.actions, ["keep-both", "skip"]);
  assert.match(put.message, /Keep both/);
});

Deno.test("a plain/TLS mismatch sets the TLS box and says so; a cancel is neutral", () => {
  const needs = new ClientError("protocol", "The server at 127.0.0.1:3650 speaks TLS", {
    code: "needs-tls",
  });
  const words = pageFailure(needs, { op: "list" });
  assert.equal(words.tls, true);
  assert.match(words.message, /TLS is now ticked/);
  const plain = new ClientError("protocol", "The server does not speak TLS", { code: "not-tls" });
  assert.equal(pageFailure(plain, { op: "get" }).tls, false);
  for (const op of ["put", "get"] as const) {
    const words = pageFailure(
      new ClientError("aborted", "Cancelled", { code: "cancelled", op }),
      { op },
    );
    assert.equal(words.cancelled, true);
    assert.equal(words.message, `Cancelled: it resumes where it stopped when you ${op} it again`);
  }
});

Deno.test("Keep both numbers the name before its extension", async () => {
  const taken = (names: string[]) => (name: string) => names.includes(name);
  assert.equal(await freeName("photo.jpg", taken([])), "photo (2).jpg");
  assert.equal(await freeName("photo.jpg", taken(["photo (2).jpg"])), "photo (3).jpg");
  assert.equal(await freeName("notes", taken([])), "notes (2)");
  assert.equal(await freeName(".hidden", taken([])), ".hidden (2)");
  assert.equal(await freeName("a.tar.gz", taken([])), "a.tar (2).gz");
});

Deno.test("Keep both stays within 255 bytes, shortening the stem by whole characters", async () => {
  const none = () => false;
  const bytes = (name: string) => new TextEncoder().encode(name).length;
  const long = "a".repeat(251) + ".txt";
  assert.equal(await freeName(long, none), "a".repeat(247) + " (2).txt");
  assert.equal(bytes(await freeName(long, none)), 255);
  // One byte under the limit still fits with its number: nothing is cut.
  assert.equal(await freeName("a".repeat(243) + ".txt", none), "a".repeat(243) + " (2).txt");
  // Four-byte characters are never cut in half.
  const emoji = "\u{1F600}".repeat(62) + ".jpg";
  const free = await freeName(emoji, none);
  assert.ok(bytes(free) <= 255 && free.isWellFormed() && free.endsWith(" (2).jpg"), free);
  assert.equal(nameProblem(free), undefined);
  const names = new Set(["a".repeat(247) + " (2).txt"]);
  assert.equal(await freeName(long, (n) => names.has(n)), "a".repeat(247) + " (3).txt");
});
