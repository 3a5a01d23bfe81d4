/**
 * Tree sync gated by a uuid (the SyncPkgsrcTree step). The master's tree
 * carries a tree id file, rewritten (`herd tree stamp`) after every update.
 * A host whose copy holds the same id is skipped with no tree data sent; any
 * other host receives a tar stream of the tree, unpacks it beside its copy,
 * swaps it in, and only then gets the id file, so an interrupted sync is
 * simply redone next time.
 */
import { randomUUID } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { err, ok, type Result } from "../protocol/result.js";
import type { AgentConnection } from "./connection.js";
import { getBuffer } from "./get.js";
import type { HostConfig, Prepare } from "./pool.js";
import { tarTree } from "./tar.js";

/** The tree id file at the root of a pkgsrc tree: one uuid and a newline. */
export const TREE_ID_FILE = ".herd-tree-id";

/** Left out of every sync: build and output directories, VCS data. */
export const SYNC_EXCLUDE_NAMES: readonly string[] = ["work", ".git", "CVS", ".svn"];
export const SYNC_EXCLUDE_TOP: readonly string[] = ["distfiles", "packages"];

/** Writes a fresh tree id at the root of `tree` and returns it. */
export function stampTree(tree: string): string {
  const id = randomUUID();
  const tmp = join(tree, `${TREE_ID_FILE}.tmp`);
  writeFileSync(tmp, `${id}\n`);
  renameSync(tmp, join(tree, TREE_ID_FILE));
  return id;
}

/** The tree id of a tree on the master, or null when it was never stamped. */
export function readTreeId(tree: string): string | null {
  try {
    const id = readFileSync(join(tree, TREE_ID_FILE), "utf8").trim();
    return id === "" ? null : id;
  } catch {
    return null;
  }
}

export interface SyncReport {
  readonly skipped: boolean;
  /** Bytes of tree data sent (the tar stream); 0 when skipped. */
  readonly bytes: number;
  readonly files: number;
}

export interface SyncOptions {
  /** The master's tree. */
  readonly tree: string;
  /** Its id (readTreeId). */
  readonly id: string;
  /** Where the copy lives on the host; relative to the agent root. */
  readonly dest: string;
}

// The unpack step as the host runs it: argv words only, nothing evaluated.
const UNPACK = [
  "set -e",
  'd=$1; t=$2; case $t in /*) ;; *) t=$PWD/$t ;; esac; rm -rf "$d.herd-new" "$d.herd-old"; mkdir -p "$d.herd-new"',
  '(cd "$d.herd-new" && tar xf "$t")',
  'if [ -d "$d" ]; then mv "$d" "$d.herd-old"; fi',
  'mv "$d.herd-new" "$d"; rm -rf "$d.herd-old" "$t"',
].join("; ");

/** Brings the host's copy of the tree up to date, unless its id already matches. */
export async function syncTree(
  conn: AgentConnection,
  opts: SyncOptions,
): Promise<Result<SyncReport, string>> {
  const dest = opts.dest.replace(/\/+$/, "");
  const theirs = await getBuffer(conn, `${dest}/${TREE_ID_FILE}`);
  if (theirs.ok && theirs.value.toString().trim() === opts.id)
    return ok({ skipped: true, bytes: 0, files: 0 });
  if (!theirs.ok && theirs.error.reason !== "rejected") return err(theirs.error.message);

  const stats = { files: 0, dirs: 0, links: 0, bytes: 0 };
  const tarFile = `${dest}.herd-sync.tar`;
  const stream = tarTree(opts.tree, {
    excludeNames: SYNC_EXCLUDE_NAMES,
    excludeTop: SYNC_EXCLUDE_TOP,
    excludePaths: [TREE_ID_FILE, `${TREE_ID_FILE}.tmp`],
    stats,
  });
  const put = await conn.put(tarFile, stream);
  if (!put.ok) return err(`sending the tree failed: ${put.error.message}`);
  const unpack = await conn.run({ argv: ["sh", "-c", UNPACK, "herd-sync", dest, tarFile] });
  if (!unpack.ok) return err(`unpacking the tree failed: ${unpack.error.message}`);
  if (unpack.value.status !== 0) {
    return err(
      `unpacking the tree failed (status ${unpack.value.status}): ${unpack.value.output.toString().trim()}`,
    );
  }
  const idPut = await conn.put(`${dest}/${TREE_ID_FILE}`, Buffer.from(`${opts.id}\n`));
  if (!idPut.ok) return err(`writing the tree id failed: ${idPut.error.message}`);
  return ok({ skipped: false, bytes: put.value.size, files: stats.files });
}

/** Where a host keeps its tree, and whether herd syncs it (no: it is shared, e.g. over NFS). */
export interface HostTree {
  readonly dest: string;
  readonly sync: boolean;
}

/**
 * The pool's "syncing" step for a master tree: `id()` is read at every sync,
 * so a restamped tree reaches hosts after HostPool.resync().
 */
export function treeSyncPrepare(tree: string, hostTree: (host: HostConfig) => HostTree): Prepare {
  return async (conn, host) => {
    const where = hostTree(host);
    if (!where.sync) return ok("");
    const id = readTreeId(tree);
    if (id === null)
      return err(`the tree ${tree} has no ${TREE_ID_FILE}; run herd tree stamp --tree ${tree}`);
    const r = await syncTree(conn, { tree, id, dest: where.dest });
    if (!r.ok) return r;
    return ok(
      r.value.skipped
        ? `tree ${id} already there, not synced`
        : `tree ${id} synced: ${r.value.files} files, ${r.value.bytes} bytes`,
    );
  };
}
