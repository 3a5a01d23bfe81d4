/**
 * Writes the report directory: report.html (works from file:// and any
 * static server), one page per failed package with its stage logs,
 * report.txt, a short mail form (report-short.txt) and report.json.
 * Everything from package data is escaped: names and logs render as text.
 */
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { formatCounts, STATE_ORDER } from "../core/pkgstate.js";
import { renderGantt, type GanttRun } from "./gantt.js";
import type { FailedPackage, ReportModel } from "./model.js";

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "#39" }[c] ?? "amp"};`,
  );
}

/** A file name safe for any package name. */
export function pageName(pkgname: string): string {
  return `pkg-${pkgname.replace(/[^A-Za-z0-9._+-]/g, "_")}.html`;
}

/** Writes report.html, report.txt, report-short.txt, report.json and the package pages; returns report.html's path. */
export async function writeReport(dir: string, m: ReportModel): Promise<string> {
  await mkdir(join(dir, "logs"), { recursive: true });
  for (const f of m.failed) await writePackagePage(dir, f);
  await writeFile(join(dir, "report.json"), JSON.stringify(m, null, 2) + "\n");
  await writeFile(join(dir, "report.txt"), renderText(m, false));
  await writeFile(join(dir, "report-short.txt"), renderText(m, true));
  await writeFile(join(dir, "timeline.svg"), timelineSvg(m));
  const html = join(dir, "report.html");
  await writeFile(html, renderHtml(m));
  return html;
}

function countsLine(m: ReportModel): string {
  return formatCounts(m.counts);
}

/** The plain-text report; `short` is the mail form. */
export function renderText(m: ReportModel, short: boolean): string {
  const lines: string[] = [];
  const when = new Date(m.build.startedMs).toISOString();
  lines.push(
    `herd bulk build ${m.build.id} of ${m.build.tree} (tree id ${m.build.treeId}), started ${when}`,
  );
  lines.push(`${m.total} packages: ${countsLine(m)}`);
  lines.push("");
  lines.push("Failed packages (most breakage first):");
  const built = m.failed.filter((f) => f.stage !== "fetch");
  for (const f of short ? built.slice(0, 20) : built) {
    lines.push(
      `  ${f.pkgname} (${f.pkgpath}) breaks ${f.breaks}, ${f.stage}: ${f.reason}${f.maintainer === "" ? "" : ` <${f.maintainer}>`}`,
    );
  }
  if (short && built.length > 20) lines.push(`  ... and ${built.length - 20} more`);
  if (m.fetchFailed.length > 0) {
    lines.push("");
    lines.push("Distfiles not fetched (the package failed at fetch):");
    for (const f of m.fetchFailed)
      lines.push(`  ${f.pkgname} (${f.pkgpath}) breaks ${f.breaks}: ${f.reason}`);
  }
  if (m.diff !== null) {
    lines.push("");
    lines.push(
      `Since build ${m.diff.previousBuild}: ${m.diff.newlyFailing.length} newly failing, ${m.diff.fixed.length} fixed, ${m.diff.newPackages.length} new`,
    );
    for (const p of m.diff.newlyFailing) lines.push(`  newly failing: ${p}`);
    for (const p of m.diff.fixed) lines.push(`  fixed: ${p}`);
  }
  if (!short) {
    lines.push("");
    lines.push("Indirectly failed or skipped:");
    for (const p of m.indirect) lines.push(`  ${p.pkgname} (${p.state}) because of ${p.culprit}`);
    lines.push("");
    if (m.scanErrors.length > 0) {
      lines.push("Scan failures (no record, not built):");
      for (const x of m.scanErrors) lines.push(`  ${x.pkgpath} on ${x.host}: ${x.message}`);
      lines.push("");
    }
    lines.push("Skipped:");
    for (const p of m.skipped) lines.push(`  ${p.pkgname}: ${p.reason}`);
    lines.push("");
    if (m.critical.packages.length > 0)
      lines.push(
        `Critical path: ${m.critical.packages.join(" -> ")} (${m.critical.seconds.toFixed(1)} s)`,
        "",
      );
    lines.push("Hosts:");
    for (const h of m.hosts)
      lines.push(
        `  ${h.host}: ${h.built} built, ${h.failed} failed, ${h.busySeconds.toFixed(1)} s busy`,
      );
  }
  return lines.join("\n") + "\n";
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  // Cells arrive already escaped (some hold links).
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("\n");
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}th{background:#eee}.counts span{display:inline-block;margin-right:1em}
.failed{color:#b00}.built{color:#070}img{max-width:100%;height:auto}pre{background:#f6f6f6;padding:.5em;overflow:auto;max-height:40em}`;

