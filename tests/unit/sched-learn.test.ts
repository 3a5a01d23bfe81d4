import assert from "node:assert/strict";
import { test } from "node:test";
import { hostName } from "../../src/core/hostspec.js";
import { estimateFinish } from "../../src/core/sched/eta.js";
import { Scheduler } from "../../src/core/sched/scheduler.js";
import { graphOf, run, schedule } from "./sched-helpers.js";

const fast = hostName("fast");
const slow = hostName("slow");

test("an idle host of unknown speed builds a copy of a small running task to measure itself", () => {
  const g = graphOf({ a: 1, b: 1 }, ["a -> b"]);
  const s = new Scheduler(g.graph, { policy: "herd" });
  s.addHost(fast, { slots: 1 }, 0);
  s.addHost(slow, { slots: 1 }, 0);
  assert.deepEqual(
    s.nextAssignments(0).start.map((a) => `${g.graph.names[a.task]}@${a.host}`),
    ["a@fast", "a@slow"],
  );
  // The fast copy counts; the slow one runs on as a measurement while the slow host has nothing better to do.
  const fin = s.onTaskFinished(0, fast, 1, true);
  assert.deepEqual(fin, { indirectlyFailed: [], stop: [], first: true });
  assert.deepEqual(
    s.nextAssignments(1).start.map((a) => `${g.graph.names[a.task]}@${a.host}`),
    ["b@fast"],
    "the slow host waits for its measurement",
  );
  // Three seconds into a package that took one elsewhere: the slow host is at most a third as fast.
  s.nextAssignments(3);
  assert.ok(s.hostSpeed(slow) <= 1 / 3 + 1e-9, `speed ${s.hostSpeed(slow)}`);
  assert.equal(s.hostSpeed(fast), 1);
  assert.equal(
    s.onTaskFinished(0, slow, 4, true).first,
    false,
    "the measurement arrives as a redundant copy",
  );
});

test("a package stuck on a slow host gets a copy on a fast host that frees up, and the first copy wins", () => {
  const g = graphOf({ long: 400, k: 1 });
  const s = new Scheduler(g.graph, { policy: "herd", durations: [undefined, 1] });
  s.addHost(fast, { slots: 1, speed: 1 }, 0);
  s.addHost(slow, { slots: 1, speed: 0.25 }, 0);
  assert.ok(s.markRunning(0, slow, 0));
  assert.ok(s.markRunning(1, fast, 0));
  s.onTaskFinished(1, fast, 1, true);
  // At t=100 long has done 25 s of work, more than expected: as long again is likely, 100 s more on the
  // slow host against 50 s from scratch on the fast one.
  const d = s.nextAssignments(100);
  assert.deepEqual(
    d.start.map((a) => `${g.graph.names[a.task]}@${a.host}`),
    ["long@fast"],
  );
  assert.deepEqual(
    s.running().map((r) => `${r.host}@${r.start}`),
    ["slow@0", "fast@100"],
  );
  assert.equal(s.onTaskFinished(0, fast, 500, true).first, true);
  assert.equal(s.isFinished(), true);
  assert.equal(s.onTaskFinished(0, slow, 1600, true).first, false);
});

test("simulated: no copies when the estimates hold", () => {
  const g = graphOf({ a: 3, b: 3, c: 3, d: 3 }, ["a -> c", "b -> d"]);
  const r = run(g, "1x1.0,1x0.25", "herd");
  assert.ok(r.runs.every((x) => x.outcome === "ok"));
  assert.equal(new Set(r.runs.map((x) => x.task)).size, r.runs.length);
});

test("cold start: speeds are learned from same-package pairs", () => {
  const tasks: Record<string, number> = {};
  const edges: string[] = [];
  for (let i = 0; i < 12; i++) {
    tasks[`t${i}`] = 10;
    if (i > 0) edges.push(`t${i - 1} -> t${i}`);
  }
  const g = graphOf(tasks, edges);
  const r = run(g, "1x1.0,1x0.25", "herd", { cold: true });
  // One pair pins the ratio; the ridge towards "as fast as the others" leaves it a little high.
  assert.ok(Math.abs(r.assumedSpeeds[1]! - 0.25) < 0.05, `learned ${r.assumedSpeeds[1]}`);
  assert.equal(r.assumedSpeeds[0], 1);
  // The chain runs on the fast host; the slow host only measured itself on the first packages.
  assert.ok(r.makespan <= 12 * 10 + 1, `makespan ${r.makespan}`);
  assert.deepEqual(schedule(g, r).slice(0, 2), ["t0@h1 0-10", "t0@h2 0-40 redundant"]);
});

