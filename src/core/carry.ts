/**
 * Indirect-failure propagation before a build starts: walking the planned
 * packages in dependency order, a package whose dependency failed (in this
 * build before a resume, or carried over) is indirectly failed, blamed on
 * the failed package at the root; a package whose MULTI_VERSION words are
 * not safe make arguments is refused (it fails, its dependents with it);
 * the rest are to build, with their make arguments.
 */
import type { PackageState } from "./pkgstate.js";

export interface CarryInput {
  /** The packages the plan builds, dependencies before dependents. */
  readonly order: readonly number[];
  readonly depends: readonly (readonly number[])[];
  /** A package's state and culprit so far in this build (a resumed one), if any. */
  readonly earlier: (
    i: number,
  ) => { readonly state: PackageState; readonly culprit: string | null } | undefined;
  /** A package's MULTI_VERSION as make arguments, undefined when unsafe. */
  readonly makeArgs: (i: number) => string[] | undefined;
  /** A package's name, to blame it. */
  readonly name: (i: number) => string;
}

export interface Carried {
  /** Newly indirectly failed, with the failed package to blame, in order. */
  readonly blocked: readonly (readonly [number, string])[];
  /** Refused: their MULTI_VERSION is unsafe. */
  readonly refused: readonly number[];
  /** To build, with their make arguments, in order. */
  readonly build: readonly (readonly [number, string[]])[];
}

/** Splits the planned packages into blocked, refused and to build. */
export function carryFailures(c: CarryInput): Carried {
  // Every package that will not build, with the failed package to blame.
  const culprits = new Map<number, string>();
  const blocked: [number, string][] = [];
  const refused: number[] = [];
  const build: [number, string[]][] = [];
  for (const i of c.order) {
    const was = c.earlier(i);
    const culprit = c.depends[i]!.map((d) => culprits.get(d)).find((x) => x !== undefined);
    if (was?.state === "failed" || was?.state === "indirect-failed") {
      culprits.set(i, was.culprit ?? c.name(i));
      continue;
    }
    if (culprit !== undefined) {
      culprits.set(i, culprit);
      blocked.push([i, culprit]);
      continue;
    }
    const args = c.makeArgs(i);
    if (args === undefined) {
      culprits.set(i, c.name(i));
      refused.push(i);
    } else build.push([i, args]);
  }
  return { blocked, refused, build };
}
