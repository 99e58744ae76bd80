// The compiled programs. `deno compile` needs its runtime (denort), which it
// downloads from Deno's servers unless DENORT_BIN names one. Where it can get
// it, both programs are compiled as `deno task compile` does and run for a
// put, get and list round trip against the scripts, comparing bytes, output,
// exit codes and log lines, and started with no arguments, as a double-click
// starts them, to open their pages. Where it cannot, that test is reported
// as ignored, with the reason in its name, and a stand-in runtime (the deno
// binary itself, whose output is not run) checks what can be checked
// without it: that deno compile accepts the command lines, and the
// permissions, sources and pages it embeds. Without any runtime, the
// scripts run under exactly the compiled programs' permissions show that
// these let the GUI open the browser; and the help of a compiled program
// is checked against the script's.

import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { help as clientHelp, usage as clientUsage } from "../lib/cli/client.ts";
import { compiledName } from "../lib/cli/common.ts";
import { help as serverHelp, usage as serverUsage } from "../lib/cli/server.ts";
import {
  compile,
  compileArgs,
  CompileError,
  permissionsFor,
  type Program,
  PROGRAMS,
  ROOT,
} from "../tools/build.ts";
import { hostBuild } from "../tools/compile.ts";
import {
  asCompiled,
  fakeOpener,
  NO_FAKE_OPENER,
  OPENER,
  opensItsPage,
  runClient,
  sameBytes,
  startTestServer,
  tempDir,
  type TestServer,
  writeRandomFile,
} from "./helpers.ts";

const decoder = new TextDecoder();
const COMPILE_MS = 600_000;
const RUN_MS = 60_000;

/** Whether deno compile can get its runtime here; why not, when it cannot. */
async function probeRuntime(): Promise<string | undefined> {
  await using dir = await tempDir();
  const entry = join(dir.path, "probe.ts");
  await Deno.writeTextFile(entry, 'console.log("probe");\n');
  const probe: Program = { name: "probe", entry, permissions: [] };
  try {
    await compile(
      { program: probe, output: join(dir.path, "probe") },
      AbortSignal.timeout(300_000),
    );
    return undefined;
  } catch (error) {
    if (error instanceof CompileError && error.runtimeMissing) {
      console.log(error.message);
      return "deno compile cannot download its runtime (denort) from Deno's servers here; " +
        "set DENORT_BIN to a denort binary to run it";
    }
    if (error instanceof DOMException && error.name === "TimeoutError") {
      return "deno compile of a one-line program did not finish in 300 s (downloading its runtime?)";
    }
    // Any other failure is a real one: let the round trip show it.
    return undefined;
  }
}

const MISSING = await probeRuntime();

