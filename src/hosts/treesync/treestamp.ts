/**
 * The tree id, kept right without the operator: a tree with no id is
 * stamped, and a tree that changed since its id was stamped (an update with
 * no `herd tree stamp` after it) gets a new id, so no host builds from a
 * stale copy. What changed is told by a cheap manifest on the master: the
 * path, size and mtime of every file a sync would send (no file is read),
 * digested and kept in the work directory beside the id it belongs to.
 */
import { createHash } from "node:crypto";
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import {
  readTreeId,
  stampTree,
  SYNC_EXCLUDE_NAMES,
  SYNC_EXCLUDE_TOP,
  TREE_ID_FILE,
} from "./treesync.js";

/** Digest of the path, size and mtime of every file and link of the tree a sync would send. */
export function treeStatDigest(tree: string): string {
  const h = createHash("sha256");
  const walk = (rel: string): void => {
    const names = readdirSync(rel === "" ? tree : join(tree, rel)).sort();
    for (const name of names) {
      if (SYNC_EXCLUDE_NAMES.includes(name)) continue;
      if (rel === "" && (SYNC_EXCLUDE_TOP.includes(name) || name.startsWith(TREE_ID_FILE)))
        continue;
      const p = rel === "" ? name : `${rel}/${name}`;
      const st = lstatSync(join(tree, p));
      if (st.isDirectory()) walk(p);
      else h.update(`${p}\0${st.size}\0${st.mtimeMs}\n`);
    }
  };
  walk("");
  return h.digest("hex");
}

interface Stamp {
  readonly tree: string;
  readonly id: string;
  readonly digest: string;
}

/**
 * The tree's id for this build: stamped when missing, stamped anew when the
 * tree changed since the id was stamped; `note` says which, null when
 * nothing had to change.
 */
export function currentTreeId(tree: string, work: string): { id: string; note: string | null } {
  const file = join(work, "tree-stamp.json");
  let was: Stamp | undefined;
  try {
    was = JSON.parse(readFileSync(file, "utf8")) as Stamp;
  } catch {
    was = undefined;
  }
  const digest = treeStatDigest(tree);
  let id = readTreeId(tree);
  let note: string | null = null;
  if (id === null) {
    id = stampTree(tree);
    note = `the tree had no id: stamped ${id} (${TREE_ID_FILE})`;
  } else if (was?.tree === tree && was.id === id && was.digest !== digest) {
    const old = id;
    id = stampTree(tree);
    note = `the tree changed since its id ${old} was stamped: stamped ${id}, hosts sync again`;
  }
  if (was?.tree !== tree || was.id !== id || was.digest !== digest) {
    mkdirSync(work, { recursive: true });
    writeFileSync(`${file}.tmp`, JSON.stringify({ tree, id, digest } satisfies Stamp) + "\n");
    renameSync(`${file}.tmp`, file);
  }
  return { id, note };
}
