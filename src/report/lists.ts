/**
 * Long lists in report.html. Each table shows its first page as plain HTML
 * (readable without JavaScript, and by grep); a list longer than that also
 * puts all its rows in one compact JSON block at the end of the page, which
 * a small inline script pages through and filters. So the report of a
 * 27,000-package build stays one file that opens from file:// without
 * drawing 27,000 rows. The script writes cells with textContent and href
 * only, and the JSON has every "<" escaped: package text stays text.
 */
import { createHash } from "node:crypto";
import { escapeHtml } from "./names.js";

export interface Link {
  readonly text: string;
  readonly href: string;
}

/** A table cell: text, or a link. */
export type Cell = string | Link;

export interface List {
  /** Names its rows in the page's data block. */
  readonly id: string;
  readonly head: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
  /** Indices of the columns holding numbers (aligned right). */
  readonly numeric?: readonly number[];
}

/** Rows on a page, and in the HTML as written. */
export const PAGE = 100;
/** Longest list that may be shown whole. */
const ALL_UP_TO = 5000;

function cellHtml(c: Cell): string {
  return typeof c === "string"
    ? escapeHtml(c)
    : `<a href="${escapeHtml(c.href)}">${escapeHtml(c.text)}</a>`;
}

/** A list's table with its first page, and the pager the script brings to life when there are more. */
export function listHtml(list: List): string {
  const num = new Set(list.numeric ?? []);
  const cls = (i: number): string => (num.has(i) ? ' class="n"' : "");
  const th = list.head.map((h, i) => `<th${cls(i)}>${escapeHtml(h)}</th>`).join("");
  const body = list.rows
    .slice(0, PAGE)
    .map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${cellHtml(c)}</td>`).join("")}</tr>`)
    .join("\n");
  const table = `<table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
  const n = list.rows.length;
  if (n <= PAGE) return `<div class="list">${table}</div>`;
  // "all" draws every row at once: seconds for a browser past a few thousand.
  const sizes =
    [PAGE, 500, 2000].map((k) => `<option>${k}</option>`).join("") +
    (n <= ALL_UP_TO ? `<option value="all">all</option>` : "");
  return `<div class="list" data-list="${escapeHtml(list.id)}">
<p class="pager" hidden><input type="search" placeholder="filter the ${n} rows" aria-label="filter"> <button type="button" class="prev">‹ previous</button> <span class="where"></span> <button type="button" class="next">next ›</button> <label>rows per page <select>${sizes}</select></label></p>
${table}
<p class="more">The first ${PAGE} of ${n}. With JavaScript on, this page pages through them all; report.json lists them all.</p></div>`;
}

/** The rows of the lists longer than a page, as a JSON block safe inside <script>, then the script. */
export function listsData(lists: readonly List[]): string {
  const data: Record<string, unknown[]> = {};
  for (const l of lists)
    if (l.rows.length > PAGE)
      data[l.id] = l.rows.map((r) => r.map((c) => (typeof c === "string" ? c : [c.text, c.href])));
  if (Object.keys(data).length === 0) return "";
  // "<" never reaches the HTML parser inside the block, so no text can close it.
  const json = JSON.stringify(data).replace(/</g, "\\u003c");
  return `<script type="application/json" id="report-data">${json}</script>\n<script>${PAGER}</script>\n`;
}

/**
 * The CSP source allowing the pager, for a server that sends report.html
 * with a Content-Security-Policy (script-src 'sha256-…'); without it the
 * page still shows each list's first page and says where the rest is.
 */
export function pagerScriptSource(): string {
  return `'sha256-${createHash("sha256").update(PAGER, "utf8").digest("base64")}'`;
}

/** The pager: plain DOM, no innerHTML, no external resources. */
const PAGER = `(function () {
  var block = document.getElementById("report-data");
  if (!block) return;
  var data = JSON.parse(block.textContent);
  document.querySelectorAll(".list[data-list]").forEach(function (box) {
    var rows = data[box.getAttribute("data-list")];
    if (!rows) return;
    var tbody = box.querySelector("tbody");
    var pager = box.querySelector(".pager");
    var filter = pager.querySelector("input");
    var size = pager.querySelector("select");
    var prev = pager.querySelector(".prev");
    var next = pager.querySelector(".next");
    var where = pager.querySelector(".where");
    var num = Array.prototype.map.call(box.querySelectorAll("thead th"), function (th) {
      return th.className === "n";
    });
    var hay = null;
    var shown = rows;
    var page = 0;
    function text(c) { return typeof c === "string" ? c : c[0]; }
    function td(c, i) {
      var el = document.createElement("td");
      if (num[i]) el.className = "n";
      if (typeof c === "string") el.textContent = c;
      else {
        var a = document.createElement("a");
        a.textContent = c[0];
        a.setAttribute("href", c[1]);
        el.appendChild(a);
      }
      return el;
    }
    function draw() {
      var per = size.value === "all" ? Math.max(1, shown.length) : Number(size.value);
      var pages = Math.max(1, Math.ceil(shown.length / per));
      if (page >= pages) page = pages - 1;
      var from = page * per;
      var slice = shown.slice(from, from + per);
      var frag = document.createDocumentFragment();
      slice.forEach(function (r) {
        var tr = document.createElement("tr");
        r.forEach(function (c, i) { tr.appendChild(td(c, i)); });
        frag.appendChild(tr);
      });
      tbody.replaceChildren(frag);
      where.textContent = shown.length === 0 ? "none match" :
        (from + 1) + "–" + (from + slice.length) + " of " + shown.length +
        (shown.length < rows.length ? " (of " + rows.length + ")" : "");
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
    }
    filter.addEventListener("input", function () {
      var q = filter.value.trim().toLowerCase();
      if (hay === null) hay = rows.map(function (r) { return r.map(text).join("\\n").toLowerCase(); });
      shown = q === "" ? rows : rows.filter(function (r, i) { return hay[i].indexOf(q) >= 0; });
      page = 0;
      draw();
    });
    size.addEventListener("change", function () { page = 0; draw(); });
    prev.addEventListener("click", function () { page--; draw(); });
    next.addEventListener("click", function () { page++; draw(); });
    pager.hidden = false;
    box.querySelector(".more").hidden = true;
    draw();
  });
})();`;
