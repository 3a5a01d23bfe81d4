/**
 * What the simulator's benches (simulate.ts, placement.ts) share: their
 * options (--data DIR, --seeds N, --skip-full), the 2026 data, host specs.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadGraph, loadHistory, recordedBuild } from "../../src/cli/simulate-input.js";
import { parseHostSpec, type HostSpec } from "../../src/core/hostspec.js";
import type { RecordedBuild } from "../../src/core/sim/scenario.js";

export interface SimBench {
  readonly seeds: number;
  /** The real 1,669-package build: its graph and its per-stage history. */
  readonly bulkLarge: () => Promise<RecordedBuild>;
  /** The full tree's presolve, unless --skip-full or it is not there. */
  readonly fullPresolve: string | undefined;
}

/** Parses the bench's options; `defaultSeeds` when --seeds is not given. */
export function simBench(defaultSeeds: number): SimBench {
  const { values } = parseArgs({
    options: {
      data: { type: "string" },
      seeds: { type: "string", default: String(defaultSeeds) },
      "skip-full": { type: "boolean", default: false },
    },
  });
  const dataDir =
    values.data ??
    process.env.HERD_DATA ??
    join(import.meta.dirname, "../../../../shared/data/pkgsrc-2026");
  const presolve = join(dataDir, "presolve.zst");
  return {
    seeds: Math.max(1, Number(values.seeds)),
    bulkLarge: async () =>
      recordedBuild(
        await loadGraph(join(dataDir, "depgraph-bulk-large.zst")),
        await loadHistory(join(dataDir, "history-bulk-large.zst")),
      ),
    fullPresolve: values["skip-full"] || !existsSync(presolve) ? undefined : presolve,
  };
}

/** The hosts of a spec such as "2x1.0,10x0.05@1MB"; throws on a bad one. */
export function hostsOf(spec: string): readonly HostSpec[] {
  const r = parseHostSpec(spec);
  if (!r.ok) throw new Error(r.error.message);
  return r.hosts;
}

/** A line of the bench's output. */
export function out(line = ""): void {
  process.stdout.write(line + "\n");
}
