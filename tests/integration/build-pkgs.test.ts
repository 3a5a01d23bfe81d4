/**
 * A partial build followed by a full one, as an operator runs them: a full
 * build, then `--pkgs` of two PKGPATHs, then the full build again. The last
 * one builds nothing (every package is up to date from one or the other
 * earlier build) and carries netkit's failure over instead of retrying it.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { build, builtPackages, sandbox, type Event } from "../lib/fixture.js";

function plan(events: readonly Event[]): Record<string, number> {
  const p = events.find((e) => e.type === "plan");
  assert.ok(p !== undefined, "a plan event");
  return p.counts as Record<string, number>;
}

describe("a --pkgs build between two full builds", { timeout: 300_000 }, () => {
  it("leaves the next full build nothing to build, the failure carried over", async () => {
    const box = sandbox("pkgs-between");
    const work = join(box.dir, "work");
    const full = await build(box, work, 2);
    assert.equal(full.code, 0, full.stderr);
    assert.ok(plan(full.events).build! > 20);

    const list = join(box.dir, "two.txt");
    writeFileSync(list, "devel/libstr\nsysutils/tick1\n");
    const partial = await build(box, work, 2, list);
    assert.equal(partial.code, 0, partial.stderr);
    assert.equal(plan(partial.events).build, 0, "the two and what they need are up to date");

    const again = await build(box, work, 2);
    assert.equal(again.code, 0, again.stderr);
    const counts = plan(again.events);
    assert.equal(counts.build, 0, JSON.stringify(counts));
    assert.equal(counts["up-to-date"], builtPackages(full.events).length, JSON.stringify(counts));
    assert.equal(counts.failed, 2, "netkit's and broken's failures are carried over");
    assert.ok(!again.events.some((e) => e.type === "package-start"), "nothing ran");
  });
});
