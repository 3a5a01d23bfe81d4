/**
 * The report of a large build (a few thousand synthetic packages, see
 * bench/lib/bigstore.ts): failures first, long lists paged and collapsed,
 * and nothing lost on the way — every package of every list is in the page's
 * data, every failed package has its page, the counts add up.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { listHtml, listsData, PAGE, pagerScriptSource } from "../../src/report/lists.js";
import { renderText } from "../../src/report/render.js";
import { EVIL, writeLargeReport } from "../lib/large-report.js";
import { scratchDir } from "../lib/scratch.js";

/** The JSON block of report.html, parsed. */
function pageData(html: string): Record<string, (string | [string, string])[][]> {
  const m = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html);
  assert.ok(m !== null, "report.html carries its lists' data");
  return JSON.parse(m[1]!) as Record<string, (string | [string, string])[][]>;
}

const text = (c: string | [string, string] | undefined): string =>
  typeof c === "string" ? c : (c?.[0] ?? "");

describe("report of a large build", () => {
  it("puts failures first, pages and folds the long lists, and loses nothing", async () => {
    const dir = scratchDir("herd-report-scale-");
    const { store, big, packages: pkgs, model: m, html: htmlFile } = await writeLargeReport(dir);
    // The counts are the build's.
    assert.equal(m.total, pkgs.length);
    assert.deepEqual(m.counts, big.counts);
    const rows = store.packages(big.buildId);
    const failedNames = rows
      .filter((r) => r.state === "failed" || r.state === "unresolved")
      .map((r) => r.pkgname);
    assert.deepEqual(m.failed.map((f) => f.pkgname).sort(), failedNames.sort());
    assert.ok(m.failed.some((f) => f.pkgname === EVIL && f.breaks === 1));
    for (let i = 1; i < m.failed.length; i++)
      assert.ok(m.failed[i - 1]!.breaks >= m.failed[i]!.breaks, "most breakage first");
    assert.equal(m.built.length, (big.counts.built ?? 0) + (big.counts["up-to-date"] ?? 0));

    const buildFailed = m.failed.filter((f) => f.stage !== "fetch");
    // Enough of everything for the lists to page.
    for (const [what, n] of [
      ["failed", buildFailed.length],
      ["indirect", m.indirect.length],
      ["skipped", m.skipped.length],
      ["built", m.built.length],
    ] as const)
      assert.ok(n > PAGE, `${what}: ${n} rows, more than a page`);

    const html = readFileSync(htmlFile, "utf8");
    // Failures first: the sections in order, the long lists after them folded away.
    const order = [...html.matchAll(/<section id="([^"]+)">/g)].map((x) => x[1]);
    assert.deepEqual(order.slice(0, 3), ["summary", "failed", "fetch-failed"]);
    assert.ok(order.indexOf("indirect") < order.indexOf("built"));
    for (const id of ["indirect", "skipped", "built"])
      assert.match(html, new RegExp(`<section id="${id}"><h2>[^<]*</h2><details><summary>`), id);
    assert.doesNotMatch(html, /<section id="failed"><h2>[^<]*<\/h2><p>[^<]*<\/p><details>/);

    // The first page is in the HTML, in order; the rest is in the data, all of it.
    const failedSection = /<section id="failed">(.*?)<\/section>/s.exec(html)![1]!;
    const firstPage = [...failedSection.matchAll(/<tr><td><a href="[^"]*">([^<]*)<\/a>/g)];
    assert.equal(firstPage.length, PAGE);
    assert.equal(firstPage[0]![1], buildFailed[0]!.pkgname.replace(/</g, "&lt;"));
    const data = pageData(html);
    assert.deepEqual(
      data.failed!.map((r) => text(r[0])),
      buildFailed.map((f) => f.pkgname),
    );
    assert.deepEqual(
      data.failed!.map((r) => Number(r[2])),
      buildFailed.map((f) => f.breaks),
    );
    const listed = new Set(
      [...data.failed!, ...(data["fetch-failed"] ?? [])].map((r) => text(r[0])),
    );
    // Fetch failures are fewer than a page: they are all in the HTML.
    for (const f of m.fetchFailed) assert.ok(html.includes(`>${f.pkgname}</a>`), f.pkgname);
    for (const f of buildFailed) assert.ok(listed.has(f.pkgname), `${f.pkgname} is listed`);
    assert.equal(data.indirect!.length, m.indirect.length);
    assert.equal(data.skipped!.length, m.skipped.length);
    assert.deepEqual(
      data.built!.map((r) => text(r[0])),
      m.built.map((p) => p.pkgname),
    );

    // Hostile names stay text: escaped in the HTML, intact in the data, never markup.
    assert.ok(!html.includes("<script>alert"));
    assert.ok(!html.includes("<b>m</b>"));
    assert.ok(data.failed!.some((r) => text(r[0]) === EVIL));
    assert.ok(
      data.indirect!.some((r) => text(r[0]) === "victim-1.0" && text(r[3]) === EVIL),
      "the victim names its culprit",
    );

    // Every failed package has its page, which lists what it breaks.
    const pages = readdirSync(dir).filter((f) => /^pkg-.*\.html$/.test(f));
    assert.equal(pages.length, m.failed.length);
    const evilPage = readFileSync(join(dir, "pkg-x_script_alert_1___script_-1.0.html"), "utf8");
    assert.match(evilPage, /<h2 id="breaks">It breaks 1 packages<\/h2><p>victim-1\.0<\/p>/);
    assert.ok(!evilPage.includes("<script>"));

    // Every run is a bar of the timeline; too many for tooltips, which would take a browser ages.
    const svg = readFileSync(join(dir, "timeline.svg"), "utf8");
    assert.ok(m.timeline.length > 2000);
    assert.equal((svg.match(/<rect class="bar /g) ?? []).length, m.timeline.length);
    assert.doesNotMatch(svg, /<title>/);
    assert.match(html, /runs: too many bars for tooltips/);

    // report.txt keeps every failure and every indirect package.
    const txt = renderText(m, false);
    for (const f of buildFailed) assert.ok(txt.includes(`  ${f.pkgname} (${f.pkgpath}) breaks`));
    assert.equal((txt.match(/ because of /g) ?? []).length, m.indirect.length);
  });

  it("writes only the first page of a long list, and all its rows as script-safe JSON", () => {
    const rows = Array.from({ length: 250 }, (_, i) => [
      `p${i}</script><script>alert(${i})</script>`,
      { text: `l${i}`, href: `pkg-${i}.html` },
    ]);
    const list = { id: "x", head: ["name", "link"], rows };
    const html = listHtml(list);
    assert.equal((html.match(/<tr>/g) ?? []).length, PAGE + 1);
    assert.match(html, /data-list="x"/);
    assert.match(html, /The first 100 of 250/);
    const data = listsData([list, { id: "short", head: ["a"], rows: [["b"]] }]);
    assert.ok(!/<\/script><script>alert/.test(data), "no text closes the data block");
    const parsed = pageData(data);
    assert.deepEqual(Object.keys(parsed), ["x"], "short lists are all in the HTML already");
    assert.equal(parsed.x!.length, 250);
    assert.deepEqual(parsed.x![249], [
      "p249</script><script>alert(249)</script>",
      ["l249", "pkg-249.html"],
    ]);
    // A server's Content-Security-Policy can allow the pager by its hash.
    const script = /<script>(.*)<\/script>/s.exec(data)![1]!;
    assert.equal(
      pagerScriptSource(),
      `'sha256-${createHash("sha256").update(script, "utf8").digest("base64")}'`,
    );
    // A list that fits a page: no pager, no data.
    assert.doesNotMatch(listHtml({ id: "y", head: ["a"], rows: [["b"]] }), /pager|data-list/);
  });
});
