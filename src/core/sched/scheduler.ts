/**
 * The scheduler: which ready package runs next, and on which host. Pure and
 * event-driven; time is always a parameter (seconds on any monotonic clock),
 * so the simulator drives it with a virtual clock and the live build with
 * the real one.
 *
 *   const s = new Scheduler(graph, { policy: "herd", durations, done });
 *   s.addHost(name, { slots, speed }, now);      // speed omitted: learned
 *   on every batch of events:
 *     s.onTaskFinished(task, host, now, ok)   -> { indirectlyFailed, stop }
 *     s.onHostLost(host, now)                 -> tasks back in the queue
 *     s.addHost(...) / s.drainHost(host, now) // hosts come and go
 *     const { stop, start } = s.nextAssignments(now)  // stop first, then start
 *     s.maintain()   // with options.deferRefit: refit after starting
 *   until s.isFinished();  estimateFinish(s, now) in ./eta.ts is the ETA.
 *
 * nextAssignments() marks what it starts as running from `now`. It may
 * leave a slow host idle on purpose (the best task waits for a fast host
 * that frees up sooner). With policy "herd" it may also start an extra copy
 * of a running task: to overtake a slow host, or to measure a host of
 * unknown speed on a package another host builds too. The first copy to
 * finish counts; the others are redundant and run on until their slot is
 * needed (then `stop` names them), so an idle host's duration for the same
 * package measures its speed. observe() and setHostSpeed() feed figures
 * known from elsewhere; "herd" also learns durations and speeds online.
 */
import type { HostName } from "../hostspec.js";
import { transitiveDependentCounts, type TaskGraph } from "./graph.js";
import { TaskHeap } from "./heap.js";
import { DurationModel } from "./learn.js";
import {
  placeEarliestFinish,
  placeFirstFree,
  type Candidate,
  type HostView,
  type PlacementCosts,
} from "./placement.js";
import {
  fillPriorities,
  policyTraits,
  weightedDependentSums,
  type GraphFacts,
  type PolicyTraits,
} from "./priority.js";
import { RunTable, ownSeconds } from "./runs.js";
import { StartCosts } from "./startcost.js";
import { Timing, type HostState } from "./timing.js";
import type {
  Assignment,
  Decisions,
  FinishResult,
  HostInfo,
  HostOptions,
  RunningTask,
  SchedulerOptions,
  TaskState,
} from "./types.js";

export type * from "./types.js";

const enum S {
  Waiting,
  Ready,
  Running,
  Done,
  Failed,
  Indirect,
}
const STATE_NAMES: readonly TaskState[] = [
  "waiting",
  "ready",
  "running",
  "done",
  "failed",
  "indirect-failed",
];

export class Scheduler {
  private observedSeconds = 0;
  private observedCount = 0;
  readonly traits: PolicyTraits;
  private readonly model: DurationModel;
  private readonly facts: GraphFacts;
  private readonly primary: Float64Array;
  private readonly secondary: Float64Array;
  private readonly heap: TaskHeap;
  private readonly state: Uint8Array;
  private readonly pending: Int32Array;
  private readonly runs = new RunTable();
  private readonly hosts: HostState[] = [];
  private readonly timing: Timing;
  private readonly hostIndex = new Map<HostName, number>();
  /** The hosts with a slot reserved for a held task by the last round (indexes). */
  private reserved: ReadonlySet<number> = new Set();
  private readySeq = 0;
  private unsettled: number;
  /** 1 for a task held back until release() (its distfiles are still being fetched). */
  private readonly held: Uint8Array;
  private holds = 0;
  /** Start-cost figures told of hosts that had not joined yet. */
  private readonly earlyCosts = new Map<HostName, { link?: number; install?: number }>();
  /** What starting a task on each host costs (options.transfer), index by index with `hosts`. */
  private readonly costs: StartCosts | undefined;

