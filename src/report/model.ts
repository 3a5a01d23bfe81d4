/**
 * The facts of a finished (or stopped) build, gathered once from the store;
 * the HTML, text and JSON reports are three renderings of this one model.
 */
import type { BuildRow, BuildStore, PackageRow } from "../store/types.js";
import { criticalPath, type CriticalPath } from "./critical.js";

export interface FailedPackage {
  readonly pkgname: string;
  readonly pkgpath: string;
  readonly stage: string;
  readonly reason: string;
  readonly maintainer: string;
  readonly host: string;
  /** Packages that were not built because of this one. */
  readonly breaks: number;
  readonly logs: readonly { readonly stage: string; readonly file: string }[];
}

export interface BuiltPackage {
  readonly pkgname: string;
  readonly pkgpath: string;
  readonly state: "built" | "up-to-date";
  /** Where and how long it built in this build ("" and 0 when up to date). */
  readonly host: string;
  readonly seconds: number;
}

export interface HostStats {
  readonly host: string;
  readonly built: number;
  readonly failed: number;
  readonly busySeconds: number;
}

export interface TimelineRun {
  readonly pkgname: string;
  readonly host: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly ok: boolean;
}

export interface BuildDiff {
  readonly previousBuild: number;
  readonly newlyFailing: readonly string[];
  readonly fixed: readonly string[];
  readonly newPackages: readonly string[];
}

export interface ReportModel {
  readonly build: BuildRow;
  readonly counts: Readonly<Record<string, number>>;
  readonly total: number;
  /** Failed packages, the ones breaking the most packages first. */
  readonly failed: readonly FailedPackage[];
  /** Those of `failed` that failed at fetch: a distfile no site served (shown in a section of their own). */
  readonly fetchFailed: readonly FailedPackage[];
  readonly indirect: readonly {
    readonly pkgname: string;
    readonly pkgpath: string;
    readonly culprit: string;
    readonly state: string;
  }[];
  /** Packages built in this build or up to date from an earlier one, by name. */
  readonly built: readonly BuiltPackage[];
  readonly skipped: readonly {
    readonly pkgname: string;
    readonly pkgpath: string;
    readonly state: string;
    readonly reason: string;
  }[];
  readonly maintainers: readonly {
    readonly maintainer: string;
    readonly failed: number;
    readonly breaks: number;
  }[];
  readonly hosts: readonly HostStats[];
  readonly timeline: readonly TimelineRun[];
  /** The longest chain of dependencies by build time (empty without a dependency graph). */
  readonly critical: CriticalPath;
  readonly diff: BuildDiff | null;
  /** Package directories whose scan failed (no record, so not in the counts). */
  readonly scanErrors: readonly {
    readonly pkgpath: string;
    readonly host: string;
    readonly message: string;
  }[];
}

const NOT_BUILT = new Set(["indirect-failed", "indirect-skipped"]);

/**
 * Gathers the report's facts for one build; `depends` (PKGNAME → the
 * PKGNAMEs it needs, see readDepends) gives the critical path.
 */
export function reportModel(
  store: BuildStore,
  buildId: number,
  depends: ReadonlyMap<string, readonly string[]> = new Map(),
  /** When the build ended, for a report written just before the store marks it done. */
  finishedMs: number | null = null,
): ReportModel {
  const stored = store.builds().find((b) => b.id === buildId);
  if (stored === undefined) throw new Error(`no build ${buildId}`);
  const build = finishedMs === null ? stored : { ...stored, finishedMs };
  const rows = store.packages(buildId);
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.state] = (counts[r.state] ?? 0) + 1;
  const breaks = new Map<string, number>();
  for (const r of rows)
    if (NOT_BUILT.has(r.state) && r.culprit !== null)
      breaks.set(r.culprit, (breaks.get(r.culprit) ?? 0) + 1);
  const { seconds, busy, logsOf, ends } = stageFacts(store, buildId, rows);
  const failed = rows
    .filter((r) => r.state === "failed" || r.state === "unresolved")
    .map((r) => ({
      pkgname: r.pkgname,
      pkgpath: r.pkgpath,
      stage: r.failedStage ?? (r.state === "unresolved" ? "resolve" : "PKG_FAIL_REASON"),
      reason: r.reason,
      maintainer: r.maintainer,
      host: r.host ?? "",
      breaks: breaks.get(r.pkgname) ?? 0,
      logs: logsOf.get(r.pkgname) ?? [],
    }))
    .sort((a, b) => b.breaks - a.breaks || (a.pkgname < b.pkgname ? -1 : 1));
  const maint = new Map<string, { failed: number; breaks: number }>();
  for (const f of failed) {
    const m = maint.get(f.maintainer) ?? { failed: 0, breaks: 0 };
    m.failed++;
    m.breaks += f.breaks;
    maint.set(f.maintainer, m);
  }
  return {
    build,
    counts,
    total: rows.length,
    failed,
    fetchFailed: failed.filter((f) => f.stage === "fetch"),
    indirect: rows
      .filter((r) => NOT_BUILT.has(r.state))
      .map((r) => ({
        pkgname: r.pkgname,
        pkgpath: r.pkgpath,
        culprit: r.culprit ?? "",
        state: r.state,
      })),
    built: rows.flatMap((r) =>
      r.state === "built" || r.state === "up-to-date"
        ? [
            {
              pkgname: r.pkgname,
              pkgpath: r.pkgpath,
              state: r.state,
              host: r.state === "built" ? (r.host ?? "") : "",
              seconds: r.state === "built" ? (seconds.get(r.pkgname) ?? 0) : 0,
            },
          ]
        : [],
    ),
    skipped: rows
      .filter((r) => r.state === "skipped")
      .map((r) => ({ pkgname: r.pkgname, pkgpath: r.pkgpath, state: r.state, reason: r.reason })),
    maintainers: [...maint]
      .map(([maintainer, m]) => ({ maintainer, ...m }))
      .sort((a, b) => b.breaks + b.failed - (a.breaks + a.failed)),
    hosts: hostStats(rows, busy),
    timeline: timeline(rows, ends),
    // Without the graph a lone package would pass for a chain: say nothing instead.
    critical: depends.size === 0 ? { packages: [], seconds: 0 } : criticalPath(seconds, depends),
    diff: diffWithPrevious(store, buildId, rows),
    scanErrors: store
      .eventsOfType(buildId, "scan-error")
      .map((e) => JSON.parse(e.data) as { pkgpath: string; host: string; message: string })
      .map(({ pkgpath, host, message }) => ({ pkgpath, host, message })),
  };
}

