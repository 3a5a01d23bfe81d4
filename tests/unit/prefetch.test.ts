import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildTaskGraph } from "../../src/core/sched/graph.js";
import { Scheduler } from "../../src/core/sched/scheduler.js";
import { estimateFinish, etaInput, forecast } from "../../src/core/sched/eta.js";
import {
  SCAN_MARK,
  parseDistfileQuery,
  rebaseQuery,
  splitScanOutput,
} from "../../src/bulk/distfiles.js";
import { prefetchList } from "../../src/bulk/prefetch.js";
import { hostName } from "../../src/core/hostspec.js";

const H = hostName("h");

/** a ← b ← c (c depends on b, b on a), and d alone. */
function chain(held: boolean[]): Scheduler {
  const g = buildTaskGraph(["a", "b", "c", "d"], [[], [0], [1], []]);
  assert.ok(g.ok);
  const s = new Scheduler(g.graph, { policy: "herd", durations: [10, 10, 10, 10], held });
  s.addHost(H, { slots: 4, speed: 1 }, 0);
  return s;
}

describe("held tasks (distfiles fetched ahead)", () => {
  it("a held task is not dispatched until released, and the schedule is not finished meanwhile", () => {
    const s = chain([true, false, false, false]);
    const first = s.nextAssignments(0).start.map((a) => a.task);
    assert.deepEqual(first, [3]);
    assert.equal(s.taskState(0), "waiting");
    s.onTaskFinished(3, H, 1, true);
    assert.equal(s.isFinished(), false, "a held task is still to come");
    s.release(0);
    assert.deepEqual(
      s.nextAssignments(2).start.map((a) => a.task),
      [0],
    );
  });

  it("a held task whose dependencies are not done waits for both", () => {
    const s = chain([false, true, false, false]);
    s.release(1);
    assert.equal(s.taskState(1), "waiting", "a is not built yet");
    assert.deepEqual(
      s
        .nextAssignments(0)
        .start.map((a) => a.task)
        .sort(),
      [0, 3],
    );
    s.onTaskFinished(0, H, 10, true);
    assert.equal(s.taskState(1), "ready");
  });

  it("failHeld fails it unstarted and its dependents indirectly; retry waits for the dependencies", () => {
    const s = chain([false, true, false, false]);
    const fin = s.failHeld(1);
    assert.equal(fin.first, true);
    assert.deepEqual(fin.indirectlyFailed, [2]);
    assert.equal(s.taskState(1), "failed");
    assert.equal(s.failHeld(1).first, false, "only once");
    assert.deepEqual(s.retry(1), [2]);
    assert.equal(s.taskState(1), "waiting", "a is still to build");
    s.nextAssignments(0);
    s.onTaskFinished(0, H, 10, true);
    assert.equal(s.taskState(1), "ready");
  });

  it("the ETA counts the time a held task waits for its distfiles", () => {
    const s = chain([false, false, false, true]);
    assert.equal(s.heldCount, 1);
    const now = 0;
    const plain = estimateFinish(s, now).finish;
    const late = forecast(
      s.graph,
      etaInput(s, now, (t) => (t === 3 ? 100 : now)),
    ).finish;
    assert.equal(plain, 30, "a, b, c one after the other; d beside them");
    assert.equal(late, 110, "d is let go at 100 and takes 10");
  });

  it("priorityOrder puts the head of the longest chain first", () => {
    const s = chain([false, false, false, false]);
    assert.equal(s.priorityOrder()[0], 0);
    assert.equal(s.priorityOrder().length, 4);
  });
});

describe("the scan's distfile query", () => {
  const query = [
    "/h/distfiles",
    "/h/root/pkgsrc/net/foo/distinfo",
    "foo-1.0.tar.gz|https://a.example/,https://b.example/",
    "https://backup.example/",
  ].join("\n");

  it("is split from the pbulk-index records at the mark", () => {
    const recs = "PKGNAME=foo-1.0\nPKG_LOCATION=net/foo\n";
    const s = splitScanOutput(Buffer.from(`${recs}${SCAN_MARK}\n${query}\n`));
    assert.equal(s.records.toString(), recs);
    assert.equal(s.query, `${query}\n`);
    const none = splitScanOutput(Buffer.from(recs));
    assert.equal(none.query, null);
    // The mark inside a value (not at a line start) is not a mark.
    const inside = splitScanOutput(Buffer.from(`COMMENT=x${SCAN_MARK}\n`));
    assert.equal(inside.query, null);
  });

  it("names distinfo as the master's tree does, and gives the prefetch list", () => {
    const q = rebaseQuery(`${query}\n`, "/h/root/pkgsrc", "/m/tree");
    const parsed = parseDistfileQuery(q);
    assert.ok(parsed.ok);
    assert.equal(parsed.value.distinfo, "/m/tree/net/foo/distinfo");
    assert.deepEqual(parsed.value.files[0]?.sites, [
      "https://a.example/",
      "https://b.example/",
      "https://backup.example/",
    ]);
    const list = prefetchList(
      [{ pkgpath: "net/foo" }, { pkgpath: "net/bar" }],
      new Map([["net/foo", q]]),
      "/m/tree",
    );
    assert.equal(list[0]?.distinfo, "/m/tree/net/foo/distinfo");
    assert.equal(list[1], null, "no query: nothing ahead, the fetch stage asks");
    // A distinfo outside the master's tree is left to the fetch stage.
    const outside = prefetchList(
      [{ pkgpath: "net/foo" }],
      new Map([["net/foo", query]]),
      "/m/tree",
    );
    assert.equal(outside[0], null);
  });
});
