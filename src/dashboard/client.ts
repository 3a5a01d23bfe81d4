/**
 * The page's script, as text inlined into the page (no external assets).
 * It only renders: the server folds events into state and streams it.
 * Everything from the build reaches the DOM through textContent or
 * setAttribute on attributes it chose, never through innerHTML, so a package
 * name or log holding HTML shows as text. Written without template literals
 * and "${" so it can live in String.raw.
 */
export const CLIENT_JS = String.raw`(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var params = new URLSearchParams(location.search);
  var token = params.get("token") || "";
  try {
    if (token) sessionStorage.setItem("herd-token", token);
    else token = sessionStorage.getItem("herd-token") || "";
  } catch (e) { /* storage may be off */ }
  if (params.has("token")) history.replaceState(null, "", location.pathname);

  var S = null, runs = [], skew = 0, live = false, controls = false, report = false;
  var selected = null, logKey = "", lastTimeline = 0, timelineTimer = 0;

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
    es.addEventListener("snapshot", function (m) { var d = JSON.parse(m.data); runs = d.runs; apply(d); });
    es.addEventListener("update", function (m) {
      var d = JSON.parse(m.data);
      d.runs.forEach(function (r) { runs[r.id] = r; });
      apply(d);
    });
    es.addEventListener("bye", function (m) {
      es.close();
      live = false;
      setConn("closed", "herd stopped serving: " + JSON.parse(m.data).message);
      render();
    });
    es.onopen = function () { setConn("live", "live"); };
    es.onerror = function () { if (es.readyState !== 2) setConn("down", "disconnected, retrying"); };
  }
  function apply(d) {
    S = d.state; skew = d.now - Date.now(); live = d.live; controls = d.controls; report = d.report;
    render();
  }

  function render() {
    if (S === null) return;
    var b = S.build;
    $("title").textContent = b ? "herd build " + b.id : "herd: waiting for a build";
    $("tree").textContent = b ? b.tree + (b.resumed ? " (resumed)" : "") : "";
    document.title = (b ? "herd build " + b.id + ": " : "herd: ") + S.phase;
    renderPhase(); renderBanner(); renderProgress(); renderHosts(); renderFailures(); renderLog();
    renderWarnings(); scheduleTimeline();
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
  function renderHosts() {
    var tb = clear($("hosts").tBodies[0]);
    S.hosts.forEach(function (h) {
      var btn = null;
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
        tb.appendChild(el("tr", { "data-host": h.name }, [
          el("td", { text: i === 0 ? h.name : "" }),
          el("td", {}, [i === 0 ? state : null]),
          el("td", {}, [p ? pkgLink(p.pkgname, h.name) : null,
            p && p.slot && h.running.length > 1 ? el("span", { cls: "slot", text: " slot " + p.slot }) : null]),
          el("td", { cls: "stage", text: p ? p.stage : "" }),
          el("td", { cls: "num", text: dur(((now() - (p ? p.since : h.since)) / 1000)) }),
          el("td", {}, [i === 0 ? btn : null])
        ]));
      });
    });
    $("no-hosts").hidden = S.hosts.length > 0;
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
  function renderFailures() {
    var tb = clear($("failures").tBodies[0]);
    S.failures.forEach(function (f) {
      var logs = el("td", { cls: "logs" }), others = el("details", {}, [el("summary", { text: "other stages" })]);
      f.logs.forEach(function (st) {
        var a = el("a", { href: logUrl(f.pkgname, st), target: "_blank", rel: "noreferrer", text: st });
        if (st === f.stage) { a.className = "failed-stage"; logs.insertBefore(a, logs.firstChild); }
        else { others.appendChild(a); others.appendChild(document.createTextNode(" ")); }
      });
      if (others.childNodes.length > 1) logs.appendChild(others);
      if (controls && token && !S.finished) {
        var retryBtn = el("button", { type: "button", text: "retry", title: "build it again, with the packages its failure stopped" });
        retryBtn.addEventListener("click", function () { retry(f.pkgname); });
        logs.appendChild(retryBtn);
      }
      tb.appendChild(el("tr", { "data-pkg": f.pkgname }, [
        el("td", {}, [pkgLink(f.pkgname, f.host)]), el("td", { text: f.stage }), el("td", { text: f.host }),
        el("td", { cls: "reason", text: f.reason }), logs
      ]));
    });
    $("no-failures").hidden = S.failures.length > 0;
    $("failed-total").textContent = S.counts.failed > S.failures.length ? "(newest " + S.failures.length + " of " + S.counts.failed + ")" : "";
  }
  function logTarget() {
    var found = null;
    S.hosts.forEach(function (h) {
      h.running.forEach(function (p) {
        if (selected && selected.pkg === p.pkgname) found = runningTarget(p, h.name);
      });
    });
    S.failures.forEach(function (f) {
      if (!found && selected && selected.pkg === f.pkgname) found = { pkg: f.pkgname, stage: f.stage, failure: f };
    });
    if (found || selected) return found;
    var newest = null, newestHost = "";
    S.hosts.forEach(function (h) {
      h.running.forEach(function (p) { if ((p.lastStage || p.stage) && (!newest || p.since > newest.since)) { newest = p; newestHost = h.name; } });
    });
    if (newest) return runningTarget(newest, newestHost);
    var f = S.failures[0];
    return f ? { pkg: f.pkgname, stage: f.stage, failure: f } : null;
  }
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

  function scheduleTimeline() {
    var wait = 1000 - (Date.now() - lastTimeline);
    if (timelineTimer) return;
    timelineTimer = setTimeout(function () { timelineTimer = 0; lastTimeline = Date.now(); renderTimeline(); }, Math.max(0, wait));
  }
  function renderTimeline() {
    var box = clear($("timeline"));
    var list = runs.filter(function (r) { return r; }).sort(function (a, b) { return a.start - b.start; });
    if (list.length === 0) { box.appendChild(el("p", { cls: "note", text: "No package has started yet." })); return; }
    var t0 = list[0].start, t1 = S.finished ? S.finished.timeMs : now();
    var lanes = {}, rows = [], rowOf = [];
    list.forEach(function (r) {
      var ends = lanes[r.host] || (lanes[r.host] = []), i = 0;
      while (i < ends.length && ends[i] > r.start) i++;
      ends[i] = r.end === null ? Infinity : r.end;
      var key = r.host + (i > 0 ? "/" + (i + 1) : "");
      if (rows.indexOf(key) < 0) rows.push(key);
      rowOf[r.id] = key;
      if (r.end !== null && r.end > t1) t1 = r.end;
    });
    rows.sort();
    var W = Math.max(500, box.clientWidth || 900), LW = 90, RH = 18, TOP = 6, span = Math.max(1000, t1 - t0);
    var H = TOP + rows.length * RH + 22, pw = W - LW - 8;
    function x(t) { return LW + ((t - t0) / span) * pw; }
    var root = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, "class": "gantt" });
    var steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400];
    var step = steps.filter(function (s) { return span / 1000 / s <= 10; })[0] || 86400;
    for (var s = 0; s * 1000 <= span; s += step) {
      var tx = x(t0 + s * 1000);
      root.appendChild(svg("line", { x1: tx, y1: TOP, x2: tx, y2: TOP + rows.length * RH, "class": "tick" }));
      root.appendChild(svg("text", { x: tx, y: H - 6, "text-anchor": "middle", "class": "axis" }, dur(s)));
    }
    rows.forEach(function (k, i) {
      root.appendChild(svg("text", { x: LW - 6, y: TOP + i * RH + RH - 5, "text-anchor": "end", "class": "row" }, k));
    });
    list.forEach(function (r) {
      var y = TOP + rows.indexOf(rowOf[r.id]) * RH + 1, x0 = x(r.start);
      var end = r.end === null ? t1 : r.end, w = Math.max(1, x(end) - x0);
      var g = svg("g", { "data-pkg": r.pkgname });
      g.appendChild(svg("title", {}, r.pkgname + " on " + r.host + ": " + r.result + ", " + dur((end - r.start) / 1000)));
      g.appendChild(svg("rect", { x: x0.toFixed(1), y: y, width: w.toFixed(1), height: RH - 2, "class": "bar r-" + cls(r.result) }));
      var fit = Math.floor((w - 4) / 6.5);
      if (fit >= 4) {
        var label = r.pkgname.length > fit ? r.pkgname.slice(0, fit - 1) + "\u2026" : r.pkgname;
        g.appendChild(svg("text", { x: (x0 + 3).toFixed(1), y: y + RH - 6, "class": "label" }, label));
      }
      root.appendChild(g);
    });
    if (!S.finished) {
      var nx = x(now());
      root.appendChild(svg("line", { x1: nx, y1: TOP, x2: nx, y2: TOP + rows.length * RH, "class": "now" }));
    }
    box.appendChild(root);
  }

  setInterval(function () { if (S !== null) { renderProgress(); renderHosts(); if (!S.finished && live) scheduleTimeline(); } }, 1000);
  setInterval(function () { if (S !== null && live) renderLog(true); }, 3000);
  connect();
})();
`;
