import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { HostSpec } from "../../src/core/hostspec.js";
import { hostName } from "../../src/core/hostspec.js";
import { buildTaskGraph } from "../../src/core/sched/graph.js";
import { POLICY_NAMES } from "../../src/core/sched/priority.js";
import { lowerBound, tasksThatRun } from "../../src/core/sim/bounds.js";
import { jitterDurations } from "../../src/core/sim/jitter.js";
import { runScenario } from "../../src/core/sim/scenario.js";
import { simulate } from "../../src/core/sim/simulate.js";
import { graphOf, hostsOf } from "./sched-helpers.js";

test("lower bound: the longer of the critical path at the fastest speed and work over capacity", () => {
  const g = graphOf({ a: 6, b: 4, c: 8 }, ["a -> b"]);
  const all = tasksThatRun(g.graph, undefined, undefined);
  const one = lowerBound(g.graph, g.seconds, all, hostsOf("1"));
  assert.deepEqual([one.seconds, one.criticalPath, one.totalWork, one.capacity], [18, 10, 18, 1]);
  const mixed = lowerBound(g.graph, g.seconds, all, hostsOf("1x1.0,2x0.25"));
  assert.equal(mixed.capacity, 1.5);
  assert.equal(mixed.seconds, 12);
  assert.equal(lowerBound(g.graph, g.seconds, all, hostsOf("8")).seconds, 10);
  // Work below a failing package never runs; work already done costs nothing.
  const runs = tasksThatRun(g.graph, [false, false, true], [true, false, false]);
  assert.deepEqual(Array.from(runs), [1, 0, 0]);
});

test("jitter is deterministic per seed and stays within ±percent", () => {
  const base = [100, 100, 100, 100];
  const a = jitterDurations(base, 30, 7);
  assert.deepEqual(Array.from(a), Array.from(jitterDurations(base, 30, 7)));
  assert.notDeepEqual(Array.from(a), Array.from(jitterDurations(base, 30, 8)));
  for (const x of a) assert.ok(x >= 70 && x <= 130);
  assert.deepEqual(Array.from(jitterDurations(base, 0, 7)), base);
});

test("a recorded build: packages without history count as built, or are estimated", () => {
  const g = graphOf({ a: 1, b: 1, c: 1 }, ["a -> b", "b -> c"]);
  const history = new Map([
    ["a", { seconds: 10, ok: true, pkgpath: "devel/a" }],
    ["c", { seconds: 30, ok: true, pkgpath: "devel/c" }],
  ]);
  const built = runScenario({ graph: g.graph, history }, { hosts: hostsOf("2"), policy: "herd" });
  assert.equal(built.missingHistory, 1);
  assert.equal(built.packages, 2);
  assert.equal(built.result.makespan, 30, "c need not wait for a: b is built already");
  const estimated = runScenario(
    { graph: g.graph, history },
    { hosts: hostsOf("2"), policy: "herd", estimateMissing: true },
  );
  assert.equal(estimated.packages, 3);
  assert.equal(
    estimated.result.makespan,
    10 + 30 + 30,
    "b takes the median of the known durations",
  );
  assert.equal(estimated.ratio, 1);
});

const dag = fc.integer({ min: 1, max: 18 }).chain((n) =>
  fc.record({
    seconds: fc.array(fc.integer({ min: 0, max: 50 }), { minLength: n, maxLength: n }),
    edges: fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: 3 * n }),
    fails: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
  }),
);
const hostSets = fc.array(
  fc.record({ speed: fc.constantFrom(1, 0.5, 0.25), slots: fc.integer({ min: 1, max: 2 }) }),
  { minLength: 1, maxLength: 4 },
);

test("every policy, warm or cold: dependencies respected, each package built once, never below the lower bound", () => {
  fc.assert(
    fc.property(
      dag,
      hostSets,
      fc.constantFrom(...POLICY_NAMES),
      fc.boolean(),
      fc.boolean(),
      (d, hs, policy, cold, withFails) => {
        const n = d.seconds.length;
        // Edges always point from a lower to a higher index: a DAG.
        const deps: number[][] = Array.from({ length: n }, () => []);
        for (const [x, y] of d.edges) if (x !== y) deps[Math.max(x, y)]!.push(Math.min(x, y));
        const built = buildTaskGraph(
          d.seconds.map((_, i) => `p${i}`),
          deps,
        );
        assert.ok(built.ok);
        const graph = built.graph;
        const hosts: HostSpec[] = hs.map((h, i) => ({
          name: hostName(`h${i + 1}`),
          speed: h.speed,
          slots: h.slots,
        }));
        const fails = withFails ? d.fails : undefined;
        const r = simulate({
          graph,
          hosts,
          policy,
          actual: d.seconds,
          fails,
          shown: cold ? undefined : d.seconds,
          speedsKnown: !cold,
        });
        const runs = tasksThatRun(graph, undefined, fails);
        const lb = lowerBound(graph, d.seconds, runs, hosts);
        assert.ok(r.makespan >= lb.seconds - 1e-6, `makespan ${r.makespan} < bound ${lb.seconds}`);
        const end = new Map<number, number>();
        for (const x of r.runs) {
          if (x.outcome !== "ok" && x.outcome !== "failed") continue;
          assert.ok(!end.has(x.task), "built twice");
          end.set(x.task, x.end);
        }
        for (let t = 0; t < n; t++) {
          assert.equal(end.has(t), runs[t] === 1, `p${t} built iff it can be`);
          const first = r.runs
            .filter((x) => x.task === t)
            .reduce((m, x) => Math.min(m, x.start), Infinity);
          for (const dep of graph.deps[t]!)
            if (end.has(t))
              assert.ok(first >= end.get(dep)! - 1e-9, "started before a dependency ended");
        }
        // No slot ever runs two things at once.
        const bySlot = new Map<string, [number, number][]>();
        for (const x of r.runs) {
          const k = `${x.host}/${x.slot}`;
          bySlot.set(k, [...(bySlot.get(k) ?? []), [x.start, x.end]]);
        }
        for (const spans of bySlot.values()) {
          spans.sort((a, b) => a[0] - b[0]);
          for (let i = 1; i < spans.length; i++)
            assert.ok(spans[i]![0] >= spans[i - 1]![1] - 1e-9, "slot overlap");
        }
        assert.equal(r.unfinished, 0);
      },
    ),
    { numRuns: 300 },
  );
});
