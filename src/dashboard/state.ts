/**
 * What the dashboard shows, folded from the build's event stream. The
 * server keeps one of these per build and sends pages a snapshot of it,
 * then what changed: a page opened on the third day of a build gets a few
 * kilobytes, not every event since the start. No I/O, no clock: the time
 * of each event is a parameter.
 */
import { STATE_ORDER } from "../core/pkgstate.js";
import type { BuildEvent } from "../events/types.js";

export interface RunningPackage {
  readonly pkgname: string;
  readonly pkgpath: string;
  /** The host's slot it builds in (1-based; 0 when the event did not say). */
  readonly slot: number;
  /** The stage running now (the one after the last finished), "" when unknown. */
  stage: string;
  /** The last stage that finished, whose log can be shown. */
  lastStage: string | null;
  readonly since: number;
  /** Finished stages that left a log. */
  readonly logs: string[];
}

export interface HostView {
  readonly name: string;
  state: string;
  /** The last note or reason the host gave. */
  detail: string;
  /** When it entered its state. */
  since: number;
  readonly running: RunningPackage[];
}

export interface FailureView {
  readonly pkgname: string;
  readonly pkgpath: string;
  readonly host: string;
  readonly stage: string;
  readonly reason: string;
  readonly timeMs: number;
  readonly logs: readonly string[];
}

export interface RunView {
  readonly id: number;
  readonly pkgname: string;
  readonly host: string;
  readonly start: number;
  end: number | null;
  result: "running" | "built" | "failed" | "lost" | "cancelled";
}

export interface DashState {
  build: {
    readonly id: number;
    readonly tree: string;
    readonly treeId: string;
    resumed: boolean;
    readonly startedMs: number;
    readonly targets: readonly string[];
  } | null;
  phase: string;
  phaseDetail: string;
  scan: { readonly done: number; readonly total: number; readonly failed: number } | null;
  /** Distfiles fetched ahead (distfiles: master): packages done of total, bytes. */
  fetch: {
    readonly done: number;
    readonly total: number;
    readonly failed: number;
    readonly bytes: number;
    readonly bytesLeft: number;
  } | null;
  plan: { readonly counts: Readonly<Record<string, number>>; readonly packages: number } | null;
  progress: {
    readonly done: number;
    readonly total: number;
    readonly running: number;
    readonly etaSeconds: number | null;
    /** A guess from what finished so far (no history). */
    readonly etaEstimate: boolean;
    readonly timeMs: number;
  } | null;
  readonly counts: { built: number; failed: number; indirect: number; lost: number };
  readonly hosts: Map<string, HostView>;
  /** Newest first, at most MAX_FAILURES. */
  failures: FailureView[];
  /** Newest last, at most MAX_WARNINGS. */
  warnings: { readonly timeMs: number; readonly message: string }[];
  readonly runs: RunView[];
  finished: { readonly timeMs: number; readonly counts: Readonly<Record<string, number>> } | null;
}

export const MAX_FAILURES = 100;
export const MAX_WARNINGS = 20;

/** The state before any event. */
export function emptyState(): DashState {
  return {
    build: null,
    phase: "waiting",
    phaseDetail: "",
    scan: null,
    fetch: null,
    plan: null,
    progress: null,
    counts: { built: 0, failed: 0, indirect: 0, lost: 0 },
    hosts: new Map(),
    failures: [],
    warnings: [],
    runs: [],
    finished: null,
  };
}

function host(s: DashState, name: string, t: number): HostView {
  let h = s.hosts.get(name);
  if (h === undefined)
    s.hosts.set(name, (h = { name, state: "", detail: "", since: t, running: [] }));
  return h;
}

function warn(s: DashState, t: number, message: string): void {
  s.warnings.push({ timeMs: t, message });
  if (s.warnings.length > MAX_WARNINGS) s.warnings.splice(0, s.warnings.length - MAX_WARNINGS);
}

/** Closes the open runs matching `pick`; returns their ids. */
function closeRuns(
  s: DashState,
  t: number,
  pick: (r: RunView) => boolean,
  result: RunView["result"],
): number[] {
  const ids: number[] = [];
  for (let i = s.runs.length - 1; i >= 0; i--) {
    const r = s.runs[i]!;
    if (r.end !== null || !pick(r)) continue;
    r.end = t;
    r.result = result;
    ids.push(r.id);
  }
  return ids;
}

