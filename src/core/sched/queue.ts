/**
 * A planner for independent tasks (the scan): first come, first served, on
 * the fastest host with a free slot; tasks may be added while it runs (the
 * dependencies a scan finds). A task whose slot or host was lost goes back
 * to the front of the queue.
 */
import type { HostName } from "../hostspec.js";
import type {
  Assignment,
  Decisions,
  FinishResult,
  HostOptions,
  Planner,
  TaskState,
} from "./types.js";

interface QueueHost {
  readonly name: HostName;
  slots: number;
  speed: number;
  usable: boolean;
  readonly active: Set<number>;
}

const NONE: FinishResult = { indirectlyFailed: [], stop: [], first: true };

export class QueuePlanner implements Planner {
  readonly #state: TaskState[] = [];
  #queue: number[] = [];
  readonly #hosts = new Map<HostName, QueueHost>();
  /** Hosts fastest first, rebuilt when one joins or changes. */
  #order: QueueHost[] = [];
  #running = 0;
  #unsettled = 0;

  /** Adds a task at the end of the queue; returns its number. */
  add(): number {
    const t = this.#state.length;
    this.#state.push("ready");
    this.#queue.push(t);
    this.#unsettled++;
    return t;
  }

  /** Adds a host or brings one back. */
  addHost(name: HostName, opts: HostOptions): void {
    const h = this.#hosts.get(name);
    if (h !== undefined) Object.assign(h, { slots: opts.slots, usable: true });
    else
      this.#hosts.set(name, {
        name,
        slots: opts.slots,
        speed: opts.speed ?? 1,
        usable: true,
        active: new Set(),
      });
    this.#order = [...this.#hosts.values()].sort((a, b) => b.speed - a.speed);
  }

  /** Gives a host no more tasks; what it runs finishes. */
  drainHost(name: HostName): void {
    const h = this.#hosts.get(name);
    if (h !== undefined) h.usable = false;
  }

  /** A host is gone: what it ran goes back to the front of the queue. */
  onHostLost(name: HostName): number[] {
    const h = this.#hosts.get(name);
    if (h === undefined) return [];
    h.usable = false;
    const back = [...h.active];
    // Back to the front in the order they were started.
    for (const t of [...back].reverse()) this.#requeue(h, t);
    return back;
  }

  /** A task lost its slot: back to the front of the queue. */
  onTaskLost(task: number, host: HostName): void {
    const h = this.#hosts.get(host);
    if (h?.active.has(task) === true) this.#requeue(h, task);
  }

  /** Fills every free slot of the usable hosts, fastest host first. */
  nextAssignments(): Decisions {
    const start: Assignment[] = [];
    if (this.#queue.length === 0) return { start, stop: [] };
    let k = 0;
    for (const h of this.#order) {
      if (!h.usable) continue;
      while (h.active.size < h.slots && k < this.#queue.length) {
        const t = this.#queue[k++]!;
        h.active.add(t);
        this.#state[t] = "running";
        this.#running++;
        start.push({ task: t, host: h.name });
      }
    }
    this.#queue = this.#queue.slice(k);
    return { start, stop: [] };
  }

  onTaskFinished(task: number, host: HostName, _now: number, ok: boolean): FinishResult {
    const h = this.#hosts.get(host);
    if (h?.active.delete(task) !== true) return { ...NONE, first: false };
    this.#running--;
    this.#unsettled--;
    this.#state[task] = ok ? "done" : "failed";
    return NONE;
  }

  maintain(): boolean {
    return false;
  }

  taskState(task: number): TaskState {
    return this.#state[task] ?? "waiting";
  }

  isFinished(): boolean {
    return this.#unsettled === 0;
  }

  /** Tasks not settled yet. */
  get remaining(): number {
    return this.#unsettled;
  }

  /** Tasks running now. */
  get running(): number {
    return this.#running;
  }

  #requeue(h: QueueHost, t: number): void {
    h.active.delete(t);
    this.#running--;
    this.#state[t] = "ready";
    this.#queue.unshift(t);
  }
}
