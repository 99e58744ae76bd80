/**
 * Runs the tests beside two busy loops (`deno task test-load`), so that a
 * test that passes only on an idle machine fails here (issue 21). The loops
 * are two `sh` processes spinning on `:`, killed when the tests end, however
 * they end; the exit status is the tests'.
 *
 * Arguments are passed to `deno test` in place of the default `tests/`, so
 * that one file can be run under load: `deno task test-load tests/x_test.ts`.
 *
 * @module
 */

/** Busy loops started beside the tests. */
const LOOPS = 2;

/**
 * Starts the busy loops, runs `deno test` and stops the loops.
 *
 * @param paths what to test (default `tests/`)
 * @returns the tests' exit code
 */
export async function testUnderLoad(paths: string[]): Promise<number> {
  const loops = Array.from({ length: LOOPS }, () =>
    new Deno.Command("sh", {
      args: ["-c", "while :; do :; done"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn());
  const stop = () => {
    for (const loop of loops) {
      try {
        loop.kill("SIGKILL");
      } catch (error) {
        // Already gone.
        if (!(error instanceof TypeError)) throw error;
      }
    }
  };
  // Stopped with Ctrl-C: the loops go too.
  const onSignal = () => {
    stop();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    console.error(`test-load: ${LOOPS} busy loops (pids ${loops.map((l) => l.pid).join(", ")})`);
    const tests = new Deno.Command(Deno.execPath(), {
      args: ["test", "--allow-all", "--no-prompt", ...(paths.length > 0 ? paths : ["tests/"])],
      stdin: "null",
    }).spawn();
    return (await tests.status).code;
  } finally {
    stop();
    await Promise.all(loops.map((loop) => loop.status));
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) Deno.exit(await testUnderLoad(Deno.args));
