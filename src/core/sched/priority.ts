/**
 * Scheduling policies: which ready task goes first, and how a host is chosen.
 * `herd` is the default; the others are baselines kept for comparison in
 * `herd simulate` and the benchmark.
 */
import { bottomLevels, type TaskGraph } from "./graph.js";

export const POLICY_NAMES = [
  "herd",
  "critical-path",
  "dependents",
  "pbulk-weight",
  "fifo",
] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

export type Ordering = "bottom-level" | "dependents" | "weight" | "fifo";
export type Placement = "earliest-finish" | "first-free";

export interface PolicyTraits {
  readonly ordering: Ordering;
  readonly placement: Placement;
  /** Learns durations and host speeds online from finished tasks. */
  readonly learns: boolean;
  /** Starts a second copy of a task stuck on a slow host when a faster host would finish it sooner. */
  readonly copies: boolean;
  readonly description: string;
}

const TRAITS: Record<PolicyName, PolicyTraits> = {
  herd: {
    ordering: "bottom-level",
    placement: "earliest-finish",
    learns: true,
    copies: true,
    description:
      "longest remaining path first, on the host where it finishes earliest (may wait for a faster host, may copy a task stuck on a slow one); learns durations and speeds",
  },
  "critical-path": {
    ordering: "bottom-level",
    placement: "first-free",
    learns: false,
    copies: false,
    description: "longest remaining path first, on the first free host",
  },
  dependents: {
    ordering: "dependents",
    placement: "first-free",
    learns: false,
    copies: false,
    description: "most transitive dependents first (like bob), on the first free host",
  },
  "pbulk-weight": {
    ordering: "weight",
    placement: "first-free",
    learns: false,
    copies: false,
    description:
      "largest PBULK_WEIGHT summed over the package and its dependents first (like pbulk)",
  },
  fifo: {
    ordering: "fifo",
    placement: "first-free",
    learns: false,
    copies: false,
    description: "in the order packages became ready, on the first free host",
  },
};

/** The ordering, placement and learning a policy uses. */
export function policyTraits(policy: PolicyName): PolicyTraits {
  return TRAITS[policy];
}

/** True when the string names a policy. */
export function isPolicyName(s: string): s is PolicyName {
  return (POLICY_NAMES as readonly string[]).includes(s);
}

/** Static facts about the graph the orderings need, computed once. */
export interface GraphFacts {
  /** Transitive dependents per task. */
  readonly dependents: Float64Array;
  /** PBULK_WEIGHT (default 100) summed over the task and its transitive dependents. */
  readonly weightSums: Float64Array;
}

/**
 * Fills the primary and secondary priority of every task (higher runs
 * first). fifo is ordered by readiness, which the scheduler stamps itself.
 */
export function fillPriorities(
  ordering: Ordering,
  graph: TaskGraph,
  est: ArrayLike<number>,
  facts: GraphFacts,
  primary: Float64Array,
  secondary: Float64Array,
): void {
  switch (ordering) {
    case "bottom-level":
      primary.set(bottomLevels(graph, est));
      secondary.set(facts.dependents);
      return;
    case "dependents":
      primary.set(facts.dependents);
      secondary.fill(0);
      return;
    case "weight":
      primary.set(facts.weightSums);
      secondary.fill(0);
      return;
    case "fifo":
      secondary.fill(0);
      return;
  }
}

/** Sums a per-task weight over each task and everything that depends on it, each counted once. */
export function weightedDependentSums(graph: TaskGraph, weight: ArrayLike<number>): Float64Array {
  const n = graph.names.length;
  const sums = new Float64Array(n);
  const stamp = new Int32Array(n).fill(-1);
  const stack: number[] = [];
  // Credit every task's weight to each of its transitive dependencies.
  for (let s = 0; s < n; s++) {
    const w = weight[s]!;
    sums[s] = sums[s]! + w;
    stamp[s] = s;
    stack.push(s);
    while (stack.length > 0) {
      const t = stack.pop()!;
      for (const u of graph.deps[t]!) {
        if (stamp[u] === s) continue;
        stamp[u] = s;
        sums[u] = sums[u]! + w;
        stack.push(u);
      }
    }
  }
  return sums;
}
