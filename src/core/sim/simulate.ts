/**
 * The simulator: runs the scheduler on a virtual clock. Tasks take their
 * real duration divided by the host's speed; the scheduler sees only what
 * it is shown (history durations, host speeds, or nothing in a cold start)
 * and the events a live build would give it.
 *
 * With `transfer`, a host whose spec has a link (`@1MB`) is sent, before
 * each task, the binary packages of the task's transitive dependencies it
 * does not hold, one transfer at a time over its link; it holds what it
 * built and what it was sent for the rest of the build (herd keeps them in
 * the host's cache/; a clean prefix reinstalls them from there, and that
 * install time is part of the recorded durations already). A host with a
 * join time (`+2h`) connects then and syncs the tree over its link first.
 */
import type { HostName, HostSpec } from "../hostspec.js";
import type { TaskGraph } from "../sched/graph.js";
import type { PolicyName } from "../sched/priority.js";
import { Scheduler } from "../sched/scheduler.js";
import { StartCosts } from "../sched/startcost.js";
import { EventQueue } from "./events.js";

export interface HostEvent {
  readonly at: number;
  readonly host: HostName;
  /** lost: the host disappears (its tasks go back to the queue); back: it returns. */
  readonly kind: "lost" | "back";
}

export interface SimulationInput {
  readonly graph: TaskGraph;
  readonly hosts: readonly HostSpec[];
  readonly policy: PolicyName;
  /** Real seconds per task at speed 1.0: what the virtual clock charges. */
  readonly actual: ArrayLike<number>;
  /** Tasks whose build fails (their dependents become indirectly failed). */
  readonly fails?: ArrayLike<boolean> | undefined;
  /** Tasks already built at the start (e.g. no history row). */
  readonly done?: ArrayLike<boolean> | undefined;
  /** Durations the scheduler is told (history); omitted for a cold start. */
  readonly shown?: readonly (number | undefined)[] | undefined;
  /** PBULK_WEIGHT per task, when the scan has it. */
  readonly weights?: readonly (number | undefined)[] | undefined;
  /** Category per task (from PKG_LOCATION), when known: scan facts, shown even in a cold start. */
  readonly categories?: readonly (string | undefined)[] | undefined;
  /** Whether the scheduler is told the host speeds (false in a cold start). */
  readonly speedsKnown: boolean;
  readonly hostEvents?: readonly HostEvent[] | undefined;
  readonly transfer?: SimTransfer | undefined;
}

/** Bytes of a pkgsrc tree copy that a late host syncs (the 2013 tree herd ships is 240 MB). */
export const DEFAULT_TREE_BYTES = 240e6;

export interface SimTransfer {
  /** Bytes of each task's binary package. */
  readonly bytes: ArrayLike<number>;
  /** Bytes a late-joining host syncs before its first task (default DEFAULT_TREE_BYTES). */
  readonly treeBytes?: number | undefined;
  /**
   * Whether the scheduler is told the links, the package sizes and when a
   * late host's sync ends (transfer-aware placement); else it sees a host
   * only once synced, and counts work / speed alone.
   */
  readonly aware: boolean;
}

export interface Run {
  readonly task: number;
  readonly host: HostName;
  /** Slot of the host, 0-based: one Gantt row per host slot. */
  readonly slot: number;
  readonly start: number;
  readonly end: number;
  /**
   * lost: cut short by a lost host; redundant: a copy that ended after
   * another copy of the same package; cancelled: such a copy stopped early.
   */
  readonly outcome: "ok" | "failed" | "lost" | "redundant" | "cancelled";
}

type MutableRun = { -readonly [K in keyof Run]: Run[K] };

