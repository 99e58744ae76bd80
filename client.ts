/**
 * privateshare client: put a file into a server's folder, get one out of it,
 * or list it.
 *
 * ```
 * deno run --allow-net --allow-read --allow-write client.ts HOST PORT put|get|list [FILE] [options]
 * ```
 *
 * @module
 */

import { main } from "./lib/cli/client.ts";

if (import.meta.main) await main(Deno.args);
