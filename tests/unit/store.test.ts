import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { join } from "node:path";
import { Store, type PackageRow } from "../../src/store/store.js";
import { scratchDir } from "../lib/scratch.js";

function row(pkgname: string, pkgpath: string, state: PackageRow["state"]): PackageRow {
  return {
    pkgname,
    pkgpath,
    state,
    reason: "",
    culprit: null,
    failedStage: null,
    host: null,
    startedMs: null,
    finishedMs: null,
    sha256: null,
    size: null,
    inputs: "i",
    maintainer: "m@x",
    dependents: 0,
  };
}

// One conformance suite for both backends: SQLite in memory and SQLite on disk (WAL).
const backends: [string, () => string][] = [
  ["in memory", () => ":memory:"],
  ["on disk", () => join(scratchDir("herd-store-"), "herd.db")],
];

for (const [label, path] of backends)
  describe(`store (${label})`, () => {
    it("records builds, package states, stages and history", () => {
      const s = new Store(path());
      const b = s.startBuild("/tree", "uuid-1", 1000);
      s.insertPackages(b, [row("a-1.0", "cat/a", "pending"), row("b-1.0", "cat/b", "pending")]);
      s.setPackage(b, "a-1.0", { state: "building", host: "h1", startedMs: 1100 });
      assert.equal(s.requeueBuilding(b), 1);
      assert.equal(s.packages(b).find((p) => p.pkgname === "a-1.0")?.state, "pending");
      s.setPackage(b, "a-1.0", { state: "built", host: "h1", sha256: "ff", size: 10 });
      s.recordStage(b, {
        pkgname: "a-1.0",
        pkgpath: "cat/a",
        stage: "build",
        host: "h1",
        startedMs: 1,
        wallMs: 3000,
        status: 0,
        log: null,
      });
      s.recordStage(b, {
        pkgname: "a-1.0",
        pkgpath: "cat/a",
        stage: "configure",
        host: "h1",
        startedMs: 0,
        wallMs: 1000,
        status: 0,
        log: null,
      });
      assert.equal(s.history().get("cat/a"), 4);
      assert.deepEqual(
        s.stages(b, "a-1.0").map((x) => x.stage),
        ["configure", "build"],
      );
      s.finishBuild(b, 2000, "done");
      assert.equal(s.lastBuild()?.status, "done");
      const b2 = s.startBuild("/tree", "uuid-2", 3000);
      s.insertPackages(b2, [row("a-1.1", "cat/a", "failed")]);
      assert.deepEqual(
        s.pathHistory("cat/a").map((r) => [r.buildId, r.pkgname, r.state]),
        [
          [b2, "a-1.1", "failed"],
          [b, "a-1.0", "built"],
        ],
      );
      const seq = s.appendEvent(b2, 5, "warning", { message: "x" });
      assert.deepEqual(
        s.events(b2).map((e) => [e.seq, e.type]),
        [[seq, "warning"]],
      );
      s.putScan("cat/a", "d1", Buffer.from("PKGNAME=a-1.0\n"));
      assert.equal(s.cachedScan("cat/a", "d1")?.toString(), "PKGNAME=a-1.0\n");
      assert.equal(s.cachedScan("cat/a", "d2"), undefined);
      s.close();
    });
  });

describe("store on disk", () => {
  it("keeps everything across a reopen (what resuming relies on)", () => {
    const path = join(scratchDir("herd-store-"), "herd.db");
    const a = new Store(path);
    const b = a.startBuild("/t", "id", 1);
    a.insertPackages(b, [row("x-1.0", "cat/x", "building")]);
    a.close();
    const again = new Store(path);
    assert.equal(again.lastBuild()?.status, "running");
    assert.equal(again.requeueBuilding(b), 1);
    assert.equal(again.packages(b)[0]?.state, "pending");
    assert.equal(again.db.pragma("journal_mode", { simple: true }), "wal");
    again.close();
  });
});
