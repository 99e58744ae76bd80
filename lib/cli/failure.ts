/**
 * A client failure in the words of the command line: the library's message,
 * and where a flag fixes it, which flag. The library never names a flag;
 * this is the one place that turns its failures into advice.
 *
 * @module
 */

import type { ClientError } from "../client_mod.ts";
import { describeSecurity } from "./security.ts";

/**
 * A client failure in the words of the command line: where a flag fixes it,
 * the line says which.
 *
 * @param error the failure
 * @returns one line
 */
export function describe(error: ClientError): string {
  switch (error.code) {
    case "permission": {
      const flag = `--allow-${error.permission}`;
      return `privateshare needs ${flag} ${error.purpose}: run it with ${flag}`;
    }
    case "exists":
      return `${error.message}: add --force to overwrite it, or --output to save elsewhere`;
    case "appeared":
      return `${error.message}: add --force to overwrite it (the finished download is kept)`;
    case "in-the-way":
      return `${error.message}: move or remove it, or save elsewhere with --output`;
    case "not-privateshare":
      return `${error.message}: if it is an original privateshare server, add --classic`;
    case "cancelled":
      return error.op === "list"
        ? "Interrupted"
        : "Interrupted: run the same command again to resume";
    default:
      if (error.kind === "refused" && error.reason === "invalid-name") {
        return `${error.message}: name a file or folder as list shows it ` +
          "(to store a file of yours under another name, use --as NAME)";
      }
      if (error.kind === "refused" && error.reason === "exists") {
        // Only a put meets this refusal: the server never replaces what it has.
        return `${error.message}: give it another name there with --as NAME ` +
          "(to add files to a folder there, use --to FOLDER)";
      }
      return describeSecurity(error) ?? error.message;
  }
}