  constructor(
    readonly graph: TaskGraph,
    readonly options: SchedulerOptions,
  ) {
    const n = graph.names.length;
    this.traits = policyTraits(options.policy);
    this.model = new DurationModel(graph, {
      durations: options.durations,
      weights: options.weights,
      categories: options.categories,
      learn: options.learn ?? this.traits.learns,
    });
    const dependents = transitiveDependentCounts(graph);
    let weightSums = dependents;
    if (this.traits.ordering === "weight") {
      const weights = new Float64Array(n);
      for (let t = 0; t < n; t++) weights[t] = options.weights?.[t] ?? 100;
      weightSums = weightedDependentSums(graph, weights);
    }
    this.facts = { dependents, weightSums };
    this.primary = new Float64Array(n);
    this.secondary = new Float64Array(n);
    this.heap = new TaskHeap(n, this.primary, this.secondary);
    this.state = new Uint8Array(n);
    this.pending = new Int32Array(n);
    fillPriorities(
      this.traits.ordering,
      graph,
      this.model.est,
      this.facts,
      this.primary,
      this.secondary,
    );
    this.timing = new Timing(this.model, this.runs, this.hosts);
    this.costs =
      options.transfer === undefined ? undefined : new StartCosts(graph, options.transfer);
    this.unsettled = n;
    this.held = new Uint8Array(n);
    for (let t = 0; t < n; t++) {
      if (options.done?.[t] === true) {
        this.state[t] = S.Done;
        this.unsettled--;
      } else if (options.held?.[t] === true) {
        this.held[t] = 1;
        this.holds++;
      }
    }
    for (const t of graph.order) {
      if (this.state[t] === S.Done) continue;
      let p = this.held[t]!;
      for (const d of graph.deps[t]!) if (this.state[d] !== S.Done) p++;
      this.pending[t] = p;
      if (p === 0) this.makeReady(t);
    }
  }

  /** Placement waits for a host until its readyAt (earliest finish counts it from then). */
  readonly plansAhead = true;

  /** Adds a host, or brings back one that was lost or drained. */
  addHost(name: HostName, opts: HostOptions, now: number): void {
    const slots = Math.max(1, Math.floor(opts.slots));
    const known = this.hostIndex.get(name);
    if (known !== undefined) {
      const h = this.hosts[known]!;
      Object.assign(h, { slots, alive: true, draining: false, idleSince: now });
      h.readyAt = opts.readyAt ?? 0;
      if (opts.speed !== undefined) this.model.setSpeed(h.model, opts.speed);
      this.setCosts(known, opts);
      return;
    }
    this.hostIndex.set(name, this.hosts.length);
    this.runs.addHost();
    this.costs?.addHost();
    const model = this.model.addHost(opts.speed);
    this.hosts.push({
      name,
      slots,
      model,
      alive: true,
      draining: false,
      idleSince: now,
      readyAt: opts.readyAt ?? 0,
    });
    this.setCosts(this.hosts.length - 1, { ...this.earlyCosts.get(name), ...opts });
    this.earlyCosts.delete(name);
  }

  private setCosts(i: number, opts: HostOptions): void {
    if (this.costs === undefined) return;
    const c = this.costs.host(i);
    if (opts.link !== undefined && opts.link > 0) c.link = opts.link;
    if (opts.install !== undefined && opts.install >= 0) c.install = opts.install;
    c.readyAt = opts.readyAt ?? 0;
  }

  /**
   * What is now known of a host's link (bytes/s) and installs (seconds per
   * dependency package), e.g. measured by the live build; with options.transfer.
   */
  setHostCosts(name: HostName, figures: { link?: number; install?: number }): void {
    const i = this.hostIndex.get(name);
    if (i !== undefined)
      this.setCosts(i, { slots: 1, ...figures, readyAt: this.hosts[i]!.readyAt });
    // Known before the host joins (remembered from an earlier build): kept for when it does.
    else this.earlyCosts.set(name, { ...this.earlyCosts.get(name), ...figures });
  }

  /** The real size of a task's binary package (known once it is built); with options.transfer. */
  setPackageBytes(task: number, bytes: number): void {
    this.costs?.setBytes(task, bytes);
  }

