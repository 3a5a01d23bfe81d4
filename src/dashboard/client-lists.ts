/**
 * The page's two long lists, a fragment of the script in client.ts (it
 * shares that script's scope): the failures, and every finished package
 * with a result filter and a name filter. The first page of a list comes
 * with the event stream and follows the build live; any other page (an
 * older one, or a filtered one) is read from /api/packages, 50 at a time,
 * so a build with thousands of failures never sends them all. An older
 * page stays as it was read while the user looks at it; a filtered first
 * page is read again when the list changed, at most every 2 s.
 */
export const LISTS_JS = String.raw`
  var PAGE = 50;
  var panels = [
    { id: "failures", st: "failed", page: 0, q: "", got: null, loading: "", stale: false },
    { id: "finished", st: "settled", page: 0, q: "", got: null, loading: "", stale: false }
  ];
  function liveList(p) {
    if (p.page !== 0 || p.q !== "") return null;
    return p.st === "settled" ? S.recent : p.st === "failed" ? S.failures : null;
  }
  function totalOf(st) {
    var c = S.counts;
    return st === "settled" ? c.built + c.failed + c.indirect : st === "failed" ? c.failed :
      st === "built" ? c.built : c.indirect;
  }
  function keyOf(p) { return p.st + "\n" + p.page + "\n" + p.q; }
  function renderPanel(p) {
    var l = liveList(p), v = l ? { items: l, total: totalOf(p.st) } : p.got && p.got.key === keyOf(p) ? p.got : null;
    // Until the page asked for arrives, the rows shown stay.
    if (v === null) { load(p); return; }
    var tb = clear($(p.id).tBodies[0]);
    v.items.forEach(function (f) { tb.appendChild(p.id === "failures" ? failureRow(f) : finishedRow(f)); });
    var none = $("no-" + p.id);
    none.hidden = v.items.length > 0;
    none.textContent = p.q ? "No package matches." : p.page > 0 ? "No older ones." : "None so far.";
    renderPager(p, v.total, v.items.length);
  }
  function renderPager(p, total, n) {
    var from = p.page * PAGE;
    $(p.id + "-range").textContent = n === 0 ? "" :
      "(" + (from + 1) + "\u2013" + (from + n) + " of " + total + (p.q ? " matching" : "") + ", newest first)";
    var bar = $(p.id + "-pager");
    bar.querySelector('[data-go="newer"]').disabled = p.page === 0;
    bar.querySelector('[data-go="older"]').disabled = from + n >= total;
    bar.hidden = total <= PAGE && p.page === 0;
  }
  // Every update: the counts move, so do the totals of the live first pages.
  function renderPagers() {
    panels.forEach(function (p) { var l = liveList(p); if (l) renderPager(p, totalOf(p.st), l.length); });
  }
  function load(p) {
    var key = keyOf(p);
    if (p.loading === key) return;
    p.loading = key;
    fetch(withToken("/api/packages?state=" + encodeURIComponent(p.st) + "&offset=" + p.page * PAGE +
      "&limit=" + PAGE + (p.q ? "&q=" + encodeURIComponent(p.q) : "")))
      .then(function (r) { return r.json(); })
      .then(function (j) {
        if (p.loading !== key) return;
        p.loading = "";
        p.got = { key: key, items: j.items, total: j.total };
        renderPanel(p);
      }, function () { if (p.loading === key) p.loading = ""; });
  }
  function listsChanged() {
    panels.forEach(function (p) {
      if (liveList(p)) renderPanel(p);
      else if (p.page === 0) p.stale = true;
    });
  }
  setInterval(function () {
    panels.forEach(function (p) { if (p.stale && S !== null) { p.stale = false; p.got = null; load(p); } });
  }, 2000);
  panels.forEach(function (p) {
    $(p.id + "-pager").addEventListener("click", function (ev) {
      var go = ev.target && ev.target.getAttribute ? ev.target.getAttribute("data-go") : null;
      if (!go || S === null) return;
      p.page = Math.max(0, p.page + (go === "older" ? 1 : -1));
      renderPanel(p);
    });
  });
  $("finished-state").addEventListener("change", function (ev) {
    panels[1].st = ev.target.value; panels[1].page = 0;
    if (S !== null) renderPanel(panels[1]);
  });
  var filterTimer = 0;
  $("finished-q").addEventListener("input", function (ev) {
    var text = ev.target.value;
    clearTimeout(filterTimer);
    filterTimer = setTimeout(function () {
      panels[1].q = text.trim(); panels[1].page = 0;
      if (S !== null) renderPanel(panels[1]);
    }, 250);
  });

  /** A failure the page holds (live, or on a page read), by name. */
  function findFailure(name) {
    var found = null;
    S.failures.concat(panels[0].got ? panels[0].got.items : [], panels[1].got ? panels[1].got.items : [])
      .forEach(function (f) { if (!found && f.result === "failed" && f.pkgname === name) found = f; });
    return found;
  }
  function when(t) {
    var d = new Date(t);
    return now() - t > 20 * 3600 * 1000 ? d.toLocaleString() : d.toLocaleTimeString();
  }
  function failureRow(f) {
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
    return el("tr", { "data-pkg": f.pkgname }, [
      el("td", {}, [pkgLink(f.pkgname, f.host)]), el("td", { text: f.stage }), el("td", { text: f.host }),
      el("td", { cls: "reason", text: f.reason }), logs
    ]);
  }
  function finishedRow(f) {
    var detail = el("td", { cls: "reason" });
    if (f.result === "failed") {
      if (f.stage) detail.appendChild(el("a", { href: logUrl(f.pkgname, f.stage), target: "_blank", rel: "noreferrer", cls: "failed-stage", text: f.stage }));
      detail.appendChild(document.createTextNode(" " + f.reason));
    } else if (f.result === "indirect-failed") detail.textContent = "because " + f.culprit + " failed";
    return el("tr", { "data-pkg": f.pkgname, "data-result": f.result }, [
      el("td", { title: f.pkgpath }, [f.result === "failed" ? pkgLink(f.pkgname, f.host) : f.pkgname]),
      el("td", {}, [el("span", { cls: "res res-" + cls(f.result), text: f.result })]),
      el("td", { text: f.host }),
      el("td", { cls: "when", text: when(f.timeMs) }),
      el("td", { cls: "when", text: f.wallMs > 0 ? dur(f.wallMs / 1000) : "" }),
      detail
    ]);
  }
`;
