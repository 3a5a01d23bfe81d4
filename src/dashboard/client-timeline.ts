/**
 * The page's timeline, a fragment of the script in client.ts (it shares
 * that script's scope): one lane per host slot, a bar per package run, of
 * the runs the server keeps (every open one and the newest closed ones),
 * from when the first of those closed.
 * It is redrawn at most every second, and at most 1/20 of the time: a
 * drawing that took 100 ms waits 2 s, so a 500-host build keeps the page
 * responsive. The first drawing waits for the page's first paint.
 */
export const TIMELINE_JS = String.raw`
  var lastTimeline = 0, timelineTimer = 0, timelineCost = 0;
  function scheduleTimeline() {
    if (timelineTimer) return;
    var wait = lastTimeline === 0 ? 300 : Math.max(1000, 20 * timelineCost) - (Date.now() - lastTimeline);
    timelineTimer = setTimeout(function () {
      timelineTimer = 0;
      lastTimeline = Date.now();
      var t = performance.now();
      renderTimeline();
      timelineCost = performance.now() - t;
    }, Math.max(0, wait));
  }
  function renderTimeline() {
    var box = clear($("timeline"));
    var list = Array.from(runs.values()).sort(function (a, b) { return a.start - b.start || a.id - b.id; });
    $("timeline-title").textContent = runsTotal > list.length
      ? "Timeline: the latest " + list.length + " of " + runsTotal + " package runs" : "Timeline so far";
    if (list.length === 0) { box.appendChild(el("p", { cls: "note", text: "No package has started yet." })); return; }
    // Once runs were dropped, from the first end among those kept (older starts are cut at the left
    // edge): a package open for hours would squeeze the rest to the right.
    var t0 = list[0].start, t1 = S.finished ? S.finished.timeMs : now();
    if (runsTotal > list.length) {
      var ends = list.filter(function (r) { return r.end !== null; }).map(function (r) { return r.end; });
      if (ends.length > 0) t0 = Math.min.apply(null, ends);
    }
    var lanes = new Map(), rows = [], rowIndex = new Map(), rowOf = new Map();
    list.forEach(function (r) {
      var ends = lanes.get(r.host), i = 0;
      if (!ends) lanes.set(r.host, (ends = []));
      while (i < ends.length && ends[i] > r.start) i++;
      ends[i] = r.end === null ? Infinity : r.end;
      var key = r.host + (i > 0 ? "/" + (i + 1) : "");
      if (!rowIndex.has(key)) { rowIndex.set(key, -1); rows.push(key); }
      rowOf.set(r.id, key);
      if (r.end !== null && r.end > t1) t1 = r.end;
    });
    rows.sort();
    rows.forEach(function (k, i) { rowIndex.set(k, i); });
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
      var y = TOP + rowIndex.get(rowOf.get(r.id)) * RH + 1, x0 = x(Math.max(t0, r.start));
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
`;