  /** The host holds a task's package already (e.g. its cache has it); with options.transfer. */
  hostHolds(name: HostName, task: number): void {
    const i = this.hostIndex.get(name);
    if (i !== undefined) this.costs?.hold(i, task);
  }

  /** Seconds it would cost now to start a task on a host before its own work (0 without options.transfer). */
  startCost(task: number, name: HostName, now: number): number {
    const i = this.hostIndex.get(name);
    return i === undefined || this.costs === undefined ? 0 : this.costs.cost(task, i, now);
  }

  /** Stops giving a host new tasks; what it runs may finish. */
  drainHost(name: HostName, now: number): void {
    const i = this.hostIndex.get(name);
    if (i === undefined) return;
    Object.assign(this.hosts[i]!, { draining: true, idleSince: now });
  }

  /** A host is gone: tasks it ran that run nowhere else go back to the ready set; returns them. */
  onHostLost(name: HostName, now: number): number[] {
    const i = this.hostIndex.get(name);
    if (i === undefined || !this.hosts[i]!.alive) return [];
    Object.assign(this.hosts[i]!, { alive: false, idleSince: now });
    const back = this.runs.dropHost(i);
    for (const t of back) {
      this.state[t] = S.Ready;
      this.heap.push(t);
    }
    return back;
  }

  /** One copy of a task lost its slot while its host stays: the task is ready again unless another copy runs. */
  onTaskLost(task: number, host: HostName, now: number): void {
    const i = this.hostIndex.get(host);
    if (i === undefined) return;
    if (this.state[task] !== S.Running) {
      // A redundant copy (its task settled elsewhere) only frees its slot.
      this.runs.dropRedundant(task, i);
      return;
    }
    if (!this.runs.dropCopy(task, i)) return;
    if (this.runs.activeOn(i).length === 0) this.hosts[i]!.idleSince = now;
    this.state[task] = S.Ready;
    this.heap.push(task);
  }

  /** Whether any task's duration came from history (else every estimate is the model's guess). */
  get hasHistory(): boolean {
    return this.options.durations?.some((d) => d !== undefined) === true;
  }

  /** The mean duration at speed 1.0 of the tasks finished in this schedule, or null before the first. */
  observedMean(): number | null {
    return this.observedCount === 0 ? null : this.observedSeconds / this.observedCount;
  }

  /** Fixes a host's speed factor (an operator override or a learned figure). */
  setHostSpeed(name: HostName, speed: number): void {
    const i = this.hostIndex.get(name);
    if (i !== undefined && speed > 0) this.model.setSpeed(this.hosts[i]!.model, speed);
  }

  /** The speed factor currently assumed for a host (1.0 while unknown). */
  hostSpeed(name: HostName): number {
    const i = this.hostIndex.get(name);
    return i === undefined ? 1 : this.speedOf(i);
  }

  /** Feeds a duration observed outside this schedule (e.g. an earlier build) to the model. */
  observe(task: number, host: HostName, seconds: number): void {
    const i = this.hostIndex.get(host);
    if (i !== undefined) this.model.observe(task, this.hosts[i]!.model, seconds);
  }

  /** The expected seconds of a task at speed 1.0 (history, else the model). */
  expectedSeconds(task: number): number {
    return this.model.est[task] ?? 0;
  }

  /** Marks a ready task as already running on a host since `start` (e.g. after a restart); false if not possible. */
  markRunning(task: number, host: HostName, start: number): boolean {
    const i = this.hostIndex.get(host);
    if (i === undefined || this.state[task] !== S.Ready) return false;
    this.heap.remove(task);
    this.start(task, i, start, true);
    return true;
  }

  /** When a running task is expected to end (its first copy; never before `now`); undefined if not running. */
  expectedEndOf(task: number, now: number): number | undefined {
    let end: number | undefined;
    for (const c of this.runs.copiesOf(task))
      end = Math.min(end ?? Infinity, this.timing.expectedEnd(c, now));
    return end;
  }

