/**
 * The build graph the scheduler works on: tasks are dense indices 0..n-1
 * (one per package), edges point from a dependency to its dependents. Plain
 * arrays, no classes, so the simulator, the live build and the tests share it.
 */

export interface TaskGraph {
  readonly names: readonly string[];
  /** deps[i]: the tasks task i needs built first. */
  readonly deps: readonly (readonly number[])[];
  /** dependents[i]: the tasks that need task i. */
  readonly dependents: readonly (readonly number[])[];
  /** Every task once, each after all of its dependencies. */
  readonly order: Int32Array;
}

export type GraphError =
  | { readonly reason: "cycle"; readonly cycle: readonly string[] }
  | { readonly reason: "bad-index"; readonly task: string; readonly index: number };

export type GraphResult =
  | { readonly ok: true; readonly graph: TaskGraph }
  | { readonly ok: false; readonly error: GraphError };

/** Builds a task graph from names and per-task dependency indices; a cycle is returned, not thrown. */
export function buildTaskGraph(
  names: readonly string[],
  deps: readonly (readonly number[])[],
): GraphResult {
  const n = names.length;
  const cleanDeps: number[][] = [];
  const dependents: number[][] = [];
  for (let i = 0; i < n; i++) dependents.push([]);
  for (let i = 0; i < n; i++) {
    const seen = new Set<number>();
    const list: number[] = [];
    for (const d of deps[i] ?? []) {
      if (!Number.isInteger(d) || d < 0 || d >= n) {
        return { ok: false, error: { reason: "bad-index", task: names[i] ?? "", index: d } };
      }
      if (d === i || seen.has(d)) continue;
      seen.add(d);
      list.push(d);
      dependents[d]!.push(i);
    }
    cleanDeps.push(list);
  }
  const order = topologicalOrder(cleanDeps, dependents);
  if (order.length < n) {
    return { ok: false, error: { reason: "cycle", cycle: findCycle(cleanDeps, order, names) } };
  }
  return { ok: true, graph: { names, deps: cleanDeps, dependents, order: Int32Array.from(order) } };
}

function topologicalOrder(
  deps: readonly (readonly number[])[],
  dependents: readonly (readonly number[])[],
): number[] {
  const n = deps.length;
  const pending = new Int32Array(n);
  const order: number[] = [];
  for (let i = 0; i < n; i++) {
    pending[i] = deps[i]!.length;
    if (pending[i] === 0) order.push(i);
  }
  for (let k = 0; k < order.length; k++) {
    for (const c of dependents[order[k]!]!) if (--pending[c]! === 0) order.push(c);
  }
  return order;
}

/** Walks dependencies among the tasks left over by the topological sort until one repeats. */
function findCycle(
  deps: readonly (readonly number[])[],
  order: readonly number[],
  names: readonly string[],
): string[] {
  const sorted = new Uint8Array(deps.length);
  for (const t of order) sorted[t] = 1;
  let start = sorted.indexOf(0);
  const seenAt = new Map<number, number>();
  const path: number[] = [];
  while (!seenAt.has(start)) {
    seenAt.set(start, path.length);
    path.push(start);
    // A task outside the order has at least one dependency outside it too.
    start = deps[start]!.find((d) => sorted[d] === 0) ?? start;
  }
  return path
    .slice(seenAt.get(start))
    .reverse()
    .map((t) => names[t] ?? String(t));
}

/** Adjacency in compressed rows: the neighbours of t are targets[offsets[t] .. offsets[t+1]). */
interface Csr {
  readonly offsets: Int32Array;
  readonly targets: Int32Array;
}

interface Derived {
  up?: Csr;
  down?: Csr;
  dependents?: Float64Array;
  dependencies?: Float64Array;
}

/** Facts derived from a graph, computed once per graph (graphs are immutable). */
const derived = new WeakMap<TaskGraph, Derived>();

function facts(graph: TaskGraph): Derived {
  let d = derived.get(graph);
  if (d === undefined) {
    d = {};
    derived.set(graph, d);
  }
  return d;
}

function toCsr(lists: readonly (readonly number[])[]): Csr {
  const offsets = new Int32Array(lists.length + 1);
  for (let i = 0; i < lists.length; i++) offsets[i + 1] = offsets[i]! + lists[i]!.length;
  const targets = new Int32Array(offsets[lists.length]!);
  for (let i = 0; i < lists.length; i++) targets.set(lists[i]!, offsets[i]);
  return { offsets, targets };
}

function up(graph: TaskGraph): Csr {
  const d = facts(graph);
  d.up ??= toCsr(graph.deps);
  return d.up;
}

function down(graph: TaskGraph): Csr {
  const d = facts(graph);
  d.down ??= toCsr(graph.dependents);
  return d.down;
}

/** For each task, how many tasks depend on it directly or transitively (cached; do not modify). */
export function transitiveDependentCounts(graph: TaskGraph): Float64Array {
  const d = facts(graph);
  d.dependents ??= reachCounts(up(graph));
  return d.dependents;
}

/** For each task, how many tasks it depends on directly or transitively (cached; do not modify). */
export function transitiveDependencyCounts(graph: TaskGraph): Float64Array {
  const d = facts(graph);
  d.dependencies ??= reachCounts(down(graph));
  return d.dependencies;
}

/**
 * Counts, for every task, how many tasks reach it along `edges` by walking
 * each task's closure once and crediting every task met. The sum of closure
 * sizes is small for package graphs (tens to hundreds per package), unlike a
 * dense n x n bit matrix.
 */
function reachCounts(edges: Csr): Float64Array {
  const n = edges.offsets.length - 1;
  const { offsets, targets } = edges;
  const counts = new Float64Array(n);
  const stamp = new Int32Array(n).fill(-1);
  const stack = new Int32Array(n);
  for (let s = 0; s < n; s++) {
    stamp[s] = s;
    let top = 0;
    stack[top++] = s;
    while (top > 0) {
      const t = stack[--top]!;
      for (let k = offsets[t]!, end = offsets[t + 1]!; k < end; k++) {
        const u = targets[k]!;
        if (stamp[u] === s) continue;
        stamp[u] = s;
        counts[u]!++;
        stack[top++] = u;
      }
    }
  }
  return counts;
}

/** Longest path of weights through each task to the end of the graph (its bottom level). */
export function bottomLevels(graph: TaskGraph, weight: ArrayLike<number>): Float64Array {
  const n = graph.names.length;
  const { offsets, targets } = down(graph);
  const level = new Float64Array(n);
  for (let k = n - 1; k >= 0; k--) {
    const t = graph.order[k]!;
    let best = 0;
    for (let e = offsets[t]!, end = offsets[t + 1]!; e < end; e++) {
      const l = level[targets[e]!]!;
      if (l > best) best = l;
    }
    level[t] = weight[t]! + best;
  }
  return level;
}

/** Longest path of weights from the start of the graph up to and including each task. */
export function topLevels(graph: TaskGraph, weight: ArrayLike<number>): Float64Array {
  const n = graph.names.length;
  const { offsets, targets } = up(graph);
  const level = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const t = graph.order[k]!;
    let best = 0;
    for (let e = offsets[t]!, end = offsets[t + 1]!; e < end; e++) {
      const l = level[targets[e]!]!;
      if (l > best) best = l;
    }
    level[t] = weight[t]! + best;
  }
  return level;
}
