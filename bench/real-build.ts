/**
 * The real build of the 2013 tree's no-distfile packages (and the local
 * category's chain; see src/cli/demo-real.ts) on 1, 2 and 3 local hosts (or,
 * with --slots, on one local host with 1, 2 and 3 slots, each slot with its
 * private view of the bootstrap prefix), each wall time against `herd
 * simulate`'s prediction from the history the 1-host build recorded (per
 * package: its whole span on the host, from Init to the package fetched
 * back).
 *
 * Usage: npx tsc -p . && node dist/bench/real-build.js [ROUNDS] [--slots]
 * The hosts' tree copies are kept in the cache (synced once, before timing).
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { REAL_BUILD_PACKAGES } from "../src/cli/demo-real.js";
import { median } from "./lib/measure.js";
import { CLI } from "../tests/lib/paths.js";
import {
  bootstrapConfig,
  hostSet,
  LOCAL_CATEGORY,
  preparePkgsrc2013,
  runCmd,
  syncHosts,
  treeWithCategory,
} from "../tests/lib/pkgsrc2013.js";

const slotMode = process.argv.includes("--slots");
const rounds = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? "1");
const p = preparePkgsrc2013();
const tree = treeWithCategory(p, LOCAL_CATEGORY);
const set = hostSet(p, "bench-build");
await syncHosts(
  tree,
  [1, 2, 3].map((i) => join(set, `local${i}`)),
);
const tmp = mkdtempSync(join(tmpdir(), "herd-bench-real-build-"));
writeFileSync(join(tmp, "herd.json"), JSON.stringify(bootstrapConfig(p)));
writeFileSync(join(tmp, "list"), REAL_BUILD_PACKAGES.join("\n") + "\n");

interface Event {
  readonly type: string;
  readonly time: string;
  readonly phase?: string;
}

/** --slots: a hosts file of one local host (the first synced copy) with N slots. */
function hostsFile(slots: number, tag: string): string {
  const f = join(tmp, `hosts-${tag}.txt`);
  writeFileSync(f, `local1 local ${join(set, "local1")} slots=${slots}\n`);
  return f;
}

/** One build on N hosts (or N slots); the build phase's wall seconds and its work directory. */
async function build(hosts: number, tag: string): Promise<{ seconds: number; work: string }> {
  const work = join(tmp, `work-${tag}`);
  mkdirSync(work);
  symlinkSync(set, join(work, "hosts"));
  const r = await runCmd(
    [
      "node",
      CLI,
      "build",
      "--tree",
      tree,
      ...(slotMode ? ["--hosts", hostsFile(hosts, tag)] : ["--local", String(hosts)]),
      "--work",
      work,
      "-c",
      join(tmp, "herd.json"),
      "--pkgs",
      join(tmp, "list"),
      "--json",
    ],
    { timeoutMs: 30 * 60_000 },
  );
  if (r.code !== 0) throw new Error(`build on ${hosts} hosts failed: ${r.stderr.slice(-2000)}`);
  const events = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Event);
  const at = (phase: string): number =>
    Date.parse(events.find((e) => e.type === "phase" && e.phase === phase)?.time ?? "");
  return { seconds: (at("report") - at("build")) / 1000, work };
}

/** The 1-host build as bob-format history CSV: each package's whole span on its host. */
function historyCsv(work: string, file: string): number {
  const db = new Database(join(work, "herd.db"), { readonly: true });
  const rows = db
    .prepare(
      "SELECT pkgname, pkgpath, state, failed_stage AS stage, started_ms AS s, finished_ms AS f FROM packages WHERE build_id = 1 AND started_ms IS NOT NULL AND finished_ms IS NOT NULL",
    )
    .all() as {
    pkgname: string;
    pkgpath: string;
    state: string;
    stage: string | null;
    s: number;
    f: number;
  }[];
  db.close();
  const lines = ["timestamp,pkgpath,pkgname,outcome,stage,make_jobs,duration"];
  for (const r of rows)
    lines.push(
      [
        Math.round(r.f / 1000),
        r.pkgpath,
        r.pkgname,
        r.state === "built" ? "success" : "failed",
        r.stage ?? "-",
        1,
        r.f - r.s,
      ].join(","),
    );
  writeFileSync(file, lines.join("\n") + "\n");
  return rows.length;
}

async function predicted(work: string, history: string, hosts: number): Promise<number> {
  const r = await runCmd([
    "node",
    CLI,
    "simulate",
    "--graph",
    join(work, "builds/1/presolve"),
    "--history",
    history,
    "--hosts",
    slotMode ? `1x1.0:${hosts}` : String(hosts),
    "--json",
  ]);
  if (r.code !== 0) throw new Error(`herd simulate failed: ${r.stderr}`);
  return (JSON.parse(r.stdout.trim().split("\n")[0]!) as { makespanSeconds: number })
    .makespanSeconds;
}

const walls = new Map<number, number[]>();
let reference: string | undefined;
for (let round = 0; round < rounds; round++) {
  for (const n of [1, 2, 3]) {
    process.stderr.write(
      `${new Date().toISOString()} round ${round + 1}: ${n} ${slotMode ? "slot(s)" : "host(s)"}...\n`,
    );
    const b = await build(n, `${n}-${round}`);
    walls.set(n, [...(walls.get(n) ?? []), b.seconds]);
    if (n === 1 && reference === undefined) reference = b.work;
  }
}
const history = join(tmp, "history.csv");
const packages = historyCsv(reference!, history);
console.log(
  `real 2013 tree: ${packages} packages sent to hosts (no-distfile pkgtools, a local chain of 3, mtree failing), on ${slotMode ? "one local host with N slots" : "N local hosts"} of this ${availableParallelism()}-core machine; median of ${rounds} round(s)`,
);
console.log(`${slotMode ? "slots" : "hosts"}  build phase (s)  herd simulate (s)  ratio`);
for (const n of [1, 2, 3]) {
  const wall = median(walls.get(n)!);
  const sim = await predicted(reference!, history, n);
  console.log(
    `${String(n).padStart(5)}  ${wall.toFixed(1).padStart(15)}  ${sim.toFixed(1).padStart(17)}  ${(wall / sim).toFixed(2).padStart(5)}`,
  );
}
rmSync(tmp, { recursive: true, force: true });