  /** Decides what to stop and start now; started tasks count as running from `now`. */
  nextAssignments(now: number): Decisions {
    let idleSpeed = 0;
    let minSpeed = Infinity;
    for (let i = 0; i < this.hosts.length; i++) {
      const h = this.hosts[i]!;
      if (!h.alive || h.draining) continue;
      const speed = this.speedOf(i);
      minSpeed = Math.min(minSpeed, speed);
      if (this.runs.activeOn(i).length < h.slots) idleSpeed = Math.max(idleSpeed, speed);
    }
    if (idleSpeed === 0 || (this.heap.size === 0 && !this.traits.copies)) {
      return { start: [], stop: [] };
    }
    // A busy host can only beat an idle one if it is faster than the fastest idle host,
    // or if a task was held for it in the last round (what it holds, its link): that task
    // stays held rather than go elsewhere because its host is not seen.
    let lookable = 0;
    const usable: number[] = [];
    const views: HostView[] = [];
    const viewOf = new Map<number, number>();
    for (let i = 0; i < this.hosts.length; i++) {
      const h = this.hosts[i]!;
      if (!h.alive || h.draining) continue;
      const outrun = this.runs.activeOn(i).length >= h.slots && this.speedOf(i) <= idleSpeed;
      if (outrun && !this.reserved.has(i)) continue;
      // How deep into the ready tasks a round looks does not grow with those hosts.
      if (!outrun) lookable++;
      viewOf.set(i, views.length);
      usable.push(i);
      // A host seen only for its reservation teaches the model nothing.
      views.push(this.timing.viewOf(i, now, !outrun));
    }
    const ready = this.heap.size;
    let free = 0;
    for (const v of views) for (const a of v.avail) if (a <= now) free++;
    const copyable =
      this.traits.copies && minSpeed < idleSpeed
        ? this.timing.copyCandidates(now, idleSpeed, viewOf, this.primary)
        : [];
    let k = 0;
    const next = (): Candidate | undefined => {
      const top = this.heap.peek();
      const c = copyable[k];
      if (c !== undefined && (top < 0 || c.priority > this.primary[top]!)) {
        k++;
        return c;
      }
      return top < 0 ? undefined : { task: this.heap.pop() };
    };
    const placed =
      this.traits.placement === "earliest-finish"
        ? placeEarliestFinish(
            next,
            (t) => this.timing.workOf(t, now),
            views,
            now,
            2 * lookable + 8,
            this.placementCosts(usable, viewOf),
          )
        : placeFirstFree(() => this.heap.pop(), views, now);
    for (const t of placed.held) this.heap.push(t);
    this.reserved = new Set(placed.reserved.map((v) => usable[v]!));
    for (const p of placed.assigned) views[p.host]!.avail[p.slot] = Infinity;
    const start: Assignment[] = [];
    const stop: Assignment[] = [];
    for (const p of placed.assigned) {
      const hi = usable[p.host]!;
      if (p.slot >= views[p.host]!.redundantFrom) {
        const victim = this.runs
          .redundantOn(hi)
          .find((c) => this.timing.calibrationEnd(c, now) === undefined);
        if (victim !== undefined && this.runs.dropRedundant(victim.task, hi) !== undefined) {
          stop.push({ task: victim.task, host: this.hosts[hi]!.name });
        }
      }
      this.start(p.task, hi, now);
      start.push({ task: p.task, host: this.hosts[hi]!.name });
    }
    if (this.traits.copies) {
      for (const [task, hi] of this.timing.calibrationCopies(now, views, usable)) {
        this.start(task, hi, now);
        start.push({ task, host: this.hosts[hi]!.name });
      }
    }
    return { start, stop, seen: { ready, free, held: placed.held.length } };
  }

