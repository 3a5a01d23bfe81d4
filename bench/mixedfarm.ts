/**
 * A mixed farm: one fast host (local, unthrottled) and four slow hosts
 * (local, each in a CPU cage of its own at 1/20 of a core,
 * bench/lib/slowhost.ts), as a master beside a few old machines.
 *
 * (1) Scan: the fixture tree plus N plain package directories (default 120,
 *     so the scan lasts long enough to share), by the fast host alone, by the
 *     four slow hosts alone, and by all five. Rate = directories / (first
 *     host ready → last record). The farm's rate is compared with the sum of
 *     the two alone: what a perfect split would give.
 * (2) Full scan + build of the fixture tree (FIXTURE_SLEEP=0: every second
 *     of a build is CPU, so a slow host is slow at all of it) on the fast
 *     host alone and on the farm (slow hosts declared speed=0.05, as an
 *     operator would; with --learn, left for herd to learn). Against total work / capacity: total work = the fast
 *     host's package spans of its build alone; capacity = 1 + 4 r, r = the
 *     fast host's time over a slow host's for the packages the slow hosts
 *     built in the farm; the bound is max(critical path on the fast host,
 *     work / capacity), as `herd simulate` prints it.
 *
 * Host copies of the tree are kept between runs (synced once); each run
 * starts from an empty database. Needs root (cgroups).
 *
 * Usage: npx tsc -p . && node dist/bench/mixedfarm.js [--dirs 120] [--slow 4] [--fraction 0.05] [--build-only] [--learn]
 */
import { spawn } from "node:child_process";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { cageUnavailable, cpuCage, type CpuCage } from "./lib/slowhost.js";
import { writeTree } from "../tests/integration/tree-support.js";
import {
  FIXTURE_TREE,
  buildArgs,
  herdJson,
  sandbox,
  stamp,
  type Event,
} from "../tests/lib/fixture.js";
import { CLI } from "../tests/lib/paths.js";
import { flag } from "./lib/measure.js";

const DIRS = flag("dirs", 120);
const SLOW = flag("slow", 4);
const FRACTION = flag("fraction", 0.05);
/** --learn: the slow hosts' speed is not declared (learned from their first builds). */
const LEARN = process.argv.includes("--learn");
/** --build-only: leave out the scan figures (1). */
const SCAN = !process.argv.includes("--build-only");

const why = cageUnavailable();
if (why !== null) {
  console.log(`bench/mixedfarm: cannot run here: ${why}`);
  process.exit(0);
}

const at = (e: Event): number => Date.parse(e.time as string);
const f2 = (x: number): string => x.toFixed(2);

/** The fixture tree plus `n` plain packages in a category of their own. */
function scanTree(dir: string, n: number): string {
  const tree = join(dir, "scan-tree");
  cpSync(FIXTURE_TREE, tree, {
    recursive: true,
    filter: (s) => !/\/work$|\.herd-tree-id$/.test(s),
  });
  const files: Record<string, string> = {
    "bulk/Makefile": `COMMENT=\tPlain packages\n\n${Array.from({ length: n }, (_, i) => `SUBDIR+=\tp${String(i)}\n`).join("")}\n.include "../mk/bsd.pkg.subdir.mk"\n`,
  };
  for (let i = 0; i < n; i++)
    files[`bulk/p${String(i)}/Makefile`] = [
      `DISTNAME=\tbulk${String(i)}-1.0`,
      "CATEGORIES=\tbulk",
      "MAINTAINER=\tbench@herd.example",
      "COMMENT=\tA plain package",
      '.include "../../mk/bsd.pkg.mk"',
      "",
    ].join("\n");
  writeTree(tree, files);
  const top = join(tree, "Makefile");
  writeFileSync(
    top,
    readFileSync(top, "utf8").replace(/^\.include/m, "SUBDIR+=\tbulk\n\n.include"),
  );
  stamp(tree);
  return tree;
}

interface ScanRun {
  readonly dirs: number;
  /** First host ready to the last record (s). */
  readonly scan: number;
  readonly wall: number;
}

