// Names across systems: what Windows cannot hold is refused on every system
// (so that a folder shared from Linux can be fetched to Windows), and names
// that differ only in letter case or Unicode normalisation are never folded
// by privateshare: where a file system keeps them apart they are two files,
// where it folds them the second is refused and nothing is overwritten.

import assert from "node:assert/strict";
import { join } from "node:path";
import { CancelError } from "../lib/protocol/errors.ts";
import { nameProblem, validateName } from "../lib/protocol/names.ts";
import { namesIn, runClient, startTestServer, tempDir } from "./helpers.ts";

const DEVICES = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"];
for (const digit of "0123456789¹²³") DEVICES.push(`COM${digit}`, `LPT${digit}`);

function refused(name: string, rule: RegExp): void {
  const problem = nameProblem(name);
  assert.ok(problem !== undefined, `nameProblem accepts ${JSON.stringify(name)}`);
  assert.match(problem, rule, JSON.stringify(name));
  assert.throws(() => validateName(name), (error: unknown) => {
    assert.ok(error instanceof CancelError, `expected a CancelError, got ${error}`);
    assert.equal(error.reason, "invalid-name");
    assert.ok(error.message.includes(JSON.stringify(name)), `the message names ${name}`);
    return true;
  });
}

Deno.test("Windows device names are refused in any case, with or without an extension", () => {
  for (const device of DEVICES) {
    const lower = device.toLowerCase();
    const mixed = device[0] + lower.slice(1);
    for (const stem of [device, lower, mixed]) {
      for (const name of [stem, `${stem}.txt`, `${stem}.tar.gz`, `${stem} .txt`, `${stem}  .log`]) {
        refused(name, new RegExp(`'${device.replace("$", "\\$")}' is a device name on Windows`));
      }
    }
  }
  // The examples, as a person would type them.
  refused("aux.txt", /'AUX' is a device name/);
  refused("nul.tar.gz", /'NUL' is a device name/);
});

Deno.test("names that only contain or resemble a device name are fine", () => {
  const good = [
    "console.log",
    "auxiliary.txt",
    "null.txt",
    "connect",
    "com",
    "com10",
    "lpt10.txt",
    "COMA",
    "x.con",
    "x.aux.txt",
    "my aux.txt",
    " aux", // Windows keeps leading spaces: this is not the device.
    "aux_1.txt",
    "nul-1.tar.gz",
  ];
  for (const name of good) assert.equal(nameProblem(name), undefined, JSON.stringify(name));
});

Deno.test("a name ending with a dot or a space is refused: Windows would store another name", () => {
  for (const name of ["a.", "a ", "a. ", "a .", "...", "a..", "report.pdf.", "notes ", "x\u0020"]) {
    refused(name, /ends with a dot or a space, which Windows drops/);
  }
  // Inside a name, or leading, they are fine.
  for (const name of [". a", " a", "a b", "a.b", "a..b", ".hidden", "a . b"]) {
    assert.equal(nameProblem(name), undefined, JSON.stringify(name));
  }
  // Other spaces are not stripped by Windows, and stay allowed at the end.
  assert.equal(nameProblem("a\u00a0"), undefined);
  assert.equal(nameProblem("a\u3000"), undefined);
});

Deno.test('the characters < > : " | ? * are refused anywhere in a name', () => {
  for (const char of ["<", ">", ":", '"', "|", "?", "*"]) {
    for (const name of [`${char}a`, `a${char}b`, `ab${char}`, `${char}`]) {
      const rule = char === ":" && /^[A-Za-z]:/.test(name)
        ? /drive letter/
        : new RegExp(`contains '\\${char}', which Windows does not allow`);
      refused(name, rule);
    }
  }
  // An NTFS alternate data stream, a wildcard, a quoted name.
  refused("file.txt::$DATA", /':'/);
  refused("*.txt", /'\*'/);
  refused('say "hi".txt', /'"'/);
  // Their URL-encoded forms too, as for every rule.
  refused("why%3f.txt", /URL-decoded/);
  refused("aux%2etxt", /URL-decoded/);
  // Look-alike characters from other scripts are ordinary characters.
  for (const name of ["a\uff1ab", "a\u2236b", "\uff1f.txt", "a\u2044b"]) {
    assert.equal(nameProblem(name), undefined, JSON.stringify(name));
  }
});

// ---------------------------------------------------------------------------
// Case and Unicode normalisation.

/** Pairs of names that differ only in letter case or in Unicode normalisation. */
const PAIRS: [label: string, first: string, second: string][] = [
  ["letter case", "Apple.txt", "apple.txt"],
  ["letter case, all of it", "readme.md", "README.MD"],
  ["normalisation (NFC, then NFD)", "caf\u00e9.txt", "cafe\u0301.txt"],
  ["letter case and normalisation", "\u00c9t\u00e9.txt", "e\u0301te\u0301.txt"],
];

Deno.test("names are never folded or normalised: variants in case or Unicode form are each a good name", () => {
  for (const [label, first, second] of PAIRS) {
    assert.notEqual(first, second, label);
    assert.equal(nameProblem(first), undefined, `${label}: ${first}`);
    assert.equal(nameProblem(second), undefined, `${label}: ${second}`);
  }
  // Compatibility forms are different names too (no NFKC either).
  for (const name of ["\ufb01le.txt", "\u212bngstr\u00f6m", "\u2460.txt", "stra\u00dfe"]) {
    assert.equal(nameProblem(name), undefined, JSON.stringify(name));
  }
});

