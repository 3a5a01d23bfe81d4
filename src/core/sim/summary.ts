/**
 * What `herd simulate` reports about one simulated build: as a plain object
 * (printed as JSON) and as text lines for the terminal.
 */
import type { HostSpec } from "../hostspec.js";
import { criticalChain } from "./bounds.js";
import type { ScenarioResult } from "./scenario.js";
import type { TaskGraph } from "../sched/graph.js";

export interface HostUsage {
  readonly name: string;
  readonly speed: number;
  readonly slots: number;
  readonly busySeconds: number;
  /** The speed the scheduler ended up assuming (learned in a cold start). */
  readonly assumedSpeed: number;
  /** Busy time over (makespan x slots). */
  readonly utilisation: number;
}

export interface SimulationSummary {
  readonly policy: string;
  readonly hosts: string;
  readonly cold: boolean;
  readonly jitter: number;
  readonly seed: number;
  readonly makespanSeconds: number;
  readonly lowerBoundSeconds: number;
  readonly ratio: number;
  readonly criticalPathSeconds: number;
  readonly totalWorkSeconds: number;
  readonly capacity: number;
  readonly packages: number;
  readonly missingHistory: number;
  readonly missingHistoryEstimated: boolean;
  readonly failed: number;
  readonly indirectlyFailed: number;
  readonly unfinished: number;
  readonly utilisation: number;
  readonly hostUsage: readonly HostUsage[];
  /** With links in the host spec: what crossed them, and whether placement counted it. */
  readonly transfer?: {
    readonly aware: boolean;
    readonly sentBytes: number;
    readonly transferSeconds: number;
  };
}

export interface SummaryContext {
  readonly hostSpec: string;
  readonly hosts: readonly HostSpec[];
  readonly cold: boolean;
  readonly jitter: number;
  readonly seed: number;
  readonly estimateMissing: boolean;
  /** Whether placement counted transfer costs (reported only when some host has a link). */
  readonly transferAware?: boolean;
}

/** Condenses one scenario result into the reported figures. */
export function summarize(r: ScenarioResult, ctx: SummaryContext): SimulationSummary {
  const m = r.result.makespan;
  const hostUsage = ctx.hosts.map((h, i): HostUsage => {
    const busy = r.result.busy[i] ?? 0;
    return {
      name: h.name,
      speed: h.speed,
      slots: h.slots,
      busySeconds: busy,
      assumedSpeed: r.result.assumedSpeeds[i] ?? h.speed,
      utilisation: m > 0 ? busy / (m * h.slots) : 0,
    };
  });
  let busyWork = 0;
  for (const u of hostUsage) busyWork += u.busySeconds * u.speed;
  const failed = r.result.runs.filter((x) => x.outcome === "failed").length;
  return {
    policy: r.policy,
    hosts: ctx.hostSpec,
    cold: ctx.cold,
    jitter: ctx.jitter,
    seed: ctx.seed,
    makespanSeconds: round(m, 3),
    lowerBoundSeconds: round(r.lowerBound.seconds, 3),
    ratio: round(r.ratio, 6),
    criticalPathSeconds: round(r.lowerBound.criticalPath, 3),
    totalWorkSeconds: round(r.lowerBound.totalWork, 3),
    capacity: r.lowerBound.capacity,
    packages: r.packages,
    missingHistory: r.missingHistory,
    missingHistoryEstimated: ctx.estimateMissing,
    failed,
    indirectlyFailed: r.result.indirectlyFailed.length,
    unfinished: r.result.unfinished,
    utilisation: m > 0 && r.lowerBound.capacity > 0 ? busyWork / (m * r.lowerBound.capacity) : 0,
    hostUsage,
    ...(ctx.hosts.some((h) => h.link !== undefined)
      ? {
          transfer: {
            aware: ctx.transferAware !== false,
            sentBytes: Math.round(r.result.sentBytes),
            transferSeconds: round(r.result.transferSeconds, 3),
          },
        }
      : {}),
  };
}

const round = (x: number, digits: number): number => Number(x.toFixed(digits));

const hours = (s: number): string => `${(s / 3600).toFixed(2)} h`;

/** The summary as terminal lines. */
export function formatSummary(s: SimulationSummary): string[] {
  const lines = [
    `policy ${s.policy} on ${s.hosts}${s.cold ? ", cold start" : ""}${s.jitter > 0 ? `, jitter ±${s.jitter}% (seed ${s.seed})` : ""}`,
    `packages: ${s.packages} scheduled; ${s.missingHistory} without history ${s.missingHistoryEstimated ? "(estimated)" : "(counted as built already)"}` +
      (s.failed > 0 ? `; ${s.failed} failed, ${s.indirectlyFailed} indirectly failed` : ""),
    `makespan:    ${hours(s.makespanSeconds)}`,
    `lower bound: ${hours(s.lowerBoundSeconds)} = max(critical path ${hours(s.criticalPathSeconds)} at the fastest speed, total work ${hours(s.totalWorkSeconds)} / capacity ${s.capacity.toFixed(2)})`,
    `ratio:       ${s.ratio.toFixed(3)}x`,
    `utilisation: ${(100 * s.utilisation).toFixed(1)}% of capacity`,
  ];
  if (s.transfer !== undefined) {
    lines.push(
      `transfers:   ${(s.transfer.sentBytes / 1e6).toFixed(0)} MB of dependency packages sent, ${hours(s.transfer.transferSeconds)} of runs spent waiting for them (placement ${s.transfer.aware ? "counts" : "does not count"} transfers)`,
    );
  }
  if (s.unfinished > 0)
    lines.push(`unfinished:  ${s.unfinished} packages never ran (no host could take them)`);
  const shown =
    s.hostUsage.length <= 16 ? s.hostUsage : [...s.hostUsage.slice(0, 8), ...s.hostUsage.slice(-4)];
  lines.push(
    `host    speed  slots   busy        utilisation${s.cold ? "   learned speed (fastest = 1)" : ""}`,
  );
  for (const u of shown) {
    lines.push(
      `${u.name.padEnd(7)} ${u.speed.toFixed(2).padStart(5)}  ${String(u.slots).padStart(5)}   ${hours(u.busySeconds).padStart(9)}   ${(100 * u.utilisation).toFixed(1).padStart(6)}%` +
        (s.cold ? `   ${u.assumedSpeed.toFixed(2).padStart(13)}` : ""),
    );
  }
  if (shown.length < s.hostUsage.length)
    lines.push(`(${s.hostUsage.length - shown.length} more hosts; see --json)`);
  return lines;
}

/** The tasks on one longest chain of the simulated durations (for highlighting). */
export function criticalTasks(graph: TaskGraph, r: ScenarioResult): Set<number> {
  const w = new Float64Array(graph.names.length);
  for (const run of r.result.runs)
    if (run.outcome !== "lost") w[run.task] = r.actual[run.task] ?? 0;
  return new Set(criticalChain(graph, w).filter((t) => w[t]! > 0));
}