/** Runs a program to completion with a deadline. */
async function run(command: string, args: string[], cwd?: string) {
  const out = await new Deno.Command(command, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(RUN_MS),
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** The compiled server on port 0 with JSON logs, once it listens. */
async function startCompiledServer(binary: string, root: string, args: string[] = []) {
  const process = new Deno.Command(binary, {
    args: ["0", "--root", root, "--log-format", "json", "--no-announce", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  const stderr = new Response(process.stderr).text();
  const { promise: listened, resolve: listening } = Promise.withResolvers<
    Record<string, unknown>
  >();
  const reading = (async () => {
    let pending = "";
    for await (const chunk of process.stdout) {
      pending += decoder.decode(chunk, { stream: true });
      let at: number;
      while ((at = pending.indexOf("\n")) >= 0) {
        const line = JSON.parse(pending.slice(0, at));
        pending = pending.slice(at + 1);
        lines.push(line);
        if (line.event === "listening") listening(line);
      }
    }
  })();
  const deadline = new Promise<never>((_, reject) => {
    const timer = setTimeout(() => reject(new Error("The compiled server did not listen")), RUN_MS);
    process.status.then(() => clearTimeout(timer));
    listened.then(() => clearTimeout(timer));
  });
  const first = await Promise.race([listened, deadline]);
  return {
    port: first.port as number,
    lines,
    async stop(): Promise<{ code: number; stderr: string }> {
      const kill = (signal: Deno.Signal) => {
        try {
          process.kill(signal);
        } catch {
          // Already gone.
        }
      };
      kill("SIGTERM");
      const timer = setTimeout(() => kill("SIGKILL"), 10_000);
      const status = await process.status;
      clearTimeout(timer);
      await reading;
      return { code: status.code, stderr: await stderr };
    },
  };
}

/** Output with the parts that differ from run to run (times, rates) masked. */
function steady(text: string): string {
  return text
    .replace(/ in \S+ \S+ \([^)]*\)/g, " in TIME (RATE)")
    .replace(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}/g, "DATE");
}

/** A request log line without what differs from run to run. */
function request(line: Record<string, unknown>): Record<string, unknown> {
  const rest = { ...line };
  for (const key of ["time", "peer", "ms", "mibps"]) delete rest[key];
  if (rest.op === "list") delete rest.bytes; // the listing holds modification times
  return rest;
}

Deno.test({
  name: MISSING
    ? `compiled server and client round-trip put, get and list like the scripts ` +
      `(ignored: ${MISSING})`
    : "compiled server and client round-trip put, get and list like the scripts",
  ignore: MISSING !== undefined,
  async fn() {
    await using base = await tempDir();
    const bin = join(base.path, "bin");
    const specs = hostBuild(bin);
    for (const spec of specs) await compile(spec, AbortSignal.timeout(COMPILE_MS));
    const [serverBin, clientBin] = specs.map((spec) => spec.output) as [string, string];
    await assertEmbeds(serverBin, PROGRAMS[0]!);
    await assertEmbeds(clientBin, PROGRAMS[1]!);

    const dirs = Object.fromEntries(
      ["compiledRoot", "scriptRoot", "local", "compiledDown", "scriptDown"].map((
        name,
      ) => [name, join(base.path, name)]),
    );
    for (const dir of Object.values(dirs)) await Deno.mkdir(dir);
    const name = "round trip, 文件.bin";
    const source = join(dirs.local!, name);
    await writeRandomFile(source, 5 * 1024 * 1024 + 3, 15);

    // The compiled server is given no permission flags: they are built in,
    // and it accepts uploads.
    const compiled = await startCompiledServer(serverBin, dirs.compiledRoot!);
    let script: TestServer | undefined;
    try {
      script = await startTestServer({ root: dirs.scriptRoot! });
      const [compiledStart, scriptStart] = [compiled.lines[0]!, script.lines[0]!];
      assert.equal(compiledStart.writable, true, "the compiled server accepts uploads");
      assert.deepEqual(Object.keys(compiledStart), Object.keys(scriptStart));
      assert.equal(
        String(compiledStart.message).replace(/'[^']*' on port \d+/, "ROOT PORT"),
        String(scriptStart.message).replace(/'[^']*' on port \d+/, "ROOT PORT"),
      );

      const both = async (args: string[], cwd?: { compiled: string; script: string }) => {
        const a = await run(
          clientBin,
          ["localhost", String(compiled.port), ...args],
          cwd?.compiled,
        );
        const b = await runClient(["localhost", String(script!.port), ...args], {
          ...(cwd ? { cwd: cwd.script } : {}),
        });
        assert.equal(a.code, b.code, `${args.join(" ")}: exit code; ${a.stderr} / ${b.stderr}`);
        assert.equal(steady(a.stdout), steady(b.stdout), `${args.join(" ")}: stdout`);
        assert.equal(
          a.stderr,
          asCompiled(b.stderr, basename(clientBin)),
          `${args.join(" ")}: stderr`,
        );
        return a;
      };

      const put = await both(["put", source]);
      assert.equal(put.code, 0, put.stderr);
      assert.match(put.stdout, /verified sha256/);
      assert.ok(await sameBytes(source, join(dirs.compiledRoot!, name)), "put by the compiled");
      assert.ok(await sameBytes(source, join(dirs.scriptRoot!, name)), "put by the script");

      const list = await both(["list"]);
      assert.match(list.stdout, new RegExp(`5\\.00 MiB {2}\\S+ \\S+ {2}${name}\\n$`));
      // --json carries each server's own modification time: compare without it.
      const json = [
        await run(clientBin, ["localhost", String(compiled.port), "list", "--json"]),
        await runClient(["localhost", String(script.port), "list", "--json"]),
      ].map((r) =>
        JSON.parse(r.stdout).map((f: { name: string; size: number }) => [f.name, f.size])
      );
      assert.deepEqual(json, [[[name, 5 * 1024 * 1024 + 3]], [[name, 5 * 1024 * 1024 + 3]]]);

      const get = await both(["get", name], {
        compiled: dirs.compiledDown!,
        script: dirs.scriptDown!,
      });
      assert.equal(get.code, 0, get.stderr);
      assert.ok(await sameBytes(source, join(dirs.compiledDown!, name)), "got by the compiled");
      assert.ok(await sameBytes(source, join(dirs.scriptDown!, name)), "got by the script");

      // Refusals and misuse: the same words and exit codes.
      assert.equal((await both(["put", source])).code, 3, "a put of an existing name");
      assert.equal((await both(["get", "missing.txt"])).code, 3, "a get of a missing name");
      const again = await both(["get", name], {
        compiled: dirs.compiledDown!,
        script: dirs.scriptDown!,
      });
      assert.equal(again.code, 6, "a get over an existing local file");
      assert.equal((await both(["bogus"])).code, 2, "an unknown operation");
      // The usage lines name the program; every other line is the script's.
      for (const args of [["--version"], ["--help"]]) {
        const a = await run(clientBin, args);
        const b = await runClient(args);
        const expected = { ...b, stdout: asCompiled(b.stdout, basename(clientBin)) };
        assert.deepEqual(a, expected, `client ${args.join(" ")}`);
      }

      // The servers logged the same requests.
      const requests = (lines: Record<string, unknown>[]) =>
        lines.filter((line) => line.event === "request").map(request);
      assert.deepEqual(requests(compiled.lines), requests(script.lines));
    } finally {
      await script?.stop();
      const stopped = await compiled.stop();
      assert.equal(stopped.code, 0, `the compiled server stops cleanly: ${stopped.stderr}`);
    }

    // --read-only refuses uploads; --version, --help and a mistake read as the
    // script's, but for the program's name in the usage lines.
    const readOnly = await startCompiledServer(serverBin, dirs.local!, ["--read-only"]);
    try {
      assert.equal(readOnly.lines[0]!.writable, false);
      const refused = await run(clientBin, ["localhost", String(readOnly.port), "put", source]);
      assert.equal(refused.code, 3, refused.stderr);
      assert.match(refused.stderr, /read-only/);
    } finally {
      await readOnly.stop();
    }
    for (const args of [["--version"], ["--help"], ["0", "--bogus"]]) {
      const a = await run(serverBin, args);
      const b = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-prompt",
          "--allow-net",
          "--allow-read",
          join(ROOT, "server.ts"),
          ...args,
        ],
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(RUN_MS),
      }).output();
      const name = basename(serverBin);
      assert.equal(a.code, b.code, `server ${args.join(" ")}`);
      assert.equal(
        a.stdout,
        asCompiled(decoder.decode(b.stdout), name),
        `server ${args.join(" ")}`,
      );
      assert.equal(
        a.stderr,
        asCompiled(decoder.decode(b.stderr), name),
        `server ${args.join(" ")}`,
      );
    }

    // Started with no arguments, as a double-click starts them, each opens its page.
    if (NO_FAKE_OPENER === undefined) {
      await opensItsPage(serverBin, [], "privateshare server");
      await opensItsPage(clientBin, [], "privateshare client");
    }
  },
});

