/**
 * The one dispatch loop: a planner decides what runs where (the build's
 * Scheduler, or the scan's queue), the pool runs it in a slot of that host.
 * The build, the scan and the scale benchmark all run this loop.
 *
 * The loop keeps the planner's view of the hosts in step with the pool
 * (join → addHost; drain, sync → drainHost; lost, removed → onHostLost), and
 * tells a planner that plans ahead of a host still syncing, with when its
 * sync should end (syncEstimate), so work can wait for it; and
 * settles every copy it started exactly once: a task that lost its slot
 * (its host dropped, or a transfer broke while the host stays) goes back to
 * the planner alone; the tasks of a host that left are requeued once, by
 * onHostLost.
 */
import type { HostName } from "../core/hostspec.js";
import type { FinishResult, Planner } from "../core/sched/types.js";
import type { HostPool, HostSnapshot, Lease } from "../hosts/pool.js";
import { QueuePlanner } from "../core/sched/queue.js";
import { acceptsTasks, describeState } from "../hosts/state.js";
import { trace } from "./trace.js";

/** How one copy of a task ended. */
export type Outcome<R> =
  | { readonly kind: "ok"; readonly value: R }
  | { readonly kind: "failed"; readonly value: R }
  /** The slot or the host went: the task runs again elsewhere. */
  | { readonly kind: "lost"; readonly reason: string }
  /** Another copy delivered first: this one's time still teaches the planner. */
  | { readonly kind: "redundant" };

/**
 * The part of an AbortSignal a copy's work uses. The loop's own is a plain
 * object: an AbortController per start and an event listener per stage cost
 * tens of microseconds each, and a round starts hundreds of packages one
 * after another.
 */
export interface StopSignal {
  readonly aborted: boolean;
  addEventListener(type: "abort", listener: () => void): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/** A copy's stop: aborted once, each listener called once, in the order added. */
export class Stop implements StopSignal {
  #aborted = false;
  #listeners: (() => void)[] = [];

  get aborted(): boolean {
    return this.#aborted;
  }

  addEventListener(_type: "abort", listener: () => void): void {
    if (!this.#aborted) this.#listeners.push(listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    const i = this.#listeners.indexOf(listener);
    if (i >= 0) this.#listeners.splice(i, 1);
  }

  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const l of listeners) l();
  }
}

export interface CopyControl {
  /** Aborted when the planner stops this copy (its task settled elsewhere). */
  readonly signal: StopSignal;
  /** False once another copy delivered: this one should bring nothing back. */
  readonly wanted: () => boolean;
  /** No other copy of the task was running when this one started. */
  readonly first: boolean;
}

export interface DispatchOptions<R> {
  readonly pool: HostPool;
  readonly planner: Planner;
  /** Seconds on a monotonic clock. */
  readonly now: () => number;
  /** What a slot shows while it runs the task. */
  readonly label: (task: number) => string;
  /** Runs one copy of a task in the slot it was given. */
  readonly run: (task: number, lease: Lease, copy: CopyControl) => Promise<Outcome<R>>;
  /**
   * A copy settled and the planner knows (`fin`: what its finishing decided;
   * null for a lost copy, reported only when the task went back to the queue).
   * Called before anything else happens, so the caller can persist it.
   */
  readonly settled: (task: number, host: HostName, o: Outcome<R>, fin: FinishResult | null) => void;
  /** Hands the caller a function that wakes the loop (e.g. after an operator's retry). */
  readonly wake?: (poke: () => void) => void;
  /** After every round of decisions (progress displays). */
  readonly round?: (running: number) => void;
  /** Resolves when the operator asks the work to stop. */
  readonly stop?: Promise<void>;
  /** The error to throw when no host is left that could ever take the remaining work. */
  readonly noHosts: (hosts: readonly HostSnapshot[]) => Error;
  /** Give up when nothing has run for this long and no host is usable (ms; default: never). */
  readonly idleTimeoutMs?: number;
  /** For benchmarks: the time each round spent on the hosts, the decisions and the starts (ms). */
  readonly probe?: (hostsMs: number, decideMs: number, startMs: number, starts: number) => void;
}

export interface DispatchResult {
  readonly stopped: boolean;
}

/** A running copy of a task; `counted` while the planner counts it (see dispatchLoop). */
interface Copy {
  readonly task: number;
  readonly host: HostName;
  readonly abort: Stop;
  counted: boolean;
}