/** The stage after `stage` in the build's targets ("Fetch": the master brings the package back). */
function nextStage(targets: readonly string[], stage: string): string {
  const i = targets.indexOf(stage);
  if (i < 0) return "";
  return targets[i + 1] ?? "Fetch";
}

/**
 * Applies one event; returns the ids of the timeline runs it added or
 * changed. A build-start of another build must start from emptyState().
 */
export function applyEvent(s: DashState, e: BuildEvent, t: number): number[] {
  switch (e.type) {
    case "build-start": {
      if (s.build !== null && s.build.id === e.build) {
        // The same build resumed by a new master: what the old one ran is gone with it.
        s.build.resumed = true;
        for (const h of s.hosts.values()) h.running.length = 0;
        s.hosts.clear();
        s.finished = null;
        return closeRuns(s, t, () => true, "lost");
      }
      s.build = {
        id: e.build,
        tree: e.tree,
        treeId: e.treeId,
        resumed: e.resumed,
        startedMs: t,
        targets: e.targets ?? [],
      };
      return [];
    }
    case "phase":
      s.phase = e.phase;
      s.phaseDetail = e.detail ?? "";
      return [];
    case "host": {
      const h = host(s, e.host, t);
      if (e.state === "note") {
        h.detail = e.detail ?? "";
        return [];
      }
      if (h.state !== e.state) h.since = t;
      h.state = e.state;
      if (e.detail !== undefined) h.detail = e.detail;
      return [];
    }
    case "scan-progress":
      s.scan = { done: e.done, total: e.total, failed: e.failed };
      return [];
    case "fetch-progress":
      s.fetch = {
        done: e.done,
        total: e.total,
        failed: e.failed,
        bytes: e.bytes,
        bytesLeft: e.bytesLeft,
      };
      return [];
    case "scan-error":
      warn(s, t, `scan of ${e.pkgpath} failed on ${e.host}: ${e.message}`);
      return [];
    case "plan":
      s.plan = { counts: e.counts, packages: e.packages };
      return [];
    case "package-start": {
      const h = host(s, e.host, t);
      const stage = s.build?.targets[0] ?? "";
      h.running.push({
        pkgname: e.pkgname,
        pkgpath: e.pkgpath,
        slot: e.slot ?? 0,
        stage,
        lastStage: null,
        since: t,
        logs: [],
      });
      const id = s.runs.length;
      s.runs.push({ id, pkgname: e.pkgname, host: e.host, start: t, end: null, result: "running" });
      return [id];
    }
    case "stage": {
      const p = s.hosts.get(e.host)?.running.find((r) => r.pkgname === e.pkgname);
      if (p === undefined) return [];
      if (e.stage === "Fetch") {
        p.stage = "Fetch";
        return [];
      }
      p.lastStage = e.stage;
      if (e.status >= 0) p.logs.push(e.stage);
      p.stage = e.status === 0 ? nextStage(s.build?.targets ?? [], e.stage) : "";
      return [];
    }
    case "package-end": {
      const mine = s.hosts.get(e.host)?.running.find((r) => r.pkgname === e.pkgname);
      if (e.result === "lost") {
        s.counts.lost++;
        const h = s.hosts.get(e.host);
        if (h !== undefined) {
          const i = h.running.findIndex((r) => r.pkgname === e.pkgname);
          if (i >= 0) h.running.splice(i, 1);
        }
        return closeRuns(s, t, (r) => r.pkgname === e.pkgname && r.host === e.host, "lost");
      }
      // The first copy to finish settles the package; other copies were stopped.
      for (const h of s.hosts.values()) {
        const i = h.running.findIndex((r) => r.pkgname === e.pkgname);
        if (i >= 0) h.running.splice(i, 1);
      }
      // The loop reports progress before it waits, not after the last package: count on.
      if (s.progress !== null) s.progress = { ...s.progress, done: s.progress.done + 1 };
      if (e.result === "built") s.counts.built++;
      else {
        s.counts.failed++;
        s.failures.unshift({
          pkgname: e.pkgname,
          pkgpath: e.pkgpath,
          host: e.host,
          stage: e.stage ?? "",
          reason: e.reason ?? "",
          timeMs: t,
          logs: mine?.logs ?? (e.stage === undefined ? [] : [e.stage]),
        });
        if (s.failures.length > MAX_FAILURES) s.failures.length = MAX_FAILURES;
      }
      const ids = closeRuns(s, t, (r) => r.pkgname === e.pkgname && r.host === e.host, e.result);
      return ids.concat(closeRuns(s, t, (r) => r.pkgname === e.pkgname, "cancelled"));
    }
    case "indirect-failed":
      s.counts.indirect++;
      if (s.progress !== null) s.progress = { ...s.progress, done: s.progress.done + 1 };
      return [];
    case "progress":
      s.progress = {
        done: e.done,
        total: e.total,
        running: e.running,
        etaSeconds: e.etaSeconds,
        etaEstimate: e.etaEstimate === true,
        timeMs: t,
      };
      return [];
    case "build-end": {
      s.finished = { timeMs: t, counts: e.counts };
      s.phase = "finished";
      s.phaseDetail = "";
      for (const h of s.hosts.values()) h.running.length = 0;
      return closeRuns(s, t, () => true, "cancelled");
    }
    case "warning":
      warn(s, t, e.message);
      return [];
    case "retry": {
      s.failures = s.failures.filter((f) => f.pkgname !== e.pkgname);
      s.counts.failed = Math.max(0, s.counts.failed - 1);
      s.counts.indirect = Math.max(0, s.counts.indirect - e.revived.length);
      if (s.progress !== null)
        s.progress = { ...s.progress, done: Math.max(0, s.progress.done - 1 - e.revived.length) };
      return [];
    }
  }
}

