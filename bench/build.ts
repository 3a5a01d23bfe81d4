/**
 * Bulk builds of the fixture tree on 1, 2 and 4 local hosts (or, with
 * --slots, on one local host with 1, 2 and 4 slots): wall time of the build
 * phase against the simulator's prediction for the same per-package
 * durations and the same hosts, and the master's overhead per package (the
 * time a package spends outside its stages: dispatch, transfers,
 * bookkeeping). --sleep S sets FIXTURE_SLEEP (each tick package's build
 * sleeps S seconds, a slow build that leaves the CPU free).
 * Usage: node dist/bench/build.js [--slots] [--sleep S]
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import { hostName, type HostSpec } from "../src/core/hostspec.js";
import { buildTaskGraph } from "../src/core/sched/graph.js";
import { simulate } from "../src/core/sim/simulate.js";

const root = resolve(import.meta.dirname, "../..");
const cli = join(root, "dist/src/cli/main.js");
const tmp = mkdtempSync(join(tmpdir(), "herd-bench-build-"));
const tree = join(tmp, "tree");
cpSync(join(root, "tests/fixtures/tree"), tree, {
  recursive: true,
  filter: (s) => !/\/work$|\.herd-tree-id$/.test(s),
});
spawnSync("node", [cli, "tree", "stamp", "--tree", tree]);
const slotMode = process.argv.includes("--slots");
const sleepAt = process.argv.indexOf("--sleep");
const sleep = sleepAt < 0 ? "0" : (process.argv[sleepAt + 1] ?? "0");
const config = join(tmp, "herd.json");
writeFileSync(
  config,
  JSON.stringify({
    path: [join(root, "tests/fixtures/tools")],
    ...(sleep === "0" ? {} : { env: { FIXTURE_SLEEP: sleep } }),
  }),
);

interface Row {
  pkgname: string;
  started_ms: number;
  finished_ms: number;
}

/** A build on N local hosts, or (--slots) on one local host with N slots. */
function run(hosts: number): { buildSeconds: number; db: Database.Database } {
  const work = join(tmp, `work${hosts}`);
  const r = spawnSync(
    "node",
    [
      cli,
      "build",
      "--tree",
      tree,
      "--local",
      ...(slotMode ? ["1", "--slots", String(hosts)] : [String(hosts)]),
      "--work",
      work,
      "-c",
      config,
      "--json",
    ],
    { encoding: "utf8", maxBuffer: 1 << 26 },
  );
  if (r.status !== 0) throw new Error(`build on ${hosts} hosts failed: ${r.stderr}`);
  const events = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { type: string; phase?: string; time: string });
  const t0 = Date.parse(events.find((e) => e.type === "phase" && e.phase === "build")!.time);
  const t1 = Date.parse(events.find((e) => e.type === "phase" && e.phase === "report")!.time);
  return {
    buildSeconds: (t1 - t0) / 1000,
    db: new Database(join(work, "herd.db"), { readonly: true }),
  };
}

const one = run(1);
// Per-package durations on one host: the stages' wall times; the rest of a package's span is overhead.
const stageMs = new Map(
  (
    one.db
      .prepare("SELECT pkgname, SUM(wall_ms) AS ms FROM stages WHERE build_id = 1 GROUP BY pkgname")
      .all() as { pkgname: string; ms: number }[]
  ).map((r) => [r.pkgname, r.ms]),
);
const transferMs = one.db
  .prepare(
    "SELECT SUM(wall_ms) AS ms FROM stages WHERE build_id = 1 AND stage IN ('Depends', 'Fetch')",
  )
  .get() as { ms: number };
const rows = one.db
  .prepare(
    "SELECT pkgname, started_ms, finished_ms FROM packages WHERE build_id = 1 AND started_ms IS NOT NULL",
  )
  .all() as Row[];
const spans = rows.map((r) => r.finished_ms - r.started_ms);
const inStages = rows.reduce((a, r) => a + (stageMs.get(r.pkgname) ?? 0), 0);
const overheadPerPkg = (spans.reduce((a, b) => a + b, 0) - inStages) / rows.length;
const gapPerPkg = (one.buildSeconds * 1000 - spans.reduce((a, b) => a + b, 0)) / rows.length;

// The graph of what was built, from the resolved scan.
const deps = new Map<string, string[]>();
const presolve = spawnSync("cat", [join(tmp, "work1/builds/1/presolve")], {
  encoding: "latin1",
}).stdout;
for (const rec of presolve.split(/(?=^PKGNAME=)/m)) {
  const name = /^PKGNAME=(.*)$/m.exec(rec)?.[1];
  if (name !== undefined && stageMs.has(name))
    deps.set(
      name,
      (/^DEPENDS=(.*)$/m.exec(rec)?.[1] ?? "").split(" ").filter((d) => stageMs.has(d)),
    );
}
const names = [...deps.keys()];
const index = new Map(names.map((n, i) => [n, i]));
const g = buildTaskGraph(
  names,
  names.map((n) => deps.get(n)!.map((d) => index.get(d)!)),
);
if (!g.ok) throw new Error("graph");
const actual = names.map((n) => (stageMs.get(n) ?? 0) / 1000 + overheadPerPkg / 1000);

console.log(
  `fixture tree: ${rows.length} packages sent to hosts (built or failed), FIXTURE_SLEEP=${sleep}, herd build on ${slotMode ? "one local host with N slots" : "N local hosts"} of this ${String(availableParallelism())}-core machine`,
);
console.log(
  `master overhead per package: ${overheadPerPkg.toFixed(0)} ms inside a package's span outside its stages, ${gapPerPkg.toFixed(0)} ms between packages on one host; Depends (ship + pkg_add) and Fetch stages ${(transferMs.ms / rows.length).toFixed(0)} ms per package`,
);
console.log(`${slotMode ? "slots" : "hosts"}  build phase (s)  simulated (s)  ratio`);
for (const n of [1, 2, 4]) {
  const r = n === 1 ? one : run(n);
  const hosts: HostSpec[] = slotMode
    ? [{ name: hostName("h1"), speed: 1, slots: n }]
    : Array.from({ length: n }, (_, i) => ({ name: hostName(`h${i + 1}`), speed: 1, slots: 1 }));
  const sim = simulate({
    graph: g.graph,
    hosts,
    policy: "herd",
    actual,
    shown: actual,
    speedsKnown: true,
  });
  console.log(
    `${String(n).padStart(5)}  ${r.buildSeconds.toFixed(2).padStart(15)}  ${sim.makespan.toFixed(2).padStart(13)}  ${(r.buildSeconds / sim.makespan).toFixed(2).padStart(5)}`,
  );
  r.db.close();
}
rmSync(tmp, { recursive: true, force: true });
