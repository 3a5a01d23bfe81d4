/**
 * The scheduler: which ready package runs next, and on which host. Pure and
 * event-driven; time is always a parameter (seconds on any monotonic clock),
 * so the simulator drives it with a virtual clock and the live build with
 * the real one.
 *
 * Usage, live or simulated:
 *
 *   const s = new Scheduler(graph, { policy: "herd", durations, done });
 *   s.addHost(name, { slots, speed }, now);        // speed omitted: learned
 *   loop on events:
 *     s.onTaskFinished(task, now, ok)            -> { indirectlyFailed }
 *     s.onHostLost(name, now)                    -> tasks put back in the queue
 *     s.drainHost(name, now) / s.addHost(...)    // hosts come and go
 *     for (const a of s.nextAssignments(now))    // start a.task on a.host
 *   until s.isFinished()
 *
 * nextAssignments() marks what it returns as running from `now`; call it
 * after every batch of events (it is cheap, and may deliberately leave an
 * idle slow host idle to keep a critical task for a fast host that frees up
 * sooner). estimateFinish() in ../sim/eta.ts gives the ETA from the same
 * model. observe() and setHostSpeed() feed durations and speeds learned
 * elsewhere; with policy "herd" finished tasks also train the duration model.
 */
import type { HostName } from "../hostspec.js";
import { transitiveDependentCounts, type TaskGraph } from "./graph.js";
import { TaskHeap } from "./heap.js";
import { DurationModel } from "./learn.js";
import { placeEarliestFinish, placeFirstFree, type HostView } from "./placement.js";
import {
  fillPriorities,
  policyTraits,
  weightedDependentSums,
  type GraphFacts,
  type PolicyName,
  type PolicyTraits,
} from "./priority.js";

export type TaskState = "waiting" | "ready" | "running" | "done" | "failed" | "indirect-failed";

export interface SchedulerOptions {
  readonly policy: PolicyName;
  /** Expected seconds at speed 1.0 per task (history); undefined where unknown. */
  readonly durations?: readonly (number | undefined)[] | undefined;
  /** PBULK_WEIGHT per task where the scan records carry one. */
  readonly weights?: readonly (number | undefined)[] | undefined;
  /** Tasks already built when the schedule starts. */
  readonly done?: ArrayLike<boolean> | undefined;
}

export interface HostOptions {
  readonly slots: number;
  /** Relative to the history's host (0.25 = four times slower); omitted = unknown, learned. */
  readonly speed?: number | undefined;
}

export interface Assignment {
  readonly task: number;
  readonly host: HostName;
}

export interface RunningTask {
  readonly task: number;
  readonly host: HostName;
  readonly start: number;
}

interface HostState {
  readonly name: HostName;
  slots: number;
  readonly model: number;
  readonly running: number[];
  alive: boolean;
  draining: boolean;
  idleSince: number;
}

const enum S {
  Waiting,
  Ready,
  Running,
  Done,
  Failed,
  Indirect,
}
const STATE_NAMES: readonly TaskState[] = ["waiting", "ready", "running", "done", "failed", "indirect-failed"];

/** A task past its expected end is assumed to need this fraction of its estimate more. */
const OVERRUN_RESIDUAL = 0.1;

export class Scheduler {
  readonly traits: PolicyTraits;
  private readonly model: DurationModel;
  private readonly facts: GraphFacts;
  private readonly primary: Float64Array;
  private readonly secondary: Float64Array;
  private readonly heap: TaskHeap;
  private readonly state: Uint8Array;
  private readonly pending: Int32Array;
  private readonly runHost: Int32Array;
  private readonly runStart: Float64Array;
  private readonly hosts: HostState[] = [];
  private readonly hostIndex = new Map<HostName, number>();
  private readySeq = 0;
  private unsettled: number;

  constructor(
    readonly graph: TaskGraph,
    readonly options: SchedulerOptions,
  ) {
    const n = graph.names.length;
    this.traits = policyTraits(options.policy);
    this.model = new DurationModel(graph, {
      durations: options.durations,
      weights: options.weights,
      learn: this.traits.learns,
    });
    const weights = new Float64Array(n);
    for (let t = 0; t < n; t++) weights[t] = options.weights?.[t] ?? 100;
    this.facts = { dependents: transitiveDependentCounts(graph), weightSums: weightedDependentSums(graph, weights) };
    this.primary = new Float64Array(n);
    this.secondary = new Float64Array(n);
    this.heap = new TaskHeap(n, this.primary, this.secondary);
    this.state = new Uint8Array(n);
    this.pending = new Int32Array(n);
    this.runHost = new Int32Array(n).fill(-1);
    this.runStart = new Float64Array(n);
    fillPriorities(this.traits.ordering, graph, this.model.est, this.facts, this.primary, this.secondary);
    const done = options.done;
    this.unsettled = n;
    for (let t = 0; t < n; t++) {
      if (done?.[t] === true) {
        this.state[t] = S.Done;
        this.unsettled--;
      }
    }
    for (const t of graph.order) {
      if (this.state[t] === S.Done) continue;
      let p = 0;
      for (const d of graph.deps[t]!) if (this.state[d] !== S.Done) p++;
      this.pending[t] = p;
      if (p === 0) this.makeReady(t);
    }
  }

  /** Adds a host, or brings back one that was lost or drained. */
  addHost(name: HostName, opts: HostOptions, now: number): void {
    const known = this.hostIndex.get(name);
    if (known !== undefined) {
      const h = this.hosts[known]!;
      h.slots = Math.max(1, Math.floor(opts.slots));
      h.alive = true;
      h.draining = false;
      h.idleSince = now;
      if (opts.speed !== undefined) this.model.setSpeed(h.model, opts.speed);
      return;
    }
    this.hostIndex.set(name, this.hosts.length);
    this.hosts.push({
      name,
      slots: Math.max(1, Math.floor(opts.slots)),
      model: this.model.addHost(opts.speed),
      running: [],
      alive: true,
      draining: false,
      idleSince: now,
    });
  }

