/**
 * `herd simulate`: runs the scheduler on a virtual clock over a recorded
 * build (dependency graph + history) and prints makespan, lower bound,
 * their ratio and utilisation, optionally as JSON and a Gantt chart.
 */
import { writeFile } from "node:fs/promises";
import { Command, Option } from "commander";
import { parseHostSpec, type HostSpec } from "../core/hostspec.js";
import {
  POLICY_NAMES,
  isPolicyName,
  policyTraits,
  type PolicyName,
} from "../core/sched/priority.js";
import { runScenario, type RecordedBuild, type ScenarioResult } from "../core/sim/scenario.js";
import {
  criticalTasks,
  formatSummary,
  summarize,
  type SimulationSummary,
} from "../core/sim/summary.js";
import { renderGantt, type GanttRun } from "../report/gantt.js";
import { UserError } from "./errors.js";
import { loadGraph, loadHistory, recordedBuild } from "./simulate-input.js";

interface SimulateFlags {
  readonly graph: string;
  readonly history: string;
  readonly hosts: string;
  readonly policy: string;
  readonly cold: boolean;
  readonly estimateMissing: boolean;
  readonly jitter: string;
  readonly seed: string;
  readonly json: boolean;
  readonly gantt?: string;
  readonly transferBlind: boolean;
  readonly treeBytes: string;
}

/** Registers `herd simulate` on the program. */
export function registerSimulate(program: Command): void {
  program
    .command("simulate")
    .description("simulate a bulk build on a virtual clock to compare scheduling policies")
    .requiredOption(
      "--graph <file>",
      "dependency graph: `dep -> dependent` lines, or a pscan/presolve file (plain or .zst)",
    )
    .requiredOption("--history <file>", "build history CSV (plain or .zst): durations per package")
    .requiredOption(
      "--hosts <spec>",
      "hosts: 8 | 2x1.0,10x0.25 (COUNTxSPEED) | 4x1.0:2 (…:SLOTS) | 10x0.05@1MB (…with a 1 MB/s link: dependencies cross it) | 2x0.05@100KB+2h (…joining after 2 h, syncing the tree first)",
    )
    .addOption(
      new Option("--policy <name>", `scheduling policy, or "all" to compare them side by side`)
        .choices([...POLICY_NAMES, "all"])
        .default("herd"),
    )
    .option(
      "--cold",
      "cold start: hide history durations and host speeds from the scheduler (it learns them)",
      false,
    )
    .option(
      "--estimate-missing",
      "estimate packages without history instead of counting them as built",
      false,
    )
    .option("--jitter <percent>", "real durations differ from the history by up to ±percent", "0")
    .option("--seed <n>", "seed of the jitter", "1")
    .option("--json", "print one JSON object per policy instead of text", false)
    .option("--gantt <out.svg>", "write an SVG timeline of the (first) policy's schedule")
    .option(
      "--transfer-blind",
      "with links (@LINK): placement ignores transfer costs, as before they were counted (the transfers still happen)",
      false,
    )
    .option(
      "--tree-bytes <n>",
      "bytes of the tree a late host (+JOIN) syncs over its link",
      "240e6",
    )
    .addHelpText(
      "after",
      `\npolicies:\n${POLICY_NAMES.map((p) => `  ${p.padEnd(14)} ${policyTraits(p).description}`).join("\n")}\n`,
    )
    .action(async (flags: SimulateFlags) => {
      await simulateCommand(flags);
    });
}

function numberFlag(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    throw new UserError(
      "usage",
      `--${name} ${value}: expected a number from ${min} to ${max}`,
      `e.g. --${name} ${min === 0 ? 30 : 1}`,
    );
  }
  return n;
}

