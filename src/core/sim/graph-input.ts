/**
 * The graphs `herd simulate` and the benchmarks run on, made from what was
 * read: a `dep -> dependent` edge list, or scan records (resolved here, the
 * packages that will not be built dropped), and put together with a
 * history. Pure: the files are read in src/cli/simulate-input.ts.
 */
import { classify } from "../classify.js";
import type { DepGraphText } from "../depgraph.js";
import type { PackageHistory } from "../history.js";
import { field, type ScanRecord } from "../records.js";
import { resolveRecords } from "../resolve.js";
import { buildTaskGraph, type GraphError, type TaskGraph } from "../sched/graph.js";
import type { RecordedBuild } from "./scenario.js";

export interface LoadedGraph {
  readonly graph: TaskGraph;
  readonly format: "depgraph" | "scan";
  readonly weights: readonly (number | undefined)[] | undefined;
  /** Tasks that will not be built (skipped, failed, unresolved per the scan), empty for edge lists. */
  readonly excluded: readonly boolean[];
  /** PKG_LOCATION per task (scan input only). */
  readonly pkgpaths: readonly (string | undefined)[] | undefined;
}

export type GraphResult =
  | { readonly ok: true; readonly value: LoadedGraph }
  | { readonly ok: false; readonly error: GraphError };

/** The task graph of a parsed edge list. */
export function edgeListGraph(g: DepGraphText): GraphResult {
  const built = buildTaskGraph(g.names, g.deps);
  if (!built.ok) return { ok: false, error: built.error };
  return {
    ok: true,
    value: {
      graph: built.graph,
      format: "depgraph",
      weights: undefined,
      excluded: [],
      pkgpaths: undefined,
    },
  };
}

/** The task graph of scan records: resolved, with the packages that will not be built excluded. */
export function scanGraph(records: readonly ScanRecord[]): GraphResult {
  const res = resolveRecords(records);
  const classes = classify(res).classes;
  const excluded = classes.map((c) => c !== "buildable");
  // Packages that will not be built drop their edges, which also breaks any cycle (cycles are failures).
  const deps = res.depends.map((d, i) => (excluded[i] === true ? [] : d));
  const built = buildTaskGraph(
    records.map((r) => r.pkgname),
    deps,
  );
  if (!built.ok) return { ok: false, error: built.error };
  const weights = records.map((r) => {
    const w = field(r, "PBULK_WEIGHT");
    return w === undefined || !/^\d+$/.test(w) ? undefined : Number(w);
  });
  return {
    ok: true,
    value: {
      graph: built.graph,
      format: "scan",
      weights: weights.some((w) => w !== undefined) ? weights : undefined,
      excluded,
      pkgpaths: records.map((r) => field(r, "PKG_LOCATION")),
    },
  };
}

/**
 * Puts graph and history together. An edge list cannot name packages
 * without edges, so history packages missing from it join as isolated tasks.
 */
export function recordedBuild(
  loaded: LoadedGraph,
  history: ReadonlyMap<string, PackageHistory>,
): RecordedBuild {
  let graph = loaded.graph;
  if (loaded.format === "depgraph") {
    const known = new Set(graph.names);
    const extra = [...history.keys()].filter((n) => !known.has(n));
    if (extra.length > 0) {
      const built = buildTaskGraph(
        [...graph.names, ...extra],
        [...graph.deps, ...extra.map(() => [])],
      );
      if (built.ok) graph = built.graph;
    }
  }
  return {
    graph,
    history,
    weights: loaded.weights,
    excluded: loaded.excluded,
    pkgpaths: loaded.pkgpaths,
  };
}
