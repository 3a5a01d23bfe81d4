/**
 * What pages receive of the folded state (state.ts), as plain JSON data: a
 * snapshot when they connect — the counts, every host with what it runs,
 * the newest LIST_PAGE failures and settled packages, the timeline's kept
 * runs — and then updates that carry only what changed: the hosts and runs
 * touched, and the newest lists when they moved. Older packages are paged
 * out on request (settled.ts, `/api/packages`). The size of either message
 * depends on the hosts and these bounds, never on how many events the build
 * has had.
 */
import { STATE_ORDER } from "../core/pkgstate.js";
import { newest, type SettledView } from "./settled.js";
import type { DashState, Delta, HostView } from "./state.js";
import { MAX_RUNS, type RunView } from "./timeline.js";

/** How many of the newest failures and settled packages a snapshot carries (one page). */
export const LIST_PAGE = 50;

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
  /** A snapshot: every host, sorted by name; an update: the hosts that changed. */
  readonly hosts: readonly HostWire[];
  /** The newest failures, newest first (in an update only when the lists changed). */
  readonly failures?: readonly SettledView[];
  /** The newest settled packages, newest first (idem). */
  readonly recent?: readonly SettledView[];
  readonly warnings: DashState["warnings"];
  readonly finished: DashState["finished"];
  /** Packages per state, in the order of report.txt and the terminal (see `tally`). */
  readonly tally: readonly (readonly [string, number])[];
}

/** A host as pages get it: what the page shows of what it runs. */
export interface HostWire {
  readonly name: string;
  readonly state: string;
  readonly detail: string;
  readonly since: number;
  readonly running: readonly {
    readonly pkgname: string;
    readonly slot: number;
    readonly stage: string;
    readonly lastStage: string | null;
    readonly since: number;
  }[];
}

/** The timeline part of a message. */
export interface RunsView {
  /** A snapshot: every run kept; an update: the runs that changed. */
  readonly runs: readonly RunView[];
  /** Run ids no longer kept: the page drops them too (updates only). */
  readonly gone: readonly number[];
  /** How many runs the build has had in all. */
  readonly runsTotal: number;
  /** How many closed runs are kept. */
  readonly runsKept: number;
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

function byName(a: HostView, b: HostView): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function wire(h: HostView): HostWire {
  return {
    name: h.name,
    state: h.state,
    detail: h.detail,
    since: h.since,
    running: h.running.map((p) => ({
      pkgname: p.pkgname,
      slot: p.slot,
      stage: p.stage,
      lastStage: p.lastStage,
      since: p.since,
    })),
  };
}

function scalars(s: DashState): Omit<StateView, "hosts" | "failures" | "recent"> {
  return {
    build: s.build,
    phase: s.phase,
    phaseDetail: s.phaseDetail,
    scan: s.scan,
    fetch: s.fetch,
    plan: s.plan,
    progress: s.progress,
    counts: s.counts,
    warnings: s.warnings,
    finished: s.finished,
    tally: tally(s),
  };
}

/** A snapshot of the state: every host (sorted by name), the newest lists. */
export function stateView(s: DashState): StateView {
  return {
    ...scalars(s),
    hosts: [...s.hosts.values()].sort(byName).map(wire),
    failures: newest(s.settled.byResult.failed, LIST_PAGE),
    recent: newest(s.settled.all, LIST_PAGE),
  };
}

/** What changed: the hosts in `d`, the lists when they moved. */
export function updateView(s: DashState, d: Delta): StateView {
  const hosts: HostView[] = [];
  for (const name of d.hosts) {
    const h = s.hosts.get(name);
    if (h !== undefined) hosts.push(h);
  }
  return {
    ...scalars(s),
    hosts: hosts.sort(byName).map(wire),
    ...(d.lists
      ? {
          failures: newest(s.settled.byResult.failed, LIST_PAGE),
          recent: newest(s.settled.all, LIST_PAGE),
        }
      : {}),
  };
}

/** Every run the timeline keeps, oldest first. */
export function runsSnapshot(s: DashState): RunsView {
  return {
    runs: [...s.timeline.runs.values()],
    gone: [],
    runsTotal: s.timeline.next,
    runsKept: MAX_RUNS,
  };
}

/** The runs in `d`: those kept, and the ids of those dropped. */
export function runsUpdate(s: DashState, d: Delta): RunsView {
  const runs: RunView[] = [];
  const gone: number[] = [];
  for (const id of d.runs) {
    const r = s.timeline.runs.get(id);
    if (r === undefined) gone.push(id);
    else runs.push(r);
  }
  return { runs, gone, runsTotal: s.timeline.next, runsKept: MAX_RUNS };
}
