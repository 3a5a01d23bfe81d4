import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fullRun } from "../../bench/lib/fullscale-run.js";
import { expectedOutcomes } from "../../bench/lib/simpkgsrc.js";
import { CLI } from "../lib/paths.js";
import { scratchDir } from "../lib/scratch.js";

// The full-size run (bench/fullscale.ts) at a reduced size: the real `herd
// build` CLI on a few thousand packages of the real 2026 scan, a farm of
// simulated attach hosts in a process of its own, SIGKILLed half-way and run
// again.
test(
  "thousands of packages of the real 2026 scan through the real master, SIGKILLed half-way and resumed: the outcome herd resolve and the injected failures call for, nothing built twice",
  { timeout: 600_000 },
  async () => {
    const work = scratchDir("herd-fullscale-");
    const seed = "ci";
    const failRate = 0.05;
    const r = await fullRun({
      work,
      hosts: 8,
      dirs: 200,
      scale: 0.0005,
      failRate,
      seed,
      killAt: 0.5,
      timeoutSeconds: 500,
    });
    const presolve = join(work, "presolve");
    execFileSync(process.execPath, [CLI, "resolve", "-o", presolve, r.scanFile], {
      stdio: "ignore",
    });
    const want = expectedOutcomes(readFileSync(presolve, "latin1"), seed, failRate);
    // A run of some size, with failures that break dependents.
    assert.ok(r.packages > 1500, `${r.packages} packages`);
    assert.ok(want.built.size > 500, `${want.built.size} to build`);
    assert.ok(want.failed.size > 10 && want.indirect.size > 10);

    assert.equal(r.runs.length, 2, "the master was killed and run again");
    const [first, second] = [r.runs[0]!, r.runs[1]!];
    assert.ok(first.killed && first.built.length > 0, "killed after it had built some");
    assert.equal(second.exit, 0, second.stderr.slice(-2000));

    for (const n of want.built) assert.equal(r.states.get(n), "built", n);
    for (const [n, stage] of want.failed) assert.equal(r.failedAt.get(n), stage, n);
    for (const n of want.indirect) assert.equal(r.states.get(n), "indirect-failed", n);
    assert.equal(r.counts.built, want.built.size);
    assert.equal(r.failedAt.size, want.failed.size);

    // Nothing built twice: what the first master built, the second never started.
    const before = new Set(first.built);
    assert.deepEqual(
      second.started.filter((n) => before.has(n)),
      [],
    );
    assert.equal(new Set([...first.built, ...second.built]).size, want.built.size);

    // The report names every failure.
    const report = readFileSync(join(work, "w", "report", "report.html"), "utf8");
    for (const n of want.failed.keys()) assert.ok(report.includes(n), `${n} in the report`);
  },
);