/**
 * The permissions a program is compiled with for this system, as deno
 * compile embeds them: each granted kind with its list (empty: in full).
 * Only the server's page shows network addresses.
 */
function embedded(program: Program): Record<string, string[]> {
  return {
    "--allow-net": [],
    "--allow-read": [],
    "--allow-write": [],
    "--allow-run": [OPENER],
    "--allow-env": [
      "HOME",
      "USERPROFILE",
      "XDG_CONFIG_HOME",
      "APPDATA",
      "PRIVATESHARE_PASSWORD",
      "DENO_CERT",
      "NODE_EXTRA_CA_CERTS",
      "DENO_TLS_CA_STORE",
    ],
    "--allow-sys": program.entry === "server.ts"
      ? ["hostname", "networkInterfaces", "statfs"]
      : ["networkInterfaces"],
  };
}

/**
 * Checks what a compiled program embeds: exactly the permissions of its
 * command line and its GUI (everything else denied, never a prompt), Deno's
 * own log quiet, its code and its own page (not the other program's).
 */
async function assertEmbeds(binary: string, program: Program): Promise<void> {
  const bytes = await Deno.readFile(binary);
  const at = find(bytes, '"permissions":{');
  assert.ok(at >= 0, `${binary}: no permissions found in what deno compile embedded`);
  const text = decoder.decode(bytes.subarray(at, at + 4096));
  const permissions = JSON.parse(/^"permissions":(\{[^{}]*\})/.exec(text)![1]!);
  const granted = Object.entries(permissions)
    .filter(([key, value]) => key.startsWith("allow_") && key !== "allow_import" && value !== null)
    .map(([key, value]) => [`--${key.replace("_", "-")}`, value]);
  assert.deepEqual(
    Object.fromEntries(granted),
    embedded(program),
    `${binary}: only these permissions; run, env and sys only for the GUI's needs`,
  );
  assert.equal(permissions.prompt, false, `${binary} never prompts`);
  assert.match(text, /"log_level":"ERROR"/, `${binary}: Deno's own notices are quiet`);
  const [own, other] = program.entry === "server.ts"
    ? ["serves one folder over TCP", "put, get and list files and folders on a privateshare server"]
    : [
      "put, get and list files and folders on a privateshare server",
      "serves one folder over TCP",
    ];
  assert.ok(find(bytes, own) >= 0, `${binary} holds ${program.entry}'s code`);
  assert.ok(find(bytes, other) < 0, `${binary} holds only its own program's code`);
  const kind = program.entry === "server.ts" ? "server" : "client";
  const otherKind = kind === "server" ? "client" : "server";
  assert.ok(find(bytes, `<title>privateshare ${kind}</title>`) >= 0, `${binary}: its page`);
  assert.ok(
    find(bytes, `<title>privateshare ${otherKind}</title>`) < 0,
    `${binary}: not the other`,
  );
}

