/**
 * What the duration model knows of a package before building it, from the
 * graph and the scan: how many packages it depends on (directly and
 * transitively), PBULK_WEIGHT, and its category (the first part of
 * PKG_LOCATION: lang/ builds compilers, x11/ toolkits, …). The category
 * turned out the strongest of these on real builds; the mean duration of
 * a package's dependencies was tried as well and only added noise.
 */
import { transitiveDependencyCounts, type TaskGraph } from "./graph.js";

export interface FeatureSet {
  /** Columns of a full feature vector: the numeric ones, then one per category. */
  readonly width: number;
  /** Numeric columns per task, row-major (task x numeric), intercept first. */
  readonly numeric: Float64Array;
  readonly numericWidth: number;
  /** The category column of each task (>= numericWidth), or -1. */
  readonly category: Int32Array;
}

/** Builds every task's features: intercept, log(1+deps), log(1+transitive deps), log PBULK_WEIGHT when any task has one, category. */
export function graphFeatures(
  graph: TaskGraph,
  weights: readonly (number | undefined)[] | undefined,
  categories: readonly (string | undefined)[] | undefined,
): FeatureSet {
  const n = graph.names.length;
  const hasWeights = weights !== undefined && weights.some((w) => w !== undefined && w > 0);
  const numericWidth = hasWeights ? 4 : 3;
  const numeric = new Float64Array(n * numericWidth);
  const trans = transitiveDependencyCounts(graph);
  const columns = new Map<string, number>();
  const category = new Int32Array(n).fill(-1);
  for (let t = 0; t < n; t++) {
    const o = t * numericWidth;
    numeric[o] = 1;
    numeric[o + 1] = Math.log1p(graph.deps[t]!.length);
    numeric[o + 2] = Math.log1p(trans[t]!);
    if (hasWeights) numeric[o + 3] = Math.log(Math.max(1, weights[t] ?? 100));
    const c = categories?.[t];
    if (c === undefined || c === "") continue;
    let col = columns.get(c);
    if (col === undefined) {
      col = numericWidth + columns.size;
      columns.set(c, col);
    }
    category[t] = col;
  }
  return { width: numericWidth + columns.size, numeric, numericWidth, category };
}

/** The model's log-median prediction for a task: numeric features and category weight. */
export function predictLog(fs: FeatureSet, beta: Float64Array, task: number): number {
  const o = task * fs.numericWidth;
  let mu = 0;
  for (let i = 0; i < fs.numericWidth; i++) mu += beta[i]! * fs.numeric[o + i]!;
  const c = fs.category[task]!;
  return c >= 0 ? mu + beta[c]! : mu;
}

/** The task's features as sparse (column, value) pairs, for a regression row. */
export function sparseFeatures(fs: FeatureSet, task: number, cols: number[], vals: number[]): void {
  const o = task * fs.numericWidth;
  for (let i = 0; i < fs.numericWidth; i++) {
    cols.push(i);
    vals.push(fs.numeric[o + i]!);
  }
  const c = fs.category[task]!;
  if (c >= 0) {
    cols.push(c);
    vals.push(1);
  }
}
