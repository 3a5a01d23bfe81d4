/**
 * A full-size synthetic bulk build in a Store, for benchmarks and tests of
 * what reads a finished build (the report, the dashboard): the packages of a
 * real presolve (or a generated tree), pbulk's plan (skipped, failed before
 * building, unresolved, indirect), a share of the buildable packages failing
 * in one of their stages with a reason and logs, their dependents
 * indirect-failed, the rest built on a pool of host slots with one stage row
 * per target, as a real build records them. Deterministic for a given seed.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { topoOrder } from "../../src/core/classify.js";
import { packageRow, type PackageRow, type Store } from "../../src/store/store.js";
import { failReason, pickStage, schedule, stageLog, stagePlan } from "./bigruns.js";
import { prng, type BigPackage } from "./bigtree.js";

export {
  PRESOLVE_2026,
  readPresolvePackages,
  syntheticPackages,
  type BigPackage,
} from "./bigtree.js";

export interface BigBuildOptions {
  readonly packages: readonly BigPackage[];
  /** Chance that a package whose dependencies all built fails itself (default 0.05); fewer for packages many others need. */
  readonly failRate?: number;
  /** Build hosts (default 16) and slots per host (default 2). */
  readonly hosts?: number;
  readonly slots?: number;
  readonly seed?: number;
  /**
   * Where stage logs go (DIR/PKGNAME/STAGE.log, as a build's work/logs): every
   * stage row names its log, but only the failed packages' logs are written
   * (a real build writes all; the report reads only those). Without it, no logs.
   */
  readonly logDir?: string;
  /** When the build started (default 2026-01-01T00:00Z). */
  readonly startMs?: number;
  /** Also store an earlier build of the tree, its outcomes a little different, so there are changes to report. */
  readonly previous?: boolean;
  /** PKGNAMEs that fail whenever they are tried (in the build stage), besides the random ones. */
  readonly mustFail?: ReadonlySet<string>;
  /** How many scan-error events to record (default 3). */
  readonly scanErrors?: number;
}

export interface BigBuild {
  readonly buildId: number;
  readonly previousId: number | null;
  /** PKGNAME → the PKGNAMEs it needs: reportModel's `depends`. */
  readonly depends: ReadonlyMap<string, readonly string[]>;
  readonly startedMs: number;
  readonly finishedMs: number;
  /** Packages per final state. */
  readonly counts: Readonly<Record<string, number>>;
  /** Packages the build tried and saw fail in a stage. */
  readonly stageFailed: readonly string[];
  readonly stageRows: number;
  readonly logFiles: number;
}

type Fate =
  | { readonly state: "skipped" | "failed" | "unresolved"; readonly reason: string }
  | { readonly state: "indirect-skipped" | "indirect-failed"; readonly culprit: number }
  | { readonly state: "build"; readonly fail: string | null };

/** Stores a finished synthetic build (and, with `previous`, an earlier one first). */
export function fillBigBuild(store: Store, opts: BigBuildOptions): BigBuild {
  const pkgs = opts.packages;
  const n = pkgs.length;
  const rand = prng(opts.seed ?? 1);
  const index = new Map(pkgs.map((p, i) => [p.pkgname, i]));
  const deps = pkgs.map((p) =>
    p.depends.map((d) => index.get(d)).filter((d): d is number => d !== undefined),
  );
  const dependents: number[][] = pkgs.map(() => []);
  deps.forEach((ds, i) => {
    for (const d of ds) dependents[d]!.push(i);
  });
  const fates = decideFates(pkgs, deps, dependents, opts, rand);
  const startMs = opts.startMs ?? Date.UTC(2026, 0, 1);
  const previousId =
    opts.previous === true ? storePrevious(store, pkgs, fates, startMs, rand) : null;
  const buildId = store.startBuild("/usr/pkgsrc", "2026Q1-synthetic", startMs);
  const times = schedule(
    deps,
    dependents,
    (i) => fates[i]!.state === "build",
    (i) => {
      const f = fates[i]!;
      return f.state === "build" && f.fail !== null;
    },
    { hosts: opts.hosts ?? 16, slots: opts.slots ?? 2, startMs },
    rand,
  );
  const rows: PackageRow[] = [];
  const counts: Record<string, number> = {};
  const stageFailed: string[] = [];
  let stageRows = 0;
  let logFiles = 0;
  let finishedMs = startMs;
  store.tx(() => {
    for (let i = 0; i < n; i++) {
      const p = pkgs[i]!;
      const f = fates[i]!;
      const t = times[i];
      const base = packageRow(p.pkgname, p.pkgpath, "pending", {
        inputs: digest(p.pkgname + p.depends.join(" ")),
        maintainer: p.maintainer,
        dependents: dependents[i]!.length,
      });
      let row: PackageRow;
      if (f.state === "build") {
        if (t === undefined) throw new Error(`${p.pkgname} was to be built but has no run`);
        finishedMs = Math.max(finishedMs, t.endMs);
        const reason = f.fail === null ? "" : failReason(p.pkgname, f.fail, rand);
        const stages = stagePlan(t, f.fail, rand);
        for (const s of stages) {
          const log =
            opts.logDir === undefined ? null : join(opts.logDir, p.pkgname, `${s.stage}.log`);
          store.recordStage(buildId, {
            pkgname: p.pkgname,
            pkgpath: p.pkgpath,
            stage: s.stage,
            host: t.host,
            startedMs: s.startedMs,
            wallMs: s.wallMs,
            status: s.status,
            log,
          });
          stageRows++;
          if (log !== null && f.fail !== null) {
            mkdirSync(join(opts.logDir!, p.pkgname), { recursive: true });
            writeFileSync(log, stageLog(p.pkgname, s.stage, s.status, reason, rand));
            logFiles++;
          }
        }
        row =
          f.fail === null
            ? {
                ...base,
                state: "built",
                host: t.host,
                startedMs: t.startMs,
                finishedMs: t.endMs,
                sha256: digest(p.pkgname) + digest(p.pkgpath),
                size: Math.round(20_000 + rand() * 5_000_000),
              }
            : {
                ...base,
                state: "failed",
                host: t.host,
                startedMs: t.startMs,
                finishedMs: t.endMs,
                failedStage: f.fail,
                reason,
              };
        if (f.fail !== null) stageFailed.push(p.pkgname);
      } else if ("culprit" in f) {
        row = { ...base, state: f.state, culprit: pkgs[f.culprit]!.pkgname };
      } else {
        row = { ...base, state: f.state, reason: f.reason };
      }
      counts[row.state] = (counts[row.state] ?? 0) + 1;
      rows.push(row);
    }
    store.insertPackages(buildId, rows);
    for (let k = 0; k < (opts.scanErrors ?? 3); k++)
      store.appendEvent(buildId, startMs + k, "scan-error", {
        pkgpath: `wip/broken${k}`,
        host: "build01",
        message: `bmake: "/usr/pkgsrc/wip/broken${k}/Makefile" line ${12 + k}: Malformed conditional (\${OPSYS} == )`,
      });
  });
  finishedMs += 60_000;
  store.finishBuild(buildId, finishedMs, "done");
  const depends = new Map(pkgs.map((p, i) => [p.pkgname, deps[i]!.map((d) => pkgs[d]!.pkgname)]));
  return {
    buildId,
    previousId,
    depends,
    startedMs: startMs,
    finishedMs,
    counts,
    stageFailed,
    stageRows,
    logFiles,
  };
}

