/**
 * The worker of bench/hash_offload.ts: a running SHA-256 fed chunks by
 * message; answers each chunk with its length (so that the sender can bound
 * what is queued) and `digest` with the hex digest.
 *
 * @module
 */

import { createHash } from "node:crypto";

let hash = createHash("sha256");
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<Uint8Array | "digest">) => void) | null;
  postMessage(message: number | string): void;
};
scope.onmessage = (event) => {
  if (event.data === "digest") {
    scope.postMessage(hash.digest("hex"));
    // One worker serves transfer after transfer, as a server's would.
    hash = createHash("sha256");
    return;
  }
  hash.update(event.data);
  scope.postMessage(event.data.length);
};