/** The main HTML page. */
export function renderHtml(m: ReportModel): string {
  const e = escapeHtml;
  const counts = STATE_ORDER.filter((k) => (m.counts[k] ?? 0) > 0)
    .map(
      (k) =>
        `<span class="${e(k)}" data-count="${e(k)}">${e(k)}: <b>${m.counts[k] ?? 0}</b></span>`,
    )
    .join("");
  const fetchRows = m.fetchFailed.map((f) => [
    `<a href="${e(pageName(f.pkgname))}">${e(f.pkgname)}</a>`,
    e(f.pkgpath),
    String(f.breaks),
    e(f.reason),
  ]);
  const failedRows = m.failed
    .filter((f) => f.stage !== "fetch")
    .map((f) => [
      `<a href="${e(pageName(f.pkgname))}">${e(f.pkgname)}</a>`,
      e(f.pkgpath),
      String(f.breaks),
      e(f.stage),
      e(f.reason),
      e(f.maintainer),
      f.logs
        .map((l) => `<a href="logs/${e(logName(f.pkgname, l.stage))}">${e(l.stage)}</a>`)
        .join(" "),
    ]);
  const diff =
    m.diff === null
      ? "<p>No previous build to compare with.</p>"
      : `<p>Compared with build ${m.diff.previousBuild}:</p>` +
        table(
          ["change", "packages"],
          [
            ["newly failing", e(m.diff.newlyFailing.join(" "))],
            ["fixed", e(m.diff.fixed.join(" "))],
            ["new packages", e(m.diff.newPackages.join(" "))],
          ],
        );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>herd build ${m.build.id}</title><style>${STYLE}</style></head>
<body>
<h1>herd bulk build ${m.build.id}</h1>
<p>Tree ${e(m.build.tree)} (id ${e(m.build.treeId)}), started ${e(new Date(m.build.startedMs).toISOString())}${m.build.finishedMs === null ? ", not finished" : `, finished ${e(new Date(m.build.finishedMs).toISOString())}`}.</p>
<section id="summary"><h2>Summary</h2><p class="counts">${m.total} packages: ${counts}</p></section>
<section id="failed"><h2>Failed packages</h2>${table(["package", "PKGPATH", "breaks", "stage", "reason", "maintainer", "logs"], failedRows)}</section>
${
  fetchRows.length === 0
    ? ""
    : `<section id="fetch-failed"><h2>Distfiles not fetched</h2>${table(["package", "PKGPATH", "breaks", "sites tried and what they said"], fetchRows)}</section>`
}
<section id="indirect"><h2>Indirectly failed and skipped</h2>${table(
    ["package", "PKGPATH", "state", "culprit"],
    m.indirect.map((p) => [e(p.pkgname), e(p.pkgpath), e(p.state), e(p.culprit)]),
  )}</section>
${
  m.scanErrors.length === 0
    ? ""
    : `<section id="scan-errors"><h2>Scan failures</h2>${table(
        ["PKGPATH", "host", "error"],
        m.scanErrors.map((x) => [e(x.pkgpath), e(x.host), e(x.message)]),
      )}</section>
`
}<section id="skipped"><h2>Skipped</h2>${table(
    ["package", "PKGPATH", "reason"],
    m.skipped.map((p) => [e(p.pkgname), e(p.pkgpath), e(p.reason)]),
  )}</section>
<section id="maintainers"><h2>Maintainers by breakage</h2>${table(
    ["maintainer", "failed", "breaks"],
    m.maintainers.map((x) => [e(x.maintainer), String(x.failed), String(x.breaks)]),
  )}</section>
<section id="hosts"><h2>Hosts</h2>${table(
    ["host", "built", "failed", "busy (s)"],
    m.hosts.map((h) => [e(h.host), String(h.built), String(h.failed), h.busySeconds.toFixed(1)]),
  )}</section>
<section id="timeline"><h2>Timeline</h2>${criticalHtml(m)}<img src="timeline.svg" alt="timeline of the build, one row per busy host slot"></section>
<section id="diff"><h2>Changes since the previous build</h2>${diff}</section>
<p><a href="report.txt">report.txt</a> · <a href="report.json">report.json</a></p>
</body></html>
`;
}

function criticalHtml(m: ReportModel): string {
  if (m.critical.packages.length === 0) return "";
  return `<p id="critical-path">Critical path (in orange): ${m.critical.packages
    .map((p) => `<b>${escapeHtml(p)}</b>`)
    .join(
      " → ",
    )}, ${m.critical.seconds.toFixed(1)} s of building in a row: no schedule could finish sooner.</p>`;
}

function logName(pkgname: string, stage: string): string {
  return `${pageName(pkgname).slice(0, -5)}-${stage.replace(/[^A-Za-z0-9_-]/g, "_")}.log.txt`;
}

async function writePackagePage(dir: string, f: FailedPackage): Promise<void> {
  const e = escapeHtml;
  const parts: string[] = [];
  for (const l of f.logs) {
    const target = join(dir, "logs", logName(f.pkgname, l.stage));
    await copyFile(l.file, target).catch(() => undefined);
    const text = await readFile(l.file, "utf8").catch(() => "(log missing)");
    parts.push(
      `<h2 id="${e(l.stage)}">${e(l.stage)}</h2><p><a href="logs/${e(basename(target))}">raw log</a></p><pre>${e(text.slice(-200_000))}</pre>`,
    );
  }
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${e(f.pkgname)}: failed</title><style>${STYLE}</style></head>
<body><p><a href="report.html">back to the report</a></p>
<h1>${e(f.pkgname)}</h1>
<p>${e(f.pkgpath)}: failed in <b>${e(f.stage)}</b> on ${e(f.host)}; breaks ${f.breaks} packages. Maintainer: ${e(f.maintainer)}.</p>
<p class="failed">${e(f.reason)}</p>
${parts.join("\n")}
</body></html>
`;
  await writeFile(join(dir, pageName(f.pkgname)), html);
}

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

function timelineSvg(m: ReportModel): string {
  const t0 = Math.min(...m.timeline.map((r) => r.startMs), Infinity);
  const critical = new Set(m.critical.packages);
  const rows = laneRows(m.timeline);
  const runs: GanttRun[] = m.timeline.map((r, i) => ({
    label: r.pkgname,
    row: rows[i]!,
    host: r.host,
    start: (r.startMs - (Number.isFinite(t0) ? t0 : 0)) / 1000,
    end: (r.endMs - (Number.isFinite(t0) ? t0 : 0)) / 1000,
    outcome: r.ok ? "ok" : "failed",
    critical: critical.has(r.pkgname),
  }));
  return renderGantt(runs, { title: `herd build ${m.build.id}` });
}