/** The JSON a page receives: the state without the timeline (sent apart). */
export interface StateView {
  readonly build: DashState["build"];
  readonly phase: string;
  readonly phaseDetail: string;
  readonly scan: DashState["scan"];
  readonly fetch: DashState["fetch"];
  readonly plan: DashState["plan"];
  readonly progress: DashState["progress"];
  readonly counts: DashState["counts"];
  readonly hosts: readonly HostView[];
  readonly failures: readonly FailureView[];
  readonly warnings: DashState["warnings"];
  readonly finished: DashState["finished"];
  /** Packages per state, in the order of report.txt and the terminal (see `tally`). */
  readonly tally: readonly (readonly [string, number])[];
}

/**
 * Packages per state as the build stands: the plan's verdicts plus what ran
 * so far, in STATE_ORDER (with "building" as "running"), zeros left out.
 * Once the build ended, exactly the counts of its end, which the banner says:
 * the counts row and the banner never disagree.
 */
export function tally(s: DashState): [string, number][] {
  let counts: Record<string, number>;
  if (s.finished !== null) counts = { ...s.finished.counts };
  else {
    const plan = s.plan?.counts ?? {};
    let running = 0;
    for (const h of s.hosts.values()) running += h.running.length;
    const n = (k: string): number => plan[k] ?? 0;
    const settled = s.counts.built + s.counts.failed + s.counts.indirect;
    counts = {
      built: s.counts.built,
      "up-to-date": n("up-to-date"),
      failed: n("failed") + s.counts.failed,
      "indirect-failed": n("indirect-failed") + s.counts.indirect,
      skipped: n("skipped"),
      "indirect-skipped": n("indirect-skipped"),
      unresolved: n("unresolved"),
      pending: Math.max(0, n("build") - settled - running),
      building: running,
    };
  }
  return STATE_ORDER.filter((k) => (counts[k] ?? 0) > 0).map(
    (k) => [k === "building" ? "running" : k, counts[k]!] as [string, number],
  );
}

/** A plain-data copy for JSON, hosts sorted by name. */
export function stateView(s: DashState): StateView {
  return {
    build: s.build,
    phase: s.phase,
    phaseDetail: s.phaseDetail,
    scan: s.scan,
    fetch: s.fetch,
    plan: s.plan,
    progress: s.progress,
    counts: s.counts,
    hosts: [...s.hosts.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    failures: s.failures,
    warnings: s.warnings,
    finished: s.finished,
    tally: tally(s),
  };
}
