/**
 * timeline.svg: the build's runs as a Gantt chart (gantt.ts), one row per
 * busy host slot, the critical path marked.
 */
import { renderGantt, type GanttRun } from "./gantt.js";
import type { ReportModel } from "./model.js";

/**
 * One row per package running at once on a host (its busy slots): runs that
 * overlap on a host go to the first of its rows free at their start; a host
 * that built one package at a time keeps a single row named after it.
 */
function laneRows(runs: readonly { host: string; startMs: number; endMs: number }[]): string[] {
  const order = runs.map((_, i) => i).sort((a, b) => runs[a]!.startMs - runs[b]!.startMs);
  const lanes = new Map<string, number[]>();
  const lane = new Array<number>(runs.length);
  for (const i of order) {
    const r = runs[i]!;
    const ends = lanes.get(r.host) ?? [];
    // A scan of the host's slots: a handful, however many packages.
    let k = ends.findIndex((end) => end <= r.startMs);
    if (k < 0) k = ends.push(0) - 1;
    ends[k] = r.endMs;
    lanes.set(r.host, ends);
    lane[i] = k;
  }
  return runs.map((r, i) =>
    (lanes.get(r.host)?.length ?? 1) > 1 ? `${r.host}/${lane[i]! + 1}` : r.host,
  );
}

/**
 * Runs up to which the chart's bars carry tooltips: a real 1,669-package
 * build keeps them; a full bulk build's would take a browser most of a
 * minute to draw (see GanttOptions.tooltips).
 */
const TOOLTIPS_UP_TO = 2000;

/** Whether the timeline's bars carry tooltips. */
export function hasTooltips(m: ReportModel): boolean {
  return m.timeline.length <= TOOLTIPS_UP_TO;
}

/** The timeline of a build as an SVG document. */
export function timelineSvg(m: ReportModel): string {
  // A loop, not Math.min(...): tens of thousands of arguments would overflow the stack.
  let t0 = Infinity;
  for (const r of m.timeline) t0 = Math.min(t0, r.startMs);
  if (!Number.isFinite(t0)) t0 = 0;
  const critical = new Set(m.critical.packages);
  const rows = laneRows(m.timeline);
  const runs: GanttRun[] = m.timeline.map((r, i) => ({
    label: r.pkgname,
    row: rows[i]!,
    host: r.host,
    start: (r.startMs - t0) / 1000,
    end: (r.endMs - t0) / 1000,
    outcome: r.ok ? "ok" : "failed",
    critical: critical.has(r.pkgname),
  }));
  return renderGantt(runs, {
    title: `herd build ${m.build.id}`,
    tooltips: hasTooltips(m),
  });
}
