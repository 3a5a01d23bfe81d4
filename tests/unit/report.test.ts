import assert from "node:assert/strict";
import { readFileSync, writeFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Store, type PackageRow } from "../../src/store/store.js";
import { reportModel } from "../../src/report/model.js";
import { renderText, writeReport, pageName } from "../../src/report/render.js";
import { scratchDir } from "../lib/scratch.js";

const EVIL = `x<script>alert(1)</script>-1.0`;

function row(
  pkgname: string,
  state: PackageRow["state"],
  extra: Partial<PackageRow> = {},
): PackageRow {
  return {
    pkgname,
    pkgpath: `cat/${pkgname.replace(/-[^-]*$/, "")}`,
    state,
    reason: "",
    culprit: null,
    failedStage: null,
    host: "h1",
    startedMs: 1000,
    finishedMs: 2000,
    sha256: null,
    size: null,
    inputs: "",
    maintainer: "m@example.org",
    dependents: 0,
    ...extra,
  };
}

describe("report", () => {
  it("sorts failures by breakage, escapes names and logs, diffs with the previous build", async () => {
    const dir = scratchDir("herd-report-");
    const log = join(dir, "build.log");
    writeFileSync(log, "error: <img src=x onerror=alert(2)> failed\n");
    const s = new Store(":memory:");
    const b1 = s.startBuild("/t", "id1", 0);
    s.insertPackages(b1, [row("lib-1.0", "built"), row("ok-1.0", "failed")]);
    s.finishBuild(b1, 1, "done");
    const b2 = s.startBuild("/t", "id2", 10);
    s.insertPackages(b2, [
      row("lib-1.0", "failed", {
        failedStage: "build",
        reason: "build failed (exit 1): cc: error",
      }),
      row(EVIL, "failed", { failedStage: "configure", reason: "<b>bad</b>" }),
      row("app-1.0", "indirect-failed", { culprit: "lib-1.0" }),
      row("app2-1.0", "indirect-failed", { culprit: "lib-1.0" }),
      row("ok-1.0", "built"),
      row("new-1.0", "skipped", { reason: "not for this platform" }),
    ]);
    s.recordStage(b2, {
      pkgname: EVIL,
      pkgpath: "cat/x",
      stage: "configure",
      host: "h1",
      startedMs: 1000,
      wallMs: 5,
      status: 1,
      log,
    });
    const m = reportModel(s, b2);
    assert.deepEqual(
      m.failed.map((f) => [f.pkgname, f.breaks]),
      [
        ["lib-1.0", 2],
        [EVIL, 0],
      ],
    );
    assert.deepEqual(m.diff, {
      previousBuild: b1,
      newlyFailing: ["lib-1.0"],
      fixed: ["ok-1.0"],
      newPackages: ["app-1.0", "app2-1.0", "new-1.0", EVIL],
    });
    const html = readFileSync(await writeReport(dir, m), "utf8");
    assert.ok(!html.includes("<script>"), "package names are escaped");
    assert.ok(html.includes("x&lt;script&gt;alert(1)&lt;/script&gt;-1.0"));
    assert.ok(!html.includes("<b>bad</b>"));
    const page = readFileSync(join(dir, pageName(EVIL)), "utf8");
    assert.ok(!page.includes("<img"), "logs are escaped");
    assert.ok(page.includes("&lt;img src=x onerror=alert(2)&gt;"));
    assert.ok(readdirSync(join(dir, "logs")).some((f) => f.endsWith("-configure.log.txt")));
    assert.match(renderText(m, true), /lib-1\.0 \(cat\/lib\) breaks 2, build: build failed/);
  });
});
