import assert from "node:assert/strict";
import { test } from "node:test";
import { NormalEquations } from "../../src/core/sched/solve.js";

/** Plain dense ridge least squares, the reference: (X'X + diag(r)) w = X'y + diag(r) prior. */
function reference(
  p: number,
  rows: readonly { cols: number[]; vals: number[]; y: number }[],
  ridge: readonly number[],
  prior: readonly number[],
): number[] {
  const a = Array.from({ length: p }, () => new Array<number>(p + 1).fill(0));
  for (const r of rows)
    for (let i = 0; i < r.cols.length; i++) {
      const ri = a[r.cols[i]!]!;
      ri[p] = ri[p]! + r.vals[i]! * r.y;
      for (let j = 0; j < r.cols.length; j++)
        ri[r.cols[j]!] = ri[r.cols[j]!]! + r.vals[i]! * r.vals[j]!;
    }
  for (let i = 0; i < p; i++) {
    a[i]![i] = a[i]![i]! + ridge[i]!;
    a[i]![p] = a[i]![p]! + ridge[i]! * prior[i]!;
  }
  for (let c = 0; c < p; c++) {
    let piv = c;
    for (let r = c + 1; r < p; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[piv]![c]!)) piv = r;
    [a[c], a[piv]] = [a[piv]!, a[c]!];
    for (let r = 0; r < p; r++) {
      if (r === c) continue;
      const f = a[r]![c]! / a[c]![c]!;
      for (let k = c; k <= p; k++) a[r]![k] = a[r]![k]! - f * a[c]![k]!;
    }
  }
  return a.map((r, i) => r[p]! / r[i]!);
}

function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

test("block elimination gives the dense ridge solution (features dense, hosts coupled by pairs)", () => {
  for (let seed = 1; seed <= 25; seed++) {
    const rnd = lcg(seed);
    const dense = 2 + Math.floor(rnd() * 8);
    const sparse = Math.floor(rnd() * 12);
    const p = dense + sparse;
    const rows: { cols: number[]; vals: number[]; y: number }[] = [];
    const nrows = Math.floor(rnd() * 60);
    for (let k = 0; k < nrows; k++) {
      const cols = new Set<number>();
      if (sparse > 0 && rnd() < 0.3) {
        // A pair row: two host offsets, no features.
        cols.add(dense + Math.floor(rnd() * sparse));
        cols.add(dense + Math.floor(rnd() * sparse));
      } else {
        cols.add(0);
        for (let i = 1; i < dense; i++) if (rnd() < 0.4) cols.add(i);
        if (sparse > 0) cols.add(dense + Math.floor(rnd() * sparse));
      }
      const c = [...cols];
      rows.push({ cols: c, vals: c.map(() => rnd() * 4 - 2), y: rnd() * 10 - 5 });
    }
    const ridge = Array.from({ length: p }, () => 0.1 + rnd());
    const prior = Array.from({ length: p }, () => rnd() - 0.5);
    const ne = new NormalEquations(dense, sparse);
    for (const r of rows) ne.add(r.cols, r.vals, r.y);
    assert.equal(ne.rows, nrows);
    const got = ne.solve(ridge, prior);
    assert.ok(got !== undefined, `seed ${seed}: singular`);
    const want = reference(p, rows, ridge, prior);
    for (let i = 0; i < p; i++)
      assert.ok(
        Math.abs(got[i]! - want[i]!) < 1e-8,
        `seed ${seed} column ${i}: ${got[i]} vs ${want[i]}`,
      );
    // Solving again gives the same answer: the accumulated equations are not consumed.
    assert.deepEqual(ne.solve(ridge, prior), got);
  }
});

test("a host compared with every other host (a star) is eliminated last, without fill", () => {
  const ne = new NormalEquations(1, 6);
  for (let h = 1; h < 6; h++) ne.add([1, 1 + h], [1, -1], h);
  for (let h = 0; h < 6; h++) ne.add([0, 1 + h], [1, 1], 2 + h);
  const w = ne.solve([1e-6, 1, 1, 1, 1, 1, 1]);
  assert.ok(w !== undefined);
  const rows = [
    ...[1, 2, 3, 4, 5].map((h) => ({ cols: [1, 1 + h], vals: [1, -1], y: h })),
    ...[0, 1, 2, 3, 4, 5].map((h) => ({ cols: [0, 1 + h], vals: [1, 1], y: 2 + h })),
  ];
  const want = reference(7, rows, [1e-6, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0]);
  for (let i = 0; i < 7; i++) assert.ok(Math.abs(w[i]! - want[i]!) < 1e-8);
});

test("a singular system is undefined, not a wrong answer", () => {
  const ne = new NormalEquations(2, 0);
  ne.add([0, 1], [1, 1], 1);
  assert.equal(ne.solve([0, 0]), undefined);
});
