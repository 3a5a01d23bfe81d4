/**
 * A simulated build from recorded data: the dependency graph, the history of
 * a real build, the hosts and a policy. Packages without a history row were
 * not built in the recorded build (up to date, or indirectly failed), so
 * they count as built already unless asked to estimate them.
 */
import type { PackageHistory } from "../history.js";
import type { HostEvent, SimulationResult } from "./simulate.js";
import { simulate } from "./simulate.js";
import type { HostSpec } from "../hostspec.js";
import type { TaskGraph } from "../sched/graph.js";
import type { PolicyName } from "../sched/priority.js";
import { lowerBound, tasksThatRun, type LowerBound } from "./bounds.js";
import { jitterDurations } from "./jitter.js";
import { packageBytes } from "./transfer.js";

export interface RecordedBuild {
  readonly graph: TaskGraph;
  readonly history: ReadonlyMap<string, PackageHistory>;
  /** PBULK_WEIGHT per task, when the graph came from scan records that have it. */
  readonly weights?: readonly (number | undefined)[] | undefined;
  /** category/dir per task (PKG_LOCATION of the scan), when known. */
  readonly pkgpaths?: readonly (string | undefined)[] | undefined;
  /** Tasks that are not to be built at all (skipped or failed in the scan). */
  readonly excluded?: readonly boolean[] | undefined;
}

export interface ScenarioOptions {
  readonly hosts: readonly HostSpec[];
  readonly policy: PolicyName;
  /** Hide history durations and host speeds from the scheduler. */
  readonly cold?: boolean | undefined;
  /** Hide package categories too (default shown: they come from the scan, not the history). */
  readonly hideCategories?: boolean | undefined;
  /** Estimate packages without history (median) instead of counting them as built. */
  readonly estimateMissing?: boolean | undefined;
  /** ± percent noise on the real durations, fixed by `seed`. */
  readonly jitter?: number | undefined;
  readonly seed?: number | undefined;
  readonly hostEvents?: readonly HostEvent[] | undefined;
  /**
   * Charge dependency transfers over the hosts' links (`@1MB` in the host
   * spec), package sizes from the history (sim/transfer.ts); `aware`: the
   * scheduler counts them too. Without it links cost nothing.
   */
  readonly transfer?: { readonly aware: boolean; readonly treeBytes?: number } | undefined;
}

export interface ScenarioResult {
  readonly policy: PolicyName;
  readonly result: SimulationResult;
  readonly lowerBound: LowerBound;
  /** makespan / lower bound. */
  readonly ratio: number;
  /** Tasks scheduled (not built already). */
  readonly packages: number;
  /** Tasks in the graph without a history row. */
  readonly missingHistory: number;
  /** Real seconds per task at speed 1.0 used by this run. */
  readonly actual: Float64Array;
}

export interface Durations {
  /** Seconds from history per task, undefined where there is no row. */
  readonly shown: (number | undefined)[];
  readonly fails: boolean[];
  /** Packages to build that have no history row. */
  readonly missing: number;
  /** Median of the known durations (1 when there are none). */
  readonly median: number;
}

/** Looks up every task of the graph in the history. */
export function durationsFromHistory(
  graph: TaskGraph,
  history: ReadonlyMap<string, PackageHistory>,
  excluded?: readonly boolean[],
): Durations {
  const shown: (number | undefined)[] = [];
  const fails: boolean[] = [];
  const known: number[] = [];
  let missing = 0;
  graph.names.forEach((name, t) => {
    const h = history.get(name);
    shown.push(h?.seconds);
    fails.push(h !== undefined && !h.ok);
    if (h !== undefined) known.push(h.seconds);
    else if (excluded?.[t] !== true) missing++;
  });
  known.sort((a, b) => a - b);
  const median = known.length === 0 ? 1 : known[known.length >> 1]!;
  return { shown, fails, missing, median };
}

/** Category per task from the scan's PKG_LOCATION, else from the history's pkgpath (the same fact). */
export function categoriesOf(build: RecordedBuild): (string | undefined)[] {
  return build.graph.names.map((name, t) => {
    const path = build.pkgpaths?.[t] ?? build.history.get(name)?.pkgpath ?? "";
    const slash = path.indexOf("/");
    return slash > 0 ? path.slice(0, slash) : undefined;
  });
}

/** Simulates the recorded build under one policy and host set. */
export function runScenario(build: RecordedBuild, opts: ScenarioOptions): ScenarioResult {
  const { graph } = build;
  const d = durationsFromHistory(graph, build.history, build.excluded);
  const n = graph.names.length;
  const base = new Float64Array(n);
  const done: boolean[] = [];
  for (let t = 0; t < n; t++) {
    const s = d.shown[t];
    base[t] = s ?? d.median;
    done.push(build.excluded?.[t] === true || (s === undefined && opts.estimateMissing !== true));
  }
  const actual = jitterDurations(base, opts.jitter ?? 0, opts.seed ?? 1);
  const cold = opts.cold === true;
  const result = simulate({
    graph,
    hosts: opts.hosts,
    policy: opts.policy,
    actual,
    fails: d.fails,
    done,
    shown: cold ? undefined : d.shown,
    weights: build.weights,
    categories: opts.hideCategories === true ? undefined : categoriesOf(build),
    speedsKnown: !cold,
    hostEvents: opts.hostEvents,
    transfer:
      opts.transfer === undefined
        ? undefined
        : {
            bytes: packageBytes(graph, build.history),
            aware: opts.transfer.aware,
            treeBytes: opts.transfer.treeBytes,
          },
  });
  const runs = tasksThatRun(graph, done, d.fails);
  const lb = lowerBound(graph, actual, runs, opts.hosts);
  let packages = 0;
  for (let t = 0; t < n; t++) if (!done[t]) packages++;
  return {
    policy: opts.policy,
    result,
    lowerBound: lb,
    ratio: lb.seconds > 0 ? result.makespan / lb.seconds : 1,
    packages,
    missingHistory: d.missing,
    actual,
  };
}
