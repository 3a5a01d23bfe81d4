/**
 * The page's script, as text inlined into the page (no external assets).
 * It only renders: the server folds events into state and streams it — a
 * snapshot, then updates holding only the hosts and runs that changed
 * (view.ts), which the script merges into what it holds. A build of 500
 * hosts redraws only the hosts that changed; the clock ticks only the time
 * cells; long lists are paged from /api/packages (client-lists.ts); the
 * timeline is redrawn at most every second, less often when drawing it
 * takes long (client-timeline.ts). Everything from the build reaches the
 * DOM through textContent or setAttribute on attributes it chose, never
 * through innerHTML, so a package name or log holding HTML shows as text.
 * Written without template literals and "${" so it can live in String.raw.
 */
import { LISTS_JS } from "./client-lists.js";
import { TIMELINE_JS } from "./client-timeline.js";

const CORE_JS = String.raw`
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var params = new URLSearchParams(location.search);
  var token = params.get("token") || "";
  try {
    if (token) sessionStorage.setItem("herd-token", token);
    else token = sessionStorage.getItem("herd-token") || "";
  } catch (e) { /* storage may be off */ }
  if (params.has("token")) history.replaceState(null, "", location.pathname);

  var S = null, skew = 0, live = false, controls = false, report = false, marked = false;
  // Hosts by name (updates carry only those that changed), each host's <tbody>, the timeline's runs by id.
  var hosts = new Map(), hostBodies = new Map(), runs = new Map(), runsTotal = 0;
  var selected = null, auto = null, logKey = "";

  function $(id) { return document.getElementById(id); }
  function withToken(u) {
    return token ? u + (u.indexOf("?") < 0 ? "?" : "&") + "token=" + encodeURIComponent(token) : u;
  }
  function el(tag, props, kids) {
    var e = document.createElement(tag);
    for (var k in props || {}) {
      if (k === "text") e.textContent = props[k];
      else if (k === "cls") e.className = props[k];
      else e.setAttribute(k, props[k]);
    }
    (kids || []).forEach(function (c) {
      if (c !== null && c !== undefined) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function now() { return Date.now() + skew; }
  function dur(sec) {
    var s = Math.max(0, Math.round(sec));
    if (s < 60) return s + "s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + "m" + String(s % 60).padStart(2, "0") + "s";
    var h = Math.floor(m / 60);
    if (h < 48) return h + "h" + String(m % 60).padStart(2, "0") + "m";
    return Math.floor(h / 24) + "d " + (h % 24) + "h";
  }
  function cls(s) { return String(s).replace(/[^a-z-]/g, ""); }
  function logUrl(pkg, stage, tail) {
    return withToken("/api/log?pkg=" + encodeURIComponent(pkg) + "&stage=" + encodeURIComponent(stage) +
      (tail ? "&tail=" + tail : ""));
  }
  function setConn(kind, text) { var c = $("conn"); c.className = "conn " + kind; c.textContent = text; }
  function notice(text) {
    var n = $("notice"); n.textContent = text; n.hidden = false;
    setTimeout(function () { n.hidden = true; }, 8000);
  }

  function connect() {
    var es = new EventSource(withToken("/events"));
    es.addEventListener("snapshot", function (m) { snapshot(JSON.parse(m.data)); });
    es.addEventListener("update", function (m) { update(JSON.parse(m.data)); });
    es.addEventListener("bye", function (m) {
      es.close();
      live = false;
      setConn("closed", "herd stopped serving: " + JSON.parse(m.data).message);
      if (S !== null) render([]);
    });
    es.onopen = function () { setConn("live", "live"); };
    es.onerror = function () { if (es.readyState !== 2) setConn("down", "disconnected, retrying"); };
  }
  function envelope(d) {
    skew = d.now - Date.now(); live = d.live; controls = d.controls; report = d.report; runsTotal = d.runsTotal;
  }
  function snapshot(d) {
    envelope(d);
    S = d.state;
    hosts = new Map();
    S.hosts.forEach(function (h) { hosts.set(h.name, h); });
    runs = new Map();
    d.runs.forEach(function (r) { runs.set(r.id, r); });
    render(null);
    listsChanged();
  }
  function update(d) {
    envelope(d);
    var was = S;
    S = d.state;
    var lists = !!S.failures || (was !== null && !was.finished !== !S.finished);
    if (!S.failures) { S.failures = was ? was.failures : []; S.recent = was ? was.recent : []; }
    var changed = [], joined = false;
    S.hosts.forEach(function (h) {
      if (!hosts.has(h.name)) joined = true;
      hosts.set(h.name, h);
      changed.push(h.name);
    });
    d.runs.forEach(function (r) { runs.set(r.id, r); });
    d.gone.forEach(function (id) { runs.delete(id); });
    render(joined ? null : changed);
    if (lists) listsChanged();
  }

  /** Redraws; changed: the hosts to redraw (null: all of them). */
  function render(changed) {
    var b = S.build;
    $("title").textContent = b ? "herd build " + b.id : "herd: waiting for a build";
    $("tree").textContent = b ? b.tree + (b.resumed ? " (resumed)" : "") : "";
    document.title = (b ? "herd build " + b.id + ": " : "herd: ") + S.phase;
    renderPhase(); renderBanner(); renderProgress(); renderHosts(changed); renderPagers(); renderLog();
    renderWarnings(); scheduleTimeline();
    if (!marked) {
      marked = true;
      try { performance.mark("herd-first-render"); } catch (e) { /* no user timing */ }
    }
  }
  function renderPhase() {
    var p = S.phase;
    if (p === "scan" && S.scan) p = "scan " + S.scan.done + "/" + S.scan.total;
    if (S.phaseDetail) p += ": " + S.phaseDetail;
    if (S.fetch && S.fetch.done < S.fetch.total)
      p += " (distfiles " + S.fetch.done + "/" + S.fetch.total + ")";
    $("phase").textContent = p;
  }
  function renderBanner() {
    var bn = clear($("banner"));
    if (S.finished) {
      var parts = S.tally.map(function (c) { return c[1] + " " + c[0]; });
      bn.appendChild(document.createTextNode("Build " + S.build.id + " finished: " + parts.join(", ") + ". "));
      if (report) bn.appendChild(el("a", { href: withToken("/report/"), text: "Open the report" }));
      bn.className = "banner done";
    } else if (!live && S.build) {
      bn.textContent = "No herd master is running this build now: it was stopped or killed. " +
        "Run the same herd build command to resume it.";
      bn.className = "banner stale";
    }
    bn.hidden = bn.childNodes.length === 0;
  }
  function renderProgress() {
    var done = 0, total = 0, plan = S.plan ? S.plan.counts : {};
    if (S.progress) { done = S.progress.done; total = S.progress.total; }
    else if (S.plan) { done = S.counts.built + S.counts.failed + S.counts.indirect; total = plan.build || 0; }
    var frac = total > 0 ? done / total : S.finished ? 1 : 0;
    $("bar-fill").style.width = (100 * frac).toFixed(1) + "%";
    $("progress-text").textContent = done + " / " + total + " packages (" + Math.floor(100 * frac) + "%)";
    var eta = "ETA unknown";
    if (S.finished) eta = "finished";
    else if (S.progress && S.progress.etaSeconds !== null) {
      var left = Math.max(0, S.progress.etaSeconds - (now() - S.progress.timeMs) / 1000);
      eta = (S.progress.etaEstimate ? "ETA ~" : "ETA ") + dur(left) + " (about " +
        new Date(Date.now() + left * 1000).toLocaleTimeString() + (S.progress.etaEstimate ? ", an estimate: no history yet)" : ")");
    }
    $("eta").textContent = eta;
    var b = S.build;
    $("elapsed").textContent = b ? (S.finished ? "took " : "running for ") +
      dur(((S.finished ? S.finished.timeMs : now()) - b.startedMs) / 1000) : "";
    var box = clear($("counts"));
    S.tally.forEach(function (c) {
      box.appendChild(el("span", { cls: "chip c-" + c[0], "data-count": c[0] }, [c[0] + " ", el("b", { text: String(c[1]) })]));
    });
  }
  function pkgLink(name, host) {
    var a = el("a", { href: "#log-section", "data-pkg": name, text: name });
    a.addEventListener("click", function () { selected = { pkg: name, host: host }; logKey = ""; renderLog(); });
    return a;
  }
  function renderHosts(changed) {
    var table = $("hosts");
    if (changed === null) {
      Array.prototype.slice.call(table.tBodies).forEach(function (tb) { table.removeChild(tb); });
      hostBodies = new Map();
      Array.from(hosts.keys()).sort().forEach(function (name) {
        var tb = hostBody(hosts.get(name));
        hostBodies.set(name, tb);
        table.appendChild(tb);
      });
    } else {
      changed.forEach(function (name) {
        var tb = hostBody(hosts.get(name)), old = hostBodies.get(name);
        hostBodies.set(name, tb);
        table.replaceChild(tb, old);
      });
    }
    $("no-hosts").hidden = hosts.size > 0;
  }
  // One <tbody> per host, so a change to one host redraws that host alone.
  function hostBody(h) {
    var tb = el("tbody"), btn = null;
    if (controls && token && h.state !== "draining" && h.state !== "gone") {
      btn = el("button", { type: "button", text: "drain", title: "finish what it runs, take nothing new, leave" });
      btn.addEventListener("click", function () { drain(h.name); });
    }
    var lines = h.running.length ? h.running : [null];
    lines.forEach(function (p, i) {
      // The event stream leaves out idle/busy flips (package events tell them): busy while it builds.
      var shown = h.running.length && h.state === "idle" ? "busy" : h.state;
      var state = el("span", { cls: "st st-" + cls(shown), text: shown || "?" });
      if (h.detail) state.setAttribute("title", h.detail);
      var since = p ? p.since : h.since;
      tb.appendChild(el("tr", { "data-host": h.name }, [
        el("td", { text: i === 0 ? h.name : "" }),
        el("td", {}, [i === 0 ? state : null]),
        el("td", {}, [p ? pkgLink(p.pkgname, h.name) : null,
          p && p.slot && h.running.length > 1 ? el("span", { cls: "slot", text: " slot " + p.slot }) : null]),
        el("td", { cls: "stage", text: p ? p.stage : "" }),
        el("td", { cls: "num", "data-since": String(since), text: dur((now() - since) / 1000) }),
        el("td", {}, [i === 0 ? btn : null])
      ]));
    });
    return tb;
  }
  // The clock: only the time cells change.
  function tickHosts() {
    var cells = $("hosts").querySelectorAll("td.num");
    for (var i = 0; i < cells.length; i++)
      cells[i].textContent = dur((now() - Number(cells[i].getAttribute("data-since"))) / 1000);
  }
  function drain(name) {
    fetch("/api/hosts/" + encodeURIComponent(name) + "/drain", {
      method: "POST", headers: { Authorization: "Bearer " + token }
    }).then(function (r) { return r.json(); }).then(function (j) {
      notice(j.ok ? j.message : "drain failed: " + j.error);
    }, function (e) { notice("drain failed: " + e); });
  }
  function retry(pkg) {
    fetch("/api/packages/" + encodeURIComponent(pkg) + "/retry", {
      method: "POST", headers: { Authorization: "Bearer " + token }
    }).then(function (r) { return r.json(); }).then(function (j) {
      notice(j.ok ? j.message : "retry failed: " + j.error);
    }, function (e) { notice("retry failed: " + e); });
  }
  function runningOf(pkg) {
    var found = null;
    hosts.forEach(function (h) {
      h.running.forEach(function (p) { if (!found && p.pkgname === pkg) found = runningTarget(p, h.name); });
    });
    return found;
  }
  function logTarget() {
    if (selected) {
      var mine = runningOf(selected.pkg), f = mine ? null : findFailure(selected.pkg);
      return mine || (f ? failureTarget(f) : null);
    }
    // Nothing chosen: the package that started last, kept while it runs (500 hosts start one every few
    // seconds: the log shown would change with every update), else the newest failure.
    var kept = auto && runningOf(auto);
    if (kept) return kept;
    var newest = null, newestHost = "";
    hosts.forEach(function (h) {
      h.running.forEach(function (p) { if ((p.lastStage || p.stage) && (!newest || p.since > newest.since)) { newest = p; newestHost = h.name; } });
    });
    if (newest) { auto = newest.pkgname; return runningTarget(newest, newestHost); }
    auto = null;
    return S.failures[0] ? failureTarget(S.failures[0]) : null;
  }
  function failureTarget(f) { return { pkg: f.pkgname, stage: f.stage, failure: f }; }
  // A running package shows the stage it runs now, whose log the master streams while it runs
  // (refreshed every few seconds); "Fetch" is the master bringing the package back: no log.
  function runningTarget(p, host) {
    var now = p.stage && p.stage !== "Fetch";
    return { pkg: p.pkgname, stage: now ? p.stage : p.lastStage, running: p, host: host, live: !!now };
  }
  function renderLog(refresh) {
    var t = logTarget();
    if (t === null || !t.stage) {
      if (!selected) { $("log-title").textContent = ""; $("log-note").textContent = "No stage has started yet."; }
      return;
    }
    $("log-title").textContent = t.pkg + ": " + t.stage;
    $("log-note").textContent = t.live
      ? "Running now on " + t.host + "; the log grows as the stage runs (live)."
      : t.running ? "The last finished stage of a running package." : "The stage that failed.";
    var full = $("log-full");
    full.setAttribute("href", logUrl(t.pkg, t.stage));
    full.hidden = false;
    var key = t.pkg + "\n" + t.stage;
    if (key === logKey && !(refresh && t.live)) return;
    logKey = key;
    fetch(logUrl(t.pkg, t.stage, 16384)).then(function (r) {
      if (r.ok) return r.text();
      return t.live ? "(no output of " + t.stage + " has reached the master yet)" : "(no log: " + r.status + ")";
    })
      .then(function (text) {
        if (logKey !== key) return;
        var lines = text.split("\n");
        var pre = $("log-text"), atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        pre.textContent = text === "" ? "(the log of " + t.stage + " is empty)" : lines.slice(-80).join("\n");
        if (atEnd) pre.scrollTop = pre.scrollHeight;
      }, function () {
        if (logKey !== key) return;
        logKey = "";
        $("log-text").textContent = "(could not load the log: the dashboard is not reachable" +
          (live ? "" : "; herd serve --work DIR serves it again") + ")";
      });
  }
  function renderWarnings() {
    var ul = clear($("warnings"));
    S.warnings.slice().reverse().forEach(function (w) {
      ul.appendChild(el("li", {}, [el("time", { text: new Date(w.timeMs).toLocaleTimeString() }), " " + w.message]));
    });
    $("warnings-section").hidden = S.warnings.length === 0;
  }
`;

export const CLIENT_JS =
  String.raw`(function () {` +
  CORE_JS +
  LISTS_JS +
  TIMELINE_JS +
  String.raw`
  setInterval(function () { if (S !== null) { renderProgress(); tickHosts(); if (!S.finished && live) scheduleTimeline(); } }, 1000);
  setInterval(function () { if (S !== null && live) renderLog(true); }, 3000);
  connect();
})();
`;
