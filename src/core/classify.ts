/**
 * What a resolved scan means for a bulk build, before anything is built:
 * each package is buildable, skipped (PKG_SKIP_REASON), failed
 * (PKG_FAIL_REASON), unresolved (a dependency matched nothing), or
 * indirectly skipped/failed through a dependency. Pure; the planner reuses it.
 */
import { field } from "./records.js";
import type { Resolution } from "./resolve.js";

/**
 * "unresolved" covers a package with a dependency that matched nothing and,
 * with a culprit, the packages that depend on such a package.
 */
export type PkgClass =
  "buildable" | "skipped" | "failed" | "unresolved" | "indirect-skipped" | "indirect-failed";

export interface Classification {
  readonly classes: readonly PkgClass[];
  /** For indirect classes: the index of a package that caused it (a direct skip/failure). */
  readonly culprit: readonly number[];
  readonly counts: Readonly<Record<PkgClass, number>>;
  /** Dependencies that matched nothing (pbulk's "No match found" lines). */
  readonly unresolvedDependencies: number;
}

/** Classifies every package of a resolution; cycles count as failures. */
export function classify(res: Resolution): Classification {
  const n = res.records.length;
  const classes: PkgClass[] = new Array<PkgClass>(n);
  const culprit = new Int32Array(n).fill(-1);
  const unresolved = new Set(res.unresolved.map((u) => u.pkg));
  for (const e of res.errors) unresolved.add(e.pkg);
  const inCycle = new Set(res.cycles.flat());
  for (let i = 0; i < n; i++) {
    const rec = res.records[i]!;
    const skip = field(rec, "PKG_SKIP_REASON") ?? "";
    const fail = field(rec, "PKG_FAIL_REASON") ?? "";
    if (skip !== "") classes[i] = "skipped";
    else if (unresolved.has(i)) classes[i] = "unresolved";
    else if (fail !== "" || inCycle.has(i)) classes[i] = "failed";
    else classes[i] = "buildable";
  }
  // Propagate in dependency order: a package is decided after its dependencies.
  const order = topoOrder(res.depends);
  // A failure below outweighs an unresolved dependency, which outweighs a skip
  // (pbulk-compatible tools count a package that is both as indirectly failed).
  for (const i of order) {
    if (classes[i] !== "buildable") continue;
    let skipCause = -1;
    let failCause = -1;
    let unresolvedCause = -1;
    for (const d of res.depends[i]!) {
      const c = classes[d]!;
      const root = culprit[d]! >= 0 ? culprit[d]! : d;
      if (c === "skipped" || c === "indirect-skipped") {
        if (skipCause < 0) skipCause = root;
      } else if (c === "unresolved") {
        if (unresolvedCause < 0) unresolvedCause = root;
      } else if (c === "failed" || c === "indirect-failed") {
        if (failCause < 0) failCause = root;
      }
    }
    if (failCause >= 0) {
      classes[i] = "indirect-failed";
      culprit[i] = failCause;
    } else if (unresolvedCause >= 0) {
      classes[i] = "unresolved";
      culprit[i] = unresolvedCause;
    } else if (skipCause >= 0) {
      classes[i] = "indirect-skipped";
      culprit[i] = skipCause;
    }
  }
  const counts: Record<PkgClass, number> = {
    buildable: 0,
    skipped: 0,
    failed: 0,
    unresolved: 0,
    "indirect-skipped": 0,
    "indirect-failed": 0,
  };
  for (const c of classes) counts[c]++;
  return {
    classes,
    culprit: Array.from(culprit),
    counts,
    unresolvedDependencies: res.unresolved.length,
  };
}

/**
 * Dependencies before dependents (Kahn). Nodes on cycles come last, in
 * input order, so every node appears exactly once.
 */
export function topoOrder(depends: readonly (readonly number[])[]): number[] {
  const n = depends.length;
  const pending = new Int32Array(n);
  const dependents: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < n; i++) {
    for (const d of depends[i]!) {
      pending[i]!++;
      dependents[d]!.push(i);
    }
  }
  const order: number[] = [];
  for (let i = 0; i < n; i++) if (pending[i] === 0) order.push(i);
  for (let k = 0; k < order.length; k++) {
    for (const j of dependents[order[k]!]!) if (--pending[j]! === 0) order.push(j);
  }
  if (order.length < n) for (let i = 0; i < n; i++) if (pending[i]! > 0) order.push(i);
  return order;
}

/**
 * The summary line pbulk-compatible tools print for a resolved scan; its
 * "unresolved" figure counts unresolved dependencies, as pbulk reports them.
 */
export function summaryLine(c: Classification): string {
  const k = c.counts;
  const total = c.classes.length;
  return (
    `${total} packages: ${k.buildable} buildable, ${k.skipped} skipped, ${k.failed} failed, ` +
    `${k["indirect-skipped"]} indirectly skipped, ${k["indirect-failed"]} indirectly failed, ${c.unresolvedDependencies} unresolved`
  );
}
