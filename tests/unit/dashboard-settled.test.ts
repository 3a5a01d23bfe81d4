/** The settled packages' lists and their pages (what /api/packages answers). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  addSettled,
  emptySettled,
  MAX_PAGE,
  newest,
  pageOf,
  parsePageQuery,
  unsettle,
  type SettledLists,
  type SettledResult,
} from "../../src/dashboard/settled.js";

function lists(results: readonly SettledResult[]): SettledLists {
  const l = emptySettled();
  results.forEach((result, i) =>
    addSettled(l, {
      pkgname: `p${i}-1.0`,
      pkgpath: `cat/p${i}`,
      result,
      host: result === "indirect-failed" ? "" : "h1",
      stage: result === "failed" ? "build" : "",
      reason: "",
      culprit: result === "indirect-failed" ? "p0-1.0" : "",
      timeMs: i,
      wallMs: 1,
      logs: [],
    }),
  );
  return l;
}

const names = (items: readonly { pkgname: string }[]): string[] => items.map((s) => s.pkgname);

describe("settled lists", () => {
  const results: SettledResult[] = [];
  for (let i = 0; i < 230; i++)
    results.push(i % 10 === 3 ? "failed" : i % 10 === 7 ? "indirect-failed" : "built");
  const l = lists(results);

  it("keeps every package in settling order, once in all and once in its result", () => {
    assert.equal(l.all.length, 230);
    assert.deepEqual(
      l.all.map((s) => s.n),
      Array.from({ length: 230 }, (_, i) => i + 1),
    );
    assert.equal(l.byResult.failed.length, 23);
    assert.equal(l.byResult["indirect-failed"].length, 23);
    assert.equal(l.byResult.built.length, 184);
    assert.deepEqual(names(newest(l.byResult.failed, 3)), ["p223-1.0", "p213-1.0", "p203-1.0"]);
  });

  it("pages newest first; the pages of a list, put together, are the list", () => {
    for (const state of ["settled", "built", "failed", "indirect-failed"] as const) {
      const list = state === "settled" ? l.all : l.byResult[state];
      const seen: string[] = [];
      for (let offset = 0; ; offset += 7) {
        const p = pageOf(l, { state, offset, limit: 7, q: "" });
        assert.equal(p.total, list.length);
        if (p.items.length === 0) break;
        seen.push(...names(p.items));
      }
      assert.deepEqual(seen, names([...list].reverse()), state);
    }
    assert.deepEqual(pageOf(l, { state: "failed", offset: 1000, limit: 50, q: "" }).items, []);
    assert.equal(pageOf(l, { state: "built", offset: 0, limit: 10_000, q: "" }).items.length, 184);
    assert.equal(pageOf(l, { state: "settled", offset: 0, limit: 10_000, q: "" }).limit, MAX_PAGE);
  });

  it("filters by name or path, case-insensitively, and counts what matches", () => {
    const p = pageOf(l, { state: "settled", offset: 0, limit: 5, q: "P1" });
    // p1, p10..p19, p100..p199: 111 names.
    assert.equal(p.total, 111);
    assert.deepEqual(names(p.items), ["p199-1.0", "p198-1.0", "p197-1.0", "p196-1.0", "p195-1.0"]);
    // Failed: p3, p13, ...; with a path under cat/p2: p23, p203, p213, p223.
    const byPath = pageOf(l, { state: "failed", offset: 1, limit: 2, q: "cat/p2" });
    assert.equal(byPath.total, 4);
    assert.deepEqual(names(byPath.items), ["p213-1.0", "p203-1.0"]);
  });

  it("a retry takes back the failure and the indirect failures it caused, nothing else", () => {
    const m = lists(["built", "failed", "indirect-failed", "indirect-failed", "failed"]);
    unsettle(m, "p1-1.0", ["p2-1.0"]);
    assert.deepEqual(names(m.all), ["p0-1.0", "p3-1.0", "p4-1.0"]);
    assert.deepEqual(names(m.byResult.failed), ["p4-1.0"]);
    assert.deepEqual(names(m.byResult["indirect-failed"]), ["p3-1.0"]);
    // Settled again later, it comes last, with a new number.
    const again = addSettled(m, { ...m.all[0]!, pkgname: "p1-1.0", result: "built" });
    assert.equal(again.n, 6);
  });

  it("reads a page query from URL parameters, refusing what is not one", () => {
    const q = (s: string): ReturnType<typeof parsePageQuery> =>
      parsePageQuery(new URLSearchParams(s), 50);
    assert.deepEqual(q(""), {
      ok: true,
      value: { state: "settled", offset: 0, limit: 50, q: "" },
    });
    assert.deepEqual(q("state=failed&offset=100&limit=20&q=perl"), {
      ok: true,
      value: { state: "failed", offset: 100, limit: 20, q: "perl" },
    });
    for (const bad of ["state=building", "offset=-1", "limit=1e3", "offset=x", "state=__proto__"])
      assert.equal(q(bad).ok, false, bad);
  });
});
