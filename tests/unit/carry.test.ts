import assert from "node:assert/strict";
import { test } from "node:test";
import { carryFailures } from "../../src/core/carry.js";

// 0 lib <- 1 app <- 2 tool; 3 mv (unsafe MULTI_VERSION) <- 4 plugin; 5 alone
const depends = [[], [0], [1], [], [3], []];
const names = ["lib-1", "app-1", "tool-1", "mv-1", "plugin-1", "alone-1"];

test("a failure carried over blocks its dependents, blamed on the root; unsafe MULTI_VERSION is refused", () => {
  const r = carryFailures({
    order: [0, 1, 2, 3, 4, 5],
    depends,
    earlier: (i) => (i === 0 ? { state: "failed", culprit: null } : undefined),
    makeArgs: (i) => (i === 3 ? undefined : i === 5 ? ["PYTHON_VERSION_REQD=313"] : []),
    name: (i) => names[i]!,
  });
  assert.deepEqual(r.blocked, [
    [1, "lib-1"],
    [2, "lib-1"],
    [4, "mv-1"],
  ]);
  assert.deepEqual(r.refused, [3]);
  assert.deepEqual(r.build, [[5, ["PYTHON_VERSION_REQD=313"]]]);
});

test("an indirect failure of a resumed build keeps its culprit for what depends on it", () => {
  const r = carryFailures({
    order: [0, 1, 2],
    depends,
    earlier: (i) => (i === 1 ? { state: "indirect-failed", culprit: "gone-1" } : undefined),
    makeArgs: () => [],
    name: (i) => names[i]!,
  });
  assert.deepEqual(r.blocked, [[2, "gone-1"]]);
  assert.deepEqual(r.build, [[0, []]]);
});
