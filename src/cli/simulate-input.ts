/**
 * Loads what `herd simulate` and the benchmark need: the dependency graph
 * (a `dep -> dependent` edge list, or pbulk scan/presolve records), the
 * build history CSV, both plain or zstd-compressed.
 */
import { classify } from "../core/classify.js";
import { looksLikeDepGraph, parseDepGraph } from "../core/depgraph.js";
import { latestByPackage, parseHistory, type PackageHistory } from "../core/history.js";
import { field, formatErrorText, parseRecords, type ScanRecord } from "../core/records.js";
import { resolveRecords } from "../core/resolve.js";
import { buildTaskGraph, type GraphError, type TaskGraph } from "../core/sched/graph.js";
import type { RecordedBuild } from "../core/sim/scenario.js";
import { UserError } from "./errors.js";
import { inputChunks, readScanFile } from "./input.js";

export interface LoadedGraph {
  readonly graph: TaskGraph;
  readonly format: "depgraph" | "scan";
  readonly weights: readonly (number | undefined)[] | undefined;
  /** Tasks that will not be built (skipped, failed, unresolved per the scan), empty for edge lists. */
  readonly excluded: readonly boolean[];
  /** PKG_LOCATION per task (scan input only). */
  readonly pkgpaths: readonly (string | undefined)[] | undefined;
}

/** Reads a whole input (plain, .zst or "-") as latin1 text. */
export async function readText(path: string): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of inputChunks(path)) parts.push(chunk);
  return Buffer.concat(parts).toString("latin1");
}

/** Reads a dependency graph in either format; malformed input is a UserError. */
export async function loadGraph(path: string): Promise<LoadedGraph> {
  const name = path === "-" ? "<stdin>" : path;
  if (path === "-") {
    const text = await readText(path);
    if (looksLikeDepGraph(text)) return graphFromEdgeList(name, text);
    const parsed = parseRecords(text, name);
    if (!parsed.ok) throw new UserError("format", formatErrorText(parsed.error), parsed.error.hint);
    return graphFromScan(name, parsed.records);
  }
  const chunks = inputChunks(path);
  const first = await chunks.next();
  const head = first.done === true ? "" : first.value.toString("latin1");
  if (looksLikeDepGraph(head)) {
    const parts = [head];
    for await (const chunk of chunks) parts.push(chunk.toString("latin1"));
    return graphFromEdgeList(name, parts.join(""));
  }
  await chunks.return(undefined);
  // Scan records stream through the lead's reader: presolve files are large.
  return graphFromScan(name, await readScanFile(path));
}

function graphFromEdgeList(path: string, text: string): LoadedGraph {
  const parsed = parseDepGraph(text);
  if (!parsed.ok) {
    const e = parsed.error;
    throw new UserError(
      "format",
      `${path}:${e.line}: ${e.message}`,
      'each line is "dependency -> dependent"',
    );
  }
  const built = buildTaskGraph(parsed.graph.names, parsed.graph.deps);
  if (!built.ok) throw graphError(path, built.error);
  return {
    graph: built.graph,
    format: "depgraph",
    weights: undefined,
    excluded: [],
    pkgpaths: undefined,
  };
}

function graphFromScan(path: string, records: readonly ScanRecord[]): LoadedGraph {
  if (records.length === 0) {
    throw new UserError(
      "format",
      `${path}: neither "dep -> dependent" lines nor PKGNAME= records`,
      "pass a depgraph, pscan or presolve file",
    );
  }
  const res = resolveRecords(records);
  const classes = classify(res).classes;
  const excluded = classes.map((c) => c !== "buildable");
  // Packages that will not be built drop their edges, which also breaks any cycle (cycles are failures).
  const deps = res.depends.map((d, i) => (excluded[i] === true ? [] : d));
  const built = buildTaskGraph(
    records.map((r) => r.pkgname),
    deps,
  );
  if (!built.ok) throw graphError(path, built.error);
  const weights = records.map((r) => {
    const w = field(r, "PBULK_WEIGHT");
    return w === undefined || !/^\d+$/.test(w) ? undefined : Number(w);
  });
  return {
    graph: built.graph,
    format: "scan",
    weights: weights.some((w) => w !== undefined) ? weights : undefined,
    excluded,
    pkgpaths: records.map((r) => field(r, "PKG_LOCATION")),
  };
}

function graphError(path: string, e: GraphError): UserError {
  switch (e.reason) {
    case "cycle":
      return new UserError(
        "cycle",
        `${path}: dependency cycle: ${e.cycle.join(" -> ")}`,
        "a package cannot depend on itself",
      );
    case "bad-index":
      return new UserError(
        "format",
        `${path}: ${e.task} depends on an unknown package`,
        "is the file complete?",
      );
  }
}

/** Reads a history CSV into the latest duration and outcome per package. */
export async function loadHistory(path: string): Promise<Map<string, PackageHistory>> {
  const parsed = parseHistory(await readText(path));
  if (!parsed.ok) {
    throw new UserError(
      "format",
      `${path}:${parsed.error.line}: ${parsed.error.message}`,
      "expected bob's history CSV (header line first)",
    );
  }
  return latestByPackage(parsed.rows);
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
