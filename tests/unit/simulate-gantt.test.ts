import assert from "node:assert/strict";
import { test } from "node:test";
import { clock, escapeXml, renderGantt } from "../../src/report/gantt.js";

test("the chart escapes every name and title", () => {
  const svg = renderGantt(
    [
      {
        label: `<script>alert("x")</script>`,
        row: "h&1",
        start: 0,
        end: 3600,
        outcome: "ok",
        critical: true,
      },
      { label: "b", row: "h2", start: 10, end: 20, outcome: "failed", critical: false },
    ],
    { title: "a < b & 'c'", rows: ["h&1", "h2", "h3"], marker: { at: 1800, label: "lower bound" } },
  );
  assert.ok(!svg.includes("<script>"));
  assert.ok(svg.includes("&lt;script&gt;"));
  assert.ok(svg.includes("a &lt; b &amp; &apos;c&apos;"));
  assert.ok(svg.includes("h&amp;1"));
  assert.match(svg, /class="bar crit"/);
  assert.match(svg, /class="bar failed"/);
  assert.equal((svg.match(/<rect class="bar/g) ?? []).length, 2);
  assert.ok(svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>"));
  assert.equal(escapeXml(`"'<>&`), "&quot;&apos;&lt;&gt;&amp;");
});

test("durations read as hours, minutes and days", () => {
  assert.equal(clock(45), "0m45s");
  assert.equal(clock(3 * 3600 + 5 * 60), "3h05");
  assert.equal(clock(86400 + 3600), "1d 1h00");
});