  /** Stops giving a host new tasks; what it runs may finish. */
  drainHost(name: HostName, _now: number): void {
    const h = this.host(name);
    if (h !== undefined) h.draining = true;
  }

  /** A host is gone: its running tasks go back to the ready set; returns them. */
  onHostLost(name: HostName, _now: number): number[] {
    const h = this.host(name);
    if (h === undefined || !h.alive) return [];
    h.alive = false;
    const back = h.running.splice(0);
    for (const t of back) {
      this.runHost[t] = -1;
      this.state[t] = S.Ready;
      this.heap.push(t);
    }
    return back;
  }

  /** Fixes a host's speed factor (an operator override or a learned figure). */
  setHostSpeed(name: HostName, speed: number): void {
    const h = this.host(name);
    if (h !== undefined && speed > 0) this.model.setSpeed(h.model, speed);
  }

  /** The speed factor currently assumed for a host. */
  hostSpeed(name: HostName): number {
    const h = this.host(name);
    return h === undefined ? 1 : this.model.speed(h.model);
  }

  /** Feeds a duration observed outside this schedule (e.g. an earlier build) to the model. */
  observe(task: number, host: HostName, seconds: number): void {
    const h = this.host(host);
    if (h !== undefined) this.model.observe(task, h.model, seconds);
  }

  /** The expected seconds of a task at speed 1.0, or on a given host. */
  expectedSeconds(task: number, host?: HostName): number {
    const est = this.model.est[task] ?? 0;
    if (host === undefined) return est;
    return est / this.hostSpeed(host);
  }

  /** Chooses what to start now; the returned tasks are running from `now`. */
  nextAssignments(now: number): Assignment[] {
    if (this.heap.size === 0) return [];
    const usable: number[] = [];
    const views: HostView[] = [];
    for (let i = 0; i < this.hosts.length; i++) {
      const h = this.hosts[i]!;
      if (!h.alive || h.draining) continue;
      const speed = this.model.speed(h.model);
      const avail: number[] = [];
      for (const t of h.running) avail.push(this.expectedEnd(t, speed, now));
      for (let s = h.running.length; s < h.slots; s++) avail.push(now);
      usable.push(i);
      views.push({ speed, avail, idleSince: h.idleSince });
    }
    const next = (): number => this.heap.pop();
    const placed =
      this.traits.placement === "earliest-finish"
        ? placeEarliestFinish(next, (t) => this.model.est[t]!, views, now, 2 * views.length + 8)
        : placeFirstFree(next, views, now);
    for (const t of placed.held) this.heap.push(t);
    const out: Assignment[] = [];
    for (const [task, v] of placed.assigned) {
      const h = this.hosts[usable[v]!]!;
      h.running.push(task);
      this.state[task] = S.Running;
      this.runHost[task] = usable[v]!;
      this.runStart[task] = now;
      out.push({ task, host: h.name });
    }
    return out;
  }

  /** When a running task is expected to end, never before `now`. */
  private expectedEnd(task: number, speed: number, now: number): number {
    const work = this.model.est[task]! / speed;
    const end = this.runStart[task]! + work;
    return end > now ? end : now + Math.max(OVERRUN_RESIDUAL * work, 1e-3);
  }

  /** A running task ended; on failure its transitive dependents are indirectly failed (returned). */
  onTaskFinished(task: number, now: number, ok: boolean): { readonly indirectlyFailed: number[] } {
    const hi = this.runHost[task] ?? -1;
    if (this.state[task] !== S.Running || hi < 0) return { indirectlyFailed: [] };
    const h = this.hosts[hi]!;
    const at = h.running.indexOf(task);
    if (at >= 0) h.running.splice(at, 1);
    if (h.running.length === 0) h.idleSince = now;
    this.runHost[task] = -1;
    this.unsettled--;
    if (ok) {
      this.state[task] = S.Done;
      this.model.observe(task, h.model, now - this.runStart[task]!);
      for (const c of this.graph.dependents[task]!) {
        if (this.state[c] === S.Waiting && --this.pending[c]! === 0) this.makeReady(c);
      }
      if (this.model.maybeRefit()) this.reprioritise();
      return { indirectlyFailed: [] };
    }
    this.state[task] = S.Failed;
    return { indirectlyFailed: this.failDependents(task) };
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

  private reprioritise(): void {
    fillPriorities(this.traits.ordering, this.graph, this.model.est, this.facts, this.primary, this.secondary);
    this.heap.rebuild();
  }

  /** The state of one task. */
  taskState(task: number): TaskState {
    return STATE_NAMES[this.state[task] ?? 0]!;
  }

  /** The tasks running now, with their hosts and start times. */
  running(): RunningTask[] {
    const out: RunningTask[] = [];
    for (const h of this.hosts) for (const t of h.running) out.push({ task: t, host: h.name, start: this.runStart[t]! });
    return out;
  }

  /** Number of tasks in the ready set. */
  get readyCount(): number {
    return this.heap.size;
  }

  /** True when nothing is ready or running and nothing waiting can still become ready. */
  isFinished(): boolean {
    return this.unsettled === 0 || (this.heap.size === 0 && this.hosts.every((h) => h.running.length === 0));
  }

  /** How many tasks are not yet done, failed or indirectly failed. */
  get remaining(): number {
    return this.unsettled;
  }

  private host(name: HostName): HostState | undefined {
    const i = this.hostIndex.get(name);
    return i === undefined ? undefined : this.hosts[i];
  }
}
