/**
 * Lower bounds on any schedule: no build ends before its longest dependency
 * chain runs on the fastest host, nor before all work is spread perfectly
 * over the total capacity.
 */
import { totalCapacity, type HostSpec } from "../hostspec.js";
import { bottomLevels, type TaskGraph } from "../sched/graph.js";

export interface LowerBound {
  /** Seconds: max(critical path at the fastest speed, total work / capacity). */
  readonly seconds: number;
  /** Longest chain of work at speed 1.0, seconds. */
  readonly criticalPath: number;
  /** All work at speed 1.0, seconds. */
  readonly totalWork: number;
  /** Sum of speed x slots over the hosts. */
  readonly capacity: number;
  readonly fastest: number;
}

/**
 * Which tasks will actually run: not already done and not downstream of a
 * task that fails (those become indirectly failed and cost nothing).
 */
export function tasksThatRun(
  graph: TaskGraph,
  done: ArrayLike<boolean> | undefined,
  fails: ArrayLike<boolean> | undefined,
): Uint8Array {
  const n = graph.names.length;
  const runs = new Uint8Array(n);
  const blocked = new Uint8Array(n);
  for (const t of graph.order) {
    if (done?.[t] === true) continue;
    let b = false;
    for (const d of graph.deps[t]!)
      if (blocked[d] === 1 || (fails?.[d] === true && done?.[d] !== true)) b = true;
    if (b) blocked[t] = 1;
    else runs[t] = 1;
  }
  return runs;
}

/** The lower bound for building the tasks flagged in `runs` with `seconds` each on these hosts. */
export function lowerBound(
  graph: TaskGraph,
  seconds: ArrayLike<number>,
  runs: Uint8Array,
  hosts: readonly HostSpec[],
): LowerBound {
  const n = graph.names.length;
  const w = new Float64Array(n);
  let totalWork = 0;
  for (let t = 0; t < n; t++) {
    if (runs[t] === 1) w[t] = seconds[t] ?? 0;
    totalWork += w[t]!;
  }
  const levels = bottomLevels(graph, w);
  let criticalPath = 0;
  for (let t = 0; t < n; t++) criticalPath = Math.max(criticalPath, levels[t]!);
  const capacity = totalCapacity(hosts);
  let fastest = 0;
  for (const h of hosts) fastest = Math.max(fastest, h.speed);
  const seconds_ =
    hosts.length === 0 ? Infinity : Math.max(criticalPath / fastest, totalWork / capacity);
  return { seconds: seconds_, criticalPath, totalWork, capacity, fastest };
}

/** The tasks of one longest chain (by `seconds`), first to last. */
export function criticalChain(graph: TaskGraph, seconds: ArrayLike<number>): number[] {
  const levels = bottomLevels(graph, seconds);
  let best = -1;
  for (let t = 0; t < levels.length; t++) if (best < 0 || levels[t]! > levels[best]!) best = t;
  const chain: number[] = [];
  while (best >= 0) {
    chain.push(best);
    let next = -1;
    for (const c of graph.dependents[best]!) if (next < 0 || levels[c]! > levels[next]!) next = c;
    best = next;
  }
  return chain;
}