interface StageFacts {
  /** Seconds each package spent in its stages in this build. */
  readonly seconds: Map<string, number>;
  /** Seconds of stages per host. */
  readonly busy: Map<string, number>;
  /** The logs of the failed packages, in the order their stages started (no list for the thousands built). */
  readonly logsOf: Map<string, { stage: string; file: string }[]>;
  /** A run with no end yet (the build stopped): when its last stage on its host ended. */
  readonly ends: Map<string, number>;
}

/** What the report needs of a build's stages, summed in one pass over them. */
function stageFacts(store: BuildStore, buildId: number, rows: readonly PackageRow[]): StageFacts {
  const seconds = new Map<string, number>();
  const busy = new Map<string, number>();
  const logs = new Map<string, { stage: string; file: string; at: number }[]>();
  const open = new Map<string, string>();
  for (const r of rows) {
    if (r.state === "failed" || r.state === "unresolved") logs.set(r.pkgname, []);
    if (r.startedMs !== null && r.host !== null && r.finishedMs === null)
      open.set(r.pkgname, r.host);
  }
  const ends = new Map<string, number>();
  for (const s of store.eachStage(buildId)) {
    seconds.set(s.pkgname, (seconds.get(s.pkgname) ?? 0) + s.wallMs / 1000);
    busy.set(s.host, (busy.get(s.host) ?? 0) + s.wallMs / 1000);
    if (s.log !== null) logs.get(s.pkgname)?.push({ stage: s.stage, file: s.log, at: s.startedMs });
    if (open.get(s.pkgname) === s.host)
      ends.set(s.pkgname, Math.max(ends.get(s.pkgname) ?? 0, s.startedMs + s.wallMs));
  }
  const logsOf = new Map<string, { stage: string; file: string }[]>();
  for (const [name, l] of logs)
    logsOf.set(
      name,
      l.sort((a, b) => a.at - b.at).map(({ stage, file }) => ({ stage, file })),
    );
  return { seconds, busy, logsOf, ends };
}

function hostStats(rows: readonly PackageRow[], busy: ReadonlyMap<string, number>): HostStats[] {
  const m = new Map<string, { built: number; failed: number; busySeconds: number }>();
  const get = (h: string): { built: number; failed: number; busySeconds: number } => {
    let v = m.get(h);
    if (v === undefined) m.set(h, (v = { built: 0, failed: 0, busySeconds: 0 }));
    return v;
  };
  for (const r of rows) {
    if (r.host === null) continue;
    if (r.state === "built") get(r.host).built++;
    if (r.state === "failed") get(r.host).failed++;
  }
  for (const [host, s] of busy) get(host).busySeconds += s;
  return [...m].map(([host, v]) => ({ host, ...v })).sort((a, b) => (a.host < b.host ? -1 : 1));
}

function timeline(rows: readonly PackageRow[], ends: ReadonlyMap<string, number>): TimelineRun[] {
  const out: TimelineRun[] = [];
  for (const r of rows) {
    if (r.startedMs === null || r.host === null) continue;
    const end = r.finishedMs ?? ends.get(r.pkgname) ?? r.startedMs;
    out.push({
      pkgname: r.pkgname,
      host: r.host,
      startMs: r.startedMs,
      endMs: end,
      ok: r.state === "built",
    });
  }
  return out.sort((a, b) => a.startMs - b.startMs);
}

function diffWithPrevious(
  store: BuildStore,
  buildId: number,
  rows: readonly PackageRow[],
): BuildDiff | null {
  const prev = store
    .builds()
    .filter((b) => b.id < buildId)
    .at(-1);
  if (prev === undefined) return null;
  const before = new Map(store.packages(prev.id).map((r) => [r.pkgpath, r]));
  const good = (s: string): boolean => s === "built" || s === "up-to-date";
  const newlyFailing: string[] = [];
  const fixed: string[] = [];
  const newPackages: string[] = [];
  for (const r of rows) {
    const b = before.get(r.pkgpath);
    if (b === undefined) newPackages.push(r.pkgname);
    else if (r.state === "failed" && good(b.state)) newlyFailing.push(r.pkgname);
    else if (good(r.state) && b.state === "failed") fixed.push(r.pkgname);
  }
  return { previousBuild: prev.id, newlyFailing, fixed, newPackages };
}
