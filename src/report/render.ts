/**
 * Writes the report directory: report.html (works from file:// and any
 * static server; long lists paged, see html.ts), one page per failed
 * package with its stage logs (pages.ts), timeline.svg,
 * report.txt, a short mail form (report-short.txt) and report.json.
 * Everything from package data is escaped: names and logs render as text.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { formatCounts } from "../core/pkgstate.js";
import { renderHtml } from "./html.js";
import type { ReportModel } from "./model.js";
import { writePackagePages } from "./pages.js";
import { timelineSvg } from "./timeline.js";

export { renderHtml } from "./html.js";
export { escapeHtml, pageName } from "./names.js";

/** Writes report.html, report.txt, report-short.txt, report.json and the package pages; returns report.html's path. */
export async function writeReport(dir: string, m: ReportModel): Promise<string> {
  await mkdir(join(dir, "logs"), { recursive: true });
  await writePackagePages(dir, m);
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
