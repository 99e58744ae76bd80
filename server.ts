/**
 * privateshare server: serves one folder on a TCP port.
 *
 * ```
 * deno run --allow-net --allow-read [--allow-write] server.ts PORT [options]
 * ```
 *
 * @module
 */

import { main } from "./lib/cli/server.ts";

if (import.meta.main) await main(Deno.args);
