/**
 * Uploads from the web page: resumable, checked end to end by SHA-256,
 * never replacing a file.
 *
 * @module
 */

import type { Store } from "./store.ts";
import type { WebRoute } from "./web_route.ts";

/** The uploads in progress between their requests. */
export class UploadTable {
  /**
   * Creates an UploadTable.
   *
   * @param _store the served folder
   * @param _dataTimeoutMs how long an upload may wait for its next request
   */
  constructor(_store: Store, _dataTimeoutMs: number) {}

  /** Gives up every upload in progress, keeping their partial files. */
  async close(): Promise<void> {}
}

/**
 * The routes that write.
 *
 * @param _uploads the uploads in progress
 * @returns the routes
 */
export function uploadRoutes(_uploads: UploadTable): WebRoute[] {
  return [];
}
