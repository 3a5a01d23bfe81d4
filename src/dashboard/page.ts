/**
 * The dashboard page: one self-contained document, its style and script
 * inline, nothing loaded from elsewhere. The Content-Security-Policy names
 * the inline script and style by hash, so nothing else can run even if
 * some text were ever mistaken for markup.
 */
import { createHash } from "node:crypto";
import { CLIENT_JS } from "./client.js";

const CSS = `
:root{--fg:#1d2330;--mute:#6b7385;--line:#e3e6ec;--bg:#f6f7f9;--ok:#2f8f4e;--bad:#c23b3b;--run:#2f6fd0;--warn:#b7791f}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:var(--fg);background:var(--bg)}
header{display:flex;gap:1em;align-items:baseline;flex-wrap:wrap;padding:.8em 1.2em;background:#fff;border-bottom:1px solid var(--line)}
h1{font-size:1.25em;margin:0}h2{font-size:1em;margin:0 0 .5em}
main{padding:1em 1.2em;display:grid;gap:1em;grid-template-columns:minmax(0,2fr) minmax(0,3fr)}
section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:.8em 1em;min-width:0}
.wide{grid-column:1/-1}
#tree,.note{color:var(--mute)}
#phase{font-weight:600}
.conn{margin-left:auto;font-size:.85em;padding:.1em .6em;border-radius:1em;background:#eee}
.conn.live{background:#dff3e4;color:var(--ok)}.conn.down,.conn.closed{background:#fbe3e3;color:var(--bad)}
.banner{grid-column:1/-1;padding:.6em 1em;border-radius:6px}
.banner.done{background:#e6f4ea}.banner.stale{background:#fff4d6}
#notice{position:fixed;right:1em;bottom:1em;background:#1d2330;color:#fff;padding:.5em 1em;border-radius:4px}
.bar{height:14px;background:#e9ecf1;border-radius:7px;overflow:hidden}
#bar-fill{height:100%;width:0;background:linear-gradient(90deg,#3b82d6,#2f8f4e);transition:width .4s}
.figures{display:flex;gap:1.5em;flex-wrap:wrap;margin:.5em 0}
#progress-text{font-weight:600}
.chip{display:inline-block;margin:.2em .8em .2em 0;color:var(--mute)}.chip b{color:var(--fg)}
.c-built b{color:var(--ok)}.c-failed b{color:var(--bad)}.c-running b{color:var(--run)}
table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:3px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--mute);font-size:.85em}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
td.reason{overflow-wrap:anywhere}td.logs{white-space:nowrap}
details{font-size:.85em;white-space:normal}summary{cursor:pointer;color:var(--mute)}
.st{padding:0 .45em;border-radius:3px;background:#eee;font-size:.9em}
.st-busy{background:#dbe7fb;color:var(--run)}.st-idle{background:#e6f4ea;color:var(--ok)}
.st-lost,.st-quarantined,.st-gone{background:#fbe3e3;color:var(--bad)}.st-draining,.st-syncing,.st-connecting{background:#fff4d6;color:var(--warn)}
a{color:#2456a6}a.failed-stage{font-weight:700;color:var(--bad)}
button{font:inherit;font-size:.85em;padding:0 .6em;cursor:pointer}
pre{background:#10141c;color:#d6dae3;padding:.7em;border-radius:4px;max-height:24em;overflow:auto;margin:.3em 0 0;font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere}
#timeline{overflow-x:auto}
svg.gantt{font:10px system-ui,sans-serif;display:block}
svg .tick{stroke:#eceef2}svg .axis,svg .row{fill:#6b7385}svg .label{fill:#fff;pointer-events:none}
svg .bar{stroke:#fff;stroke-width:.5}
svg .r-built{fill:#5b9bd5}svg .r-failed{fill:#d9534f}svg .r-running{fill:#9cc3ea}svg .r-lost,svg .r-cancelled{fill:#c8c8c8}
svg .r-running+text{fill:#1d2330}
svg .now{stroke:#c23b3b;stroke-dasharray:3 3}
ul{margin:0;padding-left:1.2em}time{color:var(--mute)}
.scroll{max-height:40em;overflow:auto}.scroll th{position:sticky;top:0;background:#fff}
.pager{margin-top:.5em}.filters{display:flex;gap:.6em;margin-bottom:.5em}.filters input{flex:1;max-width:24em}
td.when{white-space:nowrap;color:var(--mute);font-variant-numeric:tabular-nums}
.res{font-size:.9em}.res-built{color:var(--ok)}.res-failed{color:var(--bad)}.res-indirect-failed{color:var(--warn)}
@media (max-width:900px){main{grid-template-columns:1fr}}
`;

