/**
 * When running work is expected to end, and which extra copies are worth
 * starting: the scheduler's view of its hosts' slots over time.
 *
 * A task past its estimate is not assumed to end at once: with a history
 * duration it needs a little more; with a modelled one (durations are
 * heavy-tailed) it is expected to need as long again as it has run.
 */
import type { HostName } from "../hostspec.js";
import type { DurationModel } from "./learn.js";
import { COPY_SPEEDUP, type Candidate, type HostView } from "./placement.js";
import { ownSeconds, type Copy, type RunTable } from "./runs.js";

export interface HostState {
  readonly name: HostName;
  slots: number;
  /** Index of the host in the duration model. */
  readonly model: number;
  alive: boolean;
  draining: boolean;
  idleSince: number;
  /** When the host can take its first task (its tree sync ends); 0: at once. */
  readyAt: number;
}

export type CopyCandidate = Candidate & { readonly priority: number };

/** A task with a history duration that overran is assumed to need this fraction of its elapsed time more. */
const OVERRUN_RESIDUAL = 0.1;
/** A task with a modelled estimate that overran it is expected to need as long again (heavy tails). */
const LINDY = 2;
/** A host measuring its speed waits for a redundant copy up to this many times the work it took elsewhere. */
const CALIBRATION_PATIENCE = 8;
/** At most this many copies of one task run at once. */
const MAX_COPIES = 3;

export class Timing {
  constructor(
    private readonly model: DurationModel,
    private readonly runs: RunTable,
    private readonly hosts: readonly HostState[],
  ) {}

  /** The speed currently assumed for a host. */
  speedOf(host: number): number {
    return this.model.speed(this.hosts[host]!.model);
  }

  /** Expected total work (seconds at speed 1.0) of a task, raised by what its running copies show. */
  workOf(task: number, now: number): number {
    let work = this.model.est[task]!;
    for (const c of this.runs.copiesOf(task)) work = Math.max(work, this.expectedWork(c, now));
    return work;
  }

  /** When a running copy should end, never before `now`. */
  expectedEnd(c: Copy, now: number): number {
    const end = c.start + c.cost + this.expectedWork(c, now) / this.speedOf(c.host);
    return end > now ? end : now + 1e-3;
  }

  private expectedWork(c: Copy, now: number): number {
    const est = this.model.est[c.task]!;
    const done = Math.max(0, now - c.start - c.cost) * this.speedOf(c.host);
    if (done < est) return est;
    return done * (this.model.isKnown(c.task) ? 1 + OVERRUN_RESIDUAL : LINDY);
  }

  /**
   * A host's slots as placement sees them: busy ones by expected end, then
   * idle, then redundant. With `learn`, its redundant copies still running
   * teach the model first (see below).
   */
  viewOf(i: number, now: number, learn = true): HostView {
    const h = this.hosts[i]!;
    // A redundant copy still running is a measurement already: this host is slower than it shows.
    if (learn)
      for (const c of this.runs.redundantOn(i))
        this.model.observeUnfinished(c.task, h.model, ownSeconds(c, now));
    const avail: number[] = [];
    for (const c of this.runs.activeOn(i)) avail.push(this.expectedEnd(c, now));
    // A host still measuring its speed lets a redundant copy finish unless it runs far too long.
    let redundant = 0;
    for (const c of this.runs.redundantOn(i)) {
      const end = this.calibrationEnd(c, now);
      if (end === undefined) redundant++;
      else avail.push(end);
    }
    redundant = Math.min(redundant, Math.max(0, h.slots - avail.length));
    const redundantFrom = Math.max(avail.length, h.slots - redundant);
    const free = h.readyAt > now ? h.readyAt : now;
    while (avail.length < h.slots) avail.push(free);
    return { speed: this.speedOf(i), avail, redundantFrom, idleSince: h.idleSince };
  }

  /** When a redundant copy on a host measuring its speed should end; undefined when not worth waiting for. */
  calibrationEnd(c: Copy, now: number): number | undefined {
    const work = this.model.observedWork(c.task);
    if (work === undefined || !this.model.needsCalibration(this.hosts[c.host]!.model))
      return undefined;
    if (now - c.start > CALIBRATION_PATIENCE * work) return undefined;
    return Math.max(now + 1e-3, c.start + c.cost + work / this.speedOf(c.host));
  }

  /**
   * Running tasks whose copies all run on hosts slower than an idle one,
   * best first; `priority` is the task's bottom level with its work as
   * its runs now show it.
   */
  copyCandidates(
    now: number,
    idleSpeed: number,
    viewOf: ReadonlyMap<number, number>,
    primary: Float64Array,
  ): CopyCandidate[] {
    const out: CopyCandidate[] = [];
    for (const [task, copies] of this.runs.tasks()) {
      if (copies.length >= MAX_COPIES) continue;
      if (copies.some((c) => this.speedOf(c.host) * COPY_SPEEDUP > idleSpeed)) continue;
      let speed = 0;
      let finish = Infinity;
      const hosts: number[] = [];
      for (const c of copies) {
        speed = Math.max(speed, this.speedOf(c.host));
        finish = Math.min(finish, this.expectedEnd(c, now));
        const v = viewOf.get(c.host);
        if (v !== undefined) hosts.push(v);
      }
      if (speed >= idleSpeed) continue;
      const priority = primary[task]! - this.model.est[task]! + this.workOf(task, now);
      out.push({ task, stay: { hosts, speed, finish }, priority });
    }
    return out.sort((a, b) => b.priority - a.priority || a.task - b.task);
  }

  /**
   * For each truly idle slot of a host still measuring its speed: the
   * smallest running task it does not run yet, as [task, host] pairs.
   * The pair of durations for one package measures the host.
   */
  calibrationCopies(
    now: number,
    views: readonly HostView[],
    usable: readonly number[],
  ): [number, number][] {
    const out: [number, number][] = [];
    for (let v = 0; v < views.length; v++) {
      const hi = usable[v]!;
      const view = views[v]!;
      if (!this.model.needsCalibration(this.hosts[hi]!.model)) continue;
      let free = view.avail.filter((a, s) => a <= now && s < view.redundantFrom).length;
      const taken = new Set<number>();
      while (free-- > 0) {
        let pick = -1;
        for (const [task, copies] of this.runs.tasks()) {
          if (taken.has(task) || this.workOf(task, now) > this.model.typical) continue;
          if (copies.some((c) => c.host === hi)) continue;
          if (pick < 0 || this.model.est[task]! < this.model.est[pick]!) pick = task;
        }
        if (pick < 0) break;
        taken.add(pick);
        out.push([pick, hi]);
      }
    }
    return out;
  }
}
