/**
 * What the dashboard shows, folded from the build's event stream one event
 * at a time. The server keeps one of these per build (never one per page)
 * and sends pages a snapshot of it, then what changed (view.ts): a page
 * opened on the third day of a build gets the counts, the hosts and the
 * newest packages, not every event since the start. An event costs O(1)
 * but for what it touches (a host's slots, a package's copies), so folding
 * a 400,000-event build is linear; the timeline (timeline.ts) keeps the
 * open runs and the newest closed ones. No I/O, no clock: the time of each
 * event is a parameter.
 */
import type { BuildEvent } from "../events/types.js";
import { addSettled, emptySettled, unsettle, type SettledLists } from "./settled.js";
import { closeAll, closeCopies, emptyTimeline, openRun, type Timeline } from "./timeline.js";

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
  /** Every package settled so far, in order (paged out by view.ts and /api/packages). */
  readonly settled: SettledLists;
  /** Newest last, at most MAX_WARNINGS. */
  warnings: { readonly timeMs: number; readonly message: string }[];
  readonly timeline: Timeline;
  finished: { readonly timeMs: number; readonly counts: Readonly<Record<string, number>> } | null;
}

/** What events changed since the last look, for the server to send on. */
export interface Delta {
  /** Runs added or changed (ids no longer kept were dropped). */
  readonly runs: Set<number>;
  /** Hosts added or changed. */
  readonly hosts: Set<string>;
  /** The settled lists changed. */
  lists: boolean;
}

export const MAX_WARNINGS = 20;

export function newDelta(): Delta {
  return { runs: new Set(), hosts: new Set(), lists: false };
}

/** Adds `b` to `a`. */
export function mergeDelta(a: Delta, b: Delta): void {
  for (const id of b.runs) a.runs.add(id);
  for (const h of b.hosts) a.hosts.add(h);
  a.lists ||= b.lists;
}

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
    settled: emptySettled(),
    warnings: [],
    timeline: emptyTimeline(),
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

function dropRunning(s: DashState, hostName: string, pkgname: string, d?: Delta): void {
  const h = s.hosts.get(hostName);
  if (h === undefined) return;
  const i = h.running.findIndex((r) => r.pkgname === pkgname);
  if (i < 0) return;
  h.running.splice(i, 1);
  d?.hosts.add(hostName);
}

/** The stage after `stage` in the build's targets ("Fetch": the master brings the package back). */
function nextStage(targets: readonly string[], stage: string): string {
  const i = targets.indexOf(stage);
  if (i < 0) return "";
  return targets[i + 1] ?? "Fetch";
}

/**
 * Applies one event, noting in `d` what it changed. A build-start of
 * another build must start from emptyState().
 */
