/**
 * The one conformance suite of the store interface (src/store/types.ts):
 * every implementation passes it. Today: SQLite in memory and SQLite on
 * disk (WAL), which alone is reopened (what resuming relies on).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { join } from "node:path";
import { packageRow, Store } from "../../src/store/store.js";
import type { BuildStore, PackageRow, StageRow } from "../../src/store/types.js";
import { scratchDir } from "../lib/scratch.js";

interface Backend {
  readonly label: string;
  /** A fresh, empty store, and how to open it again (a store that outlives its process). */
  readonly open: () => { store: BuildStore; reopen?: () => BuildStore };
  readonly persistent: boolean;
}

const backends: readonly Backend[] = [
  { label: "SQLite in memory", open: () => ({ store: new Store(":memory:") }), persistent: false },
  {
    label: "SQLite on disk",
    open: () => {
      const path = join(scratchDir("herd-store-"), "herd.db");
      return { store: new Store(path), reopen: () => new Store(path) };
    },
    persistent: true,
  },
];

function row(pkgname: string, pkgpath: string, state: PackageRow["state"]): PackageRow {
  return packageRow(pkgname, pkgpath, state, { inputs: "i", maintainer: "m@x" });
}

function stage(pkgname: string, name: string, startedMs: number, wallMs: number, status = 0) {
  return {
    pkgname,
    pkgpath: `cat/${pkgname.replace(/-[^-]*$/, "")}`,
    stage: name,
    host: "h1",
    startedMs,
    wallMs,
    status,
    log: status === 0 ? null : `/logs/${pkgname}/${name}.log`,
  } satisfies StageRow;
}