test("observe and setHostSpeed feed figures known from elsewhere", () => {
  const g = graphOf({ a: 1 });
  const s = new Scheduler(g.graph, { policy: "herd" });
  s.addHost(slow, { slots: 1 }, 0);
  assert.equal(s.hostSpeed(slow), 1);
  s.setHostSpeed(slow, 0.5);
  assert.equal(s.hostSpeed(slow), 0.5);
  s.observe(0, slow, 10);
  assert.equal(s.expectedSeconds(0), 1, "one observation is not a model yet");
});

test("ETA: the same model played forward from the current state", () => {
  const g = graphOf({ a: 2, b: 3, c: 4 }, ["a -> b"]);
  const s = new Scheduler(g.graph, { policy: "herd", durations: g.seconds });
  s.addHost(fast, { slots: 1, speed: 1 }, 0);
  s.addHost(slow, { slots: 1, speed: 0.5 }, 0);
  // c would end at 8 on the slow host, at 6 after a on the fast one: it waits.
  assert.deepEqual(
    s.nextAssignments(0).start.map((a) => `${g.graph.names[a.task]}@${a.host}`),
    ["a@fast"],
  );
  // Then c on the fast host (2-6) and b on the slow one (2-8).
  assert.deepEqual(estimateFinish(s, 0), { finish: 8, remaining: 8, stranded: 0, estimate: false });
  assert.equal(estimateFinish(s, 1).finish, 8);
  // At 3 a has overrun its 2 s: it is assumed to need a tenth of its elapsed time more (until 3.3).
  assert.ok(Math.abs(estimateFinish(s, 3).finish - 9.3) < 1e-9);
  s.onTaskFinished(0, fast, 3, true);
  assert.deepEqual(estimateFinish(s, 3), { finish: 9, remaining: 6, stranded: 0, estimate: false });
  assert.equal(s.taskState(1), "ready", "the forecast does not touch the scheduler");
});

test("deferRefit: finishing tasks leaves the estimates alone until maintain() refits them", () => {
  const names: Record<string, number> = {};
  for (let i = 0; i < 12; i++) names[`p${i}`] = 1;
  const g = graphOf(names);
  const now = new Scheduler(g.graph, { policy: "herd" });
  const later = new Scheduler(g.graph, { policy: "herd", deferRefit: true });
  for (const s of [now, later]) s.addHost(fast, { slots: 12, speed: 1 }, 0);
  const started = now.nextAssignments(0).start.map((a) => a.task);
  assert.deepEqual(
    later.nextAssignments(0).start.map((a) => a.task),
    started,
  );
  const before = later.estimates();
  // Six finished tasks are enough for a first fit; they took 5 to 10 s, not the prior's guess.
  for (const [i, t] of started.slice(0, 6).entries())
    for (const s of [now, later]) s.onTaskFinished(t, fast, 5 + i, true);
  assert.deepEqual(later.estimates(), before, "nothing refitted yet");
  assert.notDeepEqual(now.estimates(), before, "the default refits inside onTaskFinished");
  assert.equal(later.maintain(), true);
  assert.deepEqual(later.estimates(), now.estimates());
  assert.equal(later.maintain(), false, "nothing new to fit");
});

test("ETA of a first build (no history): no task is expected to take less than the mean of those finished", () => {
  // A chain a -> b -> c -> d, every task really 10 s; the cold model knows nothing.
  const g = graphOf({ a: 10, b: 10, c: 10, d: 10 }, ["a -> b", "b -> c", "c -> d"]);
  const s = new Scheduler(g.graph, { policy: "herd" });
  s.addHost(fast, { slots: 1, speed: 1 }, 0);
  s.nextAssignments(0);
  const before = estimateFinish(s, 0);
  assert.equal(before.estimate, true, "said to be an estimate");
  s.onTaskFinished(0, fast, 10, true);
  s.nextAssignments(10);
  // b runs since 10; b, c and d are each expected to take at least a's 10 s: done at 40.
  const f = estimateFinish(s, 12);
  assert.equal(f.estimate, true);
  assert.ok(Math.abs(f.finish - 40) < 1e-9, `finish ${f.finish}`);
  // With history, the same state forecasts from the recorded durations alone.
  const h = new Scheduler(g.graph, { policy: "herd", durations: [1, 1, 1, 1] });
  h.addHost(fast, { slots: 1, speed: 1 }, 0);
  h.nextAssignments(0);
  h.onTaskFinished(0, fast, 10, true);
  h.nextAssignments(10);
  const w = estimateFinish(h, 12);
  assert.equal(w.estimate, false);
  assert.ok(w.finish < 20, `history's 1 s per task: ${w.finish}`);
});
