/**
 * Scan benchmarks. (1) herd's overhead per package: `herd scan --local 1`
 * of the fixture tree against `bmake pbulk-index` run directly in each
 * package directory, one after the other, in the same tree. (2) Scaling:
 * a tree of packages whose scan sleeps a fixed time (a slow host is
 * modelled by sleeping, since local hosts share this machine's cores), on
 * 1, 2, 4 and 8 local hosts.
 *
 * The hosts keep their tree copies between runs (the tree id matches, no
 * sync) and the work directory's database is removed before each run, so
 * every run scans every package.
 *
 * Usage: node dist/bench/scan.js [REPS] [SLOW_PACKAGES] [SLEEP_SECONDS]
 * (defaults 3, 48, 0.5)
 */
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { listPackageDirs } from "../src/bulk/scan-step.js";
import { writeTree } from "../tests/integration/tree-support.js";
import { median } from "./lib/measure.js";

const reps = Number(process.argv[2] ?? "3");
const slowCount = Number(process.argv[3] ?? "48");
const sleep = Number(process.argv[4] ?? "0.5");
const root = resolve(import.meta.dirname, "../..");
const cli = join(root, "dist/src/cli/main.js");
const fixture = join(root, "tests/fixtures/tree");
const tmp = mkdtempSync(join(tmpdir(), "herd-bench-scan-"));

interface ScanRun {
  /** The herd process, start to exit. */
  readonly wall: number;
  /** First host ready (idle) to the last record in. */
  readonly scan: number;
  readonly records: number;
}

