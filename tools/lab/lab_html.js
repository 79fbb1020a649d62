/*
 * lab_html.js: the night's page, built from the JSON embedded in it (#night, #trends) with
 * Chart.js (inlined by the writer: the page needs no network). Every cell has its own page
 * (#cell-N), drawn up front so a headless browser sees every plot; the hash shows one.
 */
"use strict";
(function () {
  var errors = [];
  window.addEventListener("error", function (e) {
    errors.push(String(e.message));
    var el = document.getElementById("js-errors");
    if (el) { el.textContent = errors.join("\n"); el.hidden = false; }
  });
  var night = JSON.parse(document.getElementById("night").textContent);
  var trends = JSON.parse(document.getElementById("trends").textContent);
  var cells = night.cells || [];
  var AXES = ["build", "machine", "boot", "smp", "queues", "iothreads", "storage", "hops", "caps"];
  var ROW_AXES = AXES.slice(0, 6), COL_AXES = AXES.slice(6);
  var COLORS = { pass: "#2e9e44", flaky: "#e0a106", fail: "#d13b2e", error: "#7b7b7b", known: "#8e5bd1" };
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"];
  var plots = 0;

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === "text") e.textContent = attrs[k]; else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }
  function colour(c) { return c.known_issue ? COLORS.known : (COLORS[c.verdict] || COLORS.error); }
  function label(c) { return c.known_issue ? c.verdict + " (known)" : c.verdict; }
  function varying(axes) {
    return axes.filter(function (a) {
      var seen = {};
      cells.forEach(function (c) { seen[c.axes[a]] = 1; });
      return Object.keys(seen).length > 1;
    });
  }
  function key(c, axes) {
    return axes.map(function (a) { return (a === "smp" || a === "queues" || a === "iothreads" ? a + " " : "") + c.axes[a]; }).join(" / ");
  }
  function rep(c) { var a = (c.attempts || [])[c.representative || 0]; return a && a.report ? a.report : null; }

  function chart(canvas, type, labels, datasets, ytitle, xtitle) {
    new Chart(canvas.getContext("2d"), {
      type: type,
      data: { labels: labels, datasets: datasets },
      options: { responsive: false, animation: false,
                 plugins: { legend: { display: datasets.length > 1 || type === "bar" } },
                 scales: { y: { beginAtZero: true, title: { display: true, text: ytitle } },
                           x: { title: { display: true, text: xtitle } } } }
    });
    canvas.setAttribute("data-plotted", "1");
    plots++;
  }
  function canvas(id) { return el("canvas", { id: id, width: "560", height: "240", "class": "plot" }); }

  function header() {
    var n = night.night || {}, s = night.summary || {};
    var h = el("header", {}, [el("h1", { text: "vqhammer lab: " + n.name }),
      el("p", { text: "started " + n.started + " on " + n.host + ", night seed " + n.seed + ", vqhammer " + (night.lab || {}).version }),
      el("p", { "class": "counts" }, ["pass", "flaky", "fail", "error", "known"].map(function (v) {
        return el("span", { "class": "badge", style: "background:" + COLORS[v], text: v + " " + (s[v] || 0) });
      }))]);
    if (s.expected && s.cells < s.expected)
      h.appendChild(el("p", { "class": "warn", text: (s.expected - s.cells) + " cell(s) of " + s.expected + " have no result (interrupted?)" }));
    return h;
  }

  function grid() {
    var rows = varying(ROW_AXES), cols = varying(COL_AXES), rkeys = [], ckeys = [], at = {};
    cells.forEach(function (c, i) {
      var r = key(c, rows), k = key(c, cols);
      if (rkeys.indexOf(r) < 0) rkeys.push(r);
      if (ckeys.indexOf(k) < 0) ckeys.push(k);
      (at[r + "|" + k] = at[r + "|" + k] || []).push(i);
    });
    var head = el("tr", {}, [el("th", { text: rows.join(" / ") + (cols.length ? " \\ " + cols.join(" / ") : "") })]
      .concat(ckeys.map(function (k) { return el("th", { text: k || "cell" }); })));
    var body = rkeys.map(function (r) {
      return el("tr", {}, [el("th", { text: r || "cell" })].concat(ckeys.map(function (k) {
        var td = el("td");
        (at[r + "|" + k] || []).forEach(function (i) {
          var c = cells[i];
          var a = el("a", { href: "#cell-" + i, "class": "grid-cell", style: "background:" + colour(c),
                            title: c.id + ": " + label(c) + (c.verdict === "flaky" ? " " + Math.round(100 * c.fail_rate) + "%" : ""),
                            "data-verdict": c.verdict, text: label(c) });
          td.appendChild(a);
        });
        return td;
      })));
    });
    return el("section", { id: "grid" }, [el("h2", { text: "The matrix (" + cells.length + " cells)" }),
      el("table", { "class": "grid" }, [head].concat(body))]);
  }

  function trendSection() {
    var ns = (trends && trends.nights) || [];
    var sec = el("section", { id: "trends" }, [el("h2", { text: "Across nights (" + ns.length + ")" })]);
    if (!ns.length) { sec.appendChild(el("p", { text: "no history in the database yet" })); return sec; }
    var labels = ns.map(function (n) { return n.started; });
    var counts = { pass: [], flaky: [], fail: [], error: [] };
    ns.forEach(function (n, k) {
      Object.keys(counts).forEach(function (v) { counts[v][k] = 0; });
      Object.keys(trends.cells).forEach(function (id) {
        var e = trends.cells[id][k];
        if (e && counts[e.verdict]) counts[e.verdict][k]++;
      });
    });
    var c1 = canvas("trend-verdicts"), c2 = canvas("trend-ops");
    sec.appendChild(el("div", { "class": "plots" }, [c1, c2]));
    chart(c1, "bar", labels, Object.keys(counts).map(function (v) {
      return { label: v, data: counts[v], backgroundColor: COLORS[v] };
    }), "cells", "night");
    var ids = Object.keys(trends.cells).slice(0, PALETTE.length);
    chart(c2, "line", labels, ids.map(function (id, i) {
      return { label: id, data: trends.cells[id].map(function (e) { return e ? e.ops_per_s : null; }),
               borderColor: PALETTE[i], backgroundColor: PALETTE[i], spanGaps: true };
    }), "verified ops/s", "night");
    return sec;
  }

  function kv(rows) {
    return el("table", { "class": "kv" }, rows.filter(function (r) { return r[1] !== undefined && r[1] !== ""; })
      .map(function (r) { return el("tr", {}, [el("th", { text: r[0] }), el("td", { text: String(r[1]) })]); }));
  }

  function cellPage(c, i) {
    var page = el("section", { id: "cell-" + i, "class": "cell-page", "data-cell": c.id });
    page.appendChild(el("h2", {}, [el("span", { "class": "badge", style: "background:" + colour(c), text: label(c) }),
      document.createTextNode(" " + c.id)]));
    page.appendChild(el("p", {}, [el("a", { href: "#", text: "back to the matrix" })]));
    var ki = c.known_issue;
    page.appendChild(kv([["verdict", c.verdict + (c.verdict === "flaky" || c.verdict === "fail" ?
        " (" + c.failures + " of " + c.attempts_run + " attempts failed, " + Math.round(100 * c.fail_rate) + "%)" : "")],
      ["failure class", c.failure_class], ["reason", c.reason],
      ["known issue", ki ? ki.id + ": " + ki.title + " (fixed in QEMU " + ki.fixed_in + " by " + ki.upstream_fix + ")" : ""],
      ["seed", c.seed], ["QEMU", c.qemu + " " + (c.qemu_version || "?") + (c.qemu_dst !== c.qemu ? " -> " + c.qemu_dst + " " + (c.qemu_dst_version || "?") : "")],
      ["reproducer", c.reproducer], ["evidence", c.evidence]]));
    page.appendChild(el("h3", { text: "Attempts" }));
    page.appendChild(el("table", { "class": "attempts" }, [el("tr", {}, ["#", "why", "seed", "verdict", "seconds", "reason"]
      .map(function (t) { return el("th", { text: t }); }))].concat((c.attempts || []).map(function (a) {
        return el("tr", {}, [a.attempt, a.why, a.seed, a.verdict, (a.seconds || 0).toFixed(1), a.reason]
          .map(function (t) { return el("td", { text: String(t === undefined ? "" : t) }); }));
      }))));
    var r = rep(c), hops = (r && r.hops) || [];
    var plotsDiv = el("div", { "class": "plots" });
    page.appendChild(el("h3", { text: "Hops of attempt " + (c.representative || 0) }));
    page.appendChild(plotsDiv);
    var c1 = canvas("hops-" + i), c2 = canvas("ops-" + i);
    plotsDiv.appendChild(c1);
    plotsDiv.appendChild(c2);
    var hl = hops.map(function (h) { return "hop " + h.index; });
    chart(c1, "bar", hl, [
      { label: "downtime ms", data: hops.map(function (h) { return h.downtime_ms; }), backgroundColor: "#d62728" },
      { label: "total ms", data: hops.map(function (h) { return h.total_ms; }), backgroundColor: "#1f77b4" }],
      "milliseconds", "hop");
    /* ops/s per queue over time: a hop's per-queue operations over the time until the next hop. */
    var nq = hops.reduce(function (m, h) { return Math.max(m, (h.queue_ops || []).length); }, 0), sets = [];
    for (var q = 0; q < nq; q++) {
      sets.push({ label: "queue " + q, borderColor: PALETTE[q % PALETTE.length], backgroundColor: PALETTE[q % PALETTE.length],
        data: hops.map(function (h, k) {
          var end = k + 1 < hops.length ? hops[k + 1].start_s : r.duration_s, dt = end - h.start_s;
          return dt > 0 ? Math.round((h.queue_ops[q] || 0) / dt) : null;
        }) });
    }
    chart(c2, "line", hops.map(function (h) { return h.start_s.toFixed(1) + " s"; }), sets, "guest ops/s", "time (hop start)");
    var tr = trends && trends.cells && trends.cells[c.id];
    if (tr) {
      var c3 = canvas("trend-" + i);
      plotsDiv.appendChild(c3);
      chart(c3, "line", trends.nights.map(function (n) { return n.started; }), [
        { label: "ops/s", data: tr.map(function (e) { return e ? e.ops_per_s : null; }), borderColor: "#2ca02c", yAxisID: "y", spanGaps: true },
        { label: "downtime avg ms", data: tr.map(function (e) { return e ? e.downtime_avg_ms : null; }), borderColor: "#d62728", spanGaps: true }],
        "value", "night");
    }
    if (c.evidence_text) {
      page.appendChild(el("h3", { text: "Evidence" }));
      page.appendChild(el("pre", { "class": "evidence", text: c.evidence_text }));
    }
    return page;
  }

  function route() {
    var m = /^#cell-(\d+)$/.exec(location.hash);
    document.querySelectorAll(".cell-page").forEach(function (p) { p.classList.toggle("shown", !!m && p.id === "cell-" + m[1]); });
    document.getElementById("overview").classList.toggle("shown", !m);
    window.scrollTo(0, 0);
  }

  var app = document.getElementById("app");
  var overview = el("div", { id: "overview", "class": "shown" }, [header(), grid(), trendSection()]);
  app.appendChild(overview);
  cells.forEach(function (c, i) { app.appendChild(cellPage(c, i)); });
  window.addEventListener("hashchange", route);
  route();
  document.body.setAttribute("data-cells", String(cells.length));
  document.body.setAttribute("data-plots", String(plots));
  if (!errors.length) document.body.setAttribute("data-render", "ok");
})();
