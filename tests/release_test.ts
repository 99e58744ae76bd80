// The release, without the network: `deno task release --dry-run` packs a
// stand-in for each program, so the archives' names and contents and the
// SHA256SUMS file are checked here, with the system's own tar, unzip and
// sha256sum where they exist; the tag check; and the compile command lines,
// with exactly the permissions each target's programs carry.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  compileArgs,
  isWindows,
  permissionsFor,
  programFile,
  PROGRAMS,
  ROOT,
  TARGETS,
} from "../tools/build.ts";
import { archiveName, checkTag, ReleaseError, standIn } from "../tools/release.ts";
import { tempDir } from "./helpers.ts";

const CONFIG = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
const VERSION: string = CONFIG.version;
const decoder = new TextDecoder();

/** The one program each target's GUI runs to open the browser. */
const OPENERS: Record<string, string> = {
  "x86_64-unknown-linux-gnu": "xdg-open",
  "aarch64-unknown-linux-gnu": "xdg-open",
  "x86_64-apple-darwin": "open",
  "aarch64-apple-darwin": "open",
  "x86_64-pc-windows-msvc": "cmd",
};

/**
 * Exactly the permissions a program carries on a target: the command
 * line's network, read and write in full; for the GUI, the one opener and
 * the four variables that locate the home and settings folders, and, for
 * the server's page (it shows the addresses clients can use), the network
 * interfaces, with the host name for its certificate and the free space
 * it checks before a folder put.
 */
function expectedPermissions(entry: string, target: string): string[] {
  return [
    "--allow-net",
    "--allow-read",
    "--allow-write",
    entry === "server.ts"
      ? "--allow-sys=hostname,networkInterfaces,statfs"
      : "--allow-sys=networkInterfaces",
    `--allow-run=${OPENERS[target]}`,
    "--allow-env=HOME,USERPROFILE,XDG_CONFIG_HOME,APPDATA,PRIVATESHARE_PASSWORD," +
    "DENO_CERT,NODE_EXTRA_CA_CERTS,DENO_TLS_CA_STORE",
  ];
}

/** Flags that would grant more than the programs need. */
const TOO_WIDE =
  /--allow-all|(?:^|\s)-A(?:\s|$)|--allow-(?:run|env|sys)(?!=)|--allow-ffi|--allow-hrtime/;