/** `herd scan` of `tree` on the hosts file's hosts, from an empty database. */
async function herdScan(tree: string, work: string, hosts: string): Promise<ScanRun> {
  for (const f of ["herd.db", "herd.db-wal", "herd.db-shm"]) rmSync(join(work, f), { force: true });
  const out = join(work, "scan.out");
  const t0 = Date.now();
  const child = spawn(
    process.execPath,
    [CLI, "scan", "--tree", tree, "--hosts", hosts, "--work", work, "-o", out, "--json"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let text = "";
  child.stderr.on("data", (d: Buffer) => (text += d.toString()));
  const code = await new Promise<number | null>((r) => child.on("close", r));
  const wall = (Date.now() - t0) / 1000;
  // The fixture tree has a broken Makefile on purpose: exit status 1.
  if (code !== 0 && code !== 1) throw new Error(`herd scan failed (${String(code)}): ${text}`);
  const ev = text
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Event);
  const ready = ev.find((e) => e.type === "host" && e.state === "idle");
  const last = ev.filter((e) => e.type === "scan-progress").at(-1);
  if (ready === undefined || last === undefined) throw new Error(`no timings in: ${text}`);
  const locs = readFileSync(out, "latin1").match(/^PKG_LOCATION=.*$/gm) ?? [];
  return {
    dirs: new Set(locs).size,
    scan: (at(last) - at(ready)) / 1000,
    wall,
  };
}

/** Longest chain of package spans (s) over the resolved dependencies in WORK/builds/1/presolve. */
function criticalPath(work: string, spans: ReadonlyMap<string, number>): number {
  const deps = new Map<string, string[]>();
  let cur = "";
  for (const line of readFileSync(join(work, "builds/1/presolve"), "latin1").split("\n")) {
    if (line.startsWith("PKGNAME=")) {
      cur = line.slice(8);
      deps.set(cur, []);
    } else if (line.startsWith("DEPENDS=") && cur !== "")
      deps.set(cur, line.slice(8).split(/\s+/).filter(Boolean));
  }
  const memo = new Map<string, number>();
  const longest = (p: string): number => {
    const m = memo.get(p);
    if (m !== undefined) return m;
    const v = (spans.get(p) ?? 0) + Math.max(0, ...(deps.get(p) ?? []).map(longest));
    memo.set(p, v);
    return v;
  };
  return Math.max(0, ...[...spans.keys()].map(longest));
}

interface BuildRun {
  readonly wall: number;
  readonly scanPhase: number;
  readonly buildPhase: number;
  /** Package span (s) and host of each package sent to a host. */
  readonly spans: Map<string, { s: number; host: string }>;
}

function phases(ev: readonly Event[], wall: number): BuildRun {
  const phase = (p: string): number => {
    const e = ev.find((x) => x.type === "phase" && x.phase === p);
    if (e === undefined) throw new Error(`no ${p} phase`);
    return at(e);
  };
  const spans = new Map<string, { s: number; host: string }>();
  for (const e of ev)
    if (e.type === "package-end" && e.result !== "lost")
      spans.set(e.pkgname as string, { s: (e.wallMs as number) / 1000, host: e.host as string });
  return {
    wall,
    scanPhase: (phase("resolve") - phase("scan")) / 1000,
    buildPhase: (phase("report") - phase("build")) / 1000,
    spans,
  };
}

const box = sandbox("mixedfarm");
const cages: CpuCage[] = [];
try {
  for (let i = 1; i <= SLOW; i++)
    cages.push(cpuCage(`herd-farm-${String(process.pid)}-${String(i)}`, FRACTION, box.dir));
  const fastLine = `fast local ${join(box.dir, "h-fast")}\n`;
  const slowLines = cages
    .map(
      (c, i) =>
        `slow${String(i + 1)} local ${join(box.dir, `h-slow${String(i + 1)}`)} shell=${c.shell}${LEARN ? "" : ` speed=${String(FRACTION)}`}\n`,
    )
    .join("");
  const hostsFile = (name: string, text: string): string => {
    const f = join(box.dir, `${name}.hosts`);
    writeFileSync(f, text);
    return f;
  };
  const fastOnly = hostsFile("fast", fastLine);
  const slowOnly = hostsFile("slow", slowLines);
  const farm = hostsFile("farm", fastLine + slowLines);

  console.log(
    `bench/mixedfarm: 1 fast host + ${String(SLOW)} hosts at ${String(FRACTION)} of a core; ${String(availableParallelism())} cores, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );

  if (SCAN) {
    // (1) Scan.
    const tree = scanTree(box.dir, DIRS);
    const sw = join(box.dir, "work-scan");
    await herdScan(tree, sw, farm); // every host's copy, synced once
    const fast = await herdScan(tree, sw, fastOnly);
    const slow = await herdScan(tree, sw, slowOnly);
    const mixed = await herdScan(tree, sw, farm);
    const rate = (r: ScanRun): number => r.dirs / r.scan;
    console.log(
      `\nscan of ${String(fast.dirs)} package directories (the fixture tree + ${String(DIRS)} plain ones):`,
    );
    console.log("| hosts | scan (s) | dirs/s | whole command (s) |");
    console.log("|---|---|---|---|");
    for (const [name, r] of [
      ["1 fast", fast],
      [`${String(SLOW)} slow`, slow],
      [`1 fast + ${String(SLOW)} slow`, mixed],
    ] as const)
      console.log(`| ${name} | ${f2(r.scan)} | ${f2(rate(r))} | ${f2(r.wall)} |`);
    const sum = rate(fast) + rate(slow);
    console.log(
      `farm rate ${f2(rate(mixed))} dirs/s against the sum of the two alone ${f2(sum)} dirs/s: ${((100 * rate(mixed)) / sum).toFixed(0)} %`,
    );
  }

  // (2) Full scan + build of the fixture tree.
  const buildOn = async (hosts: string, name: string): Promise<{ run: BuildRun; work: string }> => {
    const work = join(box.dir, `work-build-${name}`);
    const t0 = Date.now();
    const r = await herdJson(["build", ...buildArgs(box, work, hosts)], 3_600_000);
    if (r.code !== 0) throw new Error(`herd build on ${name} failed: ${r.stderr.slice(-2000)}`);
    return { run: phases(r.events, (Date.now() - t0) / 1000), work };
  };
  const alone = await buildOn(fastOnly, "fast");
  const both = await buildOn(farm, "farm");
  const fastSpans = new Map([...alone.run.spans].map(([p, v]) => [p, v.s]));
  const work = [...fastSpans.values()].reduce((a, b) => a + b, 0);
  const cp = criticalPath(alone.work, fastSpans);
  const onSlow = [...both.run.spans].filter(([, v]) => v.host !== "fast");
  const fastPart = onSlow.reduce((a, [p]) => a + (fastSpans.get(p) ?? 0), 0);
  const slowPart = onSlow.reduce((a, [, v]) => a + v.s, 0);
  const r = slowPart > 0 ? fastPart / slowPart : FRACTION;
  const capacity = 1 + SLOW * r;
  const bound = Math.max(cp, work / capacity);
  console.log(
    `\nfull scan + build of the fixture tree (${String(alone.run.spans.size)} packages sent to hosts, FIXTURE_SLEEP=0):`,
  );
  console.log(
    "| hosts | scan phase (s) | build phase (s) | whole command (s) | packages on slow hosts |",
  );
  console.log("|---|---|---|---|---|");
  console.log(
    `| 1 fast | ${f2(alone.run.scanPhase)} | ${f2(alone.run.buildPhase)} | ${f2(alone.run.wall)} | - |`,
  );
  console.log(
    `| 1 fast + ${String(SLOW)} slow | ${f2(both.run.scanPhase)} | ${f2(both.run.buildPhase)} | ${f2(both.run.wall)} | ${String(onSlow.length)} (${onSlow.map(([p]) => p).join(", ")}) |`,
  );
  console.log(
    `total work ${f2(work)} s (the fast host's spans), critical path ${f2(cp)} s, a slow host's speed ${r.toFixed(3)} of the fast one's${slowPart > 0 ? "" : " (declared: no package went to a slow host)"}, capacity ${capacity.toFixed(2)}: bound max(cp, work / capacity) ${f2(bound)} s; farm build phase / bound ${(both.run.buildPhase / bound).toFixed(2)}`,
  );
} finally {
  for (const c of cages) c.stop();
  rmSync(box.dir, { recursive: true, force: true });
}
