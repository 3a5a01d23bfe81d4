/** Small graphs and exact schedules for the scheduler tests. */
import assert from "node:assert/strict";
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