for (const backend of backends)
  describe(`store conformance: ${backend.label}`, () => {
    const fresh = (): BuildStore => backend.open().store;

    it("keeps meta values, the last one written", () => {
      const s = fresh();
      assert.equal(s.getMeta("k"), undefined);
      s.setMeta("k", "1");
      s.setMeta("k", "2");
      assert.equal(s.getMeta("k"), "2");
      s.close();
    });

    it("starts builds with growing ids and finishes them", () => {
      const s = fresh();
      assert.equal(s.lastBuild(), undefined);
      const a = s.startBuild("/tree", "uuid-1", 1000);
      const b = s.startBuild("/tree", "uuid-2", 2000);
      assert.ok(b > a);
      assert.deepEqual(s.lastBuild(), {
        id: b,
        startedMs: 2000,
        finishedMs: null,
        tree: "/tree",
        treeId: "uuid-2",
        status: "running",
      });
      s.finishBuild(a, 1500, "stopped");
      s.finishBuild(b, 2500, "done");
      assert.deepEqual(
        s.builds().map((r) => [r.id, r.status, r.finishedMs]),
        [
          [a, "stopped", 1500],
          [b, "done", 2500],
        ],
      );
      s.close();
    });

    it("records the plan's packages and patches only the columns given", () => {
      const s = fresh();
      const b = s.startBuild("/tree", "id", 1);
      const other = s.startBuild("/tree", "id", 2);
      s.insertPackages(b, [row("b-1.0", "cat/b", "pending"), row("a-1.0", "cat/a", "pending")]);
      s.insertPackages(other, [row("a-1.0", "cat/a", "pending")]);
      assert.deepEqual(
        s.packages(b).map((p) => p.pkgname),
        ["a-1.0", "b-1.0"],
        "by pkgname",
      );
      s.setPackage(b, "a-1.0", { state: "building", host: "h1", startedMs: 1100 });
      s.setPackage(b, "a-1.0", { state: "built", finishedMs: 1200, sha256: "ff", size: 10 });
      s.setPackage(b, "nonexistent-1.0", { state: "built" });
      assert.deepEqual(s.packages(b)[0], {
        ...row("a-1.0", "cat/a", "built"),
        host: "h1",
        startedMs: 1100,
        finishedMs: 1200,
        sha256: "ff",
        size: 10,
      });
      assert.equal(s.packages(other)[0]?.state, "pending", "another build's row is its own");
      s.setPackage(b, "b-1.0", {
        state: "failed",
        failedStage: "build",
        reason: "exit 1",
        culprit: null,
      });
      s.setPackage(b, "b-1.0", { state: "pending", failedStage: null, reason: "" });
      assert.deepEqual(s.packages(b)[1], row("b-1.0", "cat/b", "pending"), "null clears a column");
      s.insertPackages(b, [row("b-1.0", "cat/b", "skipped")]);
      assert.equal(s.packages(b)[1]?.state, "skipped", "a row given again replaces the old");
      assert.equal(s.packages(b).length, 2);
      s.close();
    });

    it("requeues the packages that were building, and only those", () => {
      const s = fresh();
      const b = s.startBuild("/tree", "id", 1);
      s.insertPackages(b, [
        row("a-1.0", "cat/a", "pending"),
        row("b-1.0", "cat/b", "pending"),
        row("c-1.0", "cat/c", "built"),
      ]);
      s.setPackage(b, "a-1.0", { state: "building", host: "h1", startedMs: 5 });
      s.setPackage(b, "b-1.0", { state: "building", host: "h2", startedMs: 6 });
      assert.equal(s.requeueBuilding(b), 2);
      assert.deepEqual(
        s.packages(b).map((p) => [p.pkgname, p.state, p.host, p.startedMs]),
        [
          ["a-1.0", "pending", null, null],
          ["b-1.0", "pending", null, null],
          ["c-1.0", "built", null, null],
        ],
      );
      assert.equal(s.requeueBuilding(b), 0);
      s.close();
    });

    it("records stages in the order they started, a stage run again replacing the old", () => {
      const s = fresh();
      const b = s.startBuild("/tree", "id", 1);
      s.recordStage(b, stage("a-1.0", "build", 2000, 3000, 1));
      s.recordStage(b, stage("a-1.0", "configure", 1000, 1000));
      s.recordStage(b, stage("b-1.0", "configure", 1500, 10));
      s.recordStage(b, stage("a-1.0", "build", 9000, 4000));
      assert.deepEqual(
        s.stages(b, "a-1.0").map((x) => [x.stage, x.startedMs, x.status]),
        [
          ["configure", 1000, 0],
          ["build", 9000, 0],
        ],
      );
      assert.deepEqual(
        s.stages(b).map((x) => `${x.pkgname} ${x.stage}`),
        ["a-1.0 configure", "b-1.0 configure", "a-1.0 build"],
      );
      assert.deepEqual(s.stages(b, "b-1.0")[0], stage("b-1.0", "configure", 1500, 10));
      // One at a time, in any order: the same rows, of this build only.
      const other = s.startBuild("/tree", "id", 2);
      s.recordStage(other, stage("c-1.0", "build", 0, 5));
      const key = (x: StageRow): string => `${x.pkgname} ${x.stage} ${x.startedMs}`;
      assert.deepEqual([...s.eachStage(b)].map(key).sort(), s.stages(b).map(key).sort());
      assert.deepEqual([...s.eachStage(other)], [stage("c-1.0", "build", 0, 5)]);
      s.close();
    });

    it("gives history from each PKGPATH's newest successful build", () => {
      const s = fresh();
      const b1 = s.startBuild("/tree", "id", 1);
      s.recordStage(b1, stage("a-1.0", "configure", 0, 1000));
      s.recordStage(b1, stage("a-1.0", "build", 1000, 3000));
      s.recordStage(b1, stage("b-1.0", "build", 0, 2000));
      const b2 = s.startBuild("/tree", "id", 2);
      s.recordStage(b2, stage("a-1.1", "build", 0, 500));
      s.recordStage(b2, stage("b-1.0", "build", 0, 9000, 1));
      const h = s.history();
      assert.equal(h.get("cat/a"), 0.5);
      assert.equal(h.get("cat/b"), 2, "a failed stage teaches nothing");
      assert.equal(h.get("cat/c"), undefined);
      s.close();
    });

    it("gives a PKGPATH's outcomes across builds, newest first", () => {
      const s = fresh();
      const b1 = s.startBuild("/tree", "uuid-1", 1000);
      s.insertPackages(b1, [row("a-1.0", "cat/a", "built"), row("b-1.0", "cat/b", "built")]);
      const b2 = s.startBuild("/tree", "uuid-2", 3000);
      s.insertPackages(b2, [row("a-1.1", "cat/a", "failed")]);
      assert.deepEqual(
        s.pathHistory("cat/a").map((r) => [r.buildId, r.buildStartedMs, r.pkgname, r.state]),
        [
          [b2, 3000, "a-1.1", "failed"],
          [b1, 1000, "a-1.0", "built"],
        ],
      );
      assert.deepEqual(s.pathHistory("cat/none"), []);
      s.close();
    });

    it("appends events in order, per build, after a sequence number", () => {
      const s = fresh();
      const b1 = s.startBuild("/tree", "id", 1);
      const b2 = s.startBuild("/tree", "id", 2);
      const one = s.appendEvent(b1, 5, "warning", { type: "warning", message: "x" });
      const two = s.appendEvent(b2, 6, "phase", { type: "phase", phase: "scan" });
      const three = s.appendEvent(b1, 7, "warning", { type: "warning", message: 'é\n"' });
      assert.ok(one < two && two < three);
      assert.deepEqual(s.events(b1), [
        { seq: one, timeMs: 5, type: "warning", data: '{"type":"warning","message":"x"}' },
        {
          seq: three,
          timeMs: 7,
          type: "warning",
          data: JSON.stringify({ type: "warning", message: 'é\n"' }),
        },
      ]);
      assert.deepEqual(
        s.events(b1, one).map((e) => e.seq),
        [three],
      );
      assert.deepEqual(s.events(b1, three), []);
      assert.deepEqual(
        s.eventsOfType(b1, "warning").map((e) => e.seq),
        [one, three],
      );
      assert.deepEqual(s.eventsOfType(b1, "phase"), []);
      assert.deepEqual(
        s.eventsOfType(b2, "phase").map((e) => e.data),
        ['{"type":"phase","phase":"scan"}'],
      );
      s.close();
    });

    it("runs a transaction whole or not at all", () => {
      const s = fresh();
      const b = s.startBuild("/tree", "id", 1);
      s.insertPackages(b, [row("a-1.0", "cat/a", "pending")]);
      assert.equal(
        s.tx(() => {
          s.appendEvent(b, 1, "warning", {});
          s.setPackage(b, "a-1.0", { state: "building" });
          return 42;
        }),
        42,
      );
      assert.throws(() =>
        s.tx(() => {
          s.appendEvent(b, 2, "warning", {});
          s.setPackage(b, "a-1.0", { state: "built" });
          s.recordStage(b, stage("a-1.0", "build", 0, 1));
          throw new Error("disk full");
        }),
      );
      assert.equal(s.events(b).length, 1);
      assert.equal(s.packages(b)[0]?.state, "building");
      assert.deepEqual(s.stages(b), []);
      s.close();
    });

    it("caches scans by digest, with the distfile query of the same run", () => {
      const s = fresh();
      s.putScan("cat/a", "d1", Buffer.from("PKGNAME=a-1.0\n"), "q1");
      assert.equal(s.cachedScan("cat/a", "d1")?.toString(), "PKGNAME=a-1.0\n");
      assert.equal(s.cachedScan("cat/a", "d2"), undefined);
      assert.equal(s.scanDigest("cat/a"), "d1");
      assert.equal(s.scanDigest("cat/b"), undefined);
      // Rescanned without asking for distfiles: the earlier answer stays.
      s.putScan("cat/a", "d2", Buffer.from("PKGNAME=a-1.1\n"));
      s.putScan("cat/b", "d3", Buffer.from("PKGNAME=b-1.0\n"), null);
      assert.deepEqual(
        s
          .allScans()
          .map((r) => [r.pkgpath, r.digest, r.records.toString()])
          .sort(),
        [
          ["cat/a", "d2", "PKGNAME=a-1.1\n"],
          ["cat/b", "d3", "PKGNAME=b-1.0\n"],
        ],
      );
      assert.deepEqual([...s.allScanDistfiles()], [["cat/a", { digest: "d1", query: "q1" }]]);
      s.deleteScan("cat/b");
      assert.equal(s.scanDigest("cat/b"), undefined);
      assert.deepEqual(
        s.allScans().map((r) => r.pkgpath),
        ["cat/a"],
      );
      s.close();
    });

    if (backend.persistent)
      it("keeps everything across a reopen (what resuming relies on)", () => {
        const { store: a, reopen } = backend.open();
        const b = a.startBuild("/t", "id", 1);
        a.insertPackages(b, [row("x-1.0", "cat/x", "building")]);
        a.recordStage(b, stage("x-1.0", "build", 0, 5));
        a.appendEvent(b, 1, "warning", { message: "kept" });
        a.putScan("cat/x", "d", Buffer.from("r"));
        a.close();
        const again = reopen!();
        assert.equal(again.lastBuild()?.status, "running");
        assert.equal(again.requeueBuilding(b), 1);
        assert.equal(again.packages(b)[0]?.state, "pending");
        assert.equal(again.stages(b).length, 1);
        assert.equal(again.events(b).length, 1);
        assert.equal(again.scanDigest("cat/x"), "d");
        again.close();
      });
  });

describe("SQLite on disk", () => {
  it("journals in WAL mode (readers such as herd serve never block the master)", () => {
    const s = new Store(join(scratchDir("herd-store-"), "herd.db"));
    assert.equal(s.db.pragma("journal_mode", { simple: true }), "wal");
    s.close();
  });
});