async function simulateCommand(flags: SimulateFlags): Promise<void> {
  const parsed = parseHostSpec(flags.hosts);
  if (!parsed.ok)
    throw new UserError("usage", `--hosts: ${parsed.error.message}`, parsed.error.hint);
  const jitter = numberFlag("jitter", flags.jitter, 0, 100);
  const treeBytes = numberFlag("tree-bytes", flags.treeBytes, 0, 1e15);
  const linked = parsed.hosts.some((h) => h.link !== undefined || h.joinAt !== undefined);
  const seed = Math.trunc(numberFlag("seed", flags.seed, 0, 2 ** 32 - 1));
  const policies: readonly PolicyName[] =
    flags.policy === "all" ? POLICY_NAMES : isPolicyName(flags.policy) ? [flags.policy] : [];
  const [graph, history] = await Promise.all([loadGraph(flags.graph), loadHistory(flags.history)]);
  const build = recordedBuild(graph, history);
  const results = policies.map((policy) => ({
    policy,
    result: runScenario(build, {
      hosts: parsed.hosts,
      policy,
      cold: flags.cold,
      estimateMissing: flags.estimateMissing,
      jitter,
      seed,
      ...(linked ? { transfer: { aware: !flags.transferBlind, treeBytes } } : {}),
    }),
  }));
  const ctx = {
    hostSpec: flags.hosts,
    hosts: parsed.hosts,
    cold: flags.cold,
    jitter,
    seed,
    estimateMissing: flags.estimateMissing,
    transferAware: !flags.transferBlind,
  };
  const summaries = results.map((r) => summarize(r.result, ctx));
  if (flags.json) {
    for (const s of summaries) process.stdout.write(JSON.stringify(s) + "\n");
  } else if (summaries.length === 1) {
    process.stdout.write(formatSummary(summaries[0]!).join("\n") + "\n");
  } else {
    process.stdout.write(comparison(summaries).join("\n") + "\n");
  }
  const first = results[0];
  if (flags.gantt !== undefined && first !== undefined) {
    await writeGantt(flags.gantt, build, first.result, parsed.hosts, summaries[0]!);
  }
}

function comparison(summaries: readonly SimulationSummary[]): string[] {
  const s0 = summaries[0]!;
  const lines = [
    `${s0.packages} packages on ${s0.hosts}${s0.cold ? ", cold start" : ""}; lower bound ${(s0.lowerBoundSeconds / 3600).toFixed(2)} h` +
      `; ${s0.missingHistory} without history ${s0.missingHistoryEstimated ? "(estimated)" : "(counted as built already)"}`,
    "policy          makespan    ratio   utilisation",
  ];
  for (const s of summaries) {
    lines.push(
      `${s.policy.padEnd(14)} ${`${(s.makespanSeconds / 3600).toFixed(2)} h`.padStart(9)}   ${s.ratio.toFixed(3)}x   ${(100 * s.utilisation).toFixed(1).padStart(6)}%`,
    );
  }
  return lines;
}

async function writeGantt(
  path: string,
  build: RecordedBuild,
  r: ScenarioResult,
  hosts: readonly HostSpec[],
  s: SimulationSummary,
): Promise<void> {
  const critical = criticalTasks(build.graph, r);
  const row = (host: string, slot: number, slots: number): string =>
    slots > 1 ? `${host}/${slot + 1}` : host;
  const slotsOf = new Map(hosts.map((h) => [h.name as string, h.slots]));
  const rows = hosts.flatMap((h) =>
    Array.from({ length: h.slots }, (_, i) => row(h.name, i, h.slots)),
  );
  const runs: GanttRun[] = r.result.runs.map((x) => ({
    label: build.graph.names[x.task] ?? String(x.task),
    row: row(x.host, x.slot, slotsOf.get(x.host) ?? 1),
    start: x.start,
    end: x.end,
    outcome: x.outcome,
    critical: critical.has(x.task),
  }));
  const svg = renderGantt(runs, {
    title: `herd simulate: ${s.policy} on ${s.hosts}${s.cold ? " (cold start)" : ""}: makespan ${(s.makespanSeconds / 3600).toFixed(2)} h, ${s.ratio.toFixed(3)}x the lower bound`,
    rows,
    marker: { at: s.lowerBoundSeconds, label: "lower bound" },
  });
  try {
    await writeFile(path, svg);
  } catch (err) {
    throw new UserError(
      "output",
      `cannot write ${path}: ${(err as Error).message}`,
      "check the directory exists and is writable",
      { cause: err },
    );
  }
}
