// The shape of lib/ that issue 9 set: each layer imports only the layers
// below it (so server and client never import each other, and only the CLI
// imports the public API), no import cycle, no module over 400 lines, and no
// command-line flag named outside lib/cli/. Read from the sources, so that a
// change that breaks the shape fails here, not in a later review.

import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT } from "./helpers.ts";

const LIB = join(ROOT, "lib");

/** What each layer may import, besides its own modules (assets/: the pages' shared style, text). */
const ALLOWED: Record<string, readonly string[]> = {
  protocol: [],
  net: ["protocol"],
  transfer: ["protocol", "net"],
  exchange: ["protocol", "net", "transfer"],
  server: ["protocol", "net", "transfer", "exchange", "assets"],
  client: ["protocol", "net", "transfer", "exchange"],
  cli: ["mod.ts", "client_mod.ts", "gui"],
  gui: ["mod.ts", "assets"],
  "mod.ts": [
    "client_mod.ts",
    "version.ts",
    "protocol",
    "net",
    "transfer",
    "exchange",
    "server",
    "client",
  ],
  "client_mod.ts": ["version.ts", "protocol", "net", "transfer", "exchange", "client"],
  "version.ts": ["deno.json"],
};

/** Every .ts file under lib/, relative to it. */
function modules(dir = LIB): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) found.push(...modules(path));
    else if (entry.name.endsWith(".ts")) found.push(relative(LIB, path));
  }
  return found.sort();
}

/** The lines of a module that are code, not comments (JSDoc examples hold imports too). */
function codeLines(module: string): string[] {
  return Deno.readTextFileSync(join(LIB, module)).split("\n").filter((line) => {
    const trimmed = line.trim();
    return !trimmed.startsWith("*") && !trimmed.startsWith("//") && !trimmed.startsWith("/*");
  });
}

/** The relative imports of a module, as paths relative to lib/ (outside lib/ starts with ..). */
function importsOf(module: string): string[] {
  const found: string[] = [];
  for (const line of codeLines(module)) {
    for (const match of line.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
      found.push(relative(LIB, resolve(LIB, dirname(module), match[1]!)));
    }
  }
  return found;
}

/** The layer a module belongs to: its folder under lib/, or its own name at the top. */
function layerOf(module: string): string {
  if (module.startsWith("..")) return module.replace(/^(\.\.\/)+/, "");
  return module.includes("/") ? module.split("/")[0]! : module;
}

Deno.test("each layer of lib/ imports only the layers below it", () => {
  const wrong: string[] = [];
  for (const module of modules()) {
    const layer = layerOf(module);
    const allowed = ALLOWED[layer];
    assert.ok(allowed, `${module} is in a layer the table does not know: ${layer}`);
    for (const target of importsOf(module)) {
      const to = layerOf(target);
      if (to !== layer && !allowed.includes(to)) wrong.push(`${module} imports ${target}`);
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("no import cycle among lib/'s modules", () => {
  const graph = new Map(modules().map((m) => [m, importsOf(m).filter((t) => !t.startsWith(".."))]));
  const state = new Map<string, "visiting" | "done">();
  const visit = (module: string, path: string[]): void => {
    if (state.get(module) === "done") return;
    if (state.get(module) === "visiting") {
      assert.fail(`import cycle: ${[...path.slice(path.indexOf(module)), module].join(" -> ")}`);
    }
    state.set(module, "visiting");
    for (const next of graph.get(module) ?? []) visit(next, [...path, module]);
    state.set(module, "done");
  };
  for (const module of graph.keys()) visit(module, []);
});

Deno.test("no module of lib/ is over 400 lines", () => {
  const long = modules()
    .map((m) => [m, Deno.readTextFileSync(join(LIB, m)).split("\n").length] as const)
    .filter(([, lines]) => lines > 400);
  assert.deepEqual(long, []);
});

Deno.test("no command-line flag is named in lib/ outside its two faces, lib/cli/ and lib/gui/", () => {
  const named = modules()
    .filter((m) => !m.startsWith("cli/") && !m.startsWith("gui/"))
    .flatMap((m) => codeLines(m).filter((l) => /--[a-z]/.test(l)).map((l) => `${m}: ${l.trim()}`));
  assert.deepEqual(named, []);
});

Deno.test("client_mod.ts exports a part of mod.ts, the very same values", async () => {
  const all: Record<string, unknown> = await import("../lib/mod.ts");
  const part: Record<string, unknown> = await import("../lib/client_mod.ts");
  const differ = Object.keys(part).filter((name) => all[name] !== part[name]);
  assert.deepEqual(differ, []);
});

/**
 * The modules that the client program evaluates when it starts: its static
 * imports, without `import type`, `import()` and `import defer`.
 */
async function clientStartModules(): Promise<Set<string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", join(LIB, "cli", "client.ts")],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const graph: {
    modules: {
      specifier: string;
      dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
    }[];
  } = JSON.parse(new TextDecoder().decode(out.stdout));
  const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
  // `import defer` loads a module at its first use, not at start; deno info does not tell.
  const deferred = (importer: string, target: string): boolean =>
    importer.startsWith("file:") &&
    Deno.readTextFileSync(new URL(importer)).includes(`import defer * as`) &&
    new RegExp(`import defer \\* as \\w+ from "${target}"`).test(
      Deno.readTextFileSync(new URL(importer)),
    );
  // Static imports that run at start: not `import type`, not `import()`, not `import defer`.
  const loaded = new Set<string>();
  const visit = (specifier: string): void => {
    if (loaded.has(specifier)) return;
    loaded.add(specifier);
    for (const dep of bySpecifier.get(specifier)?.dependencies ?? []) {
      if (dep.code && !dep.isDynamic && !deferred(specifier, dep.code.specifier)) {
        visit(dep.code.specifier);
      }
    }
  };
  visit(graph.modules.find((m) => m.specifier.endsWith("/lib/cli/client.ts"))!.specifier);
  return loaded;
}

Deno.test("the client program loads no module of the server when it starts (issue 16)", async () => {
  const loaded = await clientStartModules();
  const server = [...loaded].filter((s) => s.includes("/lib/server/") || s === "node:fs");
  assert.deepEqual(server, []);
});

Deno.test("the client program loads no costly node: module when it starts (issue 25)", async () => {
  // Each of these costs a process 2-20 ms to load; a list needs none of them.
  const costly = ["node:crypto", "node:stream", "node:net", "node:tls", "node:fs", "node:dgram"];
  const loaded = [...await clientStartModules()].filter((s) => costly.includes(s));
  assert.deepEqual(loaded, []);
});
