/**
 * `deno task compile`: builds `dist/privateshare-server` and
 * `dist/privateshare-client` for the system it runs on.
 *
 * ```
 * deno task compile [--out DIR]
 * ```
 *
 * @module
 */

import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  compile,
  CompileError,
  type CompileSpec,
  isParseArgsError,
  programFile,
  PROGRAMS,
  ROOT,
} from "./build.ts";

const USAGE = "Usage: deno task compile [--out DIR] (--help for more)";
const HELP = `Compiles privateshare's server and client for this system with deno compile.

${USAGE.replace(" (--help for more)", "")}

  --out DIR   where the programs go (default: dist in the repository)
  -h, --help  show this help

deno compile downloads its runtime from Deno's servers; where they cannot be
reached, set DENORT_BIN to a denort binary for this system.
`;

/**
 * The compile steps for this system: one per program.
 *
 * @param outDir the output folder
 * @returns what to compile
 */
export function hostBuild(outDir: string): CompileSpec[] {
  return PROGRAMS.map((program) => ({
    program,
    output: join(outDir, programFile(program, Deno.build.target)),
  }));
}

/**
 * Runs `deno task compile` and exits with its code.
 *
 * @param args the arguments after the task
 */
export async function main(args: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: { out: { type: "string" }, help: { type: "boolean", short: "h" } },
    }));
  } catch (error) {
    if (!isParseArgsError(error)) throw error;
    console.error(`compile: ${error.message}\n${USAGE}`);
    Deno.exit(2);
  }
  if (values.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  const outDir = resolve(values.out ?? join(ROOT, "dist"));
  for (const spec of hostBuild(outDir)) {
    console.log(`Compiling ${spec.program.entry} to ${relative(Deno.cwd(), spec.output)}`);
    try {
      await compile(spec);
    } catch (error) {
      if (!(error instanceof CompileError)) throw error;
      console.error(`compile: ${error.message}`);
      Deno.exit(1);
    }
  }
  console.log(`Done: ${PROGRAMS.map((p) => programFile(p, Deno.build.target)).join(" and ")}`);
}

if (import.meta.main) await main(Deno.args);
