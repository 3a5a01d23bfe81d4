/**
 * The critical path of a build: the chain of dependencies with the most
 * build time, from the stage times the build measured and the resolved
 * dependency graph. No schedule could have finished before it; the
 * report's timeline marks it.
 */
import { readFile } from "node:fs/promises";
import { buildTaskGraph } from "../core/sched/graph.js";
import { criticalChain } from "../core/sim/bounds.js";

export interface CriticalPath {
  /** First to last: each package needs the one before it. */
  readonly packages: readonly string[];
  /** Their build time added up. */
  readonly seconds: number;
}

/**
 * The longest chain, by `seconds`, among the packages that have a time;
 * `depends` maps a PKGNAME to the PKGNAMEs it needs (others are ignored).
 */
export function criticalPath(
  seconds: ReadonlyMap<string, number>,
  depends: ReadonlyMap<string, readonly string[]>,
): CriticalPath {
  const names = [...seconds.keys()].sort();
  const index = new Map(names.map((n, i) => [n, i]));
  const deps = names.map((n) =>
    (depends.get(n) ?? []).map((d) => index.get(d)).filter((d): d is number => d !== undefined),
  );
  const g = buildTaskGraph(names, deps);
  // A cycle cannot have been built; there is no chain to show.
  if (!g.ok || names.length === 0) return { packages: [], seconds: 0 };
  const w = names.map((n) => seconds.get(n) ?? 0);
  const chain = criticalChain(g.graph, w).filter((t) => w[t]! > 0);
  return {
    packages: chain.map((t) => names[t]!),
    seconds: chain.reduce((sum, t) => sum + w[t]!, 0),
  };
}

/** PKGNAME → the PKGNAMEs it depends on, from pbulk-resolve output (a build's presolve file). */
export function parseDepends(presolve: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string | null = null;
  for (const line of presolve.split("\n")) {
    if (line.startsWith("PKGNAME=")) {
      current = line.slice(8);
      out.set(current, []);
    } else if (line.startsWith("DEPENDS=") && current !== null) {
      out.set(
        current,
        line
          .slice(8)
          .split(/\s+/)
          .filter((d) => d !== ""),
      );
    }
  }
  return out;
}

/** Reads a presolve file's dependencies; an unreadable file gives none. */
export async function readDepends(file: string): Promise<Map<string, string[]>> {
  try {
    return parseDepends(await readFile(file, "utf8"));
  } catch {
    return new Map();
  }
}
