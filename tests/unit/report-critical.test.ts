/** The critical path of a build, and how the report marks it. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  criticalPath,
  DEPENDS_FILE,
  parseDepends,
  readBuildDepends,
} from "../../src/report/critical.js";
import { reportModel } from "../../src/report/model.js";
import { renderHtml, renderText, writeReport } from "../../src/report/render.js";
import { Store, type PackageRow } from "../../src/store/store.js";
import { DATA_2026 } from "../lib/paths.js";
import { scratchDir } from "../lib/scratch.js";

/** The plain reading parseDepends must agree with: every line, split. */
function dependsByLines(presolve: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string | null = null;
  for (const line of presolve.split("\n"))
    if (line.startsWith("PKGNAME=")) out.set((current = line.slice(8)), []);
    else if (line.startsWith("DEPENDS=") && current !== null)
      out.set(current, line.slice(8).split(/\s+/).filter(Boolean));
  return out;
}

const PRESOLVE = `PKGNAME=base-1.0
PKG_LOCATION=devel/base
ALL_DEPENDS=
PKGNAME=left-1.0
PKG_LOCATION=devel/left
DEPENDS=base-1.0
PKGNAME=right-1.0
PKG_LOCATION=devel/right
DEPENDS=base-1.0
PKGNAME=<top>-1.0
PKG_LOCATION=devel/top
DEPENDS=left-1.0 right-1.0 uptodate-1.0
`;

describe("critical path", () => {
  it("reads DEPENDS from pbulk-resolve output", () => {
    const d = parseDepends(PRESOLVE);
    assert.deepEqual(d.get("base-1.0"), []);
    assert.deepEqual(d.get("<top>-1.0"), ["left-1.0", "right-1.0", "uptodate-1.0"]);
  });

  it("reads the same dependencies as a plain line-by-line reading, on edge cases and the real tree", () => {
    for (const text of [
      "",
      "DEPENDS=stray-1.0\nPKGNAME=a-1.0\n",
      "PKGNAME=a-1.0\nPKGNAME=b-1.0\nDEPENDS=a-1.0\n",
      "PKGNAME=a-1.0\nX_DEPENDS=no-1.0\nDEPENDS= b-1.0  c-1.0 \nPKGNAME=b-1.0\nDEPENDS=c-1.0",
      "XPKGNAME=no-1.0\nPKGNAME=ü-1.0\nDEPENDS=ß-1.0\n",
      PRESOLVE,
    ])
      assert.deepEqual(parseDepends(text), dependsByLines(text), JSON.stringify(text));
    const real = execFileSync("zstd", ["-dcq", join(DATA_2026, "presolve.zst")], {
      maxBuffer: 1 << 30,
    });
    const d = parseDepends(real);
    assert.equal(d.size, 29_022);
    assert.deepEqual(d, dependsByLines(real.toString("utf8")));
  });

  it("reads a build's depends file, or its presolve when it has none (an older build)", async () => {
    const dir = scratchDir("herd-depends-");
    try {
      writeFileSync(join(dir, "presolve"), PRESOLVE);
      assert.deepEqual(await readBuildDepends(dir), parseDepends(PRESOLVE));
      writeFileSync(join(dir, DEPENDS_FILE), "PKGNAME=only-1.0\nDEPENDS=base-1.0\n");
      assert.deepEqual(await readBuildDepends(dir), new Map([["only-1.0", ["base-1.0"]]]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is the chain with the most build time; packages without a time are left out", () => {
    const d = parseDepends(PRESOLVE);
    const secs = new Map([
      ["base-1.0", 2],
      ["left-1.0", 1],
      ["right-1.0", 5],
      ["<top>-1.0", 3],
    ]);
    assert.deepEqual(criticalPath(secs, d), {
      packages: ["base-1.0", "right-1.0", "<top>-1.0"],
      seconds: 10,
    });
    secs.set("left-1.0", 6);
    assert.deepEqual(criticalPath(secs, d).packages, ["base-1.0", "left-1.0", "<top>-1.0"]);
    assert.deepEqual(criticalPath(new Map(), d), { packages: [], seconds: 0 });
    // Without a graph, the longest single package.
    assert.deepEqual(criticalPath(secs, new Map()).packages, ["left-1.0"]);
  });

  it("is marked in report.html (escaped), report.txt and the timeline", async () => {
    const s = new Store(":memory:");
    const b = s.startBuild("/t", "id", 0);
    const row = (pkgname: string, startedMs: number, finishedMs: number): PackageRow => ({
      pkgname,
      pkgpath: `devel/${pkgname}`,
      state: "built",
      reason: "",
      culprit: null,
      failedStage: null,
      host: "h1",
      startedMs,
      finishedMs,
      sha256: null,
      size: null,
      inputs: "",
      maintainer: "",
      dependents: 0,
    });
    const times: [string, number, number][] = [
      ["base-1.0", 0, 2000],
      ["left-1.0", 2000, 3000],
      ["right-1.0", 2000, 7000],
      ["<top>-1.0", 7000, 10000],
    ];
    s.insertPackages(
      b,
      times.map(([n, a, z]) => row(n, a, z)),
    );
    for (const [n, a, z] of times)
      s.recordStage(b, {
        pkgname: n,
        pkgpath: `devel/${n}`,
        stage: "build",
        host: "h1",
        startedMs: a,
        wallMs: z - a,
        status: 0,
        log: null,
      });
    s.finishBuild(b, 10000, "done");
    const m = reportModel(s, b, parseDepends(PRESOLVE));
    assert.deepEqual(m.critical.packages, ["base-1.0", "right-1.0", "<top>-1.0"]);
    const html = renderHtml(m);
    assert.match(
      html,
      /<p id="critical-path">Critical path \(in orange\): <b>base-1\.0<\/b> → <b>right-1\.0<\/b> → <b>&lt;top&gt;-1\.0<\/b>, 10\.0 s/,
    );
    assert.match(
      renderText(m, false),
      /^Critical path: base-1\.0 -> right-1\.0 -> <top>-1\.0 \(10\.0 s\)$/m,
    );
    const dir = scratchDir("herd-critical-");
    try {
      await writeReport(dir, m);
      const svg = readFileSync(join(dir, "timeline.svg"), "utf8");
      assert.equal((svg.match(/class="bar crit"/g) ?? []).length, 3);
      assert.match(svg, /left-1\.0 on h1: [^<]*<\/title><rect class="bar ok"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Without the graph the report still renders, with no critical path line.
    assert.doesNotMatch(renderHtml(reportModel(s, b)), /critical-path/);
  });
});