const BODY = `<header><h1 id="title">herd</h1><span id="tree"></span><span id="phase"></span><span id="conn" class="conn">connecting</span></header>
<main>
<div id="banner" class="banner" hidden></div>
<section id="overview" class="wide">
<div class="bar"><div id="bar-fill"></div></div>
<div class="figures"><span id="progress-text">waiting for the build</span><span id="eta"></span><span id="elapsed"></span></div>
<div id="counts"></div>
</section>
<section id="hosts-section"><h2>Hosts</h2>
<div class="scroll"><table id="hosts"><thead><tr><th>host</th><th>state</th><th>package</th><th>stage</th><th>time</th><th></th></tr></thead><tbody></tbody></table></div>
<p id="no-hosts" class="note">No host yet.</p></section>
<section id="failures-section"><h2>Failures <span id="failures-range" class="note"></span></h2>
<div class="scroll"><table id="failures"><thead><tr><th>package</th><th>stage</th><th>host</th><th>reason</th><th>logs</th></tr></thead><tbody></tbody></table></div>
<p id="no-failures" class="note">None so far.</p>
<div id="failures-pager" class="pager" hidden><button type="button" data-go="newer">&lsaquo; newer</button> <button type="button" data-go="older">older &rsaquo;</button></div></section>
<section id="log-section" class="wide"><h2>Log <span id="log-title"></span> <a id="log-full" target="_blank" rel="noreferrer" hidden>full log</a></h2>
<p id="log-note" class="note">Click a package to see its log.</p><pre id="log-text"></pre></section>
<section id="finished-section" class="wide"><h2>Finished packages <span id="finished-range" class="note"></span></h2>
<div class="filters"><select id="finished-state" aria-label="result"><option value="settled">all results</option><option value="built">built</option><option value="failed">failed</option><option value="indirect-failed">indirect-failed</option></select>
<input id="finished-q" type="search" placeholder="filter by name or path" maxlength="200" aria-label="filter"></div>
<table id="finished"><thead><tr><th>package</th><th>result</th><th>host</th><th>finished</th><th>took</th><th>detail</th></tr></thead><tbody></tbody></table>
<p id="no-finished" class="note">None so far.</p>
<div id="finished-pager" class="pager" hidden><button type="button" data-go="newer">&lsaquo; newer</button> <button type="button" data-go="older">older &rsaquo;</button></div></section>
<section id="timeline-section" class="wide"><h2 id="timeline-title">Timeline so far</h2><div id="timeline"></div></section>
<section id="warnings-section" class="wide" hidden><h2>Warnings</h2><ul id="warnings"></ul></section>
</main>
<div id="notice" hidden></div>`;

const HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>herd dashboard</title><link rel="icon" href="data:,"><style>${CSS}</style></head>
<body>
${BODY}
<script>${CLIENT_JS}</script>
</body></html>
`;

function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("base64");
}

const CSP = [
  "default-src 'none'",
  `script-src 'sha256-${sha256(CLIENT_JS)}'`,
  `style-src 'sha256-${sha256(CSS)}'`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The page (the same for every request: all data arrives over the event stream). */
export function pageHtml(): string {
  return HTML;
}

/** The Content-Security-Policy header for the page. */
export function pageCsp(): string {
  return CSP;
}