/** `herd scan --local N` over `tree`, hosts kept in `work`, database removed first. */
async function herdScan(tree: string, work: string, hosts: number): Promise<ScanRun> {
  for (const f of ["herd.db", "herd.db-wal", "herd.db-shm"]) rmSync(join(work, f), { force: true });
  const out = join(work, "scan.out");
  const args = [cli, "scan", "--tree", tree, "--local", String(hosts), "--work", work];
  const t0 = performance.now();
  const child = spawn(process.execPath, [...args, "-o", out, "--json"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let events = "";
  child.stderr.on("data", (d: Buffer) => (events += d.toString()));
  const code = await new Promise<number | null>((r) => child.on("close", r));
  const wall = (performance.now() - t0) / 1000;
  // The fixture tree has a package whose Makefile is broken: exit status 1.
  if (code !== 0 && code !== 1) throw new Error(`herd scan failed (${String(code)}): ${events}`);
  const parsed = events
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { time: string; type: string; state?: string });
  const ready = parsed.find((e) => e.type === "host" && e.state === "idle");
  const last = parsed.filter((e) => e.type === "scan-progress").at(-1);
  if (ready === undefined || last === undefined) throw new Error(`no timings in: ${events}`);
  const records = readFileSync(out, "utf8").match(/^PKGNAME=/gm)?.length ?? 0;
  return { wall, scan: (Date.parse(last.time) - Date.parse(ready.time)) / 1000, records };
}

/** `bmake pbulk-index` in each directory, one after the other, from one sh loop. */
function direct(tree: string, dirs: readonly string[]): number {
  const t0 = performance.now();
  const r = spawnSync(
    "sh",
    ["-c", 'for d; do (cd "$d" && bmake pbulk-index) >/dev/null 2>&1; done', "direct", ...dirs],
    { cwd: tree, stdio: "ignore" },
  );
  if (r.status !== 0) throw new Error("direct scan loop failed");
  return (performance.now() - t0) / 1000;
}

function stamp(tree: string): void {
  const r = spawnSync(process.execPath, [cli, "tree", "stamp", "--tree", tree]);
  if (r.status !== 0) throw new Error("herd tree stamp failed");
}

/** mk/ of the fixture tree and `n` packages whose scan sleeps `secs`, listed by SUBDIR. */
function slowTree(dir: string, n: number, secs: number): string {
  const tree = join(dir, "slow-tree");
  cpSync(join(fixture, "mk"), join(tree, "mk"), { recursive: true });
  const files: Record<string, string> = {
    Makefile: 'SUBDIR+=\tslow\n\n.include "mk/bsd.pkg.subdir.mk"\n',
    "slow/Makefile": `COMMENT=\tSlow scans\n\n${Array.from({ length: n }, (_, i) => `SUBDIR+=\tp${i}\n`).join("")}\n.include "../mk/bsd.pkg.subdir.mk"\n`,
  };
  for (let i = 0; i < n; i++) {
    files[`slow/p${i}/Makefile`] = [
      `DISTNAME=\tslow${i}-1.0`,
      "CATEGORIES=\tslow",
      "MAINTAINER=\tbench@herd.example",
      "COMMENT=\tA package whose scan takes a while",
      ".BEGIN:",
      `\t@sleep ${secs}`,
      '.include "../../mk/bsd.pkg.mk"',
      "",
    ].join("\n");
  }
  writeTree(tree, files);
  stamp(tree);
  return tree;
}

const fmt = (s: number): string => s.toFixed(2).padStart(7);

try {
  console.log(
    `${String(availableParallelism())} cores, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}; median of ${String(reps)} runs`,
  );

  // (1) Overhead per package on the fixture tree.
  const tree = join(tmp, "tree");
  cpSync(fixture, tree, {
    recursive: true,
    filter: (s) => !/\/work$|\.herd-tree-id$/.test(s),
  });
  stamp(tree);
  const dirs = listPackageDirs(tree);
  const work1 = join(tmp, "work-fixture");
  await herdScan(tree, work1, 1); // the host's copy, synced once
  const directs: number[] = [];
  const herds: ScanRun[] = [];
  for (let i = 0; i < reps; i++) {
    directs.push(direct(tree, dirs));
    herds.push(await herdScan(tree, work1, 1));
  }
  const d = median(directs);
  const h = median(herds.map((r) => r.scan));
  const w = median(herds.map((r) => r.wall));
  console.log(`\nfixture tree, ${String(dirs.length)} package directories, one host:`);
  console.log(`  bmake pbulk-index in each directory (sh loop)       ${fmt(d)} s`);
  console.log(`  herd scan --local 1, first host ready → last record ${fmt(h)} s`);
  console.log(`  herd scan --local 1, whole command                  ${fmt(w)} s`);
  console.log(
    `  overhead per package: ${(((h - d) / dirs.length) * 1000).toFixed(0)} ms (scan phase), ${(((w - d) / dirs.length) * 1000).toFixed(0)} ms (whole command)`,
  );

  // (2) Scaling with slow scans.
  const slow = slowTree(tmp, slowCount, sleep);
  const slowDirs = listPackageDirs(slow);
  const work2 = join(tmp, "work-slow");
  await herdScan(slow, work2, 8); // every host's copy, synced once
  const serial = median(Array.from({ length: reps }, () => direct(slow, slowDirs)));
  console.log(
    `\n${String(slowDirs.length)} packages whose scan sleeps ${String(sleep)} s; sh loop on the master: ${fmt(serial)} s`,
  );
  console.log("hosts  scan (s)  ideal (s)  speedup  efficiency  whole command (s)");
  let one = 0;
  for (const n of [1, 2, 4, 8]) {
    const runs: ScanRun[] = [];
    for (let i = 0; i < reps; i++) runs.push(await herdScan(slow, work2, n));
    if (runs.some((r) => r.records !== slowDirs.length))
      throw new Error(`a scan on ${String(n)} hosts lost records`);
    const s = median(runs.map((r) => r.scan));
    if (n === 1) one = s;
    console.log(
      `${String(n).padStart(5)}  ${fmt(s)}  ${fmt(serial / n).padStart(9)}  ${(one / s).toFixed(2).padStart(7)}  ${((one / s / n) * 100).toFixed(0).padStart(9)}%  ${fmt(median(runs.map((r) => r.wall))).padStart(17)}`,
    );
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
