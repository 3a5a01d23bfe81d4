/**
 * Transfer-aware placement: simulates the real bulk-large build (depgraph +
 * history, 1,669 packages) on hosts whose links carry the dependency
 * packages, once with a scheduler blind to transfers (work / speed only, as
 * before) and once counting them (src/core/sched/startcost.ts), then times
 * the full 29,022-package tree with links.
 *
 *   node dist/bench/placement.js [--data DIR] [--seeds N] [--skip-full]
 *
 * Package sizes are estimated from the history's disk_usage
 * (src/core/sim/transfer.ts). Figures: makespan, its ratio to the lower
 * bound max(critical path, work / capacity) (which counts no transfer),
 * what crossed the links and how long runs waited for it.
 */
import { loadGraph, recordedBuild } from "../src/cli/simulate-input.js";
import { runScenario, type RecordedBuild, type ScenarioResult } from "../src/core/sim/scenario.js";
import { hostName } from "../src/core/hostspec.js";
import { Scheduler } from "../src/core/sched/scheduler.js";
import { seededRandom } from "../src/core/sim/jitter.js";
import type { LoadedGraph } from "../src/core/sim/graph-input.js";
import { hostsOf, out, simBench } from "./lib/simdata.js";

const { seeds, bulkLarge, fullPresolve } = simBench(10);

const hours = (s: number): string => `${(s / 3600).toFixed(2)} h`;

function run(
  build: RecordedBuild,
  spec: string,
  aware: boolean,
  jitter: number,
  seed: number,
): { r: ScenarioResult; ms: number } {
  const t = performance.now();
  const r = runScenario(build, {
    hosts: hostsOf(spec),
    policy: "herd",
    transfer: { aware },
    ...(jitter > 0 ? { jitter, seed } : {}),
  });
  return { r, ms: performance.now() - t };
}

function row(build: RecordedBuild, spec: string, jitter: number): void {
  const cells: string[] = [];
  let lb = 0;
  for (const aware of [false, true]) {
    let ratio = 0;
    let makespan = 0;
    let sent = 0;
    let waited = 0;
    let ms = 0;
    const n = jitter > 0 ? seeds : 1;
    for (let seed = 1; seed <= n; seed++) {
      const x = run(build, spec, aware, jitter, seed);
      ratio += x.r.ratio / n;
      makespan += x.r.result.makespan / n;
      sent += x.r.result.sentBytes / n;
      waited += x.r.result.transferSeconds / n;
      ms += x.ms / n;
      lb = x.r.lowerBound.seconds;
    }
    cells.push(
      `${hours(makespan).padStart(8)} ${ratio.toFixed(3)}x ${`${(sent / 1e9).toFixed(1)} GB`.padStart(8)} ${hours(waited).padStart(9)} ${`${ms.toFixed(0)} ms`.padStart(7)}`,
    );
  }
  out(
    `| ${`${spec}${jitter > 0 ? ` ±${jitter}%` : ""}`.padEnd(34)} | ${hours(lb).padStart(8)} | ${cells.join(" | ")} |`,
  );
}

function table(build: RecordedBuild, specs: readonly string[], jitter: number): void {
  const half = "makespan  ratio       sent    waited    time";
  out(`| ${"hosts".padEnd(34)} | bound    | blind: ${half} | aware: ${half} |`);
  out(
    `| ${"-".repeat(34)} | -------- | ${"-".repeat(half.length + 7)} | ${"-".repeat(half.length + 7)} |`,
  );
  for (const spec of specs) row(build, spec, jitter);
  out();
}

