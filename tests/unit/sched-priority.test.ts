import assert from "node:assert/strict";
import { test } from "node:test";
import { bottomLevels } from "../../src/core/sched/graph.js";
import {
  POLICY_NAMES,
  isPolicyName,
  policyTraits,
  weightedDependentSums,
} from "../../src/core/sched/priority.js";
import { Scheduler } from "../../src/core/sched/scheduler.js";
import { hostName } from "../../src/core/hostspec.js";
import { graphOf, run, schedule } from "./sched-helpers.js";

// Three fillers and a short task in front of a long one, on two equal hosts.
const G = graphOf({ s1: 1, s2: 1, s3: 1, a: 1, b: 10 }, ["a -> b"]);

test("critical path first: the chain starts at once and the fillers fit beside it", () => {
  const r = run(G, "2", "critical-path");
  assert.deepEqual(schedule(G, r), [
    "a@h1 0-1",
    "s1@h2 0-1",
    "b@h1 1-11",
    "s2@h2 1-2",
    "s3@h2 2-3",
  ]);
  assert.equal(r.makespan, 11);
  assert.deepEqual(
    schedule(G, run(G, "2", "herd")),
    schedule(G, r),
    "on equal hosts herd orders the same way",
  );
});

test("fifo starts the fillers first and finishes a step later", () => {
  const r = run(G, "2", "fifo");
  assert.deepEqual(schedule(G, r), [
    "s1@h1 0-1",
    "s2@h2 0-1",
    "s3@h1 1-2",
    "a@h2 1-2",
    "b@h1 2-12",
  ]);
  assert.equal(r.makespan, 12);
});

test("dependents and pbulk-weight order by what hangs below a package", () => {
  // x has two dependents, y one; both take as long.
  const g = graphOf({ y: 1, x: 1, x1: 1, x2: 1, y1: 1 }, ["x -> x1", "x -> x2", "y -> y1"]);
  for (const policy of ["dependents", "pbulk-weight"] as const) {
    assert.deepEqual(
      schedule(g, run(g, "1", policy)).slice(0, 2),
      ["x@h1 0-1", "y@h1 1-2"],
      policy,
    );
  }
  assert.deepEqual(
    Array.from(weightedDependentSums(g.graph, [100, 100, 100, 100, 100])),
    [200, 300, 100, 100, 100],
  );
});

test("priority is the longest remaining path: own time plus the costliest chain below", () => {
  const g = graphOf({ a: 2, b: 3, c: 1, d: 5 }, ["a -> b", "a -> c", "c -> d"]);
  assert.deepEqual(Array.from(bottomLevels(g.graph, g.seconds)), [8, 3, 6, 5]);
});

test("without history the fallback is PBULK_WEIGHT, then a longest chain of packages", () => {
  const g = graphOf({ light: 1, heavy: 1, tail1: 1, tail2: 1 }, [
    "light -> tail1",
    "tail1 -> tail2",
  ]);
  const chain = new Scheduler(g.graph, { policy: "critical-path" });
  chain.addHost(hostName("h1"), { slots: 1 }, 0);
  assert.deepEqual(
    chain.nextAssignments(0).start.map((a) => g.graph.names[a.task]),
    ["light"],
  );
  const weighted = new Scheduler(g.graph, {
    policy: "critical-path",
    weights: [undefined, 5000, undefined, undefined],
  });
  weighted.addHost(hostName("h1"), { slots: 1 }, 0);
  assert.deepEqual(
    weighted.nextAssignments(0).start.map((a) => g.graph.names[a.task]),
    ["heavy"],
  );
});

test("policy names", () => {
  assert.deepEqual(
    [...POLICY_NAMES],
    ["herd", "critical-path", "dependents", "pbulk-weight", "fifo"],
  );
  assert.ok(isPolicyName("fifo") && !isPolicyName("random"));
  assert.equal(policyTraits("herd").placement, "earliest-finish");
  assert.equal(policyTraits("critical-path").placement, "first-free");
});
