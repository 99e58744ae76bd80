/**
 * Whether the served folder's folders can be served safely under the
 * permissions the server has: where folders are held by their path, a
 * served folder that others may write to without the sticky bit (or a folder
 * on the way to it that others could swap) lets them swap a folder for a
 * link, so folders are refused there (lib/transfer/folder_guard.ts). Said
 * once, when the server starts, with what fixes it.
 *
 * @module
 */

import { quoteName } from "../protocol/names.ts";
import { Dir } from "../transfer/dir.ts";
import { UnsafeFolderError } from "../transfer/folder_guard.ts";

/**
 * The notice to give when folders in `root` are refused, if they are.
 *
 * @param root the served folder
 * @returns the notice, or undefined when folders are served; never rejects: a
 *   failure to tell (a folder on the way it may not read) is a notice too
 */
export async function folderSafetyNotice(
  root: string,
): Promise<{ what: "unsafe"; message: string } | undefined> {
  let why: string | undefined;
  try {
    await using dir = await Dir.open(root);
    why = dir.foldersRefused();
  } catch (error) {
    why = error instanceof UnsafeFolderError
      ? error.why
      : `privateshare cannot tell whether others could swap them (${error})`;
  }
  if (!why) return undefined;
  return {
    what: "unsafe",
    message: `Folders are not served or accepted: ${why}; files at the top still are. ` +
      `To serve folders, make ${quoteName(root)} writable by you alone ` +
      `(chmod go-w) or give it the sticky bit (chmod +t)`,
  };
}
