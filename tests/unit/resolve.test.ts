import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseRecords, type ScanRecord } from "../../src/core/records.js";
import { printResolution, resolveRecords } from "../../src/core/resolve.js";
import { classify, summaryLine, topoOrder } from "../../src/core/classify.js";
import { findCycles } from "../../src/core/cycles.js";

/** Builds a scan from [pkgname, ALL_DEPENDS, extra lines] triples. */
function scan(...pkgs: [string, string, string?][]): ScanRecord[] {
  let text = "";
  for (const [name, deps, extra] of pkgs) {
    const base = name.slice(0, name.lastIndexOf("-"));
    text += `PKGNAME=${name}\nPKG_LOCATION=cat/${base}\nALL_DEPENDS=${deps}\nPKG_SKIP_REASON=\nPKG_FAIL_REASON=\n${extra ?? ""}`;
  }
  const r = parseRecords(text, "t");
  if (!r.ok) throw new Error(r.error.message);
  return r.records;
}

function output(records: ScanRecord[]): string {
  return Buffer.concat([...printResolution(resolveRecords(records))]).toString("latin1");
}

function dependsOf(records: ScanRecord[]): Record<string, string[]> {
  const res = resolveRecords(records);
  return Object.fromEntries(
    records.map((r, i) => [r.pkgname, res.depends[i]!.map((d) => records[d]!.pkgname)]),
  );
}

describe("resolve", () => {
  it("picks the highest matching version, appends DEPENDS after the record", () => {
    const recs = scan(
      ["app-1.0", " lib>=1.0:../../cat/lib"],
      ["lib-1.2", ""],
      ["lib-2.0nb1", ""],
      ["lib-2.0", ""],
    );
    assert.deepEqual(dependsOf(recs)["app-1.0"], ["lib-2.0nb1"]);
    const out = output(recs);
    assert.match(
      out,
      /^PKGNAME=app-1\.0\n(?:[A-Z_]+=.*\n){4}DEPENDS=lib-2\.0nb1\nPKGNAME=lib-1\.2\n/,
    );
    // packages without dependencies get no DEPENDS line at all
    assert.equal(out.match(/^DEPENDS=/gm)?.length, 1);
  });

  it("respects upper bounds and globs", () => {
    const recs = scan(
      ["aaa-1", "lib>=1<2:../../cat/lib"],
      ["bbb-1", "lib-[0-9]*:../../cat/lib"],
      ["ccc-1", "{lib,other}>=2.0:../../cat/lib"],
      ["lib-1.9", ""],
      ["lib-2.1", ""],
      ["other-3.0", ""],
    );
    const d = dependsOf(recs);
    assert.deepEqual(d["aaa-1"], ["lib-1.9"]);
    assert.deepEqual(d["bbb-1"], ["lib-2.1"]);
    assert.deepEqual(d["ccc-1"], ["other-3.0"]);
  });

  it("breaks version ties by the greater name, as pkg_order does", () => {
    const recs = scan(
      ["xxx-1", "py*-foo-[0-9]*:../../cat/foo"],
      ["py27-foo-1.0", ""],
      ["py39-foo-1.0", ""],
      ["py311-foo-1.0", ""],
    );
    assert.deepEqual(dependsOf(recs)["xxx-1"], ["py39-foo-1.0"]);
  });

  it("adds nothing for a pattern an earlier chosen dependency satisfies", () => {
    const recs = scan(
      ["xxx-1", "lib<2:../../cat/lib lib>=1:../../cat/lib lib>=1.5:../../cat/lib"],
      ["lib-1.5", ""],
      ["lib-3.0", ""],
    );
    assert.deepEqual(dependsOf(recs)["xxx-1"], ["lib-1.5"]);
  });

  it("reports unresolved dependencies and marks the package failed", () => {
    const recs = scan(
      ["xxx-1", "lib>=1:../../cat/lib nope>=1:../../cat/nope"],
      ["lib-1.0", ""],
      ["yyy-1", "xxx-[0-9]*:../../cat/xxx"],
    );
    const res = resolveRecords(recs);
    assert.deepEqual(res.unresolved, [{ pkg: 0, pattern: "nope>=1" }]);
    const out = output(recs);
    assert.match(
      out,
      /PKGNAME=xxx-1\n.*\n.*\nPKG_SKIP_REASON=\nPKG_FAIL_REASON="could not resolve dependency "nope>=1""\nPKGNAME=lib/,
    );
    const c = classify(res);
    assert.deepEqual(c.classes, ["unresolved", "buildable", "unresolved"]);
    assert.equal(c.culprit[2], 0);
    assert.equal(
      summaryLine(c),
      "3 packages: 1 buildable, 0 skipped, 0 failed, 0 indirectly skipped, 0 indirectly failed, 1 unresolved",
    );
  });

  it("keeps records that already carry DEPENDS as they are", () => {
    const recs = scan(
      ["xxx-1", "lib>=1:../../cat/lib", "DEPENDS=lib-1.0\n"],
      ["lib-1.0", ""],
      ["lib-2.0", ""],
    );
    assert.deepEqual(dependsOf(recs)["xxx-1"], ["lib-1.0"]);
    assert.equal(output(recs).match(/^DEPENDS=/gm)?.length, 1);
  });

  it("reports a malformed dependency with package and line", () => {
    const recs = scan(["ok-1", ""], ["xxx-1", "lib>=1:cat/lib"]);
    const res = resolveRecords(recs);
    assert.equal(res.errors.length, 1);
    assert.equal(res.errors[0]!.code, "bad-depends");
    assert.equal(res.errors[0]!.line, 6);
    assert.match(
      res.errors[0]!.message,
      /incorrect dependency "lib>=1:cat\/lib" in ALL_DEPENDS of xxx-1/,
    );
  });

  it("reports an unbalanced alternative as a malformed pattern", () => {
    const res = resolveRecords(scan(["xxx-1", "{a,bbb>=1:../../cat/aaa"], ["aaa-1", ""]));
    assert.equal(res.errors[0]?.code, "bad-pattern");
  });

  it("finds dependency cycles and returns them as data", () => {
    const recs = scan(
      ["aaa-1", "bbb>=0:../../cat/bbb"],
      ["bbb-1", "ccc>=0:../../cat/ccc"],
      ["ccc-1", "aaa>=0:../../cat/aaa"],
      ["ddd-1", "aaa>=0:../../cat/aaa"],
    );
    const res = resolveRecords(recs);
    assert.equal(res.cycles.length, 1);
    assert.deepEqual(res.cycles[0]!.map((i) => recs[i]!.pkgname).sort(), [
      "aaa-1",
      "bbb-1",
      "ccc-1",
    ]);
    const c = classify(res);
    assert.deepEqual(c.classes, ["failed", "failed", "failed", "indirect-failed"]);
  });
});

