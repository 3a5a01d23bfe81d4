import assert from "node:assert/strict";
import { test } from "node:test";
import { hostName } from "../../src/core/hostspec.js";
import { Scheduler } from "../../src/core/sched/scheduler.js";
import { graphOf, run, schedule } from "./sched-helpers.js";

// a -> b -> c, a -> d; e stands alone.
const G = graphOf({ a: 1, b: 1, c: 1, d: 1, e: 1 }, ["a -> b", "b -> c", "a -> d"]);

test("a failure fails every transitive dependent and the build goes on", () => {
  const r = run(G, "1", "herd", { fails: ["a"] });
  assert.deepEqual(schedule(G, r), ["a@h1 0-1 failed", "e@h1 1-2"]);
  assert.deepEqual(
    r.indirectlyFailed.map((t) => G.graph.names[t]),
    ["b", "c", "d"],
  );
  assert.equal(r.makespan, 2);
  assert.equal(r.unfinished, 0);
});

test("a failure deeper down spares the rest", () => {
  const r = run(G, "2", "critical-path", { fails: ["b"] });
  assert.deepEqual(schedule(G, r), ["a@h1 0-1", "e@h2 0-1", "b@h1 1-2 failed", "d@h2 1-2"]);
  assert.deepEqual(
    r.indirectlyFailed.map((t) => G.graph.names[t]),
    ["c"],
  );
});

test("task states through success and failure", () => {
  const s = new Scheduler(G.graph, { policy: "herd", durations: G.seconds });
  s.addHost(hostName("h1"), { slots: 1, speed: 1 }, 0);
  assert.deepEqual(
    G.graph.names.map((_, t) => s.taskState(t)),
    ["ready", "waiting", "waiting", "waiting", "ready"],
  );
  const { start } = s.nextAssignments(0);
  assert.deepEqual(
    start.map((a) => a.task),
    [0],
  );
  assert.equal(s.taskState(0), "running");
  const fin = s.onTaskFinished(0, hostName("h1"), 1, false);
  assert.deepEqual(fin, { indirectlyFailed: [1, 2, 3], stop: [], first: true });
  assert.deepEqual(
    G.graph.names.map((_, t) => s.taskState(t)),
    ["failed", "indirect-failed", "indirect-failed", "indirect-failed", "ready"],
  );
  assert.equal(s.remaining, 1);
  assert.deepEqual(
    s.onTaskFinished(0, hostName("h1"), 1, true).first,
    false,
    "a second report is ignored",
  );
});

test("packages built already are not scheduled, and their dependents are ready", () => {
  const s = new Scheduler(G.graph, {
    policy: "herd",
    durations: G.seconds,
    done: [true, false, false, false, true],
  });
  s.addHost(hostName("h1"), { slots: 2, speed: 1 }, 0);
  assert.deepEqual(
    s.nextAssignments(0).start.map((a) => G.graph.names[a.task]),
    ["b", "d"],
  );
});

test("an operator's retry revives a failed task and the dependents only it held back", () => {
  // a -> b -> c, a -> d, x -> d: d also fails because of x, so it stays failed.
  const g = graphOf({ a: 1, b: 1, c: 1, d: 1, x: 1 }, ["a -> b", "b -> c", "a -> d", "x -> d"]);
  const s = new Scheduler(g.graph, { policy: "herd", durations: g.seconds });
  s.addHost(hostName("h1"), { slots: 2, speed: 1 }, 0);
  const first = s.nextAssignments(0).start.map((a) => g.graph.names[a.task]);
  assert.deepEqual(first.sort(), ["a", "x"]);
  s.onTaskFinished(4, hostName("h1"), 1, false);
  s.onTaskFinished(0, hostName("h1"), 1, false);
  assert.ok(s.isFinished());
  assert.deepEqual(s.retry(1), [], "only a failed task can be retried");
  const revived = s.retry(0).map((t) => g.graph.names[t]);
  assert.deepEqual(revived, ["b", "c"]);
  assert.deepEqual(
    g.graph.names.map((_, t) => s.taskState(t)),
    ["ready", "waiting", "waiting", "indirect-failed", "failed"],
  );
  assert.equal(s.remaining, 3);
  assert.ok(!s.isFinished());
  assert.deepEqual(
    s.nextAssignments(2).start.map((a) => g.graph.names[a.task]),
    ["a"],
  );
  s.onTaskFinished(0, hostName("h1"), 3, true);
  assert.equal(s.taskState(1), "ready");
});