/**
 * Which pairs the file system under the temporary folder treats as one name,
 * found by creating the first and looking for the second.
 */
async function foldedPairs(): Promise<Set<string>> {
  await using probe = await tempDir();
  const folded = new Set<string>();
  for (const [index, [label, first, second]] of PAIRS.entries()) {
    const dir = join(probe.path, String(index));
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(join(dir, first), "probe");
    try {
      await Deno.lstat(join(dir, second));
      folded.add(label);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return folded;
}

const FOLDED = await foldedPairs();
const KEPT_APART = PAIRS.filter(([label]) => !FOLDED.has(label));
const FOLDING = PAIRS.filter(([label]) => FOLDED.has(label));

Deno.test({
  name: `names that differ only in case or normalisation are two files where the file system ` +
    `keeps them apart (here: ${KEPT_APART.map(([label]) => label).join("; ") || "none"})`,
  ignore: KEPT_APART.length === 0,
  async fn() {
    await using base = await tempDir();
    const served = join(base.path, "served");
    const local = join(base.path, "local");
    const down = join(base.path, "down");
    for (const dir of [served, local, down]) await Deno.mkdir(dir);
    const server = await startTestServer({ root: served });
    try {
      const port = String(server.port);
      const content = new Map<string, string>();
      for (const [label, first, second] of KEPT_APART) {
        for (const name of [first, second]) {
          content.set(name, `${label}: ${name}\n`);
          await Deno.writeTextFile(join(local, "upload"), content.get(name)!);
          const put = await runClient([
            "localhost",
            port,
            "put",
            join(local, "upload"),
            "--as",
            name,
          ]);
          assert.equal(put.code, 0, `put ${JSON.stringify(name)}: ${put.stderr}`);
        }
      }
      const list = await runClient(["localhost", port, "list", "--json"]);
      assert.equal(list.code, 0, list.stderr);
      const listed = JSON.parse(list.stdout).map((f: { name: string }) => f.name).sort();
      assert.deepEqual(listed, [...content.keys()].sort(), "every name is listed as sent");
      for (const [name, text] of content) {
        assert.equal(await Deno.readTextFile(join(served, name)), text, `served ${name}`);
        const get = await runClient(["localhost", port, "get", name], { cwd: down });
        assert.equal(get.code, 0, `get ${JSON.stringify(name)}: ${get.stderr}`);
        assert.equal(await Deno.readTextFile(join(down, name)), text, `got ${name}`);
      }
      assert.deepEqual(namesIn(down), [...content.keys()].sort(), "no name was rewritten");
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: FOLDING.length > 0
    ? `where the file system folds names (here: ${FOLDING.map(([label]) => label).join("; ")}), ` +
      `the second of two names is refused on both ends and nothing is overwritten`
    : "where the file system folds names, the second of two names is refused on both ends and " +
      "nothing is overwritten (ignored: this temporary folder keeps every pair apart, as Linux " +
      "does; it runs on macOS and Windows)",
  ignore: FOLDING.length === 0,
  async fn() {
    await using base = await tempDir();
    const served = join(base.path, "served");
    const local = join(base.path, "local");
    for (const dir of [served, local]) await Deno.mkdir(dir);
    const server = await startTestServer({ root: served });
    try {
      const port = String(server.port);
      for (const [label, first, second] of FOLDING) {
        await Deno.writeTextFile(join(local, "one"), `first: ${label}\n`);
        await Deno.writeTextFile(join(local, "two"), `second: ${label}\n`);
        const put = await runClient(["localhost", port, "put", join(local, "one"), "--as", first]);
        assert.equal(put.code, 0, `put ${first}: ${put.stderr}`);
        // The server's file system finds the first under the second name.
        const again = await runClient([
          "localhost",
          port,
          "put",
          join(local, "two"),
          "--as",
          second,
        ]);
        assert.equal(again.code, 3, `put ${second} (${label}): ${again.stderr}`);
        assert.match(again.stderr, /already exists on the server/);
        assert.equal(await Deno.readTextFile(join(served, first)), `first: ${label}\n`);

        // The client's folder folds too: a get of the second name finds the
        // first one's download there and refuses, without --force.
        const down = await Deno.makeTempDir({ dir: base.path });
        const get = await runClient(["localhost", port, "get", first], { cwd: down });
        assert.equal(get.code, 0, `get ${first}: ${get.stderr}`);
        await Deno.writeTextFile(join(down, first), "kept locally\n");
        const clash = await runClient(["localhost", port, "get", second], { cwd: down });
        assert.equal(clash.code, 6, `get ${second} (${label}): ${clash.stderr}`);
        assert.match(clash.stderr, /already exists: add --force/);
        assert.equal(await Deno.readTextFile(join(down, first)), "kept locally\n");
        assert.deepEqual(namesIn(down), [first], "no partial download is left behind");
      }
    } finally {
      await server.stop();
    }
  },
});