/** pbulk's plan (as src/core/classify.ts decides it), then who fails among the packages tried. */
function decideFates(
  pkgs: readonly BigPackage[],
  deps: readonly (readonly number[])[],
  dependents: readonly (readonly number[])[],
  opts: BigBuildOptions,
  rand: () => number,
): Fate[] {
  const failRate = opts.failRate ?? 0.05;
  const fates = new Array<Fate>(pkgs.length);
  for (const i of topoOrder(deps)) {
    const p = pkgs[i]!;
    if (p.skipReason !== "") fates[i] = { state: "skipped", reason: p.skipReason };
    else if (p.unresolved)
      fates[i] = { state: "unresolved", reason: p.failReason || "could not resolve a dependency" };
    else if (p.failReason !== "") fates[i] = { state: "failed", reason: p.failReason };
    else {
      let fail = -1;
      let skip = -1;
      for (const d of deps[i]!) {
        const f = fates[d]!;
        const root = "culprit" in f ? f.culprit : d;
        const broken =
          f.state === "failed" ||
          f.state === "unresolved" ||
          f.state === "indirect-failed" ||
          (f.state === "build" && f.fail !== null);
        if (broken && fail < 0) fail = root;
        if ((f.state === "skipped" || f.state === "indirect-skipped") && skip < 0) skip = root;
      }
      if (fail >= 0) fates[i] = { state: "indirect-failed", culprit: fail };
      else if (skip >= 0) fates[i] = { state: "indirect-skipped", culprit: skip };
      else {
        // What many packages need is fixed quickly in pkgsrc: it rarely fails.
        const needed = dependents[i]!.length;
        const rate = needed <= 3 ? failRate : needed <= 30 ? failRate / 4 : failRate / 20;
        const fails = rand() < rate;
        const must = opts.mustFail?.has(p.pkgname) === true;
        fates[i] = { state: "build", fail: must ? "build" : fails ? pickStage(rand) : null };
      }
    }
  }
  return fates;
}

function digest(s: string): string {
  return createHash("sha256").update(s).digest("hex").slice(0, 32);
}

/** An earlier build of the same tree: some packages new since, some fixed, some newly failing. */
function storePrevious(
  store: Store,
  pkgs: readonly BigPackage[],
  fates: readonly Fate[],
  startMs: number,
  rand: () => number,
): number {
  const t0 = startMs - 7 * 86_400_000;
  const id = store.startBuild("/usr/pkgsrc", "2025Q4-synthetic", t0);
  const rows: PackageRow[] = [];
  pkgs.forEach((p, i) => {
    // One in a hundred is new in this build.
    if (rand() < 0.01) return;
    const f = fates[i]!;
    let state: PackageRow["state"] =
      f.state === "build" ? (f.fail === null ? "built" : "failed") : f.state;
    if (state === "failed" && f.state === "build" && rand() < 0.1) state = "built";
    else if (state === "built" && rand() < 0.005) state = "failed";
    rows.push(
      packageRow(p.pkgname, p.pkgpath, state, {
        reason: state === "failed" ? "build failed (exit 1)" : "",
        failedStage: state === "failed" ? "build" : null,
        maintainer: p.maintainer,
      }),
    );
  });
  store.insertPackages(id, rows);
  store.finishBuild(id, startMs - 86_400_000, "done");
  return id;
}
