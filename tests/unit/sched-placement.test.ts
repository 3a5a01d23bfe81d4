import assert from "node:assert/strict";
import { test } from "node:test";
import { hostName } from "../../src/core/hostspec.js";
import { Scheduler } from "../../src/core/sched/scheduler.js";
import { graphOf, run, schedule } from "./sched-helpers.js";

// p leads to a long package; q is independent. One fast host, one four times slower.
const G = graphOf({ p: 1, big: 8, q: 4 }, ["p -> big"]);

test("earliest finish: q waits for the fast host rather than crawl on the slow one", () => {
  const r = run(G, "1x1.0,1x0.25", "herd");
  assert.deepEqual(schedule(G, r), ["p@h1 0-1", "big@h1 1-9", "q@h1 9-13"]);
  assert.equal(r.makespan, 13);
});

test("first free host: the slow host takes q at once and ends last", () => {
  const r = run(G, "1x1.0,1x0.25", "critical-path");
  assert.deepEqual(schedule(G, r), ["p@h1 0-1", "q@h2 0-16", "big@h1 1-9"]);
  assert.equal(r.makespan, 16);
});

test("a task goes to the slow host when that finishes sooner than waiting", () => {
  const g = graphOf({ long: 10, short: 1 });
  assert.deepEqual(schedule(g, run(g, "1x1.0,1x0.25", "herd")), ["long@h1 0-10", "short@h2 0-4"]);
});

test("held tasks reserve the fast host in priority order", () => {
  // w would end at 8 on the slow host; after c (3s) it ends at 5 on the fast one, and after c2 still at 8.
  const g = graphOf({ w: 2, c: 3, c2: 3 }, ["c -> c2"]);
  const r = run(g, "1x1.0,1x0.25", "herd");
  assert.deepEqual(schedule(g, r), ["c@h1 0-3", "c2@h1 3-6", "w@h1 6-8"]);
  assert.equal(r.makespan, 8);
});

test("slots: a host with two slots runs two tasks at once", () => {
  const g = graphOf({ a: 2, b: 2, c: 2 });
  const r = run(g, "1x1.0:2", "herd");
  assert.deepEqual(
    r.runs.map((x) => [g.graph.names[x.task], x.slot, x.start]),
    [
      ["a", 0, 0],
      ["b", 1, 0],
      ["c", 0, 2],
    ],
  );
});

test("a held task is not started; the next decision reconsiders it", () => {
  const s = new Scheduler(G.graph, { policy: "herd", durations: G.seconds });
  s.addHost(hostName("fast"), { slots: 1, speed: 1 }, 0);
  s.addHost(hostName("slow"), { slots: 1, speed: 0.25 }, 0);
  const first = s.nextAssignments(0);
  assert.deepEqual(
    first.start.map((a) => [G.graph.names[a.task], a.host]),
    [["p", "fast"]],
  );
  assert.equal(s.taskState(2), "ready");
  assert.equal(s.nextAssignments(0.5).start.length, 0, "nothing changed: q still waits");
  s.onTaskFinished(0, hostName("fast"), 1, true);
  assert.deepEqual(
    s.nextAssignments(1).start.map((a) => [G.graph.names[a.task], a.host]),
    [["big", "fast"]],
  );
});

test("draining: a drained host gets no new task", () => {
  const g = graphOf({ a: 1, b: 1 });
  const s = new Scheduler(g.graph, { policy: "herd", durations: g.seconds });
  s.addHost(hostName("h1"), { slots: 1, speed: 1 }, 0);
  s.addHost(hostName("h2"), { slots: 1, speed: 1 }, 0);
  s.drainHost(hostName("h1"), 0);
  assert.deepEqual(
    s.nextAssignments(0).start.map((a) => a.host),
    ["h2"],
  );
});
