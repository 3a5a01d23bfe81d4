/**
 * The build loop's ETA comes from a worker thread (src/bulk/eta-worker.ts):
 * every forecast, the first too, from snapshots the thread plays forward,
 * equal to the forecast made in place from the same state.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { EtaForecaster } from "../../src/bulk/eta-worker.js";
import { hostName } from "../../src/core/hostspec.js";
import { estimateFinish } from "../../src/core/sched/eta.js";
import { buildTaskGraph } from "../../src/core/sched/graph.js";
import { Scheduler } from "../../src/core/sched/scheduler.js";

test("ETA from the worker thread: the same forecast as in place, computed off the loop", async () => {
  // a -> b -> c, and d alone; one host.
  const names = ["a", "b", "c", "d"];
  const deps = [[], [0], [1], []];
  const g = buildTaskGraph(names, deps);
  assert.ok(g.ok);
  const s = new Scheduler(g.graph, { policy: "herd", durations: [2, 3, 4, 5] });
  const h = hostName("h");
  s.addHost(h, { slots: 1, speed: 1 }, 0);
  let told = 0;
  const f = new EtaForecaster(s, undefined, () => told++);
  try {
    assert.equal(f.current(0), undefined, "the first forecast is asked of the thread too");
    let first = f.current(0);
    for (let i = 0; i < 500 && first === undefined; i++) {
      await sleep(10);
      first = f.current(0);
    }
    assert.ok(first !== undefined);
    assert.deepEqual(first, estimateFinish(s, 0), "the thread's first forecast");
    assert.equal(told, 1, "its arrival was told");
    const started = s.nextAssignments(0).start;
    assert.equal(started.length, 1);
    s.onTaskFinished(started[0]!.task, h, 7, true);
    s.nextAssignments(7);
    assert.notEqual(estimateFinish(s, 7).finish, first.finish, "the state changed the forecast");
    // Too soon for a new snapshot; then one is sent, and until the thread answers the old forecast stands.
    assert.deepEqual(f.current(3), first);
    assert.deepEqual(f.current(7), first);
    let got = f.current(7);
    for (let i = 0; i < 200 && got?.finish === first.finish; i++) {
      await sleep(10);
      got = f.current(7);
    }
    assert.deepEqual(got, estimateFinish(s, 7), "the thread's forecast of the snapshot taken at 7");
  } finally {
    await f.close();
  }
});