async function main(): Promise<void> {
  const build = await bulkLarge();
  out(
    `bulk-large: ${build.graph.names.length} packages in the graph; policy herd; ` +
      `blind: placement counts work / speed; aware: it counts the transfers too`,
  );
  out();
  out("History durations exact:");
  out();
  const specs = [
    "2x1.0,10x0.05@1MB",
    "2x1.0@1MB,10x0.05@1MB",
    "2x1.0,10x0.05@100KB",
    "2x1.0@100KB,10x0.05@100KB",
    "2x1.0@1MB,6x0.05@1MB,4x0.05@1MB+4h",
    "2x1.0@100KB,6x0.05@100KB,4x0.05@100KB+4h",
  ];
  table(build, specs, 0);
  out(`Jitter ±30%: means over ${seeds} seeds:`);
  out();
  table(build, ["2x1.0@1MB,10x0.05@1MB", "2x1.0@100KB,10x0.05@100KB"], 30);

  const presolve = fullPresolve;
  if (presolve === undefined) return;
  const loaded = await loadGraph(presolve);
  decisions(loaded);
  const full = recordedBuild(loaded, build.history);
  out(
    `Full tree (presolve.zst, ${full.graph.names.length} packages, missing durations estimated): schedule + simulate, policy herd:`,
  );
  out();
  out(`| ${"hosts".padEnd(26)} | placement | ratio  | sent     | time     |`);
  out(`| ${"-".repeat(26)} | --------- | ------ | -------- | -------- |`);
  for (const spec of ["2x1.0@1MB,10x0.05@1MB", "8x1.0@1MB,56x0.25@1MB"]) {
    for (const aware of [false, true]) {
      const t = performance.now();
      const r = runScenario(full, {
        hosts: hostsOf(spec),
        policy: "herd",
        estimateMissing: true,
        transfer: { aware },
      });
      const ms = performance.now() - t;
      out(
        `| ${spec.padEnd(26)} | ${(aware ? "aware" : "blind").padEnd(9)} | ${r.ratio.toFixed(3)}x | ${`${(r.result.sentBytes / 1e9).toFixed(0)} GB`.padStart(8)} | ${`${ms.toFixed(0)} ms`.padStart(8)} |`,
      );
    }
  }
}

/**
 * The time of one decision (nextAssignments) on 500 hosts (50 fast, 450 at
 * 1/10, links 1 MB/s) over the full tree: 1,500 rounds, each finishing the
 * 20 oldest running packages, without and with start costs.
 */
function decisions(loaded: LoadedGraph): void {
  const g = loaded.graph;
  const n = g.names.length;
  out("Decisions on 500 hosts over the full tree (1,500 rounds of 20 finished packages each):");
  out();
  out("| placement | mean     | p99      | worst    | first burst (500 starts) |");
  out("| --------- | -------- | -------- | -------- | ------------------------ |");
  for (const aware of [false, true]) {
    const rand = seededRandom(3);
    const s = new Scheduler(g, {
      policy: "herd",
      durations: Array.from({ length: n }, () => 10 + 100 * rand()),
      done: loaded.excluded,
      ...(aware ? { transfer: { defaultBytes: 1e6, keepsBuilt: false } } : {}),
    });
    for (let h = 0; h < 500; h++)
      s.addHost(hostName(`h${h}`), { slots: 1, speed: h < 50 ? 1 : 0.1, link: 1e6 }, 0);
    const times: number[] = [];
    let burst = 0;
    const running: { task: number; host: ReturnType<typeof hostName> }[] = [];
    for (let r = 0, now = 0; r < 1500 && !s.isFinished(); r++, now++) {
      const t0 = performance.now();
      const d = s.nextAssignments(now);
      const ms = performance.now() - t0;
      times.push(ms);
      if (d.start.length >= 500) burst = ms;
      running.push(...d.start);
      for (const a of running.splice(0, 20)) s.onTaskFinished(a.task, a.host, now + 1, true);
      s.maintain();
    }
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    times.sort((a, b) => a - b);
    const ms = (x: number): string => `${x.toFixed(1)} ms`.padStart(8);
    out(
      `| ${(aware ? "aware" : "blind").padEnd(9)} | ${ms(mean)} | ${ms(times[Math.floor(times.length * 0.99)]!)} | ${ms(times[times.length - 1]!)} | ${ms(burst).padStart(24)} |`,
    );
  }
  out();
}

await main();
