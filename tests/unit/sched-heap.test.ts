import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { TaskHeap } from "../../src/core/sched/heap.js";

test("the heap pops by primary, then secondary priority, then lower index", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 3 })), {
        minLength: 1,
        maxLength: 60,
      }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (prios, removals) => {
        const n = prios.length;
        const primary = Float64Array.from(prios.map((p) => p[0]));
        const secondary = Float64Array.from(prios.map((p) => p[1]));
        const heap = new TaskHeap(n, primary, secondary);
        for (let t = n - 1; t >= 0; t--) heap.push(t);
        heap.push(0);
        const removed = new Set(removals.map((r) => r % n));
        for (const r of removed) heap.remove(r);
        const expected = [...Array(n).keys()]
          .filter((t) => !removed.has(t))
          .sort((a, b) => primary[b]! - primary[a]! || secondary[b]! - secondary[a]! || a - b);
        const got: number[] = [];
        while (heap.size > 0) got.push(heap.pop());
        assert.deepEqual(got, expected);
        assert.equal(heap.pop(), -1);
      },
    ),
  );
});

test("rebuild restores the order after priorities change", () => {
  const primary = Float64Array.from([1, 2, 3, 4]);
  const secondary = new Float64Array(4);
  const heap = new TaskHeap(4, primary, secondary);
  for (let t = 0; t < 4; t++) heap.push(t);
  primary.set([9, 0, 5, 1]);
  heap.rebuild();
  assert.deepEqual([heap.pop(), heap.pop(), heap.pop(), heap.pop()], [0, 2, 3, 1]);
});