  /** The start costs by host view, for placement; undefined without options.transfer. */
  private placementCosts(
    usable: readonly number[],
    viewOf: ReadonlyMap<number, number>,
  ): PlacementCosts | undefined {
    const costs = this.costs;
    if (costs === undefined) return undefined;
    return {
      cost: (t, v, at) => costs.cost(t, usable[v]!, at),
      floor: (t, v) => {
        const install = costs.host(usable[v]!).install;
        return install === 0 ? 0 : install * costs.closure(t).length;
      },
      missing: (t, v) => costs.missing(t, usable[v]!),
      holders: (t) => {
        const out: number[] = [];
        for (const h of costs.builders(t)) {
          const v = viewOf.get(h);
          if (v !== undefined) out.push(v);
        }
        return out;
      },
    };
  }

  private speedOf(host: number): number {
    return this.timing.speedOf(host);
  }

  private start(task: number, host: number, now: number, resumed = false): void {
    this.state[task] = S.Running;
    const cost = this.costs === undefined || resumed ? 0 : this.costs.start(task, host, now);
    this.runs.start(task, host, now, cost);
  }

  /**
   * A copy of a task ended on a host. The first copy to end decides: on
   * failure the task's transitive dependents are indirectly failed and its
   * other copies are to be stopped; on success they run on as redundant.
   */
  onTaskFinished(task: number, host: HostName, now: number, ok: boolean): FinishResult {
    const hi = this.hostIndex.get(host);
    const none: FinishResult = { indirectlyFailed: [], stop: [], first: false };
    if (hi === undefined) return none;
    const h = this.hosts[hi]!;
    const ended = this.state[task] === S.Running ? this.runs.finish(task, hi, ok) : undefined;
    if (ended === undefined) {
      const extra = this.runs.dropRedundant(task, hi);
      if (extra !== undefined && ok) {
        this.model.observe(task, h.model, ownSeconds(extra, now));
        this.costs?.built(task, hi);
      }
      if (this.runs.activeOn(hi).length === 0) h.idleSince = now;
      return none;
    }
    if (this.runs.activeOn(hi).length === 0) h.idleSince = now;
    this.unsettled--;
    if (!ok) {
      this.state[task] = S.Failed;
      const stop = ended.others.map((c) => ({ task, host: this.hosts[c.host]!.name }));
      return { indirectlyFailed: this.failDependents(task), stop, first: true };
    }
    this.state[task] = S.Done;
    const took = ownSeconds(ended.mine, now);
    this.model.observe(task, h.model, took);
    this.costs?.built(task, hi);
    this.observedSeconds += took * this.speedOf(hi);
    this.observedCount++;
    for (const c of this.graph.dependents[task]!) {
      if (this.state[c] === S.Waiting && --this.pending[c]! === 0) this.makeReady(c);
    }
    if (this.options.deferRefit !== true) this.maintain();
    return { indirectlyFailed: [], stop: [], first: true };
  }

  /**
   * Refits the duration model if enough new tasks finished since the last
   * fit, and reorders the ready set by the new estimates; true if it did.
   * Runs inside onTaskFinished unless the options defer it to the caller.
   */
  maintain(): boolean {
    if (!this.model.maybeRefit()) return false;
    fillPriorities(
      this.traits.ordering,
      this.graph,
      this.model.est,
      this.facts,
      this.primary,
      this.secondary,
    );
    this.heap.rebuild();
    return true;
  }

  /**
   * Lets a held task go: it becomes ready once its dependencies are done
   * (at once if they are). A no-op for a task not held.
   */
  release(task: number): void {
    if (this.held[task] !== 1) return;
    this.held[task] = 0;
    this.holds--;
    this.pending[task]!--;
    if (this.state[task] === S.Waiting && this.pending[task] === 0) this.makeReady(task);
  }

  /** Whether a task is still held back. */
  isHeld(task: number): boolean {
    return this.held[task] === 1;
  }

  /**
   * A held task fails before it ever runs (a distfile no site serves): like a
   * failed run, its transitive dependents are indirectly failed. A no-op
   * (nothing failed) for a task not held or already settled.
   */
  failHeld(task: number): FinishResult {
    const none: FinishResult = { indirectlyFailed: [], stop: [], first: false };
    if (this.held[task] !== 1) return none;
    this.held[task] = 0;
    this.holds--;
    this.pending[task]!--;
    if (this.state[task] !== S.Waiting) return none;
    this.state[task] = S.Failed;
    this.unsettled--;
    return { indirectlyFailed: this.failDependents(task), stop: [], first: true };
  }

