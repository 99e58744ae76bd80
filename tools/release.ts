/**
 * `deno task release`: compiles both programs for every release target,
 * packs each pair with README.md and LICENSE as
 * `privateshare-VERSION-TARGET.tar.gz` (`.zip` for Windows), and writes
 * `SHA256SUMS`. The version is deno.json's; with `--tag`, a tag that names
 * another version stops the release before anything is built.
 *
 * ```
 * deno task release [--tag TAG] [--dry-run] [--out DIR] [--target TARGET]...
 * ```
 *
 * `--dry-run` needs no network: it packs a stand-in text file in place of
 * each program and prints the `deno compile` command it would have run.
 *
 * @module
 */

import { copyFile, mkdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { VERSION } from "../lib/version.ts";
import { type ArchiveEntry, sha256File, writeTarGz, writeZip } from "./archive.ts";
import {
  compile,
  compileArgs,
  CompileError,
  type CompileSpec,
  isParseArgsError,
  isWindows,
  programFile,
  PROGRAMS,
  ROOT,
  TARGETS,
} from "./build.ts";

/** The files packed beside the programs, from the repository root. */
export const DOCUMENTS: readonly string[] = ["README.md", "LICENSE"];

/** A release that must not go ahead: a wrong tag, a failed compile, a missing file. */
export class ReleaseError extends Error {
  /**
   * Creates a ReleaseError.
   *
   * @param message one line: what is wrong and what to do
   * @param options the cause, if any
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ReleaseError";
  }
}

/**
 * Checks that a tag names the version in deno.json (`v0.1.0` or `0.1.0`
 * for version 0.1.0).
 *
 * @param tag the tag being released, such as `v0.1.0`
 * @param version the version in deno.json
 * @throws {ReleaseError} when they differ
 */
export function checkTag(tag: string, version: string = VERSION): void {
  const tagged = tag.replace(/^refs\/tags\//, "").replace(/^v/, "");
  if (tagged === version) return;
  throw new ReleaseError(
    `Tag '${tag}' does not match the version in deno.json ('${version}'): ` +
      `set "version" to "${tagged}" in deno.json and tag that commit, or tag 'v${version}'`,
  );
}

/**
 * The name of a release archive.
 *
 * @param target a release target
 * @param version the version
 * @returns `privateshare-VERSION-TARGET.tar.gz`, or `.zip` for Windows
 */
export function archiveName(target: string, version: string = VERSION): string {
  return `privateshare-${version}-${target}${isWindows(target) ? ".zip" : ".tar.gz"}`;
}

/** How to build a release. */
export interface ReleaseOptions {
  /** Where the archives and SHA256SUMS go. */
  outDir: string;
  /** The tag being released; checked against deno.json's version. */
  tag?: string;
  /** Pack stand-ins instead of compiling: no network needed. */
  dryRun?: boolean;
  /** The targets (default: all five). */
  targets?: readonly string[];
  /** Where progress goes (default: the console). */
  log?: (line: string) => void;
}

/** What a release wrote. */
export interface ReleaseResult {
  /** The archives' paths, in target order. */
  archives: string[];
  /** The SHA256SUMS file. */
  sums: string;
}

/**
 * The text a dry run packs in place of a compiled program.
 *
 * @param file the program's file name
 * @param target the target
 * @returns one line
 */
export function standIn(file: string, target: string): string {
  return `privateshare release dry run: ${file} for ${target} was not compiled\n`;
}

/**
 * Builds a release: both programs for each target, packed with README.md
 * and LICENSE, and SHA256SUMS of the archives.
 *
 * @param options where, which tag, dry run or not, which targets
 * @returns the archives and SHA256SUMS written
 * @throws {ReleaseError} on a tag that names another version, an unknown target, a missing
 *   document or a failed compile
 */
export async function release(options: ReleaseOptions): Promise<ReleaseResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  if (options.tag !== undefined) checkTag(options.tag);
  const targets = options.targets ?? TARGETS;
  for (const target of targets) {
    if (!TARGETS.includes(target)) {
      throw new ReleaseError(`Unknown target '${target}': give one of ${TARGETS.join(", ")}`);
    }
  }
  for (const document of DOCUMENTS) {
    try {
      await Deno.stat(join(ROOT, document));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new ReleaseError(`${document} is missing from the repository: add it`, {
        cause: error,
      });
    }
  }
  log(
    `privateshare ${VERSION}${options.tag ? ` (tag ${options.tag})` : ""}: ` +
      `${targets.length} target(s)${options.dryRun ? ", dry run: nothing is compiled" : ""}`,
  );
  await mkdir(options.outDir, { recursive: true });
  const staging = await Deno.makeTempDir({ prefix: "privateshare-release-" });
  try {
    const archives: string[] = [];
    for (const target of targets) {
      const folder = `privateshare-${VERSION}-${target}`;
      await mkdir(join(staging, folder));
      const entries: ArchiveEntry[] = [{ name: `${folder}/`, mode: 0o755 }];
      for (const program of PROGRAMS) {
        const file = programFile(program, target);
        const output = join(staging, folder, file);
        const spec: CompileSpec = { program, output, target };
        if (options.dryRun) {
          log(`  would run: deno ${compileArgs(spec).join(" ")}`);
          await Deno.writeTextFile(output, standIn(file, target));
        } else {
          log(`  compiling ${program.entry} for ${target}`);
          try {
            await compile(spec);
          } catch (error) {
            if (!(error instanceof CompileError)) throw error;
            throw new ReleaseError(error.message, { cause: error });
          }
        }
        entries.push({ name: `${folder}/${file}`, source: output, mode: 0o755 });
      }
      for (const document of DOCUMENTS) {
        const copy = join(staging, folder, document);
        await copyFile(join(ROOT, document), copy);
        entries.push({ name: `${folder}/${document}`, source: copy, mode: 0o644 });
      }
      const archive = join(options.outDir, archiveName(target));
      await (isWindows(target) ? writeZip : writeTarGz)(archive, entries);
      log(`  packed ${archiveName(target)}`);
      archives.push(archive);
    }
    const sums = join(options.outDir, "SHA256SUMS");
    await Deno.writeTextFile(sums, await sha256Sums(archives));
    log(`Wrote ${archives.length} archive(s) and SHA256SUMS to ${options.outDir}`);
    return { archives, sums };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * The text of SHA256SUMS: one line per file, `DIGEST  NAME`, sorted by name,
 * as `sha256sum -c` and `shasum -a 256 -c` read it.
 *
 * @param paths the files
 * @returns the lines
 */
export async function sha256Sums(paths: readonly string[]): Promise<string> {
  const lines: string[] = [];
  for (const path of paths) {
    const name = path.split(/[\\/]/).at(-1)!;
    lines.push(`${await sha256File(path)}  ${name}`);
  }
  return lines.sort((a, b) => a.slice(66) < b.slice(66) ? -1 : 1).join("\n") + "\n";
}

const USAGE = "Usage: deno task release [--tag TAG] [--dry-run] [--out DIR] [--target TARGET]... " +
  "(--help for more)";

const HELP = `Builds privateshare's release: both programs for each target, packed with
README.md and LICENSE, and SHA256SUMS.

${USAGE.replace(" (--help for more)", "")}

  --tag TAG        the tag being released; the release stops unless it names
                   the version in deno.json (${VERSION}), as v${VERSION}
  --dry-run        pack a stand-in text file instead of each program and print
                   the deno compile commands; needs no network
  --out DIR        where the archives and SHA256SUMS go (default: dist/release
                   in the repository)
  --target TARGET  build only this target (repeatable); default all of:
                   ${TARGETS.join("\n                   ")}
  -h, --help       show this help

deno compile downloads its runtime for each target from Deno's servers.
`;

/**
 * Runs `deno task release` and exits with its code: 0 done, 1 the release
 * failed, 2 bad arguments.
 *
 * @param args the arguments after the task
 */
export async function main(args: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        tag: { type: "string" },
        "dry-run": { type: "boolean" },
        out: { type: "string" },
        target: { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    if (!isParseArgsError(error)) throw error;
    console.error(`release: ${error.message}\n${USAGE}`);
    Deno.exit(2);
  }
  if (values.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  try {
    await release({
      outDir: resolve(values.out ?? join(ROOT, "dist", "release")),
      ...(values.tag !== undefined ? { tag: values.tag } : {}),
      dryRun: values["dry-run"] ?? false,
      ...(values.target !== undefined ? { targets: values.target } : {}),
    });
  } catch (error) {
    if (!(error instanceof ReleaseError)) throw error;
    console.error(`release: ${error.message}`);
    Deno.exit(1);
  }
}

if (import.meta.main) await main(Deno.args);