/** Where `text` first occurs in `bytes` as UTF-8, or -1. */
function find(bytes: Uint8Array, text: string): number {
  const needle = new TextEncoder().encode(text);
  for (let at = bytes.indexOf(needle[0]!); at >= 0; at = bytes.indexOf(needle[0]!, at + 1)) {
    let k = 1;
    while (k < needle.length && bytes[at + k] === needle[k]) k++;
    if (k === needle.length) return at;
  }
  return -1;
}

Deno.test({
  name: MISSING
    ? "deno compile accepts the compile task's command lines and embeds each program's " +
      "permissions, code and page (with the deno binary standing in for its runtime; " +
      "the output is not run)"
    : "deno compile accepts the compile task's command lines (ignored: the round trip compiles " +
      "for real here)",
  ignore: MISSING === undefined,
  async fn() {
    await using base = await tempDir();
    for (const spec of hostBuild(join(base.path, "bin"))) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: compileArgs(spec),
        cwd: ROOT,
        env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(COMPILE_MS),
      }).output();
      assert.equal(out.code, 0, decoder.decode(out.stderr));
      await assertEmbeds(spec.output, spec.program);
    }
  },
});

Deno.test({
  name: NO_FAKE_OPENER
    ? `the compiled programs' permissions grant the GUI its opener, its variables and the ` +
      `network interfaces, and nothing more (ignored: ${NO_FAKE_OPENER})`
    : "the compiled programs' permissions grant the GUI its opener, its variables and the " +
      "network interfaces, and nothing more",
  ignore: NO_FAKE_OPENER !== undefined,
  async fn() {
    await using dir = await tempDir();
    const opener = await fakeOpener(dir.path);
    const probe = join(dir.path, "probe.ts");
    await Deno.writeTextFile(
      probe,
      `const state = (descriptor: Deno.PermissionDescriptor) =>
  Deno.permissions.querySync(descriptor).state;
const variables = ["HOME", "USERPROFILE", "XDG_CONFIG_HOME", "APPDATA", "PRIVATESHARE_PASSWORD", "DENO_CERT", "NODE_EXTRA_CA_CERTS", "DENO_TLS_CA_STORE", "DENO_DIR", "PATH", "AWS_SECRET"];
console.log(JSON.stringify({
  opener: state({ name: "run", command: Deno.args[0]! }),
  shell: state({ name: "run", command: "sh" }),
  anyProgram: state({ name: "run" }),
  variables: Object.fromEntries(variables.map((variable) => [variable, state({ name: "env", variable })])),
  anyVariable: state({ name: "env" }),
  networkInterfaces: state({ name: "sys", kind: "networkInterfaces" }),
  hostname: state({ name: "sys", kind: "hostname" }),
  statfs: state({ name: "sys", kind: "statfs" as "uid" }),
  libraries: state({ name: "ffi" }),
  net: state({ name: "net" }),
  read: state({ name: "read" }),
  write: state({ name: "write" }),
}));
`,
    );
    for (const program of PROGRAMS) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-prompt", ...permissionsFor(program, Deno.build.target), probe, OPENER],
        cwd: dir.path,
        env: opener.env,
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(RUN_MS),
      }).output();
      assert.equal(out.code, 0, decoder.decode(out.stderr));
      assert.equal(decoder.decode(out.stderr), "", "no notice about the opener");
      assert.deepEqual(JSON.parse(decoder.decode(out.stdout)), {
        opener: "granted",
        shell: "prompt",
        anyProgram: "prompt",
        variables: {
          HOME: "granted",
          USERPROFILE: "granted",
          XDG_CONFIG_HOME: "granted",
          APPDATA: "granted",
          PRIVATESHARE_PASSWORD: "granted",
          DENO_CERT: "granted",
          NODE_EXTRA_CA_CERTS: "granted",
          DENO_TLS_CA_STORE: "granted",
          DENO_DIR: "prompt",
          PATH: "prompt",
          AWS_SECRET: "prompt",
        },
        anyVariable: "prompt",
        // Both list the interfaces: the server to announce on each, the client to look on each.
        networkInterfaces: "granted",
        hostname: program.entry === "server.ts" ? "granted" : "prompt",
        statfs: program.entry === "server.ts" ? "granted" : "prompt",
        libraries: "prompt",
        net: "granted",
        read: "granted",
        write: "granted",
      }, `${program.name}: "prompt" is not granted (and --no-prompt never asks)`);
    }
  },
});

