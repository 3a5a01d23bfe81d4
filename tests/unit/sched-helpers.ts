/** Small graphs and exact schedules for the scheduler tests. */
import assert from "node:assert/strict";
import type { HostView } from "../../src/core/sched/placement.js";
import { parseHostSpec, type HostSpec } from "../../src/core/hostspec.js";
import { buildTaskGraph, type TaskGraph } from "../../src/core/sched/graph.js";
import type { PolicyName } from "../../src/core/sched/priority.js";
import { simulate, type HostEvent, type SimulationResult } from "../../src/core/sim/simulate.js";

/** A graph from task names (with durations) and "dep -> dependent" edges. */
export function graphOf(
  tasks: Record<string, number>,
  edges: readonly string[] = [],
): { graph: TaskGraph; seconds: number[] } {
  const names = Object.keys(tasks);
  const deps: number[][] = names.map(() => []);
  for (const e of edges) {
    const [a, b] = e.split(" -> ");
    deps[names.indexOf(b!)]!.push(names.indexOf(a!));
  }
  const built = buildTaskGraph(names, deps);
  assert.ok(built.ok);
  return { graph: built.graph, seconds: names.map((n) => tasks[n]!) };
}

export function hostsOf(spec: string): readonly HostSpec[] {
  const r = parseHostSpec(spec);
  assert.ok(r.ok);
  return r.hosts;
}

export interface SimOptions {
  readonly fails?: readonly string[];
  readonly hostEvents?: readonly HostEvent[];
  readonly cold?: boolean;
}

/** Simulates with the durations shown to the scheduler (unless cold). */
export function run(
  g: { graph: TaskGraph; seconds: number[] },
  spec: string,
  policy: PolicyName,
  opts: SimOptions = {},
): SimulationResult {
  const fails = g.graph.names.map((n) => opts.fails?.includes(n) === true);
  return simulate({
    graph: g.graph,
    hosts: hostsOf(spec),
    policy,
    actual: g.seconds,
    fails,
    shown: opts.cold === true ? undefined : g.seconds,
    speedsKnown: opts.cold !== true,
    hostEvents: opts.hostEvents,
  });
}

/** The runs as "name@host start-end outcome", in start order. */
export function schedule(g: { graph: TaskGraph }, r: SimulationResult): string[] {
  return r.runs.map(
    (x) =>
      `${g.graph.names[x.task]}@${x.host} ${x.start}-${x.end}${x.outcome === "ok" ? "" : " " + x.outcome}`,
  );
}

/** Random host views (up to maxHosts, ties, several slots, redundant ones) and tasks for placement tests. */
export function randomPlacementCase(
  rand: () => number,
  maxHosts: number,
): {
  hosts: HostView[];
  work: number[];
  stays: Set<number>;
  now: number;
} {
  const now = 100;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const speeds = rand() < 0.5 ? [1] : [0.25, 0.5, 1, 1, 2, 1.7];
  const n = 1 + Math.floor(rand() * maxHosts);
  const hosts: HostView[] = [];
  for (let h = 0; h < n; h++) {
    const slots = pick([1, 1, 1, 2, 3]);
    const busy = Math.floor(rand() * (slots + 1));
    const redundant = Math.floor(rand() * (slots - busy + 1) * (rand() < 0.3 ? 1 : 0));
    const avail: number[] = [];
    for (let s = 0; s < busy; s++) avail.push(now + pick([0.5, 1, 2, 3, rand() * 10]));
    for (let s = busy; s < slots; s++) avail.push(rand() < 0.1 ? now - 1 : now);
    hosts.push({
      speed: rand() < 0.8 ? pick(speeds) : 0.2 + rand() * 2,
      avail,
      redundantFrom: slots - redundant,
      idleSince: rand() * now,
    });
  }
  const tasks = 1 + Math.floor(rand() * 60);
  const work = Array.from({ length: tasks }, () => pick([0, 0.5, 1, 1, 2, 4, rand() * 20]));
  const stays = new Set<number>();
  for (let t = 0; t < tasks; t++) if (rand() < 0.05) stays.add(t);
  return { hosts, work, stays, now };
}
