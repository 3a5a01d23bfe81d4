/**
 * The plan of a bulk build: for every package of a resolved scan, whether it
 * is built, already up to date, or not built and why (skipped, failed before
 * building, unresolved, excluded by the operator, or indirectly through a
 * dependency). Pure: the caller supplies the inputs digest of each package
 * and what the previous build left.
 */
import { createHash } from "node:crypto";
import { classify, topoOrder, type PkgClass } from "./classify.js";
import type { Resolution } from "./resolve.js";

import type { PlanState } from "./pkgstate.js";

export type { PlanState } from "./pkgstate.js";

export interface PlannedPackage {
  readonly pkgname: string;
  readonly pkgpath: string;
  readonly state: PlanState;
  /** Why it is not built: PKG_SKIP_REASON, PKG_FAIL_REASON, the unresolved pattern, ... */
  readonly reason: string;
  /** For indirect states: the package that caused it. */
  readonly culprit: string | null;
  /** Digest of everything the binary package is built from, dependencies included. */
  readonly inputs: string;
  /** Number of packages that depend on it, directly or not. */
  readonly dependents: number;
  /** For a failure carried over from an earlier build: the stage it failed in. */
  readonly failedStage: string | null;
  readonly maintainer: string;
}

export interface PreviousPackage {
  readonly inputs: string;
  /** True when its binary package is still in the repository, intact. */
  readonly available: boolean;
  /** Set when it failed then: a failure with unchanged inputs is not retried. */
  readonly failed?: { readonly stage: string; readonly reason: string; readonly build: number };
}

export interface PlanOptions {
  /** Digest of the files a package's scan read (SCAN_DEPENDS), by PKGPATH; "" when unknown. */
  readonly sourceDigest?: (pkgpath: string) => string;
  /** What earlier builds left, by PKGNAME. */
  readonly previous?: ReadonlyMap<string, PreviousPackage>;
  /** PKGPATHs or PKGNAMEs the operator excluded. */
  readonly excluded?: ReadonlySet<string>;
}

export interface Plan {
  readonly packages: readonly PlannedPackage[];
  /** Indices of packages to build, and for each its dependencies to build first (also indices into packages). */
  readonly toBuild: readonly number[];
  readonly counts: Readonly<Record<PlanState, number>>;
}

/** Plans a build from a resolution; packages whose inputs are unchanged and whose binary exists are up to date. */
export function planBuild(res: Resolution, opts: PlanOptions = {}): Plan {
  const cls = classify(res);
  const n = res.records.length;
  const order = topoOrder(res.depends);
  const inputs = new Array<string>(n).fill("");
  for (const i of order) {
    const rec = res.records[i]!;
    const h = createHash("sha256");
    h.update(rec.raw);
    h.update("\0" + (opts.sourceDigest?.(rec.get("PKG_LOCATION") ?? "") ?? ""));
    for (const d of res.depends[i]!) h.update("\0" + inputs[d]!);
    inputs[i] = h.digest("hex").slice(0, 32);
  }
  const dependents = countDependents(res.depends);
  const states = new Array<PlanState>(n);
  const reasons = new Array<string>(n).fill("");
  const culprits = new Array<string | null>(n).fill(null);
  const stages = new Array<string | null>(n).fill(null);
  const unresolvedPattern = new Map(res.unresolved.map((u) => [u.pkg, u.pattern]));
  for (const i of order) {
    const rec = res.records[i]!;
    const path = rec.get("PKG_LOCATION") ?? "";
    const c: PkgClass = cls.classes[i]!;
    const culprit = cls.culprit[i]!;
    if (culprit >= 0) culprits[i] = res.records[culprit]!.pkgname;
    switch (c) {
      case "skipped":
        states[i] = "skipped";
        reasons[i] = unquote(rec.get("PKG_SKIP_REASON") ?? "");
        break;
      case "failed":
        states[i] = "failed";
        reasons[i] = unquote(rec.get("PKG_FAIL_REASON") ?? "") || "dependency cycle";
        break;
      case "unresolved":
        states[i] = culprit >= 0 ? "indirect-failed" : "unresolved";
        reasons[i] =
          culprit >= 0
            ? `depends on ${culprits[i] ?? ""}, which has an unresolved dependency`
            : `could not resolve dependency "${unresolvedPattern.get(i) ?? ""}"`;
        break;
      case "indirect-skipped":
      case "indirect-failed":
        states[i] = c;
        reasons[i] = `depends on ${culprits[i] ?? ""}`;
        break;
      case "buildable": {
        const blocked = res.depends[i]!.find(
          (d) => states[d] !== "build" && states[d] !== "up-to-date",
        );
        const prev = opts.previous?.get(rec.pkgname);
        const same = prev !== undefined && prev.inputs === inputs[i];
        if (opts.excluded?.has(path) === true || opts.excluded?.has(rec.pkgname) === true) {
          states[i] = "skipped";
          reasons[i] = "excluded by the operator";
        } else if (blocked !== undefined) {
          const bs = states[blocked]!;
          states[i] =
            bs === "failed" || bs === "indirect-failed" ? "indirect-failed" : "indirect-skipped";
          culprits[i] = culprits[blocked] ?? res.records[blocked]!.pkgname;
          reasons[i] = `depends on ${culprits[i] ?? ""}`;
        } else if (same && prev.failed !== undefined) {
          // Nothing it is built from changed since it failed: retrying would fail again.
          states[i] = "failed";
          stages[i] = prev.failed.stage;
          reasons[i] = `${prev.failed.reason} (unchanged since build ${prev.failed.build})`;
        } else {
          states[i] = same && prev.available ? "up-to-date" : "build";
        }
        break;
      }
    }
  }
  const packages: PlannedPackage[] = res.records.map((rec, i) => ({
    pkgname: rec.pkgname,
    pkgpath: rec.get("PKG_LOCATION") ?? "",
    state: states[i]!,
    reason: reasons[i]!,
    culprit: culprits[i]!,
    inputs: inputs[i]!,
    dependents: dependents[i]!,
    failedStage: stages[i]!,
    maintainer: rec.get("MAINTAINER") ?? "",
  }));
  const counts: Record<PlanState, number> = {
    build: 0,
    "up-to-date": 0,
    skipped: 0,
    failed: 0,
    unresolved: 0,
    "indirect-skipped": 0,
    "indirect-failed": 0,
  };
  for (const s of states) counts[s]++;
  return { packages, toBuild: order.filter((i) => states[i] === "build"), counts };
}

/** pbulk-index prints reasons as make words ("a" "b"); reports show them as one sentence. */
export function unquote(s: string): string {
  const words = s.match(/"[^"]*"|\S+/g) ?? [];
  return words
    .map((w) => (w.length >= 2 && w.startsWith('"') && w.endsWith('"') ? w.slice(1, -1) : w))
    .join(" ");
}

/** Transitive dependents of each package (packages that break when it fails). */
export function countDependents(depends: readonly (readonly number[])[]): number[] {
  const n = depends.length;
  const dependents: number[][] = Array.from({ length: n }, () => []);
  depends.forEach((ds, i) => {
    for (const d of ds) dependents[d]!.push(i);
  });
  const out = new Array<number>(n).fill(0);
  const mark = new Int32Array(n).fill(-1);
  for (let s = 0; s < n; s++) {
    const stack = [...dependents[s]!];
    let count = 0;
    while (stack.length > 0) {
      const v = stack.pop()!;
      if (mark[v] === s) continue;
      mark[v] = s;
      count++;
      for (const w of dependents[v]!) if (mark[w] !== s) stack.push(w);
    }
    out[s] = count;
  }
  return out;
}
