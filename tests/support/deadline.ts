/**
 * Deadlines, so that a test fails instead of hanging: a deadline for every
 * test, one for any single wait, and polling with a limit.
 *
 * @module
 */

/** How long a test may run unless it says otherwise. */
export const TEST_DEADLINE_MS = 60_000;

/**
 * Waits for `work`, failing once `ms` have passed: whatever it waits on, a
 * test fails instead of hanging.
 *
 * @param ms the deadline
 * @param what what is awaited, for the message
 * @param work a promise, or a function that starts the work
 * @returns what the work returned
 * @throws {Error} `<what> did not finish within <ms> ms` at the deadline
 */
export async function within<T>(
  ms: number,
  what: string,
  work: Promise<T> | (() => Promise<T>),
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([typeof work === "function" ? work() : work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Registers a test with a deadline of its own: it fails, rather than hangs,
 * when something it waits for never happens.
 *
 * @param name the behaviour the test checks
 * @param fn the test
 * @param ms its deadline (default {@link TEST_DEADLINE_MS})
 */
export function test(name: string, fn: () => Promise<void>, ms = TEST_DEADLINE_MS): void {
  Deno.test(name, () => within(ms, "The test", fn));
}

/**
 * Waits until `check` is true, polling.
 *
 * @param check the condition
 * @param ms give up after this long
 */
export async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`Condition not met in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