/** Runs a command to completion, killed after `ms`; undefined when it is not installed. */
async function run(
  command: string,
  args: string[],
  options: { cwd?: string; ms?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string } | undefined> {
  try {
    const out = await new Deno.Command(command, {
      args,
      cwd: options.cwd ?? ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
      signal: AbortSignal.timeout(options.ms ?? 120_000),
    }).output();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** `deno task release ARGS` in the repository, as a person runs it. */
async function releaseTask(args: string[]) {
  const result = await run(Deno.execPath(), ["task", "release", ...args]);
  assert.ok(result, "deno runs");
  return result;
}

/** Unpacks an archive with the system's tools into `dir`; the tool's name, or undefined. */
async function unpack(archive: string, dir: string): Promise<string | undefined> {
  await Deno.mkdir(dir, { recursive: true });
  const tries: [string, string[]][] = archive.endsWith(".zip")
    ? [
      ["unzip", ["-q", archive, "-d", dir]],
      ["python3", ["-m", "zipfile", "-e", archive, dir]],
      ["tar", ["-xf", archive, "-C", dir]], // bsdtar (macOS, Windows) reads zip; GNU tar does not
    ]
    : [["tar", ["-xzf", archive, "-C", dir]]];
  for (const [tool, args] of tries) {
    const result = await run(tool, args);
    if (result?.code === 0) return tool;
  }
  return undefined;
}

/** Every file under a folder, as `/`-separated relative paths, sorted. */
function walk(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const rel = prefix + entry.name;
    if (entry.isDirectory) out.push(rel + "/", ...walk(join(dir, entry.name), rel + "/"));
    else out.push(rel);
  }
  return out.sort();
}

Deno.test(
  "deno task release --dry-run packs five archives of both programs, README and LICENSE, with SHA256SUMS",
  async () => {
    await using base = await tempDir();
    const out = join(base.path, "release");
    const result = await releaseTask(["--dry-run", "--out", out]);
    assert.equal(result.code, 0, result.stderr);

    // Names: one archive per target, .zip for Windows, and SHA256SUMS.
    const names = TARGETS.map((target) => archiveName(target, VERSION));
    assert.deepEqual(names, [
      `privateshare-${VERSION}-x86_64-unknown-linux-gnu.tar.gz`,
      `privateshare-${VERSION}-aarch64-unknown-linux-gnu.tar.gz`,
      `privateshare-${VERSION}-x86_64-apple-darwin.tar.gz`,
      `privateshare-${VERSION}-aarch64-apple-darwin.tar.gz`,
      `privateshare-${VERSION}-x86_64-pc-windows-msvc.zip`,
    ]);
    assert.deepEqual(walk(out), [...names, "SHA256SUMS"].sort());

    // SHA256SUMS: "DIGEST  NAME" per archive, sorted by name, each digest right.
    const sums = await Deno.readTextFile(join(out, "SHA256SUMS"));
    assert.ok(sums.endsWith("\n") && !sums.endsWith("\n\n"), "one line per archive");
    const lines = sums.trimEnd().split("\n");
    assert.deepEqual(lines.map((line) => line.slice(66)), [...names].sort());
    for (const line of lines) {
      assert.match(line, /^[0-9a-f]{64} {2}privateshare-[^\s/\\]+$/);
      const digest = createHash("sha256").update(await Deno.readFile(join(out, line.slice(66))))
        .digest("hex");
      assert.equal(line.slice(0, 64), digest, line);
    }
    const check = await run("sha256sum", ["-c", "SHA256SUMS"], { cwd: out }) ??
      await run("shasum", ["-a", "256", "-c", "SHA256SUMS"], { cwd: out });
    if (check) {
      assert.equal(check.code, 0, check.stdout + check.stderr);
      assert.equal(check.stdout.match(/: OK$/gm)?.length, names.length);
    } else {
      console.log("sha256sum and shasum are not installed: SHA256SUMS checked by this test only");
    }

    // Contents: a folder named after the archive with the two programs,
    // README.md and LICENSE, byte for byte; programs executable.
    const readme = await Deno.readFile(join(ROOT, "README.md"));
    const license = await Deno.readFile(join(ROOT, "LICENSE"));
    for (const target of TARGETS) {
      const folder = `privateshare-${VERSION}-${target}`;
      const dir = join(base.path, "unpacked", target);
      const tool = await unpack(join(out, archiveName(target, VERSION)), dir);
      assert.ok(tool, `no tool here unpacks ${archiveName(target, VERSION)}`);
      const programs = PROGRAMS.map((program) => programFile(program, target));
      assert.deepEqual(
        walk(dir),
        [`${folder}/`, ...[...programs, "README.md", "LICENSE"].map((f) => `${folder}/${f}`)]
          .sort(),
        `${target} (unpacked with ${tool})`,
      );
      assert.equal(programs.every((file) => file.endsWith(".exe")), isWindows(target));
      assert.deepEqual(await Deno.readFile(join(dir, folder, "README.md")), readme);
      assert.deepEqual(await Deno.readFile(join(dir, folder, "LICENSE")), license);
      for (const file of programs) {
        const path = join(dir, folder, file);
        assert.equal(await Deno.readTextFile(path), standIn(file, target));
        const mode = (await Deno.stat(path)).mode;
        // tar and unzip keep the mode; Python's zipfile and Windows do not.
        if (mode !== null && (tool === "tar" || tool === "unzip")) {
          assert.equal(mode & 0o111, 0o111, `${target}: ${file} is executable`);
        }
      }
    }

    // The compile commands it would have run: exactly each target's permissions, the target.
    for (const target of TARGETS) {
      for (const program of PROGRAMS) {
        const line = result.stdout.split("\n").find((l) =>
          l.includes(`--target ${target} `) && l.endsWith(` ${program.entry}`)
        );
        assert.ok(line, `a compile of ${program.entry} for ${target}: ${result.stdout}`);
        assert.match(line, /would run: deno compile --quiet --no-prompt --allow-net /);
        const granted = line.split(" ").filter((word) => word.startsWith("--allow-"));
        assert.deepEqual(
          granted,
          expectedPermissions(program.entry, target),
          `${program.entry} for ${target}`,
        );
        assert.ok(line.includes(programFile(program, target)));
      }
    }
    assert.doesNotMatch(result.stdout, TOO_WIDE);
    assert.doesNotMatch(result.stdout, /--include|--deny-/);
  },
);

Deno.test("a release whose tag names another version fails before building anything", async () => {
  await using base = await tempDir();
  const out = join(base.path, "release");
  const wrong = await releaseTask(["--dry-run", "--tag", "v99.0.0", "--out", out]);
  assert.equal(wrong.code, 1, wrong.stderr);
  const said = wrong.stderr.trimEnd().split("\n").filter((l) => !l.includes("Task release"));
  assert.equal(said.length, 1, wrong.stderr);
  assert.equal(
    said[0],
    `release: Tag 'v99.0.0' does not match the version in deno.json ('${VERSION}'): ` +
      `set "version" to "99.0.0" in deno.json and tag that commit, or tag 'v${VERSION}'`,
  );
  assert.equal(wrong.stdout, "");
  await assert.rejects(Deno.stat(out), Deno.errors.NotFound, "nothing was built");

  const right = await releaseTask(["--dry-run", "--tag", `v${VERSION}`, "--out", out]);
  assert.equal(right.code, 0, right.stderr);
  assert.match(right.stdout, new RegExp(`privateshare ${VERSION.replaceAll(".", "\\.")} \\(tag v`));
});

Deno.test("checkTag takes the version with or without v, and nothing else", () => {
  for (const tag of ["v1.2.3", "1.2.3", "refs/tags/v1.2.3"]) checkTag(tag, "1.2.3");
  for (const tag of ["v1.2.4", "1.2", "", "v", "vv1.2.3", "v1.2.3-rc.1", "V1.2.3", "v1.2.3 "]) {
    assert.throws(() => checkTag(tag, "1.2.3"), ReleaseError, JSON.stringify(tag));
  }
});

Deno.test("release refuses an unknown flag with exit 2 and an unknown target with exit 1", async () => {
  await using base = await tempDir();
  const flag = await releaseTask(["--dry-run", "--bogus"]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /release: Unknown option '--bogus'\nUsage: deno task release /);
  const out = join(base.path, "release");
  const target = await releaseTask(["--dry-run", "--target", "mips-unknown-linux", "--out", out]);
  assert.equal(target.code, 1);
  assert.match(target.stderr, /release: Unknown target 'mips-unknown-linux': give one of x86_64/);
  await assert.rejects(Deno.stat(out), Deno.errors.NotFound, "nothing was built");
});

Deno.test("each target's programs are compiled with exactly their permissions, quiet, never prompting", () => {
  const [server, client] = PROGRAMS;
  assert.equal(server!.entry, "server.ts");
  assert.equal(client!.entry, "client.ts");
  assert.deepEqual(Object.keys(OPENERS), [...TARGETS], "an opener for every target");
  for (const target of TARGETS) {
    for (const program of PROGRAMS) {
      const permissions = permissionsFor(program, target);
      assert.deepEqual(
        permissions,
        expectedPermissions(program.entry, target),
        `${program.name} for ${target}`,
      );
      assert.doesNotMatch(permissions.join(" "), TOO_WIDE);
      assert.deepEqual(compileArgs({ program, output: "out/p", target }), [
        "compile",
        "--quiet",
        "--no-prompt",
        ...expectedPermissions(program.entry, target),
        "--target",
        target,
        "--output",
        "out/p",
        program.entry,
      ]);
    }
  }
  // The host build names no target, and carries this system's permissions.
  // Nothing is --include'd: the GUI's assets are text imports, embedded with
  // the module graph (compiled_test.ts finds each program's page in it).
  for (const program of PROGRAMS) {
    assert.deepEqual(compileArgs({ program, output: "p" }), [
      "compile",
      "--quiet",
      "--no-prompt",
      ...permissionsFor(program, Deno.build.target),
      "--output",
      "p",
      program.entry,
    ]);
  }
});

Deno.test("the gui tasks let the GUI read the same environment variables as the compiled programs", () => {
  for (const task of ["gui-server", "gui-client"]) {
    const words: string[] = CONFIG.tasks[task].split(" ");
    const env = words.filter((word) => word.startsWith("--allow-env"));
    assert.deepEqual(env, [
      "--allow-env=HOME,USERPROFILE,XDG_CONFIG_HOME,APPDATA,DENO_CERT,NODE_EXTRA_CA_CERTS," +
      "DENO_TLS_CA_STORE",
    ], task);
  }
});

Deno.test("--version of both programs is the version in deno.json", async () => {
  const programs: [entry: string, name: string][] = [
    ["server.ts", "privateshare-server"],
    ["client.ts", "privateshare"],
  ];
  for (const [entry, name] of programs) {
    const result = await run(Deno.execPath(), ["run", "--no-prompt", entry, "--version"]);
    assert.equal(result?.code, 0, result?.stderr);
    assert.equal(result?.stdout, `${name} ${VERSION}\n`);
  }
});
