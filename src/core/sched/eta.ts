/**
 * The ETA of a running build: the scheduler's own model played forward on a
 * virtual clock from its current state (what is done, what runs where since
 * when, the hosts and their speeds), every task taking its expected time.
 */
import { EventQueue } from "../sim/events.js";
import { Scheduler } from "./scheduler.js";

export interface Forecast {
  /** Expected finish time of the whole build, on the caller's clock. */
  readonly finish: number;
  /** Expected remaining seconds from `now`. */
  readonly remaining: number;
  /** Tasks that cannot run with the current hosts (none alive, or all draining). */
  readonly stranded: number;
}

/** Plays the schedule forward from `now` with expected durations and returns the expected finish. */
export function estimateFinish(s: Scheduler, now: number): Forecast {
  const graph = s.graph;
  const n = graph.names.length;
  const est = s.estimates();
  const done: boolean[] = [];
  for (let t = 0; t < n; t++) {
    const st = s.taskState(t);
    done.push(st === "done" || st === "failed" || st === "indirect-failed");
  }
  const copy = new Scheduler(graph, {
    policy: s.options.policy,
    durations: Array.from(est),
    done,
    learn: false,
  });
  const hosts = s.hostList().filter((h) => h.alive);
  const hostIdx = new Map(hosts.map((h, i) => [h.name, i]));
  for (const h of hosts) {
    copy.addHost(h.name, { slots: h.slots, speed: h.speed }, now);
    if (h.draining) copy.drainHost(h.name, now);
  }
  const queue = new EventQueue();
  for (const r of s.running()) {
    if (!copy.markRunning(r.task, r.host, r.start)) continue;
    queue.push(s.expectedEndOf(r.task, now) ?? now, r.task, hostIdx.get(r.host) ?? 0, 0);
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
    copy.onTaskFinished(ev.task, hosts[ev.host]!.name, t, true);
    while (queue.peekTime() <= t) {
      const e = queue.pop()!;
      copy.onTaskFinished(e.task, hosts[e.host]!.name, t, true);
    }
  }
  return { finish, remaining: finish - now, stranded: copy.remaining };
}