  /**
   * An operator's retry of a failed task: it becomes ready again, and so
   * does every dependent its failure had made indirectly failed and that
   * nothing else holds back. Returns the revived dependents, ascending.
   */
  retry(task: number): number[] {
    if (this.state[task] !== S.Failed) return [];
    this.unsettled++;
    // A task that failed before it ran (failHeld) may still wait for dependencies.
    let p = 0;
    for (const d of this.graph.deps[task]!) if (this.state[d] !== S.Done) p++;
    this.pending[task] = p;
    if (p === 0) this.makeReady(task);
    else this.state[task] = S.Waiting;
    const revived: number[] = [];
    // In dependency order, so a dependent is looked at after all its dependencies.
    for (const c of this.graph.order) {
      if (this.state[c] !== S.Indirect) continue;
      const blocked = this.graph.deps[c]!.some(
        (d) => this.state[d] === S.Failed || this.state[d] === S.Indirect,
      );
      if (blocked) continue;
      // Its pending count still counts the dependencies that never finished.
      this.state[c] = S.Waiting;
      this.unsettled++;
      revived.push(c);
    }
    return revived.sort((a, b) => a - b);
  }

  private failDependents(task: number): number[] {
    const out: number[] = [];
    const stack = [task];
    while (stack.length > 0) {
      for (const c of this.graph.dependents[stack.pop()!]!) {
        if (this.state[c] !== S.Waiting) continue;
        this.state[c] = S.Indirect;
        this.unsettled--;
        out.push(c);
        stack.push(c);
      }
    }
    return out.sort((a, b) => a - b);
  }

  private makeReady(task: number): void {
    this.state[task] = S.Ready;
    if (this.traits.ordering === "fifo") this.primary[task] = -this.readySeq++;
    this.heap.push(task);
  }

  /** The hosts known to the scheduler, with the speeds it currently assumes. */
  hostList(): HostInfo[] {
    return this.hosts.map((h, i) => ({
      name: h.name,
      slots: h.slots,
      speed: this.speedOf(i),
      alive: h.alive,
      draining: h.draining,
      running: this.runs.activeOn(i).length,
    }));
  }

  /** Current expected seconds at speed 1.0 of every task. */
  estimates(): Float64Array {
    return Float64Array.from(this.model.est);
  }

  /** The state of one task. */
  taskState(task: number): TaskState {
    return STATE_NAMES[this.state[task] ?? 0]!;
  }

  /** Every running copy of every unfinished task, with host and start time. */
  running(): RunningTask[] {
    const out: RunningTask[] = [];
    for (const [task, copies] of this.runs.tasks()) {
      for (const c of copies) out.push({ task, host: this.hosts[c.host]!.name, start: c.start });
    }
    return out;
  }

  /** Number of tasks in the ready set. */
  get readyCount(): number {
    return this.heap.size;
  }

  /** How many tasks are not yet done, failed or indirectly failed. */
  get remaining(): number {
    return this.unsettled;
  }

  /** The unsettled tasks, most urgent first (the ready set's order, applied to all). */
  priorityOrder(): number[] {
    const out: number[] = [];
    for (let t = 0; t < this.state.length; t++)
      if (this.state[t] === S.Waiting || this.state[t] === S.Ready) out.push(t);
    const p = this.primary;
    const q = this.secondary;
    return out.sort((a, b) => p[b]! - p[a]! || q[b]! - q[a]! || a - b);
  }

  /** Tasks still held back (see release). */
  get heldCount(): number {
    return this.holds;
  }

  /** True when nothing is ready, running or held (what still waits can never become ready). */
  isFinished(): boolean {
    return (
      this.unsettled === 0 || (this.heap.size === 0 && this.runs.size === 0 && this.holds === 0)
    );
  }
}
