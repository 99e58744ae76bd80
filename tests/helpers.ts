/**
 * Test helpers, shared with bench/: a real server process on port 0, the
 * real client CLI as a subprocess, the library's server in process, fake
 * peers that speak raw bytes, temporary folders, files of random bytes
 * compared byte for byte, a relay for fault injection, a deadline for
 * every test, and a stand-in browser opener for the compiled programs. One
 * import for every test; each concern has its module in tests/support/.
 *
 * @module
 */

export * from "./support/processes.ts";
export * from "./support/peers.ts";
export * from "./support/data.ts";
export * from "./support/deadline.ts";
export * from "./support/relay.ts";
export * from "./support/compiled.ts";
