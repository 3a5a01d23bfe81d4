/**
 * A scan run on a host names files under the host's copy of the tree in
 * SCAN_DEPENDS (absolute paths, e.g. .../pkgsrc/devel/foo/../../mk/defaults/mk.conf).
 * Rewriting those to the master's tree makes a scan's output independent of
 * which host scanned which package: N hosts give the bytes one host gives.
 */
import { withField, type ScanRecord } from "./records.js";

/** Rewrites SCAN_DEPENDS paths under any of `hostTrees` to lie under `masterTree`. */
export function rebaseScanDepends(
  rec: ScanRecord,
  hostTrees: readonly string[],
  masterTree: string,
): ScanRecord {
  const deps = rec.get("SCAN_DEPENDS");
  if (deps === undefined || hostTrees.length === 0) return rec;
  const prefixes = hostTrees.map((t) => t.replace(/\/+$/, "") + "/");
  const base = masterTree.replace(/\/+$/, "") + "/";
  // Whole-prefix replacement at word starts: a host directory may contain spaces.
  let rebased = deps;
  for (const p of prefixes) {
    if (p === base) continue;
    rebased = rebased.replace(
      new RegExp(`(^| )${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`, "g"),
      `$1${base}`,
    );
  }
  return rebased === deps ? rec : withField(rec, "SCAN_DEPENDS", rebased);
}
