"""The inline stylesheet, script and colours of ``predict --html`` (:mod:`mgc.predict.html`).

Constants, not package data files, so the page is built from the module alone and stays one
self-contained file: nothing here loads anything from anywhere.
"""

from __future__ import annotations

# Colours by a genre's place in the model's labels (wrapping round past the last); unknown and failed fixed.
PALETTE = (
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
    "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#aec7e8",
    "#98df8a", "#ffbb78",
)
UNKNOWN_COLOUR = "#b0b0b0"
FAILED_COLOUR = "#5a5a5a"

# Blocks every load but the page's own inline style and script, and the players' local files.
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; media-src 'self' file: blob:"

CSS = """
:root { color-scheme: light; --line: #dde1e6; --muted: #5f6b7a; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 24px 32px; color: #1d2330; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 24px; padding: 16px 0 6px; }
h1 { font-size: 20px; margin: 0; }
h2 { font-size: 15px; margin: 18px 0 8px; }
.model { color: var(--muted); }
.counts { display: flex; gap: 14px; margin: 0; padding: 0; list-style: none; }
.counts b { font-variant-numeric: tabular-nums; }
#distribution { max-width: 720px; }
.bar { display: grid; grid-template-columns: 140px 1fr 120px; gap: 8px; align-items: center; padding: 2px 4px;
  border-radius: 4px; cursor: pointer; }
.bar:hover { background: #f1f3f6; }
.bar .name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.bar .track { height: 12px; background: #eef0f3; border-radius: 3px; overflow: hidden; }
.bar .fill { display: block; height: 100%; background: var(--c); }
.bar .n { color: var(--muted); font-variant-numeric: tabular-nums; text-align: right; }
.controls { display: flex; flex-wrap: wrap; gap: 10px 16px; align-items: center; margin: 18px 0 8px; }
.controls select, .controls input { font: inherit; padding: 3px 6px; }
#search { width: 260px; }
#shown { color: var(--muted); margin: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: middle; }
thead th { position: sticky; top: 0; background: #f7f8fa; z-index: 1; white-space: nowrap; user-select: none; }
th[data-sort] { cursor: pointer; }
#files th:nth-child(6) { width: 236px; }
#files th:nth-child(7) { width: 256px; }
th[data-sort]::after { content: " \\2195"; color: #b3bac4; }
th[aria-sort=ascending]::after { content: " \\2191"; color: inherit; }
th[aria-sort=descending]::after { content: " \\2193"; color: inherit; }
tbody tr:hover { background: #f7f9fc; }
td.path { max-width: 320px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.reason { color: #a33; max-width: 320px; }
.genre { white-space: nowrap; }
.genre::before { content: ""; display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px;
  background: var(--c); vertical-align: -1px; }
.tl { content-visibility: auto; contain-intrinsic-size: 220px 14px; position: relative; width: 220px;
  height: 14px; background: #eef0f3; border-radius: 3px; overflow: hidden; }
.tl span { position: absolute; top: 0; bottom: 0; background: var(--c); border-right: 1px solid #fff; }
audio { height: 28px; width: 240px; display: block; }
button.play { font: inherit; font-size: 12px; width: 32px; height: 24px; border: 1px solid var(--line);
  border-radius: 12px; background: #fff; cursor: pointer; color: #334; }
button.play:hover { background: #eef2f8; }
"""

# Rows are in the HTML already; this only sorts (a header click, again to reverse) and filters
# (genre and path substring, toggling ``hidden``), keeps the "N of M files shown" line, turns a
# pressed play button into its row's player and pauses the other players when one starts.
JS = """
(function () {
  "use strict";
  var table = document.getElementById("files"), body = table.tBodies[0];
  var filter = document.getElementById("genre-filter"), search = document.getElementById("search");
  var shown = document.getElementById("shown");
  var rows = Array.prototype.map.call(body.rows, function (tr, i) {
    return {tr: tr, i: i, genre: tr.dataset.genre, path: tr.dataset.path.toLowerCase()};
  });
  var collator = new Intl.Collator(undefined, {numeric: true, sensitivity: "base"});
  function apply() {
    var g = filter.value, q = search.value.trim().toLowerCase(), n = 0;
    for (var k = 0; k < rows.length; k++) {
      var r = rows[k], show = (g === "" || r.genre === g) && (q === "" || r.path.indexOf(q) !== -1);
      if (r.tr.hidden === show) r.tr.hidden = !show;
      if (show) n++;
    }
    shown.textContent = n + " of " + rows.length + " files shown";
  }
  var sortKey = null, sortDir = 1;
  function sortBy(th) {
    var key = th.dataset.sort, numeric = th.dataset.type === "number";
    sortDir = key === sortKey ? -sortDir : (numeric ? -1 : 1);
    sortKey = key;
    rows.forEach(function (r) {
      var v = r.tr.dataset[key] || "";
      r.v = numeric ? (v === "" ? NaN : parseFloat(v)) : v;
    });
    rows.sort(function (a, b) {
      var c;
      if (numeric) {
        var an = isNaN(a.v), bn = isNaN(b.v);
        c = an || bn ? (an === bn ? 0 : (an ? 1 : -1)) : sortDir * (a.v - b.v);  // no value: last either way
      } else {
        c = sortDir * collator.compare(a.v, b.v);
      }
      return c || a.i - b.i;
    });
    var y = window.scrollY;
    table.removeChild(body);  // reorder off the page: one layout, not one per row
    rows.forEach(function (r) { body.appendChild(r.tr); });
    table.appendChild(body);
    window.scrollTo(0, y);
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) { cell.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
  }
  table.tHead.addEventListener("click", function (e) {
    var th = e.target.closest("th[data-sort]");
    if (th) sortBy(th);
  });
  table.tHead.addEventListener("keydown", function (e) {
    var th = e.target.closest("th[data-sort]");
    if (th && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); sortBy(th); }
  });
  document.getElementById("distribution").addEventListener("click", function (e) {
    var bar = e.target.closest(".bar");
    if (bar) { filter.value = filter.value === bar.dataset.genre ? "" : bar.dataset.genre; apply(); }
  });
  body.addEventListener("click", function (e) {
    var button = e.target.closest("button.play");
    if (!button) return;
    var audio = document.createElement("audio");
    audio.controls = true;
    audio.preload = "none";
    audio.src = button.dataset.src;
    button.replaceWith(audio);
    var playing = audio.play();
    if (playing) playing.catch(function () {});  // a file gone since: the player shows it, no console error
  });
  document.addEventListener("play", function (e) {
    Array.prototype.forEach.call(document.querySelectorAll("audio"), function (a) { if (a !== e.target) a.pause(); });
  }, true);
  filter.addEventListener("change", apply);
  search.addEventListener("input", apply);
  apply();
})();
"""
