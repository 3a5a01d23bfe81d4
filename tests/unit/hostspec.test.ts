import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHostSpec, totalCapacity } from "../../src/core/hostspec.js";

function hosts(spec: string): [string, number, number][] {
  const r = parseHostSpec(spec);
  assert.ok(r.ok, `${spec} should parse`);
  return r.hosts.map((h) => [h.name, h.speed, h.slots]);
}

function error(spec: string): string {
  const r = parseHostSpec(spec);
  assert.ok(!r.ok, `${spec} should be rejected`);
  return r.error.message;
}

test("a plain count is that many hosts of speed 1.0 with one slot", () => {
  assert.deepEqual(hosts("3"), [
    ["h1", 1, 1],
    ["h2", 1, 1],
    ["h3", 1, 1],
  ]);
});

test("groups of COUNTxSPEED are numbered in order", () => {
  const h = hosts("2x1.0,3x0.25");
  assert.deepEqual(h, [
    ["h1", 1, 1],
    ["h2", 1, 1],
    ["h3", 0.25, 1],
    ["h4", 0.25, 1],
    ["h5", 0.25, 1],
  ]);
  const r = parseHostSpec("2x1.0,10x0.25");
  assert.ok(r.ok);
  assert.equal(totalCapacity(r.hosts), 4.5);
});

test(":SLOTS gives every host of the group that many slots", () => {
  assert.deepEqual(hosts("2x1.0:2, 1x.5"), [
    ["h1", 1, 2],
    ["h2", 1, 2],
    ["h3", 0.5, 1],
  ]);
  assert.deepEqual(hosts("1:4"), [["h1", 1, 4]]);
});

test("bad specs are errors that say what is wrong", () => {
  assert.match(error(""), /empty/);
  assert.match(error("8x"), /bad host group "8x"/);
  assert.match(error("abc"), /bad host group/);
  assert.match(error("0"), /no hosts/);
  assert.match(error("2x0"), /speed must be greater than 0/);
  assert.match(error("2x1.0:0"), /slots must be at least 1/);
  assert.match(error("2x1.0,,3"), /bad host group ""/);
  assert.match(error("-1"), /bad host group/);
  const r = parseHostSpec("x");
  assert.ok(!r.ok && r.error.hint.includes("2x1.0,10x0.25"));
});

test("@LINK gives a group a link speed (decimal units), +JOIN a time to connect", () => {
  const r = parseHostSpec("2x1.0,1x0.05@1MB,1x.5:2@100KB+2h,1@512+30");
  assert.ok(r.ok);
  assert.deepEqual(
    r.hosts.map((h) => [h.name, h.speed, h.slots, h.link, h.joinAt]),
    [
      ["h1", 1, 1, undefined, undefined],
      ["h2", 1, 1, undefined, undefined],
      ["h3", 0.05, 1, 1e6, undefined],
      ["h4", 0.5, 2, 1e5, 7200],
      ["h5", 1, 1, 512, 30],
    ],
  );
  assert.equal("link" in r.hosts[0]!, false, "no link: none at all (it costs nothing)");
  assert.match(error("2x1.0@0MB"), /link must carry more than 0/);
  assert.match(error("2x1.0@1TB"), /bad host group/);
  assert.match(error("2x1.0+2d"), /bad host group/);
});
