/**
 * Scheduler benchmark: simulates the real bulk-large build (depgraph +
 * history) under every policy side by side, then times scheduling +
 * simulating the full 29,022-package tree (presolve).
 *
 *   node dist/bench/simulate.js [--data DIR] [--seeds N] [--skip-full]
 *
 * DIR defaults to ../shared/data/pkgsrc-2026 next to the checkout (or
 * $HERD_DATA). Figures are makespan / lower bound: 1.000x is optimal.
 */
import { loadGraph, recordedBuild } from "../src/cli/simulate-input.js";
import { POLICY_NAMES } from "../src/core/sched/priority.js";
import { runScenario, type RecordedBuild, type ScenarioOptions } from "../src/core/sim/scenario.js";
import { hostsOf, out, simBench } from "./lib/simdata.js";

const { seeds, bulkLarge, fullPresolve } = simBench(20);

type Case = Omit<ScenarioOptions, "policy" | "hosts">;

function ratio(
  build: RecordedBuild,
  spec: string,
  policy: (typeof POLICY_NAMES)[number],
  c: Case,
): string {
  if (c.jitter === undefined)
    return `${runScenario(build, { ...c, hosts: hostsOf(spec), policy }).ratio.toFixed(3)}x`;
  let sum = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    sum += runScenario(build, { ...c, hosts: hostsOf(spec), policy, seed }).ratio;
  }
  return `${(sum / seeds).toFixed(3)}x`;
}

function table(build: RecordedBuild, rows: readonly [string, string, Case][]): void {
  const cell = (s: string): string => s.padStart(13);
  out(`| ${"hosts".padEnd(30)} | ${POLICY_NAMES.map(cell).join(" | ")} |`);
  out(`| ${"-".repeat(30)} | ${POLICY_NAMES.map(() => "-".repeat(13)).join(" | ")} |`);
  for (const [label, spec, c] of rows) {
    out(
      `| ${label.padEnd(30)} | ${POLICY_NAMES.map((p) => cell(ratio(build, spec, p, c))).join(" | ")} |`,
    );
  }
  out();
}

const hours = (s: number): string => `${(s / 3600).toFixed(2)} h`;

async function main(): Promise<void> {
  const build = await bulkLarge();
  const one = runScenario(build, { hosts: hostsOf("1"), policy: "fifo" });
  const het = runScenario(build, { hosts: hostsOf("2x1.0,10x0.25"), policy: "fifo" });
  out(
    `bulk-large: ${build.graph.names.length} packages in the graph, ${one.packages} built, ` +
      `${one.missingHistory} without history (counted as built)`,
  );
  out(
    `critical path ${hours(one.lowerBound.criticalPath)}, total work ${hours(one.lowerBound.totalWork)}; ` +
      `lower bound on 2x1.0,10x0.25: ${hours(het.lowerBound.seconds)}`,
  );
  out();
  out("Makespan / lower bound, history known (exact durations):");
  out();
  const specs = ["1", "2", "4", "8", "16", "64", "2x1.0,10x0.25"];
  table(
    build,
    specs.map((s) => {
      const lb = runScenario(build, { hosts: hostsOf(s), policy: "fifo" }).lowerBound.seconds;
      return [`${s} (bound ${hours(lb)})`, s, {}];
    }),
  );
  out("Cold start (--cold): no durations, no host speeds; categories from PKG_LOCATION;");
  out("'graph only' hides the categories too:");
  out();
  table(build, [
    ["8 cold", "8", { cold: true }],
    ["2x1.0,10x0.25 cold", "2x1.0,10x0.25", { cold: true }],
    ["8 cold, graph only", "8", { cold: true, hideCategories: true }],
    ["2x1.0,10x0.25 cold, graph only", "2x1.0,10x0.25", { cold: true, hideCategories: true }],
  ]);
  out(`Jitter ±30% (--jitter 30): mean ratio over ${seeds} seeds:`);
  out();
  table(build, [
    ["8", "8", { jitter: 30 }],
    ["2x1.0,10x0.25", "2x1.0,10x0.25", { jitter: 30 }],
    ["8 cold", "8", { jitter: 30, cold: true }],
    ["2x1.0,10x0.25 cold", "2x1.0,10x0.25", { jitter: 30, cold: true }],
  ]);

  const presolve = fullPresolve;
  if (presolve === undefined) return;
  const t0 = performance.now();
  const full = recordedBuild(await loadGraph(presolve), build.history);
  const loadMs = performance.now() - t0;
  out(
    `Full tree (presolve.zst, ${full.graph.names.length} packages, missing durations estimated): ` +
      `schedule + simulate, policy herd (reading + resolving took ${loadMs.toFixed(0)} ms, not counted):`,
  );
  out();
  out(`| ${"hosts".padEnd(18)} | packages | ratio  | time    |`);
  out(`| ${"-".repeat(18)} | -------- | ------ | ------- |`);
  for (const [spec, cold] of [
    ["8", false],
    ["64", false],
    ["2x1.0,10x0.25", false],
    ["8", true],
    ["64", true],
    ["2x1.0,10x0.25", true],
  ] as const) {
    const t = performance.now();
    const r = runScenario(full, {
      hosts: hostsOf(spec),
      policy: "herd",
      estimateMissing: true,
      cold,
    });
    const ms = performance.now() - t;
    out(
      `| ${`${spec}${cold ? " cold" : ""}`.padEnd(18)} | ${String(r.packages).padStart(8)} | ${r.ratio.toFixed(3)}x | ${`${ms.toFixed(0)} ms`.padStart(7)} |`,
    );
  }
}

await main();