/** Runs the planner's work on the pool until it is finished or stopped. */
export async function dispatchLoop<R>(o: DispatchOptions<R>): Promise<DispatchResult> {
  const { pool, planner } = o;
  const known = new Set<HostName>();
  // Each running copy, and whether the planner still counts it: a copy on a
  // host that left stops counting when the planner requeues its task, before
  // the copy settles, so the task's next copy is its first and tells of the loss.
  const running = new Map<string, Copy>();
  const key = (task: number, host: HostName): string => `${task}@${host}`;
  const copies = new Map<number, number>();
  const uncount = (c: Copy): void => {
    if (!c.counted) return;
    c.counted = false;
    copies.set(c.task, (copies.get(c.task) ?? 1) - 1);
  };
  let wake: (() => void) | undefined;
  const poke = (): void => {
    wake?.();
  };
  o.wake?.(poke);
  const flags = { stopped: false };
  // A callback that throws (the master cannot write its logs, packages or store) stops the work.
  let broken: { error: unknown } | undefined;
  void o.stop?.then(() => {
    flags.stopped = true;
    poke();
  });

  // The planner's view of the hosts changes only when one joins, leaves,
  // drains or syncs; idle ⇄ busy (every task) does not.
  let hostsChanged = true;
  // Hosts the planner was told of while they sync: when they started, when they should be ready.
  const syncing = new Map<
    HostName,
    { since: number; readyAt: number; slots: number; speed: number }
  >();
  const syncHosts = (): void => {
    const now = o.now();
    // A sync that runs late: expect it to take as long again as it has so far.
    for (const [name, s] of syncing) {
      if (s.readyAt > now) continue;
      s.readyAt = now + Math.max(1, now - s.since);
      planner.addHost(name, { slots: s.slots, speed: s.speed, readyAt: s.readyAt }, now);
    }
    if (!hostsChanged) return;
    hostsChanged = false;
    const hosts = pool.list();
    for (const h of hosts) {
      const usable = acceptsTasks(h.state) && h.free + h.tasks.length === h.slots;
      const pending = syncing.get(h.name);
      if (pending !== undefined && h.state.kind !== "syncing") {
        syncing.delete(h.name);
        // Synced: ready now.
        if (usable) {
          planner.addHost(h.name, { slots: h.slots, speed: h.speed }, now);
          continue;
        }
      }
      const estimate =
        planner.plansAhead === true && h.state.kind === "syncing" && pending === undefined
          ? syncEstimate(h, hosts)
          : undefined;
      if (estimate !== undefined) {
        known.add(h.name);
        // Never less than a second ahead: the sync is under way, and not over before the next decision.
        const readyAt = now + Math.max(1, estimate);
        syncing.set(h.name, { since: now, readyAt, slots: h.slots, speed: h.speed });
        planner.addHost(h.name, { slots: h.slots, speed: h.speed, readyAt }, now);
      } else if (usable && !known.has(h.name)) {
        known.add(h.name);
        planner.addHost(h.name, { slots: h.slots, speed: h.speed }, now);
      } else if (!usable && known.has(h.name) && !syncing.has(h.name)) {
        known.delete(h.name);
        // Draining or syncing: what runs there finishes; lost or gone: it runs again elsewhere.
        if (h.state.kind === "draining" || h.state.kind === "syncing" || acceptsTasks(h.state))
          planner.drainHost(h.name, now);
        else {
          planner.onHostLost(h.name, now);
          for (const c of running.values()) if (c.host === h.name) uncount(c);
        }
      }
    }
  };
  const unsubscribe = pool.subscribe((e) => {
    if (e.type === "state" && !(acceptsTasks(e.from) && acceptsTasks(e.to))) hostsChanged = true;
    poke();
  });

  const start = (task: number, host: HostName): void => {
    const k = key(task, host);
    const first = (copies.get(task) ?? 0) === 0 && planner.taskState(task) !== "done";
    copies.set(task, (copies.get(task) ?? 0) + 1);
    const abort = new Stop();
    const self: Copy = { task, host, abort, counted: true };
    running.set(k, self);
    const control: CopyControl = {
      signal: abort,
      wanted: () => planner.taskState(task) !== "done",
      first,
    };
    // Settled inside the slot, so the outcome is known before the slot frees
    // (and before a drained host leaves).
    const settle = (outcome: Outcome<R>, inSlot: boolean): void => {
      if (running.get(k) === self) running.delete(k);
      uncount(self);
      // The planner stopped this copy: it knows, and the copy counts for nothing.
      if (abort.aborted) return;
      const now = o.now();
      if (outcome.kind === "redundant") {
        planner.onTaskFinished(task, host, now, true);
      } else if (outcome.kind === "lost") {
        planner.onTaskLost(task, host, now);
        // The host is gone or going: the pool counts it, the loop hears of it from the pool.
        if (inSlot) pool.reportFailure(host, outcome.reason);
        // Unavailable: the host changed state since the planner chose it.
        else hostsChanged = true;
        if (planner.taskState(task) === "ready") o.settled(task, host, outcome, null);
      } else {
        trace?.("settle", o.label(task));
        const fin = planner.onTaskFinished(task, host, now, outcome.kind === "ok");
        trace?.("finished", o.label(task));
        for (const a of fin.stop) running.get(key(a.task, a.host))?.abort.abort();
        o.settled(task, host, outcome, fin);
      }
      poke();
    };
    const job = pool
      .task(host, o.label(task), async (lease) => {
        settle(await o.run(task, lease, control), true);
      })
      .then((r) => {
        if (!r.ok) settle({ kind: "lost", reason: r.error.message }, false);
      });
    void job.catch((error: unknown) => {
      broken ??= { error };
      poke();
    });
  };

  let idleSince = Date.now();
  try {
    while (!planner.isFinished() && !flags.stopped) {
      if (broken !== undefined) throw broken.error;
      const t0 = o.probe === undefined ? 0 : performance.now();
      syncHosts();
      if (running.size > 0) idleSince = Date.now();
      const hosts = running.size === 0 ? pool.list() : [];
      if (running.size === 0 && !hosts.some(mayWork)) throw o.noHosts(hosts);
      if (
        running.size === 0 &&
        o.idleTimeoutMs !== undefined &&
        Date.now() - idleSince > o.idleTimeoutMs &&
        !hosts.some((h) => acceptsTasks(h.state))
      )
        throw o.noHosts(hosts);
      const t1 = o.probe === undefined ? 0 : performance.now();
      trace?.("round", String(running.size));
      const d0 = trace === undefined ? 0 : performance.now();
      const decisions = planner.nextAssignments(o.now());
      if (trace !== undefined && performance.now() - d0 > 1)
        trace("decide", `${(performance.now() - d0).toFixed(2)}:${decisions.start.length}`);
      if (trace !== undefined && decisions.seen !== undefined) {
        const { ready, free, held } = decisions.seen;
        trace("seen", `${ready}:${free}:${decisions.start.length}:${held}`);
      }
      const t2 = o.probe === undefined ? 0 : performance.now();
      for (const a of decisions.stop) running.get(key(a.task, a.host))?.abort.abort();
      for (const a of decisions.start) {
        trace?.("assigned", o.label(a.task));
        start(a.task, a.host);
      }
      // Upkeep waits until the round's tasks are on their way.
      const m0 = trace === undefined ? 0 : performance.now();
      if (planner.maintain()) trace?.("maintain", (performance.now() - m0).toFixed(2));
      if (o.probe !== undefined)
        o.probe(t1 - t0, t2 - t1, performance.now() - t2, decisions.start.length);
      o.round?.(running.size);
      await Promise.race([new Promise<void>((r) => (wake = r)), pool.changed(), sleep(1000)]);
    }
    if (broken !== undefined) throw broken.error;
  } finally {
    unsubscribe();
  }
  return { stopped: flags.stopped };
}

