/**
 * The version of privateshare. It lives in deno.json alone; this module
 * reads it from there, so that a release cannot disagree with itself.
 *
 * @module
 */

import config from "../deno.json" with { type: "json" };

/** The version of privateshare, shown by `--version`. */
export const VERSION: string = config.version;
