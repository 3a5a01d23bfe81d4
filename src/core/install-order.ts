/**
 * What a package needs on the build host before it builds, and what a
 * published repository leaves out: pure functions of the resolution.
 */
import { topoOrder } from "./classify.js";
import type { ScanRecord } from "./records.js";
import type { Resolution } from "./resolve.js";

/** For each package, every package it needs installed (transitively), dependencies first. */
export function installOrder(res: Resolution): number[][] {
  const order = topoOrder(res.depends);
  const rank = new Int32Array(order.length);
  order.forEach((v, k) => (rank[v] = k));
  const closure: number[][] = new Array<number[]>(order.length);
  for (const i of order) {
    const set = new Set<number>();
    for (const d of res.depends[i]!) {
      set.add(d);
      for (const x of closure[d] ?? []) set.add(x);
    }
    closure[i] = [...set].sort((a, b) => rank[a]! - rank[b]!);
  }
  return closure;
}

/** Package files pbulk leaves out of a published repository: RESTRICTED and NO_BIN_ON_FTP. */
export function restrictedFiles(records: readonly ScanRecord[]): Set<string> {
  const out = new Set<string>();
  for (const r of records) {
    if ((r.get("RESTRICTED") ?? "") !== "" || (r.get("NO_BIN_ON_FTP") ?? "") !== "")
      out.add(`${r.pkgname}.tgz`);
  }
  return out;
}