/**
 * Seconds a host that has begun to sync should take: its own last sync, else
 * the median of the other hosts' last syncs scaled by their speed over its
 * speed; undefined when no host has synced yet (the host is then planned for
 * once it is ready).
 */
export function syncEstimate(
  host: HostSnapshot,
  hosts: readonly HostSnapshot[],
): number | undefined {
  if (host.syncSeconds !== undefined) return host.syncSeconds;
  const seen: number[] = [];
  for (const h of hosts)
    if (h.syncSeconds !== undefined && h.name !== host.name) seen.push(h.syncSeconds * h.speed);
  if (seen.length === 0) return undefined;
  seen.sort((a, b) => a - b);
  return seen[seen.length >> 1]! / host.speed;
}

/** A host that works or may come back by itself (not removed, not quarantined). */
export function mayWork(h: HostSnapshot): boolean {
  return h.state.kind !== "gone" && !(h.state.kind === "lost" && h.state.quarantine !== null);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/**
 * Runs independent jobs on the pool through the one loop (a QueuePlanner
 * decides): each job once, on the fastest host with a free slot, again
 * elsewhere when its slot is lost. Resolves with each job's outcome.
 */
export async function runJobs<J, R>(
  pool: HostPool,
  jobs: readonly J[],
  run: (job: J, lease: Lease) => Promise<Outcome<R>>,
  opts: { readonly label?: (job: J) => string; readonly idleTimeoutMs?: number } = {},
): Promise<Map<number, Outcome<R>>> {
  const planner = new QueuePlanner();
  jobs.forEach(() => planner.add());
  const out = new Map<number, Outcome<R>>();
  await dispatchLoop<R>({
    pool,
    planner,
    now: () => performance.now() / 1000,
    label: (t) => opts.label?.(jobs[t]!) ?? `job ${t}`,
    run: (t, lease) => run(jobs[t]!, lease),
    settled: (t, _host, o) => {
      if (o.kind !== "lost") out.set(t, o);
    },
    ...(opts.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: opts.idleTimeoutMs }),
    noHosts: (hosts) =>
      new Error(
        `no host can take work (${hosts.map((h) => `${h.name}: ${describeState(h.state)}`).join("; ") || "none"}); ${planner.remaining} jobs not run`,
      ),
  });
  return out;
}
