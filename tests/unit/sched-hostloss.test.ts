import assert from "node:assert/strict";
import { test } from "node:test";
import { hostName } from "../../src/core/hostspec.js";
import { Scheduler } from "../../src/core/sched/scheduler.js";
import { graphOf, run, schedule } from "./sched-helpers.js";

const G = graphOf({ a: 10, b: 1 });

test("a host lost mid-task puts the task back; another host builds it from scratch", () => {
  const r = run(G, "2", "herd", { hostEvents: [{ at: 5, host: hostName("h1"), kind: "lost" }] });
  assert.deepEqual(schedule(G, r), ["a@h1 0-5 lost", "b@h2 0-1", "a@h2 5-15"]);
  assert.equal(r.makespan, 15);
});

test("a lost host that comes back takes work again", () => {
  const g = graphOf({ a: 4, b: 4, c: 4 });
  const r = run(g, "1", "fifo", {
    hostEvents: [
      { at: 2, host: hostName("h1"), kind: "lost" },
      { at: 3, host: hostName("h1"), kind: "back" },
    ],
  });
  assert.deepEqual(schedule(g, r), ["a@h1 0-2 lost", "a@h1 3-7", "b@h1 7-11", "c@h1 11-15"]);
});

test("with no host left the remaining tasks stay unfinished", () => {
  const r = run(G, "1", "herd", { hostEvents: [{ at: 1, host: hostName("h1"), kind: "lost" }] });
  assert.deepEqual(schedule(G, r), ["a@h1 0-1 lost"]);
  assert.equal(r.unfinished, 2);
});

test("onHostLost returns the tasks put back, and a late report from the lost host is ignored", () => {
  const s = new Scheduler(G.graph, { policy: "herd", durations: G.seconds });
  s.addHost(hostName("h1"), { slots: 1, speed: 1 }, 0);
  s.addHost(hostName("h2"), { slots: 1, speed: 1 }, 0);
  s.nextAssignments(0);
  assert.deepEqual(s.onHostLost(hostName("h1"), 5), [0]);
  assert.equal(s.taskState(0), "ready");
  assert.equal(s.onTaskFinished(0, hostName("h1"), 6, true).first, false);
  assert.equal(s.taskState(0), "ready");
  assert.deepEqual(s.onHostLost(hostName("h1"), 6), [], "losing it twice changes nothing");
});
