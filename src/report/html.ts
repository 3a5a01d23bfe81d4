/**
 * report.html: what failed first (sorted by how many packages each breaks),
 * then the longer lists of what did not build, was skipped or built, each
 * paged (lists.ts) and the long ones collapsed, so the report of a full
 * 27,000-package build opens at once and stays a few MB.
 */
import { STATE_ORDER } from "../core/pkgstate.js";
import { clock } from "./gantt.js";
import { listHtml, listsData, PAGE, type Cell, type List } from "./lists.js";
import type { ReportModel } from "./model.js";
import { escapeHtml, logName, pageName } from "./names.js";
import { hasTooltips } from "./timeline.js";

export const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}th{background:#eee}td.n,th.n{text-align:right}.counts span{display:inline-block;margin-right:1em}
.failed{color:#b00}.built{color:#070}img{max-width:100%;height:auto}pre{background:#f6f6f6;padding:.5em;overflow:auto;max-height:40em}
nav a{margin-right:1em}summary{cursor:pointer;color:#036}.pager{margin:.5em 0}.pager input{width:18em}.more{color:#555}`;

/** A list in a section of its own; `collapse` folds it away when it is longer than a page. */
function section(id: string, title: string, intro: string, list: List, collapse: boolean): string {
  const n = list.rows.length;
  const body = listHtml(list);
  const folded =
    collapse && n > PAGE
      ? `<details><summary>Show the ${n} packages</summary>${body}</details>`
      : body;
  return `<section id="${id}"><h2>${escapeHtml(title)}</h2>${intro}${folded}</section>\n`;
}

/** The main HTML page. */
export function renderHtml(m: ReportModel): string {
  const e = escapeHtml;
  const hasPage = new Set(m.failed.map((f) => f.pkgname));
  const pkgLink = (name: string): Cell =>
    hasPage.has(name) ? { text: name, href: pageName(name) } : name;
  // The log that says why: the failed stage's (else the last one).
  const stageCell = (f: ReportModel["failed"][number]): Cell => {
    const log = f.logs.find((l) => l.stage === f.stage) ?? f.logs.at(-1);
    return log === undefined
      ? f.stage
      : { text: f.stage, href: `logs/${logName(f.pkgname, log.stage)}` };
  };
  // Failures at fetch have a section of their own.
  const notFetch = m.failed.filter((f) => f.stage !== "fetch");
  const lists = {
    failed: {
      id: "failed",
      head: ["package", "PKGPATH", "breaks", "stage (its log)", "reason", "maintainer"],
      numeric: [2],
      rows: notFetch.map((f) => [
        pkgLink(f.pkgname),
        f.pkgpath,
        String(f.breaks),
        stageCell(f),
        f.reason,
        f.maintainer,
      ]),
    },
    fetch: {
      id: "fetch-failed",
      head: ["package", "PKGPATH", "breaks", "sites tried and what they said"],
      numeric: [2],
      rows: m.fetchFailed.map((f) => [pkgLink(f.pkgname), f.pkgpath, String(f.breaks), f.reason]),
    },
    indirect: {
      id: "indirect",
      head: ["package", "PKGPATH", "state", "culprit"],
      rows: m.indirect.map((p) => [p.pkgname, p.pkgpath, p.state, pkgLink(p.culprit)]),
    },
    scanErrors: {
      id: "scan-errors",
      head: ["PKGPATH", "host", "error"],
      rows: m.scanErrors.map((x) => [x.pkgpath, x.host, x.message]),
    },
    skipped: {
      id: "skipped",
      head: ["package", "PKGPATH", "reason"],
      rows: m.skipped.map((p) => [p.pkgname, p.pkgpath, p.reason]),
    },
    built: {
      id: "built",
      head: ["package", "PKGPATH", "state", "host", "time"],
      numeric: [4],
      rows: m.built.map((p) => [
        p.pkgname,
        p.pkgpath,
        p.state,
        p.host,
        p.state === "built" ? clock(p.seconds) : "",
      ]),
    },
    maintainers: {
      id: "maintainers",
      head: ["maintainer", "failed", "breaks"],
      numeric: [1, 2],
      rows: m.maintainers.map((x) => [x.maintainer, String(x.failed), String(x.breaks)]),
    },
    hosts: {
      id: "hosts",
      head: ["host", "built", "failed", "busy (s)"],
      numeric: [1, 2, 3],
      rows: m.hosts.map((h) => [
        h.host,
        String(h.built),
        String(h.failed),
        h.busySeconds.toFixed(1),
      ]),
    },
  } satisfies Record<string, List>;
  const counts = STATE_ORDER.filter((k) => (m.counts[k] ?? 0) > 0)
    .map(
      (k) =>
        `<span class="${e(k)}" data-count="${e(k)}">${e(k)}: <b>${m.counts[k] ?? 0}</b></span>`,
    )
    .join("");
  const nav = [
    ["failed", `failed (${notFetch.length})`],
    ...(m.fetchFailed.length === 0
      ? []
      : [["fetch-failed", `distfiles (${m.fetchFailed.length})`]]),
    ["indirect", `indirect (${m.indirect.length})`],
    ...(m.scanErrors.length === 0
      ? []
      : [["scan-errors", `scan failures (${m.scanErrors.length})`]]),
    ["skipped", `skipped (${m.skipped.length})`],
    ["built", `built (${m.built.length})`],
    ["maintainers", "maintainers"],
    ["hosts", "hosts"],
    ["timeline", "timeline"],
    ["diff", "changes"],
  ]
    .map(([id, label]) => `<a href="#${id!}">${e(label!)}</a>`)
    .join("");
  const breaking = notFetch.filter((f) => f.breaks > 0).length;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>herd build ${m.build.id}</title><style>${STYLE}</style></head>
<body>
<h1>herd bulk build ${m.build.id}</h1>
<p>Tree ${e(m.build.tree)} (id ${e(m.build.treeId)}), started ${e(new Date(m.build.startedMs).toISOString())}${m.build.finishedMs === null ? ", not finished" : `, finished ${e(new Date(m.build.finishedMs).toISOString())}`}.</p>
<nav>${nav}</nav>
<section id="summary"><h2>Summary</h2><p class="counts">${m.total} packages: ${counts}</p>${stagesLine(notFetch)}</section>
${section(
  "failed",
  "Failed packages",
  `<p>${notFetch.length} packages, the ones breaking the most first (${breaking} break others); each links to its page with its logs and the packages it breaks.</p>`,
  lists.failed,
  false,
)}${m.fetchFailed.length === 0 ? "" : section("fetch-failed", "Distfiles not fetched", "", lists.fetch, false)}${section(
    "indirect",
    "Indirectly failed and skipped",
    "",
    lists.indirect,
    true,
  )}${m.scanErrors.length === 0 ? "" : section("scan-errors", "Scan failures", "", lists.scanErrors, false)}${section(
    "skipped",
    "Skipped",
    "",
    lists.skipped,
    true,
  )}${section(
    "built",
    "Built and up to date",
    "",
    lists.built,
    true,
  )}${section("maintainers", "Maintainers by breakage", "", lists.maintainers, false)}${section(
    "hosts",
    "Hosts",
    "",
    lists.hosts,
    false,
  )}<section id="timeline"><h2>Timeline</h2>${criticalHtml(m)}${timelineHtml(m)}</section>
<section id="diff"><h2>Changes since the previous build</h2>${diffHtml(m)}</section>
<p><a href="report.txt">report.txt</a> · <a href="report.json">report.json</a></p>
${listsData(Object.values(lists))}</body></html>
`;
}

/** How many failed in each stage, the commonest first. */
function stagesLine(failed: ReportModel["failed"]): string {
  if (failed.length === 0) return "";
  const by = new Map<string, number>();
  for (const f of failed) by.set(f.stage, (by.get(f.stage) ?? 0) + 1);
  const parts = [...by]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([stage, n]) => `${escapeHtml(stage)} ${n}`);
  return `<p>Failed in: ${parts.join(" · ")}.</p>`;
}

/** Names in a cell; a long run of them folded. */
function namesHtml(names: readonly string[]): string {
  const text = escapeHtml(names.join(" "));
  return names.length <= 50
    ? text
    : `<details><summary>${names.length} packages</summary>${text}</details>`;
}

function diffHtml(m: ReportModel): string {
  if (m.diff === null) return "<p>No previous build to compare with.</p>";
  const rows = [
    ["newly failing", m.diff.newlyFailing],
    ["fixed", m.diff.fixed],
    ["new packages", m.diff.newPackages],
  ] as const;
  return `<p>Compared with build ${m.diff.previousBuild}:</p><table><thead><tr><th>change</th><th>packages</th></tr></thead><tbody>
${rows.map(([what, names]) => `<tr><td>${what}</td><td>${namesHtml(names)}</td></tr>`).join("\n")}
</tbody></table>`;
}

/**
 * The chart. A large build's is drawn only when scrolled to: a browser takes
 * a second or more over its tens of thousands of bars, and would otherwise
 * do it before showing the page.
 */
function timelineHtml(m: ReportModel): string {
  const img = `<img src="timeline.svg" alt="timeline of the build, one row per busy host slot"`;
  if (hasTooltips(m)) return `${img}>`;
  return `<p>${m.timeline.length} runs: too many bars for tooltips; the lists above say where each package built and how long it took.</p>${img} loading="lazy">`;
}

function criticalHtml(m: ReportModel): string {
  if (m.critical.packages.length === 0) return "";
  return `<p id="critical-path">Critical path (in orange): ${m.critical.packages
    .map((p) => `<b>${escapeHtml(p)}</b>`)
    .join(
      " → ",
    )}, ${m.critical.seconds.toFixed(1)} s of building in a row: no schedule could finish sooner.</p>`;
}
