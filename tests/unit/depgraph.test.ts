import assert from "node:assert/strict";
import { test } from "node:test";
import { looksLikeDepGraph, parseDepGraph } from "../../src/core/depgraph.js";
import {
  bottomLevels,
  buildTaskGraph,
  transitiveDependencyCounts,
  transitiveDependentCounts,
} from "../../src/core/sched/graph.js";

test("edges name dependency then dependent; names are numbered as they appear", () => {
  const r = parseDepGraph(
    "# comment\nperl-5 -> p5-foo-1\r\n\nperl-5 -> p5-bar-2\np5-foo-1 -> p5-bar-2\n",
  );
  assert.ok(r.ok);
  assert.deepEqual(r.graph.names, ["perl-5", "p5-foo-1", "p5-bar-2"]);
  assert.deepEqual(r.graph.deps, [[], [0], [0, 1]]);
  assert.equal(r.graph.edges, 3);
});

test("a malformed line is an error with its line number", () => {
  const r = parseDepGraph("a -> b\nb c\n");
  assert.ok(!r.ok);
  assert.equal(r.error.line, 2);
  assert.match(r.error.message, /dependency -> dependent/);
  const e = parseDepGraph("a -> \n");
  assert.ok(!e.ok && e.error.line === 1);
  const blanks = parseDepGraph("a b -> c\n");
  assert.ok(!blanks.ok && /blanks/.test(blanks.error.message));
});

test("format sniffing tells an edge list from pbulk records", () => {
  assert.equal(looksLikeDepGraph("\n# x\na-1 -> b-2\n"), true);
  assert.equal(looksLikeDepGraph("PKGNAME=a-1\nALL_DEPENDS=\n"), false);
});

test("a cycle is returned as data, naming the packages on it", () => {
  const r = parseDepGraph("a -> b\nb -> c\nc -> a\nx -> a\n");
  assert.ok(r.ok);
  const g = buildTaskGraph(r.graph.names, r.graph.deps);
  assert.ok(!g.ok && g.error.reason === "cycle");
  assert.deepEqual([...g.error.cycle].sort(), ["a", "b", "c"]);
});

test("graph facts: topological order, transitive counts, bottom levels", () => {
  // a -> b -> d, a -> c -> d, e alone
  const g = buildTaskGraph(["a", "b", "c", "d", "e"], [[], [0], [0], [1, 2, 1], []]);
  assert.ok(g.ok);
  const { graph } = g;
  assert.deepEqual(graph.deps[3], [1, 2], "duplicate edges are dropped");
  const pos = new Map(Array.from(graph.order).map((t, i) => [t, i]));
  for (let t = 0; t < 5; t++) for (const d of graph.deps[t]!) assert.ok(pos.get(d)! < pos.get(t)!);
  assert.deepEqual(Array.from(transitiveDependentCounts(graph)), [3, 1, 1, 0, 0]);
  assert.deepEqual(Array.from(transitiveDependencyCounts(graph)), [0, 1, 1, 3, 0]);
  assert.deepEqual(Array.from(bottomLevels(graph, [1, 2, 5, 1, 4])), [7, 3, 6, 1, 4]);
});