export interface SimulationResult {
  readonly makespan: number;
  /** Every task run in start order, including runs cut short by a lost host. */
  readonly runs: readonly Run[];
  /** Busy seconds per host (all slots together), in host order. */
  readonly busy: readonly number[];
  readonly indirectlyFailed: readonly number[];
  /** Tasks neither built nor failed at the end (no host could take them). */
  readonly unfinished: number;
  /** The speed the scheduler assumed for each host at the end (learned in a cold start). */
  readonly assumedSpeeds: readonly number[];
  /** Bytes sent to the hosts as dependency packages (tree syncs not counted). */
  readonly sentBytes: number;
  /** Seconds runs spent waiting for their dependencies to cross a link, summed. */
  readonly transferSeconds: number;
}

interface Slots {
  readonly spec: HostSpec;
  readonly used: boolean[];
}

/** Runs one simulated build to the end and returns every run and the makespan. */
export function simulate(input: SimulationInput): SimulationResult {
  const { graph, hosts } = input;
  const tr = input.transfer;
  const linked = tr !== undefined && hosts.some((h) => h.link !== undefined);
  const aware = linked && tr.aware;
  const sched = new Scheduler(graph, {
    policy: input.policy,
    durations: input.shown,
    weights: input.weights,
    categories: input.categories,
    done: input.done,
    ...(aware ? { transfer: { bytes: tr.bytes, defaultBytes: 0 } } : {}),
  });
  // What really happens on the links (the scheduler may know it, or not).
  const truth = linked ? new StartCosts(graph, { bytes: tr.bytes, defaultBytes: 0 }) : undefined;
  const treeBytes = tr?.treeBytes ?? DEFAULT_TREE_BYTES;
  const hostIdx = new Map<HostName, number>();
  // Late hosts: when each connects, and when its sync ends.
  const joins: { at: number; host: number; ready: boolean }[] = [];
  const optsOf = (spec: HostSpec, readyAt: number) => ({
    slots: spec.slots,
    speed: input.speedsKnown ? spec.speed : undefined,
    ...(aware ? { link: spec.link ?? Infinity, readyAt } : {}),
  });
  const slots: Slots[] = hosts.map((spec, i) => {
    hostIdx.set(spec.name, i);
    truth?.addHost();
    if (truth !== undefined) truth.host(i).link = spec.link ?? Infinity;
    if (spec.joinAt === undefined) sched.addHost(spec.name, optsOf(spec, 0), 0);
    else {
      const readyAt = spec.joinAt + (spec.link === undefined ? 0 : treeBytes / spec.link);
      if (truth !== undefined) truth.host(i).readyAt = readyAt;
      // A scheduler that counts transfers hears of the host when it connects; one that does not, once it is synced.
      joins.push({ at: aware ? spec.joinAt : readyAt, host: i, ready: false });
      if (aware) joins.push({ at: readyAt, host: i, ready: true });
    }
    return { spec, used: new Array<boolean>(spec.slots).fill(false) };
  });
  joins.sort((a, b) => a.at - b.at || a.host - b.host);
  let nextJoin = 0;
  let sentBytes = 0;
  let transferSeconds = 0;
  const active = new Map<number, number[]>();
  const runs: MutableRun[] = [];
  const isLive: boolean[] = [];
  const busy = new Array<number>(hosts.length).fill(0);
  const indirectlyFailed: number[] = [];
  const queue = new EventQueue();
  const hostEvents = [...(input.hostEvents ?? [])].sort((a, b) => a.at - b.at);
  let nextHostEvent = 0;
  let now = 0;
  let makespan = 0;

  const endRun = (id: number, end: number, outcome: Run["outcome"]): void => {
    const r = runs[id]!;
    r.end = end;
    r.outcome = outcome;
    isLive[id] = false;
    const h = hostIdx.get(r.host)!;
    slots[h]!.used[r.slot] = false;
    busy[h]! += end - r.start;
    if (outcome === "ok" || outcome === "failed") makespan = Math.max(makespan, end);
    const ids = active.get(r.task);
    const at = ids?.indexOf(id) ?? -1;
    if (ids !== undefined && at >= 0) ids.splice(at, 1);
    if (ids?.length === 0) active.delete(r.task);
  };
  const endOn = (task: number, host: HostName, end: number, outcome: Run["outcome"]): void => {
    const id = active.get(task)?.find((x) => runs[x]!.host === host);
    if (id !== undefined) endRun(id, end, outcome);
  };

  for (;;) {
    const decided = sched.nextAssignments(now);
    for (const a of decided.stop) endOn(a.task, a.host, now, "cancelled");
    for (const a of decided.start) {
      const h = hostIdx.get(a.host)!;
      const s = slots[h]!;
      const slot = s.used.indexOf(false);
      s.used[slot] = true;
      const id = runs.length;
      runs.push({ task: a.task, host: a.host, slot, start: now, end: now, outcome: "ok" });
      isLive.push(true);
      const ids = active.get(a.task);
      if (ids === undefined) active.set(a.task, [id]);
      else ids.push(id);
      let cost = 0;
      if (truth !== undefined) {
        sentBytes += truth.missing(a.task, h);
        cost = truth.start(a.task, h, now);
        transferSeconds += cost;
      }
      queue.push(now + cost + (input.actual[a.task] ?? 0) / s.spec.speed, a.task, h, id);
    }
    const tEvent = queue.peekTime();
    const tHost = hostEvents[nextHostEvent]?.at ?? Infinity;
    const tJoin = joins[nextJoin]?.at ?? Infinity;
    if (tEvent === Infinity && tHost === Infinity && tJoin === Infinity) break;
    now = Math.min(tEvent, tHost, tJoin);
    while (joins[nextJoin] !== undefined && joins[nextJoin]!.at <= now) {
      const j = joins[nextJoin++]!;
      // The sync's end only wakes the scheduler: it planned for it when the host connected.
      if (!j.ready) {
        const spec = hosts[j.host]!;
        sched.addHost(spec.name, optsOf(spec, truth?.host(j.host).readyAt ?? 0), now);
      }
    }
    while (hostEvents[nextHostEvent] !== undefined && hostEvents[nextHostEvent]!.at <= now) {
      const ev = hostEvents[nextHostEvent++]!;
      const spec = slots[hostIdx.get(ev.host) ?? -1]?.spec;
      if (spec === undefined) continue;
      if (ev.kind === "lost") {
        for (const [task, ids] of [...active]) {
          if (ids.some((id) => runs[id]!.host === ev.host)) endOn(task, ev.host, now, "lost");
        }
        sched.onHostLost(ev.host, now);
      } else {
        sched.addHost(
          ev.host,
          { slots: spec.slots, speed: input.speedsKnown ? spec.speed : undefined },
          now,
        );
      }
    }
    while (queue.peekTime() <= now) {
      const ev = queue.pop()!;
      if (isLive[ev.token] !== true) continue;
      const ok = input.fails?.[ev.task] !== true;
      const fin = sched.onTaskFinished(ev.task, hosts[ev.host]!.name, ev.time, ok);
      endRun(ev.token, ev.time, !fin.first ? "redundant" : ok ? "ok" : "failed");
      for (const a of fin.stop) endOn(a.task, a.host, ev.time, "cancelled");
      indirectlyFailed.push(...fin.indirectlyFailed);
    }
    if (sched.isFinished() && nextHostEvent >= hostEvents.length && nextJoin >= joins.length) break;
  }
  // Redundant copies still running when the last package is built are stopped then.
  for (let id = 0; id < runs.length; id++)
    if (isLive[id] === true) endRun(id, Math.max(makespan, runs[id]!.start), "cancelled");
  const assumedSpeeds = hosts.map((h) => sched.hostSpeed(h.name));
  return {
    makespan,
    runs,
    busy,
    indirectlyFailed,
    unfinished: sched.remaining,
    assumedSpeeds,
    sentBytes,
    transferSeconds,
  };
}
