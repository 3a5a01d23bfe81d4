/**
 * The ETA of a running build: the scheduler's own model played forward on a
 * virtual clock from its current state (what is done, what runs where since
 * when, the hosts and their speeds), every task taking its expected time.
 *
 * On the full tree one forecast takes tens to hundreds of milliseconds, so it
 * comes in two parts: etaInput() snapshots the scheduler into plain data
 * (cheap, structured-clonable), forecast() plays it forward (pure, fit for a
 * worker thread: see src/bulk/eta-worker.ts).
 */
import type { HostName } from "../hostspec.js";
import { EventQueue } from "../sim/events.js";
import type { TaskGraph } from "./graph.js";
import type { PolicyName } from "./priority.js";
import { Scheduler } from "./scheduler.js";

export interface Forecast {
  /** Expected finish time of the whole build, on the caller's clock. */
  readonly finish: number;
  /** Expected remaining seconds from `now`. */
  readonly remaining: number;
  /** Tasks that cannot run with the current hosts (none alive, or all draining). */
  readonly stranded: number;
  /** No history: the durations are guesses from what finished so far. */
  readonly estimate: boolean;
}

/** What a forecast needs of a scheduler at one instant. */
export interface EtaInput {
  readonly policy: PolicyName;
  readonly now: number;
  /** Expected seconds at speed 1.0 per task. */
  readonly est: Float64Array;
  /** 1 for a settled task (done, failed or indirectly failed). */
  readonly settled: Uint8Array;
  /** The live hosts. */
  readonly hosts: readonly {
    readonly name: HostName;
    readonly slots: number;
    readonly speed: number;
    readonly draining: boolean;
  }[];
  /**
   * No task's duration came from history: the mean of what finished so far
   * (null before the first) stands in for every task the model knows less
   * about, as a first build's ETA from a cold model is far too low.
   */
  readonly cold: { readonly meanSeconds: number | null } | null;
  /** Held tasks (distfiles still to fetch), with when each is expected to be let go. */
  readonly releases?: readonly { readonly task: number; readonly at: number }[];
  /** Running copies, with when each is expected to end. */
  readonly running: readonly {
    readonly task: number;
    readonly host: HostName;
    readonly start: number;
    readonly end: number;
  }[];
}

/**
 * Snapshots a scheduler for forecast(); `releaseAt` says when a held task is
 * expected to be let go (now when omitted).
 */
export function etaInput(
  s: Scheduler,
  now: number,
  releaseAt?: (task: number) => number,
): EtaInput {
  const n = s.graph.names.length;
  const settled = new Uint8Array(n);
  for (let t = 0; t < n; t++) {
    const st = s.taskState(t);
    if (st === "done" || st === "failed" || st === "indirect-failed") settled[t] = 1;
  }
  const releases: { task: number; at: number }[] = [];
  if (s.heldCount > 0)
    for (let t = 0; t < n; t++)
      if (settled[t] === 0 && s.isHeld(t))
        releases.push({ task: t, at: Math.max(now, releaseAt?.(t) ?? now) });
  return {
    policy: s.options.policy,
    now,
    est: s.estimates(),
    settled,
    cold: s.hasHistory ? null : { meanSeconds: s.observedMean() },
    hosts: s
      .hostList()
      .filter((h) => h.alive)
      .map((h) => ({ name: h.name, slots: h.slots, speed: h.speed, draining: h.draining })),
    running: s.running().map((r) => ({ ...r, end: s.expectedEndOf(r.task, now) ?? now })),
    ...(releases.length > 0 ? { releases } : {}),
  };
}

/** Plays the snapshot forward with expected durations and returns the expected finish. */
export function forecast(graph: TaskGraph, input: EtaInput): Forecast {
  const { hosts, now } = input;
  // Cold: no task is expected to take less than the mean of those finished so far.
  const mean = input.cold?.meanSeconds ?? null;
  const est = mean === null ? input.est : input.est.map((e) => Math.max(e, mean));
  const copy = new Scheduler(graph, {
    policy: input.policy,
    durations: Array.from(est),
    done: Array.from(input.settled, (x) => x === 1),
    learn: false,
    ...(input.releases === undefined ? {} : { held: heldOf(graph, input.releases) }),
  });
  const hostIdx = new Map(hosts.map((h, i) => [h.name, i]));
  for (const h of hosts) {
    copy.addHost(h.name, { slots: h.slots, speed: h.speed }, now);
    if (h.draining) copy.drainHost(h.name, now);
  }
  const queue = new EventQueue();
  // A release is an event of its own: host -1.
  for (const r of input.releases ?? []) queue.push(r.at, r.task, -1, 0);
  const settle = (ev: { task: number; host: number }, t: number): void => {
    if (ev.host < 0) copy.release(ev.task);
    else copy.onTaskFinished(ev.task, hosts[ev.host]!.name, t, true);
  };
  for (const r of input.running) {
    if (!copy.markRunning(r.task, r.host, r.start)) continue;
    const speed = hosts[hostIdx.get(r.host) ?? 0]?.speed ?? 1;
    const end = mean === null ? r.end : Math.max(r.end, r.start + mean / speed, now);
    queue.push(end, r.task, hostIdx.get(r.host) ?? 0, 0);
  }
  let t = now;
  let finish = now;
  for (;;) {
    for (const a of copy.nextAssignments(t).start) {
      const h = hosts[hostIdx.get(a.host) ?? 0]!;
      queue.push(t + est[a.task]! / h.speed, a.task, hostIdx.get(a.host) ?? 0, 0);
    }
    const ev = queue.pop();
    if (ev === undefined) break;
    t = ev.time;
    finish = Math.max(finish, t);
    settle(ev, t);
    while (queue.peekTime() <= t) settle(queue.pop()!, t);
  }
  return {
    finish,
    remaining: finish - now,
    stranded: copy.remaining,
    estimate: input.cold !== null,
  };
}

function heldOf(graph: TaskGraph, releases: EtaInput["releases"]): boolean[] {
  const held = new Array<boolean>(graph.names.length).fill(false);
  for (const r of releases ?? []) held[r.task] = true;
  return held;
}

/** The forecast from a scheduler's current state, computed here and now. */
export function estimateFinish(s: Scheduler, now: number): Forecast {
  return forecast(s.graph, etaInput(s, now));
}