Deno.test({
  name: NO_FAKE_OPENER
    ? `started with no arguments under the compiled programs' permissions, each program opens ` +
      `its page with the system's opener (ignored: ${NO_FAKE_OPENER})`
    : "started with no arguments under the compiled programs' permissions, each program opens " +
      "its page with the system's opener",
  ignore: NO_FAKE_OPENER !== undefined,
  async fn() {
    for (const program of PROGRAMS) {
      await opensItsPage(
        Deno.execPath(),
        [
          "run",
          "--no-prompt",
          ...permissionsFor(program, Deno.build.target),
          join(ROOT, program.entry),
        ],
        program.entry === "server.ts" ? "privateshare server" : "privateshare client",
      );
    }
  },
});

Deno.test("a compiled program's usage lines name it as it was started; every other line is the script's", async () => {
  assert.equal(compiledName(), undefined, "under deno run the usage lines name the script");
  const programs = [
    { entry: "server.ts", help: serverHelp, usage: serverUsage, mistake: ["0", "--bogus"] },
    { entry: "client.ts", help: clientHelp, usage: clientUsage, mistake: ["bogus"] },
  ];
  for (const { entry, help, usage, mistake } of programs) {
    const script = await run(Deno.execPath(), ["run", "--no-prompt", join(ROOT, entry), "--help"]);
    assert.equal(script.stdout, `${help()}\n`, `${entry} --help`);
    const misuse = await run(Deno.execPath(), [
      "run",
      "--no-prompt",
      join(ROOT, entry),
      ...mistake,
    ]);
    assert.equal(misuse.code, 2);
    assert.ok(misuse.stderr.endsWith(`\n${usage()}\n`), misuse.stderr);
    for (const name of ["privateshare-server", "privateshare-client.exe", "renamed"]) {
      assert.notEqual(help(name), help(), "the usage lines change");
      assert.equal(
        help(name),
        asCompiled(help(), name),
        `${entry} as ${name}: only the usage lines`,
      );
      assert.equal(usage(name), asCompiled(usage(), name));
      assert.doesNotMatch(help(name) + usage(name), /deno run|\.ts\b/);
    }
  }
});
