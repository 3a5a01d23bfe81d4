/** Folding build events into what the dashboard shows. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { BuildEvent } from "../../src/events/types.js";
import { applyEvent, emptyState, type DashState } from "../../src/dashboard/state.js";
import type { RunView } from "../../src/dashboard/timeline.js";
import { LIST_PAGE, stateView, tally } from "../../src/dashboard/view.js";

const TARGETS = ["Init", "Depends", "build", "Package"];

function fold(events: readonly BuildEvent[], s: DashState = emptyState()): DashState {
  events.forEach((e, i) => {
    applyEvent(s, e, 1000 + i * 100);
  });
  return s;
}

const START: BuildEvent = {
  type: "build-start",
  build: 3,
  tree: "/t",
  treeId: "id",
  resumed: false,
  targets: TARGETS,
};

function runs(s: DashState): RunView[] {
  return [...s.timeline.runs.values()];
}

function start(pkgname: string, host: string): BuildEvent {
  return { type: "package-start", pkgname, pkgpath: `cat/${pkgname}`, host };
}

function stage(pkgname: string, host: string, name: string, status = 0): BuildEvent {
  return { type: "stage", pkgname, host, stage: name, status, wallMs: 5 };
}

describe("dashboard state", () => {
  it("follows hosts, running packages and their current stage", () => {
    const s = fold([
      START,
      { type: "host", host: "h2", state: "connecting" },
      { type: "host", host: "h1", state: "idle" },
      { type: "host", host: "h1", state: "note", detail: "agent up" },
      start("a-1", "h1"),
      stage("a-1", "h1", "Init"),
    ]);
    const v = stateView(s);
    assert.deepEqual(
      v.hosts.map((h) => h.name),
      ["h1", "h2"],
    );
    const h1 = v.hosts[0]!;
    assert.equal(h1.state, "idle");
    assert.equal(h1.detail, "agent up");
    const running = h1.running[0]!;
    assert.equal(running.pkgname, "a-1");
    assert.equal(running.stage, "Depends", "the stage after the last finished");
    assert.equal(running.lastStage, "Init");
    assert.deepEqual(runs(s), [
      { id: 0, pkgname: "a-1", host: "h1", start: 1400, end: null, result: "running" },
    ]);
    applyEvent(s, stage("a-1", "h1", "Package"), 2000);
    assert.equal(s.hosts.get("h1")?.running[0]?.stage, "Fetch");
  });

  it("records a failure with its stage logs, newest first, and counts indirect failures", () => {
    const s = fold([
      START,
      start("bad-1", "h1"),
      stage("bad-1", "h1", "Init"),
      stage("bad-1", "h1", "Depends"),
      stage("bad-1", "h1", "build", 1),
      {
        type: "package-end",
        pkgname: "bad-1",
        pkgpath: "cat/bad",
        host: "h1",
        result: "failed",
        stage: "build",
        reason: "build failed (exit 1): <oops>",
        wallMs: 40,
      },
      { type: "indirect-failed", pkgname: "user-1", culprit: "bad-1" },
    ]);
    assert.equal(s.counts.failed, 1);
    assert.equal(s.counts.indirect, 1);
    assert.equal(s.hosts.get("h1")?.running.length, 0);
    assert.deepEqual(stateView(s).failures?.[0], {
      n: 1,
      pkgname: "bad-1",
      pkgpath: "cat/bad",
      result: "failed",
      host: "h1",
      stage: "build",
      reason: "build failed (exit 1): <oops>",
      culprit: "",
      timeMs: 1500,
      wallMs: 40,
      logs: ["Init", "Depends", "build"],
    });
    assert.deepEqual(
      s.settled.all.map((v) => [v.n, v.pkgname, v.result, v.culprit]),
      [
        [1, "bad-1", "failed", ""],
        [2, "user-1", "indirect-failed", "bad-1"],
      ],
    );
    const run = runs(s)[0]!;
    assert.equal(run.result, "failed");
    assert.equal(run.end, 1500);
  });

  it("settles a package on its first copy and stops the others; a lost copy leaves the rest running", () => {
    const s = fold([
      START,
      start("p-1", "slow"),
      start("p-1", "fast"),
      start("q-1", "h3"),
      start("q-1", "h4"),
      {
        type: "package-end",
        pkgname: "q-1",
        pkgpath: "c/q",
        host: "h3",
        result: "lost",
        wallMs: 1,
      },
      {
        type: "package-end",
        pkgname: "p-1",
        pkgpath: "c/p",
        host: "fast",
        result: "built",
        wallMs: 1,
      },
    ]);
    assert.deepEqual(
      runs(s).map((r) => [r.pkgname, r.host, r.result]),
      [
        ["p-1", "slow", "cancelled"],
        ["p-1", "fast", "built"],
        ["q-1", "h3", "lost"],
        ["q-1", "h4", "running"],
      ],
    );
    assert.equal(s.hosts.get("slow")?.running.length, 0);
    assert.equal(s.hosts.get("h4")?.running.length, 1);
    assert.deepEqual(s.counts, { built: 1, failed: 0, indirect: 0, lost: 1 });
  });

  it("keeps every failure, shows the newest LIST_PAGE, and reports the phase, scan, plan and progress", () => {
    const s = fold([START, { type: "phase", phase: "scan" }]);
    applyEvent(s, { type: "scan-progress", done: 3, total: 9, failed: 0 }, 1);
    assert.equal(s.phase, "scan");
    assert.deepEqual(s.scan, { done: 3, total: 9, failed: 0 });
    for (let i = 0; i < LIST_PAGE + 5; i++)
      applyEvent(
        s,
        {
          type: "package-end",
          pkgname: `f-${i}`,
          pkgpath: "c/f",
          host: "h",
          result: "failed",
          wallMs: 1,
        },
        i,
      );
    const v = stateView(s);
    assert.equal(v.failures?.length, LIST_PAGE);
    assert.equal(v.failures[0]?.pkgname, `f-${LIST_PAGE + 4}`);
    assert.equal(s.settled.byResult.failed.length, LIST_PAGE + 5);
    assert.equal(s.counts.failed, LIST_PAGE + 5);
    applyEvent(s, { type: "progress", done: 4, total: 10, running: 2, etaSeconds: 30 }, 77);
    assert.deepEqual(s.progress, {
      done: 4,
      total: 10,
      running: 2,
      etaSeconds: 30,
      etaEstimate: false,
      timeMs: 77,
    });
  });

  it("on a resumed build forgets what the earlier master ran; build-end closes what is left", () => {
    const s = fold([START, start("a-1", "h1"), { type: "host", host: "h1", state: "busy" }]);
    applyEvent(s, { ...START, resumed: true }, 5000);
    assert.equal(s.build?.resumed, true);
    assert.equal(s.hosts.size, 0);
    assert.equal(runs(s)[0]?.result, "lost");
    applyEvent(s, start("b-1", "h1"), 5100);
    applyEvent(
      s,
      { type: "build-end", build: 3, counts: { built: 1 }, report: "r", packages: "p" },
      6000,
    );
    assert.equal(s.phase, "finished");
    assert.deepEqual(s.finished, { timeMs: 6000, counts: { built: 1 } });
    assert.equal(runs(s)[1]?.result, "cancelled");
    assert.equal(s.hosts.get("h1")?.running.length, 0);
  });

  it("counts packages per state as the build goes, and ends on exactly the counts the banner says", () => {
    const end = (pkgname: string, result: "built" | "failed"): BuildEvent => ({
      type: "package-end",
      pkgname,
      pkgpath: `cat/${pkgname}`,
      host: "h1",
      result,
      wallMs: 5,
    });
    const plan: BuildEvent = {
      type: "plan",
      counts: {
        build: 4,
        "up-to-date": 2,
        failed: 1,
        "indirect-failed": 1,
        skipped: 1,
        "indirect-skipped": 0,
        unresolved: 0,
      },
      packages: 9,
    };
    const s = fold([START, plan, start("a-1", "h1")]);
    assert.deepEqual(tally(s), [
      ["up-to-date", 2],
      ["failed", 1],
      ["indirect-failed", 1],
      ["skipped", 1],
      ["pending", 3],
      ["running", 1],
    ]);
    fold(
      [
        end("a-1", "built"),
        start("b-1", "h1"),
        end("b-1", "failed"),
        { type: "indirect-failed", pkgname: "c-1", culprit: "b-1" },
        start("d-1", "h1"),
        end("d-1", "built"),
      ],
      s,
    );
    const live = tally(s);
    assert.deepEqual(live, [
      ["built", 2],
      ["up-to-date", 2],
      ["failed", 2],
      ["indirect-failed", 2],
      ["skipped", 1],
    ]);
    // The store's counts at the end, in another key order: the same row, in the same order.
    applyEvent(
      s,
      {
        type: "build-end",
        build: 3,
        counts: { skipped: 1, failed: 2, "indirect-failed": 2, "up-to-date": 2, built: 2 },
        report: "r",
        packages: "p",
      },
      9000,
    );
    assert.deepEqual(tally(s), live);
    assert.deepEqual(stateView(s).tally, live);
  });
});
