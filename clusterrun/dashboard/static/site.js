/* clusterrun site: charts (uPlot), filter and sort, the compare page. Plain ES2017, no network. */
(function () {
  "use strict";
  var CR = (window.CR = window.CR || {});
  CR.runs = CR.runs || {};
  CR.drawn = []; // every chart drawn: {id, title, series, points} (read by the browser tests)
  var PALETTE = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#0598bc", "#bf3989",
    "#6e7781", "#4d2d00", "#116329", "#953800", "#3b5bdb"];

  CR.add = function (data) { CR.runs[data.id] = data; };

  function isNum(v) { return typeof v === "number" && isFinite(v); }

  function parseLines(text, stepKey, into) {
    if (!text) return;
    var lines = text.split("\n");
    var counts = {};
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i].trim();
      if (!line) continue;
      var row;
      try { row = JSON.parse(line); } catch (e) { continue; } // a truncated last line: skipped
      if (!row || typeof row !== "object" || Array.isArray(row)) continue;
      var step = isNum(row[stepKey]) ? row[stepKey] : null;
      for (var key in row) {
        if (key === stepKey || key === "timestamp" || !isNum(row[key])) continue;
        var s = into[key] || (into[key] = [[], []]);
        counts[key] = counts[key] || 0;
        s[0].push(step !== null ? step : counts[key]);
        s[1].push(row[key]);
        counts[key] += 1;
      }
    }
  }

  function sortedUnique(s) { // uPlot needs ascending x: sort by step, the last value of a step wins
    var idx = s[0].map(function (_, i) { return i; });
    idx.sort(function (a, b) { return s[0][a] - s[0][b] || a - b; });
    var xs = [], ys = [];
    for (var k = 0; k < idx.length; k++) {
      var x = s[0][idx[k]];
      if (xs.length && xs[xs.length - 1] === x) { ys[ys.length - 1] = s[1][idx[k]]; continue; }
      xs.push(x); ys.push(s[1][idx[k]]);
    }
    return [xs, ys];
  }

  /* {metric: [steps, values]} of a run: its JSON lines as written, then its stdout matches. */
  CR.curves = function (run) {
    if (!run) return {};
    if (run._curves) return run._curves;
    var out = {};
    if (run.series) {
      for (var name in run.series) out[name] = run.series[name];
    } else {
      var file = {}, stdout = {};
      parseLines(run.file, run.step_key || "step", file);
      parseLines(run.stdout, run.step_key || "step", stdout);
      for (var a in file) out[a] = file[a];
      for (var b in stdout) out[b] = stdout[b]; // a pattern wins over the file, as in the summary
    }
    for (var key in out) out[key] = sortedUnique(out[key]);
    run._curves = out;
    return out;
  };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function chartWidth(container) {
    var w = container.clientWidth || 900;
    return Math.max(320, Math.min(640, w >= 940 ? Math.floor(w / 2) - 30 : w - 20));
  }

  /* One chart: `lines` = [{label, xs, ys, width, dash}], x is the step. */
  CR.chart = function (container, title, lines, opts) {
    opts = opts || {};
    var box = opts.box || el("div", { "class": "chart", "data-title": title });
    if (!opts.box) {
      var head = el("h3", {}, title);
      var positive = lines.every(function (l) { return l.ys.every(function (y) { return y == null || y > 0; }); });
      if (positive && !opts.points) { // a log scale for losses spanning decades (on by default past 3)
        var lo = Infinity, hi = -Infinity;
        lines.forEach(function (l) { l.ys.forEach(function (y) { if (y != null) { lo = Math.min(lo, y); hi = Math.max(hi, y); } }); });
        if (opts.logY === undefined) opts.logY = hi / lo >= 1000;
        var label = el("label", { "class": "logy small muted" });
        var box2 = el("input", { type: "checkbox" });
        box2.checked = opts.logY;
        label.appendChild(box2); label.appendChild(document.createTextNode(" log y"));
        box2.addEventListener("change", function () {
          box.plot.destroy();
          CR.chart(container, title, lines, Object.assign({}, opts, { box: box, logY: box2.checked, redraw: true }));
        });
        head.appendChild(label);
      }
      box.appendChild(head);
      container.appendChild(box);
    }
    var tables = lines.map(function (l) { return [l.xs, l.ys]; });
    var data = tables.length === 1 ? [tables[0][0], tables[0][1]] : uPlot.join(tables);
    var series = [{ label: opts.xLabel || "step" }];
    lines.forEach(function (l, i) {
      var s = { label: l.label, stroke: l.color || PALETTE[i % PALETTE.length], width: l.width || 1.5, spanGaps: true };
      if (opts.points) {
        s.paths = function () { return null; };
        s.points = { show: true, size: 9, fill: s.stroke };
      }
      series.push(s);
    });
    var xScale = { time: false };
    if (opts.logX) { xScale.distr = 3; }
    var scales = { x: xScale };
    var axes = [{ label: opts.xLabel || "step" }, { size: 60 }];
    if (opts.logY) {  // decades below 0.001 in exponent form: the default format wrote 1e-5 as "0"
      scales.y = { distr: 3 };
      axes[1].values = function (u, splits) {
        return splits.map(function (v) {
          if (v == null) return "";
          var a = Math.abs(v);
          return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(0) : String(+v.toPrecision(3));
        });
      };
    }
    var integerSteps = data[0].length > 0 && data[0].every(function (x) { return Number.isInteger(x); });
    if (integerSteps && !opts.xValues && !opts.logX) {  // steps 0..4: ticks 0 1 2 3 4, not 0.5 1.5...
      axes[0].incrs = [];
      for (var p = 1; p <= 1e9; p *= 10) { axes[0].incrs.push(p, 2 * p, 5 * p); }
    }
    if (opts.xValues) {
      axes[0].values = function (u, splits) { return splits.map(function (v) { return opts.xValues[v] !== undefined ? opts.xValues[v] : ""; }); };
      axes[0].splits = function () { return opts.xValues.map(function (_, i) { return i; }); };
      xScale.range = function () { return [-0.5, opts.xValues.length - 0.5]; };
    }
    var plot = new uPlot({
      width: chartWidth(container), height: 260, series: series, scales: scales, axes: axes,
      legend: { show: lines.length <= 12 }, cursor: { drag: { x: true, y: false } },
    }, data, box);
    var points = 0;
    for (var i = 1; i < data.length; i++) for (var j = 0; j < data[i].length; j++) if (data[i][j] != null) points++;
    box.plot = plot;
    if (!opts.redraw) CR.drawn.push({ id: container.id, title: title, series: lines.length, points: points });
    return plot;
  };

  function clearEmpty(container) {
    var empty = container.querySelector(".empty-charts");
    if (empty) empty.remove();
  }

  /* ------------------------------------------------------------------------------ tables */

  function cellValue(td, type) {
    var raw = td.hasAttribute("data-sort") ? td.getAttribute("data-sort") : td.textContent.trim();
    if (type === "num" || type === "auto") {
      var n = parseFloat(raw);
      if (raw !== "" && !isNaN(n) && isFinite(n) && String(n) === String(Number(raw))) return { n: n };
      if (type === "num") return { n: null };
    }
    return { s: raw.toLowerCase() };
  }

  function makeSortable(table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, col) {
      if (th.classList.contains("nosort")) return;
      th.addEventListener("click", function () {
        var asc = !th.classList.contains("asc");
        heads.forEach(function (h) { h.classList.remove("asc", "desc"); });
        th.classList.add(asc ? "asc" : "desc");
        var type = th.getAttribute("data-type") || "text";
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (ra, rb) {
          var a = cellValue(ra.cells[col], type), b = cellValue(rb.cells[col], type);
          var empty = function (v) { return v.n === null || v.s === ""; };
          if (empty(a) !== empty(b)) return empty(a) ? 1 : -1; // blanks last either way
          var d;
          if (a.n !== undefined && b.n !== undefined) d = (a.n || 0) - (b.n || 0);
          else d = String(a.s !== undefined ? a.s : a.n) < String(b.s !== undefined ? b.s : b.n) ? -1 : 1;
          return asc ? d : -d;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }

  function initIndex() {
    var table = document.getElementById("runs");
    var filter = document.getElementById("filter");
    var stateFilter = document.getElementById("state-filter");
    var shown = document.getElementById("shown");
    var button = document.getElementById("compare-selected");
    function apply() {
      var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      var state = stateFilter.value;
      var n = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var text = row.textContent.toLowerCase();
        var ok = (!state || row.getAttribute("data-state") === state) &&
          words.every(function (w) { return text.indexOf(w) >= 0; });
        row.style.display = ok ? "" : "none";
        if (ok) n++;
      });
      shown.textContent = n + " of " + table.tBodies[0].rows.length + " shown";
    }
    filter.addEventListener("input", apply);
    stateFilter.addEventListener("change", apply);
    table.addEventListener("change", function () {
      button.disabled = table.querySelectorAll("input.pick:checked").length !== 2;
    });
    button.addEventListener("click", function () {
      var picked = Array.prototype.map.call(table.querySelectorAll("input.pick:checked"), function (c) { return c.value; });
      if (picked.length === 2) window.location.href = "compare.html?a=" + encodeURIComponent(picked[0]) + "&b=" + encodeURIComponent(picked[1]);
    });
    apply();
  }

  /* ------------------------------------------------------------------------------ pages */

  /* Metrics with a curve (two points or more in some run), the sweep's metric first. */
  function metricNames(runs, first) {
    var names = {};
    runs.forEach(function (r) {
      var curves = CR.curves(r);
      Object.keys(curves).forEach(function (n) { if (curves[n][0].length > 1) names[n] = true; });
    });
    return Object.keys(names).sort(function (a, b) { return (b === first) - (a === first) || (a < b ? -1 : 1); });
  }

  function initRun(cfg) {
    var run = CR.runs[cfg.run];
    var container = document.getElementById("charts");
    var curves = CR.curves(run);
    var names = metricNames([run]);
    if (names.length) clearEmpty(container);
    names.forEach(function (name) {
      CR.chart(container, name, [{ label: name, xs: curves[name][0], ys: curves[name][1] }]);
    });
  }

  function memberLabel(run, axes) {
    var values = run.sweep_values || {};
    var parts = axes.filter(function (a) { return a in values; }).map(function (a) { return a.replace(/^params\./, "") + "=" + values[a]; });
    return parts.length ? parts.join(" ") : run.id;
  }

  function initSweep(cfg) {
    var rows = document.querySelectorAll("#members tbody tr");
    var runs = Array.prototype.map.call(rows, function (r) { return CR.runs[r.getAttribute("data-id")]; }).filter(Boolean);
    var container = document.getElementById("charts");
    var names = metricNames(runs, cfg.metric);
    if (names.length) clearEmpty(container);
    names.forEach(function (name) {
      var lines = [];
      runs.forEach(function (run, i) {
        var c = CR.curves(run)[name];
        if (!c) return;
        lines.push({ label: memberLabel(run, cfg.axes) + (run.id === cfg.best ? " ★" : ""), xs: c[0], ys: c[1],
          width: run.id === cfg.best ? 3.5 : 1.25, color: PALETTE[i % PALETTE.length] });
      });
      if (lines.length) CR.chart(container, name + " (" + lines.length + " members)", lines);
    });
    var scatters = document.getElementById("scatters");
    if (!scatters || !cfg.metric) return;
    cfg.axes.forEach(function (axis) {
      var points = runs.filter(function (r) {
        return r.state === "completed" && isNum((r.metrics || {})[cfg.metric]) && (r.sweep_values || {})[axis] !== undefined;
      });
      if (!points.length) return;
      var raw = points.map(function (r) { return r.sweep_values[axis]; });
      var numeric = raw.every(isNum);
      var labels = null, xs;
      if (numeric) { xs = raw; } else {
        labels = Array.from(new Set(raw.map(String))).sort();
        xs = raw.map(function (v) { return labels.indexOf(String(v)); });
      }
      var pairs = xs.map(function (x, i) { return [x, points[i].metrics[cfg.metric], points[i].id]; });
      pairs.sort(function (a, b) { return a[0] - b[0]; });
      var lines = [{ label: "final " + cfg.metric, xs: pairs.map(function (p) { return p[0]; }), ys: pairs.map(function (p) { return p[1]; }), color: PALETTE[0] }];
      var best = pairs.filter(function (p) { return p[2] === cfg.best; });
      if (best.length) lines.push({ label: "best ★", xs: [best[0][0]], ys: [best[0][1]], color: PALETTE[2] });
      var positive = numeric && xs.every(function (x) { return x > 0; });
      var logX = positive && Math.max.apply(null, xs) / Math.min.apply(null, xs) >= 10;
      CR.chart(scatters, cfg.metric + " vs " + axis, lines, { points: true, xLabel: axis, xValues: labels, logX: logX });
    });
  }

  /* ------------------------------------------------------------------------------ compare */

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src; s.onload = resolve;
      s.onerror = function () { reject(new Error("cannot load " + src)); };
      document.body.appendChild(s);
    });
  }

  function diffTable(title, a, b, idA, idB) {
    var keys = Array.from(new Set(Object.keys(a || {}).concat(Object.keys(b || {})))).sort();
    var rows = keys.filter(function (k) { return JSON.stringify((a || {})[k]) !== JSON.stringify((b || {})[k]); });
    var section = el("section", { "class": "diff", "data-kind": title.toLowerCase() });
    section.appendChild(el("h2", {}, title + " differences (" + rows.length + ")"));
    if (!rows.length) { section.appendChild(el("p", { "class": "muted" }, "none")); return section; }
    var table = el("table", { "class": "kv-table" });
    var head = el("tr"); ["", idA, idB].forEach(function (h, i) { head.appendChild(el("th", { "class": i ? (i === 1 ? "diff-a" : "diff-b") : "" }, h)); });
    table.appendChild(head);
    rows.forEach(function (k) {
      var tr = el("tr");
      tr.appendChild(el("td", {}, k));
      [a, b].forEach(function (side) {
        var v = (side || {})[k];
        tr.appendChild(el("td", {}, v === undefined ? "—" : (typeof v === "string" ? v : JSON.stringify(v))));
      });
      table.appendChild(tr);
    });
    section.appendChild(table);
    return section;
  }

  function metricTable(a, b) {
    var ma = a.metrics || {}, mb = b.metrics || {};
    var keys = Array.from(new Set(Object.keys(ma).concat(Object.keys(mb)))).sort();
    var section = el("section", { "class": "diff", "data-kind": "metrics" });
    section.appendChild(el("h2", {}, "Final metrics"));
    var table = el("table", { "class": "kv-table" });
    var head = el("tr");
    ["metric", a.id, b.id, "abs diff", "rel diff"].forEach(function (h) { head.appendChild(el("th", {}, h)); });
    table.appendChild(head);
    keys.forEach(function (k) {
      var tr = el("tr"), x = ma[k], y = mb[k];
      var abs = isNum(x) && isNum(y) ? Math.abs(x - y) : null;
      var rel = abs !== null && x !== 0 ? abs / Math.abs(x) : null;
      [k, x, y, abs, rel].forEach(function (v, i) {
        tr.appendChild(el("td", { "class": i ? "num" : "" }, v === undefined || v === null ? "—" : (isNum(v) ? Number(v.toPrecision(6)).toString() : String(v))));
      });
      table.appendChild(tr);
    });
    section.appendChild(table);
    return section;
  }

  function initCompare() {
    var index = CR.index || [];
    var known = {};
    index.forEach(function (r) { known[r.id] = r; });
    var params = new URLSearchParams(window.location.search);
    var ida = params.get("a") || "", idb = params.get("b") || "";
    ["a", "b"].forEach(function (side) {
      var select = document.getElementById("pick-" + side);
      index.forEach(function (r) {
        var option = el("option", { value: r.id }, r.id + " (" + r.state + ")");
        if (r.id === (side === "a" ? ida : idb)) option.selected = true;
        select.appendChild(option);
      });
    });
    var result = document.getElementById("compare-result");
    if (!ida || !idb) return;
    if (!known[ida] || !known[idb]) {
      result.textContent = "";
      result.appendChild(el("p", { "class": "box bad" }, "Not in this site: " + [ida, idb].filter(function (i) { return !known[i]; }).join(", ") + ". Rebuild it with: clusterrun site"));
      return;
    }
    Promise.all([ida, idb].map(function (id) { return CR.runs[id] ? null : loadScript("data/" + encodeURIComponent(id) + ".js"); }))
      .then(function () {
        var a = CR.runs[ida], b = CR.runs[idb];
        result.textContent = "";
        var title = el("p");
        title.innerHTML = "";
        title.appendChild(el("a", { href: "runs/" + encodeURIComponent(ida) + ".html", "class": "diff-a" }, "A: " + ida));
        title.appendChild(document.createTextNode("  vs  "));
        title.appendChild(el("a", { href: "runs/" + encodeURIComponent(idb) + ".html", "class": "diff-b" }, "B: " + idb));
        result.appendChild(title);
        result.appendChild(metricTable(a, b));
        result.appendChild(diffTable("Config", a.config, b.config, ida, idb));
        result.appendChild(diffTable("Code", a.code, b.code, ida, idb));
        result.appendChild(diffTable("Environment", a.environment, b.environment, ida, idb));
        result.appendChild(diffTable("Data", a.data, b.data, ida, idb));
        var container = document.getElementById("charts");
        container.appendChild(el("h2", { style: "grid-column: 1 / -1" }, "Curves overlaid"));
        var ca = CR.curves(a), cb = CR.curves(b);
        metricNames([a, b]).forEach(function (name) {
          var lines = [];
          if (ca[name]) lines.push({ label: "A " + name, xs: ca[name][0], ys: ca[name][1], color: "#8250df" });
          if (cb[name]) lines.push({ label: "B " + name, xs: cb[name][0], ys: cb[name][1], color: "#bc4c00", width: 1.5 });
          CR.chart(container, name, lines);
        });
      })
      .catch(function (err) { result.textContent = String(err.message || err); });
  }

  CR.init = function (page, cfg) {
    document.querySelectorAll("table.sortable").forEach(makeSortable);
    if (page === "index") initIndex();
    else if (page === "run") initRun(cfg);
    else if (page === "sweep") initSweep(cfg);
    else if (page === "compare") initCompare();
  };
})();