export function applyEvent(s: DashState, e: BuildEvent, t: number, d?: Delta): void {
  switch (e.type) {
    case "build-start": {
      if (s.build !== null && s.build.id === e.build) {
        // The same build resumed by a new master: what the old one ran is gone with it.
        s.build.resumed = true;
        for (const name of s.hosts.keys()) d?.hosts.add(name);
        s.hosts.clear();
        s.finished = null;
        closeAll(s.timeline, t, "lost", d?.runs);
        return;
      }
      s.build = {
        id: e.build,
        tree: e.tree,
        treeId: e.treeId,
        resumed: e.resumed,
        startedMs: t,
        targets: e.targets ?? [],
      };
      return;
    }
    case "phase":
      s.phase = e.phase;
      s.phaseDetail = e.detail ?? "";
      return;
    case "host": {
      const h = host(s, e.host, t);
      d?.hosts.add(e.host);
      if (e.state === "note") {
        h.detail = e.detail ?? "";
        return;
      }
      if (h.state !== e.state) h.since = t;
      h.state = e.state;
      if (e.detail !== undefined) h.detail = e.detail;
      return;
    }
    case "scan-progress":
      s.scan = { done: e.done, total: e.total, failed: e.failed };
      return;
    case "fetch-progress":
      s.fetch = {
        done: e.done,
        total: e.total,
        failed: e.failed,
        bytes: e.bytes,
        bytesLeft: e.bytesLeft,
      };
      return;
    case "scan-error":
      warn(s, t, `scan of ${e.pkgpath} failed on ${e.host}: ${e.message}`);
      return;
    case "plan":
      s.plan = { counts: e.counts, packages: e.packages };
      return;
    case "package-start": {
      const h = host(s, e.host, t);
      h.running.push({
        pkgname: e.pkgname,
        pkgpath: e.pkgpath,
        slot: e.slot ?? 0,
        stage: s.build?.targets[0] ?? "",
        lastStage: null,
        since: t,
        logs: [],
      });
      d?.hosts.add(e.host);
      openRun(s.timeline, e.pkgname, e.host, t, d?.runs);
      return;
    }
    case "stage": {
      const p = s.hosts.get(e.host)?.running.find((r) => r.pkgname === e.pkgname);
      if (p === undefined) return;
      d?.hosts.add(e.host);
      if (e.stage === "Fetch") {
        p.stage = "Fetch";
        return;
      }
      p.lastStage = e.stage;
      if (e.status >= 0) p.logs.push(e.stage);
      p.stage = e.status === 0 ? nextStage(s.build?.targets ?? [], e.stage) : "";
      return;
    }
    case "package-end": {
      if (e.result === "lost") {
        s.counts.lost++;
        dropRunning(s, e.host, e.pkgname, d);
        closeCopies(s.timeline, e.pkgname, t, e.host, "lost", null, d?.runs);
        return;
      }
      const mine = s.hosts.get(e.host)?.running.find((r) => r.pkgname === e.pkgname);
      // The first copy to finish settles the package; other copies were stopped.
      for (const r of s.timeline.open.get(e.pkgname) ?? []) dropRunning(s, r.host, e.pkgname, d);
      dropRunning(s, e.host, e.pkgname, d);
      closeCopies(s.timeline, e.pkgname, t, e.host, e.result, "cancelled", d?.runs);
      // The loop reports progress before it waits, not after the last package: count on.
      if (s.progress !== null) s.progress = { ...s.progress, done: s.progress.done + 1 };
      if (e.result === "built") s.counts.built++;
      else s.counts.failed++;
      const failed = e.result === "failed";
      addSettled(s.settled, {
        pkgname: e.pkgname,
        pkgpath: e.pkgpath,
        result: e.result,
        host: e.host,
        stage: failed ? (e.stage ?? "") : "",
        reason: failed ? (e.reason ?? "") : "",
        culprit: "",
        timeMs: t,
        wallMs: e.wallMs,
        logs: failed ? (mine?.logs ?? (e.stage === undefined ? [] : [e.stage])) : NO_LOGS,
      });
      if (d !== undefined) d.lists = true;
      return;
    }
    case "indirect-failed":
      s.counts.indirect++;
      if (s.progress !== null) s.progress = { ...s.progress, done: s.progress.done + 1 };
      addSettled(s.settled, {
        pkgname: e.pkgname,
        pkgpath: "",
        result: "indirect-failed",
        host: "",
        stage: "",
        reason: `${e.culprit} failed`,
        culprit: e.culprit,
        timeMs: t,
        wallMs: 0,
        logs: NO_LOGS,
      });
      if (d !== undefined) d.lists = true;
      return;
    case "progress":
      s.progress = {
        done: e.done,
        total: e.total,
        running: e.running,
        etaSeconds: e.etaSeconds,
        etaEstimate: e.etaEstimate === true,
        timeMs: t,
      };
      return;
    case "build-end": {
      s.finished = { timeMs: t, counts: e.counts };
      s.phase = "finished";
      s.phaseDetail = "";
      for (const h of s.hosts.values())
        if (h.running.length > 0) {
          h.running.length = 0;
          d?.hosts.add(h.name);
        }
      closeAll(s.timeline, t, "cancelled", d?.runs);
      return;
    }
    case "warning":
      warn(s, t, e.message);
      return;
    case "retry": {
      unsettle(s.settled, e.pkgname, e.revived);
      if (d !== undefined) d.lists = true;
      s.counts.failed = Math.max(0, s.counts.failed - 1);
      s.counts.indirect = Math.max(0, s.counts.indirect - e.revived.length);
      if (s.progress !== null)
        s.progress = { ...s.progress, done: Math.max(0, s.progress.done - 1 - e.revived.length) };
      return;
    }
  }
}

const NO_LOGS: readonly string[] = Object.freeze([]);
