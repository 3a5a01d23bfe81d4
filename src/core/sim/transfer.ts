/**
 * Package sizes for a simulated build with links. The recorded history
 * (bob's CSV) has no binary package sizes, only each build's WRKDIR size at
 * its end (`disk_usage`): the sources, the objects and the staged install.
 * A package is estimated at PACKAGE_SIZE_RATIO of that, at most
 * MAX_PACKAGE_BYTES; packages without a row (built already in the recorded
 * build) at the median estimate.
 */
import type { PackageHistory } from "../history.js";
import type { TaskGraph } from "../sched/graph.js";
import { DEFAULT_PACKAGE_BYTES } from "../sched/startcost.js";

/**
 * Binary package bytes per WRKDIR byte. Published pkgsrc binary packages of
 * well-known packages of this build are 1-6 % of the WRKDIR the history
 * records (perl 18 MB of 315 MB, python313 25 of 379, cmake 12 of 353,
 * glib2 5 of 141, rust 200 of 18,097): 1/20 errs on the heavy side.
 */
export const PACKAGE_SIZE_RATIO = 1 / 20;
/**
 * The ratio overestimates the largest builds most (a 32 GB thunderbird WRKDIR
 * makes a package of tens of MB): no package is taken to exceed 250 MB, about
 * the largest in a pkgsrc repository (rust, go).
 */
export const MAX_PACKAGE_BYTES = 250e6;

/** Estimated bytes of each task's binary package, from the history's disk_usage. */
export function packageBytes(
  graph: TaskGraph,
  history: ReadonlyMap<string, PackageHistory>,
): Float64Array {
  const n = graph.names.length;
  const out = new Float64Array(n).fill(NaN);
  const known: number[] = [];
  for (let t = 0; t < n; t++) {
    const du = history.get(graph.names[t]!)?.diskUsage;
    if (du === undefined) continue;
    out[t] = Math.min(du * PACKAGE_SIZE_RATIO, MAX_PACKAGE_BYTES);
    known.push(out[t]!);
  }
  known.sort((a, b) => a - b);
  const median = known.length === 0 ? DEFAULT_PACKAGE_BYTES : known[known.length >> 1]!;
  for (let t = 0; t < n; t++) if (Number.isNaN(out[t])) out[t] = median;
  return out;
}
