/**
 * End-to-end bulk builds of the fixture tree with real agents, real bmake,
 * real SQLite: outcomes, the repository (the reference other setups are
 * compared with), incremental rebuilds, and the report.
 */
import assert from "node:assert/strict";
import { appendFileSync, existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  build,
  builtPackages,
  expectedOutcomes,
  sandbox,
  referenceSummary,
  stableSummary,
  stamp,
  tgzFiles,
} from "../lib/fixture.js";

interface ReportJson {
  readonly counts: Record<string, number>;
  readonly failed: { pkgname: string; stage: string; reason: string; breaks: number }[];
  readonly indirect: { pkgname: string; culprit: string; state: string }[];
}

function report(work: string): ReportJson {
  return JSON.parse(readFileSync(join(work, "report/report.json"), "utf8")) as ReportJson;
}

const OUTCOME_OF_STATE: Record<string, string> = {
  built: "built",
  "up-to-date": "built",
  failed: "failed",
  "indirect-failed": "indirect-failed",
  skipped: "skipped",
  "indirect-skipped": "indirect-skipped",
};

describe("herd build on the fixture tree", () => {
  const box = sandbox("build");
  const work3 = join(box.dir, "work3");

  it("builds on 3 local hosts with the expected outcome for every package", async () => {
    // Started with umask 000: whatever herd writes must still not be world-writable (checked below).
    const umask = process.umask(0);
    const r = await build(box, work3, 3).finally(() => process.umask(umask));
    assert.equal(r.code, 0, r.stderr);
    const end = r.events.find((e) => e.type === "build-end");
    assert.ok(end !== undefined, "a build-end event");
    // Packages ran on more than one host.
    const hosts = new Set(r.events.filter((e) => e.type === "package-start").map((e) => e.host));
    assert.ok(hosts.size >= 2, `packages spread over hosts, got ${[...hosts].join(",")}`);
    const rep = report(work3);
    const states = new Map<string, string>();
    const db = JSON.parse(readFileSync(join(work3, "report/report.json"), "utf8")) as {
      failed: { pkgname: string }[];
      indirect: { pkgname: string; state: string }[];
      skipped: { pkgname: string }[];
    };
    for (const f of db.failed) states.set(f.pkgname, "failed");
    for (const p of db.indirect) states.set(p.pkgname, p.state);
    for (const p of db.skipped) states.set(p.pkgname, "skipped");
    for (const name of builtPackages(r.events)) states.set(name, "built");
    const expected = expectedOutcomes();
    for (const [pkg, outcome] of expected) {
      const want = outcome === "prefailed" ? "failed" : outcome;
      assert.equal(OUTCOME_OF_STATE[states.get(pkg) ?? ""] ?? states.get(pkg), want, pkg);
    }
    // netkit fails in "build" with its compiler error, breaking two packages.
    const netkit = rep.failed.find((f) => f.pkgname === "netkit-0.3");
    assert.equal(netkit?.stage, "build");
    assert.match(netkit.reason, /NETKIT_DEFAULT_PORT/);
    assert.equal(netkit.breaks, 2);
    assert.equal(rep.failed[0]?.pkgname, "netkit-0.3", "most breakage first");
    assert.deepEqual(
      rep.indirect
        .filter((p) => p.state === "indirect-failed")
        .map((p) => [p.pkgname, p.culprit])
        .sort(),
      [
        ["netmon-1.1", "netkit-0.3"],
        ["toolbox-2.0", "netkit-0.3"],
      ],
    );
    // The repository: every built package, pkg_summary.gz and SHA512.
    const files = tgzFiles(join(work3, "packages/All"));
    assert.deepEqual(
      files,
      [...expected]
        .filter(([, o]) => o === "built")
        .map(([p]) => `${p}.tgz`)
        .sort(),
    );
    assert.equal(stableSummary(work3).length, files.length);
    const sha = readFileSync(join(work3, "packages/SHA512"), "utf8");
    assert.equal(sha.trim().split("\n").length, files.length);
    assert.match(sha, /^SHA512 \(All\/fetchy-0\.5\.tgz\) = [0-9a-f]{128}$/m);
    // Every package was indexed as it entered the repository: the report phase read none.
    assert.deepEqual(end.repository, {
      packages: files.length,
      read: 0,
      indexedInBuild: files.length,
    });
    // Each stage has its own log on the master.
    assert.ok(existsSync(join(work3, "logs/netkit-0.3/build.log")));
    assert.match(readFileSync(join(work3, "logs/netkit-0.3/build.log"), "utf8"), /undeclared/);
  });

  it("leaves nothing world-writable in the work directory, though started with umask 000", () => {
    const writable: string[] = [];
    let seen = 0;
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        const st = lstatSync(path);
        if (st.isSymbolicLink()) continue;
        seen++;
        if ((st.mode & 0o002) !== 0) writable.push(`${path} ${(st.mode & 0o7777).toString(8)}`);
        if (st.isDirectory()) walk(path);
      }
    };
    walk(work3);
    assert.ok(seen > 100, `the work directory holds the build (${seen} entries)`);
    assert.ok(existsSync(join(work3, "herd.db")));
    assert.deepEqual(writable, []);
  });

  // Other setups (one host with slots, an ssh host) are compared with the
  // repository of a plain 3-host build in slots.test.ts: this is that build.
  it("gives the repository other setups are compared with", async () => {
    assert.deepEqual(stableSummary(work3), await referenceSummary());
  });

  it("builds nothing on an unchanged tree, then only a changed package and its dependents", async () => {
    const again = await build(box, work3, 2);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(builtPackages(again.events), []);
    const phase = again.events.find((e) => e.type === "phase" && e.phase === "build");
    assert.match(String(phase?.detail), /^nothing to build \(24 packages up to date\)$/);
    // No package is even started, and no host receives the tree again.
    assert.equal(again.events.filter((e) => e.type === "package-start").length, 0);

    appendFileSync(join(box.tree, "textproc/libfmt/DESCR"), "One more line.\n");
    stamp(box.tree);
    const changed = await build(box, work3, 2);
    assert.equal(changed.code, 0, changed.stderr);
    assert.deepEqual(builtPackages(changed.events), [
      "fetchy-0.5",
      "libfmt-1.4",
      "py312-greet-1.0",
      "py313-greet-1.0",
      "secretsauce-1.0",
      "wordy-3.0",
    ]);
    // The six built again are new files, indexed as they came in; the rest from the cache.
    const end = changed.events.find((e) => e.type === "build-end");
    assert.equal(end?.type, "build-end");
    assert.deepEqual(end.repository, { packages: 24, read: 0, indexedInBuild: 6 });
    const scanned = changed.events.filter((e) => e.type === "scan-progress").at(-1);
    assert.equal(scanned?.total, 30);
  });

  it("writes a report with every section, escaping what comes from packages", () => {
    const html = readFileSync(join(work3, "report/report.html"), "utf8");
    // The report is written just before the build is marked done: it says finished, and when.
    assert.doesNotMatch(html, /not finished/);
    assert.match(html, /, finished \d{4}-\d\d-\d\dT/);
    for (const id of [
      "summary",
      "failed",
      "indirect",
      "skipped",
      "maintainers",
      "hosts",
      "timeline",
      "diff",
    ]) {
      assert.match(html, new RegExp(`<section id="${id}">`), id);
    }
    assert.match(html, /href="pkg-netkit-0\.3\.html"/);
    // misc/broken's Makefile does not parse: its scan failure is in the report, with bmake's words.
    assert.match(html, /<section id="scan-errors">.*misc\/broken.*Malformed conditional/s);
    assert.ok(existsSync(join(work3, "report/pkg-netkit-0.3.html")));
    assert.ok(existsSync(join(work3, "report/timeline.svg")));
    assert.match(
      readFileSync(join(work3, "report/report.txt"), "utf8"),
      /newly failing|Since build/,
    );
  });
});
