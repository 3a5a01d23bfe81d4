/**
 * A Gantt chart of a (simulated or real) build as standalone SVG: one row
 * per host slot, one bar per package run, the critical path highlighted.
 * Every bar carries a <title> tooltip; names are drawn only where they fit,
 * which keeps 1,800 packages readable. All text is escaped.
 */

export interface GanttRun {
  readonly label: string;
  /** Row key, e.g. "h3" or "h3/2". */
  readonly row: string;
  /** Where it ran, for its tooltip (default: the row). */
  readonly host?: string;
  readonly start: number;
  readonly end: number;
  readonly outcome: "ok" | "failed" | "lost" | "redundant" | "cancelled";
  readonly critical: boolean;
}

export interface GanttOptions {
  readonly title: string;
  /** Rows in display order; rows not listed follow in order of appearance. */
  readonly rows?: readonly string[];
  readonly width?: number;
  /** Seconds on the time axis; defaults to the last end. */
  readonly horizon?: number;
  /** A vertical marker, e.g. the lower bound. */
  readonly marker?: { readonly at: number; readonly label: string };
  /**
   * A <title> tooltip on every bar (default true). Chromium spends over a
   * millisecond on each <title> of an SVG shown as an image (where tooltips
   * do not even show): a full bulk build's chart went from 1.5 s to 40 s.
   */
  readonly tooltips?: boolean;
}

const ROW_H = 18;
const LABEL_W = 70;
const TOP = 46;
const CHAR_W = 6.2;

/** Escapes text for SVG/XML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos" }[c] ?? "amp"};`,
  );
}

/** Renders runs as an SVG document. */
export function renderGantt(runs: readonly GanttRun[], opts: GanttOptions): string {
  const rows = [...(opts.rows ?? [])];
  const rowIndex = new Map(rows.map((r, i) => [r, i]));
  for (const r of runs) {
    if (!rowIndex.has(r.row)) {
      rowIndex.set(r.row, rows.length);
      rows.push(r.row);
    }
  }
  let horizon = opts.horizon ?? 0;
  for (const r of runs) horizon = Math.max(horizon, r.end);
  if (opts.marker !== undefined) horizon = Math.max(horizon, opts.marker.at);
  if (!(horizon > 0)) horizon = 1;
  const width = Math.max(400, opts.width ?? 1600);
  const plotW = width - LABEL_W - 10;
  const height = TOP + rows.length * ROW_H + 30;
  const x = (t: number): number => LABEL_W + (t / horizon) * plotW;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="10">`,
    "<style>.ok{fill:#8fb3d9}.failed{fill:#e07b7b}.lost{fill:#c8c8c8}.cancelled,.redundant{fill:#dcdcdc}.crit{fill:#f0a030}rect.bar{stroke:#fff;stroke-width:0.5}</style>",
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="8" y="16" font-size="13" font-weight="bold">${escapeXml(opts.title)}</text>`,
    `<text x="8" y="32" fill="#555">${escapeXml(legend(opts.tooltips ?? true))}</text>`,
  );
  for (const [t, label] of ticks(horizon)) {
    const tx = x(t).toFixed(1);
    out.push(
      `<line x1="${tx}" y1="${TOP - 4}" x2="${tx}" y2="${TOP + rows.length * ROW_H}" stroke="#eee"/>`,
      `<text x="${tx}" y="${TOP + rows.length * ROW_H + 14}" text-anchor="middle" fill="#555">${escapeXml(label)}</text>`,
    );
  }
  rows.forEach((r, i) => {
    const y = TOP + i * ROW_H;
    if (i % 2 === 1)
      out.push(`<rect x="${LABEL_W}" y="${y}" width="${plotW}" height="${ROW_H}" fill="#f7f7f7"/>`);
    out.push(
      `<text x="${LABEL_W - 6}" y="${y + ROW_H - 5}" text-anchor="end">${escapeXml(r)}</text>`,
    );
  });
  for (const r of runs) {
    const y = TOP + rowIndex.get(r.row)! * ROW_H + 1;
    const x0 = x(r.start);
    const w = Math.max(0.5, x(r.end) - x0);
    const cls = r.critical && r.outcome === "ok" ? "crit" : r.outcome;
    const tip =
      opts.tooltips === false
        ? ""
        : `${r.label} on ${r.host ?? r.row}: ${clock(r.start)} to ${clock(r.end)} (${clock(r.end - r.start)})${r.outcome === "ok" ? "" : ", " + r.outcome}${r.critical ? ", critical path" : ""}`;
    out.push(
      `<g>${tip === "" ? "" : `<title>${escapeXml(tip)}</title>`}<rect class="bar ${cls}" x="${x0.toFixed(2)}" y="${y}" width="${w.toFixed(2)}" height="${ROW_H - 2}"/>`,
    );
    const maxChars = Math.floor((w - 4) / CHAR_W);
    if (maxChars >= 4) {
      const text = r.label.length > maxChars ? r.label.slice(0, maxChars - 1) + "…" : r.label;
      out.push(
        `<text x="${(x0 + 2).toFixed(2)}" y="${y + ROW_H - 6}" pointer-events="none">${escapeXml(text)}</text>`,
      );
    }
    out.push("</g>");
  }
  if (opts.marker !== undefined) {
    const mx = x(opts.marker.at).toFixed(1);
    out.push(
      `<line x1="${mx}" y1="${TOP - 6}" x2="${mx}" y2="${TOP + rows.length * ROW_H}" stroke="#c00" stroke-dasharray="4 3"/>`,
      `<text x="${mx}" y="${TOP - 8}" text-anchor="middle" fill="#c00">${escapeXml(opts.marker.label)}</text>`,
    );
  }
  out.push("</svg>");
  return out.join("\n") + "\n";
}

function legend(tooltips: boolean): string {
  return `blue: built · orange: on the critical path · red: failed · grey: lost host, or a redundant copy of a package built elsewhere${tooltips ? " · hover a bar for details" : ""}`;
}

/** About ten round tick marks (seconds) with labels. */
function ticks(horizon: number): (readonly [number, string])[] {
  const steps = [
    1, 2, 5, 10, 15, 30, 60, 300, 600, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800,
  ];
  const step = steps.find((s) => horizon / s <= 12) ?? Math.ceil(horizon / 12 / 86400) * 86400;
  const out: (readonly [number, string])[] = [];
  for (let t = 0; t <= horizon; t += step) out.push([t, t === 0 ? "0" : clock(t)]);
  return out;
}

/** Formats seconds as 3h05, 2d 3h05, or 12m30s under an hour. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number): string => String(n).padStart(2, "0");
  if (d > 0) return `${d}d ${h}h${pad(m)}`;
  if (h > 0) return `${h}h${pad(m)}`;
  return `${m}m${pad(s % 60)}s`;
}
