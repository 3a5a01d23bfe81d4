/**
 * A large build's report for the tests of report.html at scale (unit and
 * browser): 3,000 synthetic packages (bench/lib/bigstore.ts) plus one with
 * a hostile name that fails and breaks one package.
 */
import { join } from "node:path";
import {
  fillBigBuild,
  syntheticPackages,
  type BigBuild,
  type BigPackage,
} from "../../bench/lib/bigstore.js";
import { reportModel, type ReportModel } from "../../src/report/model.js";
import { writeReport } from "../../src/report/render.js";
import { Store } from "../../src/store/store.js";

export const EVIL = `x<script>alert(1)</script>-1.0`;

/** The packages: a few thousand, the hostile one and its victim last. */
export function largeTree(): BigPackage[] {
  const plain = { maintainer: `<b>m</b>@example.org`, skipReason: "", failReason: "" };
  return [
    ...syntheticPackages(3000, 7),
    { ...plain, pkgname: EVIL, pkgpath: "evil/x", depends: [], unresolved: false },
    { ...plain, pkgname: "victim-1.0", pkgpath: "evil/victim", depends: [EVIL], unresolved: false },
  ];
}

export interface LargeReport {
  readonly store: Store;
  readonly big: BigBuild;
  readonly packages: readonly BigPackage[];
  readonly model: ReportModel;
  /** report.html's path. */
  readonly html: string;
}

/** Stores the build (logs under DIR/logs, an earlier build to compare with) and writes its report to DIR. */
export async function writeLargeReport(dir: string): Promise<LargeReport> {
  const store = new Store(":memory:");
  const packages = largeTree();
  const big = fillBigBuild(store, {
    packages,
    hosts: 4,
    slots: 2,
    logDir: join(dir, "logs-of-the-build"),
    previous: true,
    mustFail: new Set([EVIL]),
  });
  const model = reportModel(store, big.buildId, big.depends, big.finishedMs);
  return { store, big, packages, model, html: await writeReport(dir, model) };
}