describe("classify", () => {
  it("propagates skips and failures with culprits; failure outweighs skip", () => {
    const recs = scan(
      ["skip-1", "", "X=\n"],
      ["fail-1", ""],
      ["aaa-1", "skip>=0:../../cat/skip"],
      ["bbb-1", "aaa>=0:../../cat/aaa"],
      ["ccc-1", "fail>=0:../../cat/fail skip>=0:../../cat/skip"],
      ["ddd-1", ""],
    );
    const edited = recs.map((r) =>
      r.pkgname === "skip-1"
        ? parseOne(r, "PKG_SKIP_REASON", "not for this platform")
        : r.pkgname === "fail-1"
          ? parseOne(r, "PKG_FAIL_REASON", "broken")
          : r,
    );
    const c = classify(resolveRecords(edited));
    assert.deepEqual(c.classes, [
      "skipped",
      "failed",
      "indirect-skipped",
      "indirect-skipped",
      "indirect-failed",
      "buildable",
    ]);
    assert.deepEqual(c.culprit, [-1, -1, 0, 0, 1, -1]);
  });

  it("orders dependencies first, cycles last", () => {
    assert.deepEqual(topoOrder([[1], [], [0, 1]]), [1, 0, 2]);
    assert.deepEqual(topoOrder([[1], [0], []]), [2, 0, 1]);
    assert.deepEqual(findCycles([[0]]), [[0]]);
    assert.deepEqual(findCycles([[1], []]), []);
  });
});

function parseOne(r: ScanRecord, key: string, value: string): ScanRecord {
  const text = r.fields.map(([k, v]) => `${k}=${k === key ? value : v}\n`).join("");
  const p = parseRecords(text, "t");
  if (!p.ok) throw new Error(p.error.message);
  return p.records[0]!;
}
