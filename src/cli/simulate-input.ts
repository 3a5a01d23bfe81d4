/**
 * Loads what `herd simulate` and the benchmark need: the dependency graph
 * (a `dep -> dependent` edge list, or pbulk scan/presolve records), the
 * build history CSV, both plain or zstd-compressed.
 */
import { looksLikeDepGraph, parseDepGraph } from "../core/depgraph.js";
import { latestByPackage, parseHistory, type PackageHistory } from "../core/history.js";
import { formatErrorText, parseRecords, type ScanRecord } from "../core/records.js";
import type { GraphError } from "../core/sched/graph.js";
import { edgeListGraph, scanGraph, type LoadedGraph } from "../core/sim/graph-input.js";

export type { LoadedGraph } from "../core/sim/graph-input.js";
export { recordedBuild } from "../core/sim/graph-input.js";
import { UserError } from "./errors.js";
import { inputChunks, readScanFile } from "./input.js";

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
  const g = edgeListGraph(parsed.graph);
  if (!g.ok) throw graphError(path, g.error);
  return g.value;
}

function graphFromScan(path: string, records: readonly ScanRecord[]): LoadedGraph {
  if (records.length === 0) {
    throw new UserError(
      "format",
      `${path}: neither "dep -> dependent" lines nor PKGNAME= records`,
      "pass a depgraph, pscan or presolve file",
    );
  }
  const g = scanGraph(records);
  if (!g.ok) throw graphError(path, g.error);
  return g.value;
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
