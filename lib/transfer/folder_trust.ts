/**
 * Which folders can be trusted to stay what they are while a transfer walks
 * through them by path. Where a folder cannot be held open by its
 * descriptor (Deno has no `openat`, and refuses `/proc/self/fd` without
 * `--allow-all`), a path is resolved again on every call, and anyone who may
 * rename the entries of a folder on that path can swap a folder for a link
 * between two calls. So, as OpenSSH's `StrictModes` does, a folder is
 * walked through only when nobody but the trusted can rename it: its parent
 * belongs to a trusted user and others may not write to it, or it has the
 * sticky bit and the folder itself belongs to a trusted user. The trusted
 * are the system's administrator (uid 0), the owner of the folder the user
 * named (the served folder, the folder put, the download folder) and this
 * process's own user once known.
 *
 * @module
 */

import type { FolderFile } from "./files.ts";

/** What the checks need to know of a folder. */
export interface FolderOwnership {
  /** Owner's user id. */
  uid: number;
  /** Owner's group id. */
  gid: number;
  /** Permission bits, with the sticky bit. */
  mode: number;
}

const STICKY = 0o1000;
const GROUP_WRITE = 0o020;
const OTHER_WRITE = 0o002;

/** This process's user id, once learnt (null where files have none, as on Windows). */
let selfUid: number | null | undefined;

/**
 * This process's user id, when something learnt it.
 *
 * @returns the user id, or null when not known (yet)
 */
export function knownSelfUid(): number | null {
  return selfUid ?? null;
}

/** What {@link processUid} needs of a folder: to make a new file in it, and to remove it. */
export interface ProbeFolder {
  /** Creates a file exclusively. */
  createFile(name: string): Promise<FolderFile>;
  /** Removes a name. */
  remove(name: string): Promise<void>;
}

/**
 * This process's user id, to tell its own files from anyone else's, without
 * the `--allow-sys` permission that `Deno.uid()` needs (neither program is
 * given it, and asking would prompt): the owner of a file just created
 * exclusively in `dir` says it. Learnt once.
 *
 * @param dir a folder this process may create a file in, if it must
 * @returns the user id, or null where files have none (Windows)
 */
export async function processUid(dir: ProbeFolder): Promise<number | null> {
  if (selfUid !== undefined) return selfUid;
  if (Deno.build.os === "windows") return selfUid = null;
  if (Deno.permissions.querySync({ name: "sys", kind: "uid" }).state === "granted") {
    return selfUid = Deno.uid();
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  // The server's own temporary-file pattern, which its sweep removes if a crash leaves it.
  const probe = ".privateshare-tmp-" +
    Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const file = await dir.createFile(probe);
  try {
    return selfUid = (await file.facts()).uid;
  } finally {
    await file.close();
    await dir.remove(probe).catch(() => {});
  }
}

/** The users whose folders are trusted, from one folder the user named. */
export class FolderTrust {
  readonly #owner: number;

  /**
   * Creates a FolderTrust.
   *
   * @param owner the user id of the folder the user named
   */
  constructor(owner: number) {
    this.#owner = owner;
  }

  /**
   * Whether a user is trusted.
   *
   * @param uid the user id
   * @returns true for uid 0, the named folder's owner and this process's user
   */
  trusts(uid: number): boolean {
    return uid === 0 || uid === this.#owner || (selfUid !== undefined && uid === selfUid);
  }

  /**
   * Why someone untrusted could rename `child` inside `parent` (swap it for
   * a link), or undefined when nobody untrusted can.
   *
   * @param parent the folder that holds the child
   * @param child the child folder
   * @param where the child's path, for the message
   * @param parentWhere the parent's path, for the message
   * @returns a phrase for a person, or undefined
   */
  problem(
    parent: FolderOwnership,
    child: FolderOwnership,
    where: string,
    parentWhere: string,
  ): string | undefined {
    if (!this.trusts(parent.uid)) {
      return `${quote(parentWhere)} belongs to another user (uid ${parent.uid}), ` +
        `who could swap ${quote(where)} for a link`;
    }
    const othersWrite = (parent.mode & OTHER_WRITE) !== 0 ||
      ((parent.mode & GROUP_WRITE) !== 0 && !privateGroup(parent.gid, parent.uid));
    if (!othersWrite) return undefined;
    if ((parent.mode & STICKY) !== 0) {
      if (this.trusts(child.uid)) return undefined;
      return `${quote(where)} belongs to another user (uid ${child.uid}), ` +
        "who could swap it for a link";
    }
    const bits = (parent.mode & 0o777).toString(8).padStart(3, "0");
    return `other users may change ${quote(parentWhere)} (mode ${bits}, no sticky bit) ` +
      "and could swap the folders in it for links";
  }
}

function quote(path: string): string {
  return JSON.stringify(path);
}

/** Group ids that are one user's own group: gid to that user's uid. */
let privateGroups: Map<number, number> | undefined;

/**
 * Whether a group is its owner's private group (the Debian and Ubuntu
 * default, which makes folders group-writable under umask 002): a group
 * that lists no member but that user, and that no other user has as primary
 * group. Read from /etc/group and /etc/passwd once, when they may be read
 * without a prompt; otherwise no group counts as private.
 */
function privateGroup(gid: number, uid: number): boolean {
  privateGroups ??= readPrivateGroups();
  return privateGroups.get(gid) === uid;
}

function readPrivateGroups(): Map<number, number> {
  const found = new Map<number, number>();
  if (Deno.build.os === "windows") return found;
  const readable = (path: string) =>
    Deno.permissions.querySync({ name: "read", path }).state === "granted";
  if (!readable("/etc/group") || !readable("/etc/passwd")) return found;
  let groups: string, users: string;
  try {
    groups = Deno.readTextFileSync("/etc/group");
    users = Deno.readTextFileSync("/etc/passwd");
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied) {
      return found;
    }
    throw error;
  }
  // Primary groups: gid -> the users who have it.
  const primary = new Map<number, { name: string; uid: number }[]>();
  for (const line of users.split("\n")) {
    const [name, , uid, gid] = line.split(":");
    if (!name || uid === undefined || gid === undefined) continue;
    const list = primary.get(Number(gid)) ?? [];
    list.push({ name, uid: Number(uid) });
    primary.set(Number(gid), list);
  }
  for (const line of groups.split("\n")) {
    const [, , gid, members = ""] = line.split(":");
    if (gid === undefined) continue;
    const owners = primary.get(Number(gid)) ?? [];
    if (owners.length !== 1) continue;
    const owner = owners[0]!;
    const listed = members.split(",").filter((m) => m !== "");
    if (listed.every((m) => m === owner.name)) found.set(Number(gid), owner.uid);
  }
  return found;
}
