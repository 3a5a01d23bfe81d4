/**
 * The critical path of a build: the chain of dependencies with the most
 * build time, from the stage times the build measured and the resolved
 * dependency graph. No schedule could have finished before it; the
 * report's timeline marks it.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
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
export function parseDepends(presolve: string | Buffer): Map<string, string[]> {
  // Only the PKGNAME and DEPENDS lines are decoded: a full tree's presolve is 160 MB of
  // mostly other fields, and decoding all of it took longer than the search.
  const b = typeof presolve === "string" ? Buffer.from(presolve) : presolve;
  const out = new Map<string, string[]>();
  // Where the next line starting with `key` (given with its leading newline) starts.
  const lineAt = (key: string, from: number): number => {
    if (from === 0 && b.toString("latin1", 0, key.length - 1) === key.slice(1)) return 0;
    const at = b.indexOf(key, Math.max(0, from - 1));
    return at < 0 ? -1 : at + 1;
  };
  const valueAt = (at: number): string => {
    let nl = b.indexOf(10, at);
    if (nl < 0) nl = b.length;
    return b.toString("utf8", at + 8, nl);
  };
  let name = lineAt("\nPKGNAME=", 0);
  let dep = lineAt("\nDEPENDS=", 0);
  while (name >= 0) {
    const current = valueAt(name);
    const next = lineAt("\nPKGNAME=", name + 1);
    while (dep >= 0 && dep < name) dep = lineAt("\nDEPENDS=", dep + 1);
    const mine = dep >= 0 && (next < 0 || dep < next);
    out.set(
      current,
      mine
        ? valueAt(dep)
            .split(/\s+/)
            .filter((d) => d !== "")
        : [],
    );
    name = next;
  }
  return out;
}

/** A build directory's file of each package's DEPENDS (presolve's PKGNAME and DEPENDS lines only). */
export const DEPENDS_FILE = "depends";

/** A build directory's dependencies: its depends file, else its presolve (an older build's). */
export async function readBuildDepends(buildDir: string): Promise<Map<string, string[]>> {
  const small = await readDepends(join(buildDir, DEPENDS_FILE));
  return small.size > 0 ? small : readDepends(join(buildDir, "presolve"));
}

/** Reads a presolve file's dependencies; an unreadable file gives none. */
export async function readDepends(file: string): Promise<Map<string, string[]>> {
  try {
    return parseDepends(await readFile(file));
  } catch {
    return new Map();
  }
}
