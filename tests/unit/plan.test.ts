import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseRecords, type ScanRecord } from "../../src/core/records.js";
import { resolveRecords } from "../../src/core/resolve.js";
import { countDependents, planBuild } from "../../src/core/plan.js";
import { installOrder } from "../../src/core/install-order.js";

function scan(text: string): ScanRecord[] {
  const r = parseRecords(text, "t");
  if (!r.ok) throw new Error(r.error.message);
  return r.records;
}

const TREE =
  "PKGNAME=base-1.0\nPKG_LOCATION=devel/base\nALL_DEPENDS=\nPKG_SKIP_REASON=\nPKG_FAIL_REASON=\n" +
  "PKGNAME=mid-1.0\nPKG_LOCATION=devel/mid\nALL_DEPENDS=base>=1:../../devel/base\nPKG_SKIP_REASON=\nPKG_FAIL_REASON=\n" +
  "PKGNAME=top-1.0\nPKG_LOCATION=misc/top\nALL_DEPENDS=mid>=1:../../devel/mid\nPKG_SKIP_REASON=\nPKG_FAIL_REASON=\n" +
  'PKGNAME=skip-1.0\nPKG_LOCATION=misc/skip\nALL_DEPENDS=\nPKG_SKIP_REASON="not for this platform"\nPKG_FAIL_REASON=\n' +
  "PKGNAME=uses-skip-1.0\nPKG_LOCATION=misc/uses-skip\nALL_DEPENDS=skip>=1:../../misc/skip\nPKG_SKIP_REASON=\nPKG_FAIL_REASON=\n";

describe("plan", () => {
  it("builds what it can, in dependency order, and says why the rest is not built", () => {
    const plan = planBuild(resolveRecords(scan(TREE)));
    const byName = new Map(plan.packages.map((p) => [p.pkgname, p]));
    assert.deepEqual(
      plan.toBuild.map((i) => plan.packages[i]!.pkgname),
      ["base-1.0", "mid-1.0", "top-1.0"],
    );
    assert.equal(byName.get("skip-1.0")?.state, "skipped");
    assert.equal(byName.get("skip-1.0")?.reason, "not for this platform");
    assert.equal(byName.get("uses-skip-1.0")?.state, "indirect-skipped");
    assert.equal(byName.get("uses-skip-1.0")?.culprit, "skip-1.0");
    assert.equal(byName.get("base-1.0")?.dependents, 2);
    assert.equal(plan.counts.build, 3);
  });

  it("keeps packages whose inputs did not change, rebuilds dependents of changed ones", () => {
    const first = planBuild(resolveRecords(scan(TREE)));
    const previous = new Map(
      first.packages.map((p) => [p.pkgname, { inputs: p.inputs, available: true }]),
    );
    const same = planBuild(resolveRecords(scan(TREE)), { previous });
    assert.equal(same.counts.build, 0);
    assert.equal(same.counts["up-to-date"], 3);
    // Changing mid's sources changes mid's and top's inputs, not base's.
    const changed = planBuild(resolveRecords(scan(TREE)), {
      previous,
      sourceDigest: (p) => (p === "devel/mid" ? "new" : ""),
    });
    assert.deepEqual(
      changed.toBuild.map((i) => changed.packages[i]!.pkgname),
      ["mid-1.0", "top-1.0"],
    );
    // A missing binary package is rebuilt even with unchanged inputs.
    const gone = new Map(previous);
    gone.set("base-1.0", { inputs: previous.get("base-1.0")!.inputs, available: false });
    assert.deepEqual(planBuild(resolveRecords(scan(TREE)), { previous: gone }).toBuild.length, 1);
  });

  it("honours the operator's exclusions and their dependents", () => {
    const plan = planBuild(resolveRecords(scan(TREE)), { excluded: new Set(["devel/mid"]) });
    const byName = new Map(plan.packages.map((p) => [p.pkgname, p]));
    assert.equal(byName.get("mid-1.0")?.state, "skipped");
    assert.equal(byName.get("mid-1.0")?.reason, "excluded by the operator");
    assert.equal(byName.get("top-1.0")?.state, "indirect-skipped");
    assert.equal(byName.get("top-1.0")?.culprit, "mid-1.0");
  });

  it("lists every package to install, dependencies first", () => {
    const recs = scan(TREE);
    const res = resolveRecords(recs);
    assert.deepEqual(
      installOrder(res)[2]!.map((i) => recs[i]!.pkgname),
      ["base-1.0", "mid-1.0"],
    );
    assert.deepEqual(countDependents([[1, 2], [2], []]), [0, 1, 2]);
  });
});
