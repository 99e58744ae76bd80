/**
 * Reading the folder from the web page: listings, downloads with HTTP
 * ranges, and folders as one streamed zip.
 *
 * @module
 */

import type { WebRoute } from "./web_route.ts";

/**
 * The routes that read.
 *
 * @returns the routes
 */
export function fileRoutes(): WebRoute[] {
  return [];
}
