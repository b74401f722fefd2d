"""The explorer's page: HTML, CSS and the script that draws it, around the payload of :mod:`.explorer`.

The page is one file: inline CSS, one inline script written here (no library,
nothing fetched; a Content-Security-Policy forbids every request), and the
payload as JSON. The script inflates the packed images and labels with the
browser's own ``DecompressionStream`` (Chromium 80, Firefox 113, Safari 16.4),
then computes what it shows from the labels: the discordant images of two
cases, their confusion matrices, accuracy by class, the hardest images, and
(listed by the payload) the images each case is most confidently wrong about. Images
are drawn on ``<canvas>`` elements from the pixel bytes; nothing is an ``<img>``.
"""

from __future__ import annotations

import html
import json
from typing import Any

__all__ = ["render_explorer"]

_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.2em auto; max-width: 1300px; padding: 0 1em; color: #222; }
h1 { font-size: 1.35em; margin-bottom: .2em; } h2 { font-size: 1.1em; margin: 1.6em 0 .4em;
  border-bottom: 1px solid #ccc; } .note { color: #555; font-size: .85em; margin: .2em 0; }
table { border-collapse: collapse; font-size: 12px; } td, th { padding: 2px 6px; text-align: right; }
th { font-weight: 600; } td.l, th.l { text-align: left; } tr.pick { cursor: pointer; }
tr.pick:hover td { background: #eef3fb; }
#case-table td, #case-table th, #class-table td, #class-table th { border-bottom: 1px solid #e4e4e4; }
.pair { display: flex; flex-wrap: wrap; align-items: center; gap: .6em; margin: .5em 0; }
select { font: inherit; padding: 2px 4px; max-width: 26em; }
button { font: inherit; padding: 3px 10px; border: 1px solid #999; border-radius: 4px; background: #f6f6f6;
  cursor: pointer; } button:hover { background: #e8eef8; } button.on { background: #d6e4f8; border-color: #2e6fc0; }
.figures { font-size: 1.05em; margin: .4em 0; } .figures b { font-variant-numeric: tabular-nums; }
.matrices { display: flex; flex-wrap: wrap; gap: 2em; margin-top: .8em; }
.confusion caption { font-weight: 600; text-align: left; padding-bottom: .3em; }
.confusion td { width: 2.6em; height: 1.7em; border: 1px solid #fff; font-variant-numeric: tabular-nums; }
.confusion td.n { cursor: pointer; } .confusion td.n:hover { outline: 2px solid #2e6fc0; }
.confusion td.sel { outline: 2px solid #000; } .confusion th.axis { font-weight: 400; color: #555; }
.gallery { display: flex; flex-wrap: wrap; gap: 6px; margin: .5em 0; }
figure.tile { margin: 0; width: 84px; border: 1px solid #ddd; border-radius: 3px; padding: 3px; background: #fff; }
figure.tile canvas { width: 56px; height: 56px; image-rendering: pixelated; display: block; margin: 0 auto;
  border: 1px solid #eee; }
figure.tile figcaption { font-size: 10.5px; line-height: 1.25; margin-top: 2px; overflow-wrap: anywhere; }
.bad { color: #b03020; font-weight: 600; } .good { color: #1e7a3a; } .muted { color: #777; }
#status { color: #b03020; } #class-table th { vertical-align: bottom; }
#class-table th.case { max-width: 7.5em; overflow-wrap: anywhere; font-size: 11px; }
"""

_BODY = """
<h1 id="title"></h1>
<p class="note" id="meta"></p>
<p id="status"></p>
<h2>Cases</h2>
<p class="note">Each row of the results with status ok. Click a row to make it case A.</p>
<table id="case-table"></table>
<h2>Two cases, image by image</h2>
<div class="pair"><label>A <select id="case-a"></select></label>
<button id="swap" title="swap A and B">swap</button>
<label>B <select id="case-b"></select></label></div>
<p class="figures" id="pair-figures"></p>
<div class="pair" id="pair-buttons">
<button id="show-a-only"></button><button id="show-b-only"></button><button id="show-both"></button></div>
<p class="note">McNemar's exact test looks only at the discordant images: those one case gets right and the
other wrong. Click a cell of a confusion matrix (rows: true class; columns: what the case said) for its images,
with what the other case said.</p>
<div class="matrices"><table class="confusion" id="confusion-a"></table>
<table class="confusion" id="confusion-b"></table></div>
<h2 id="gallery-title"></h2>
<p class="note" id="gallery-note"></p>
<div class="gallery" id="gallery"></div>
<button id="gallery-more" hidden></button>
<h2>The test set by class</h2>
<p class="note">Images per class and each case's accuracy on them. Click a class for its images, hardest first.</p>
<table id="class-table"></table>
<h2>Hardest images</h2>
<p class="note" id="hardest-note"></p>
<div class="gallery" id="hardest"></div>
<button id="hardest-more" hidden></button>
<h2>Most confidently wrong</h2>
<div class="pair"><label>case <select id="case-sure"></select></label></div>
<p class="note" id="sure-note"></p>
<div class="gallery" id="sure"></div>
<button id="sure-more" hidden></button>
"""

# Hand-written rather than a library: the page must hold everything itself, and what it does (a few tables,
# canvases and click handlers) is small enough that a framework would outweigh it.
_SCRIPT = r"""
"use strict";
const D = JSON.parse(document.getElementById("explore-data").textContent);
const PAGE = 120;
const $ = (id) => document.getElementById(id);
const el = (tag, props, ...kids) => {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const k of kids) e.append(k);
  return e;
};
const pct = (x) => (100 * x).toFixed(2) + "%";
const fmt = (n) => n.toLocaleString("en-US");
const named = D.class_names.some((s, k) => s !== String(k));
const lab = (k) => (named ? D.class_names[k] : String(k));
const labLong = (k) => (named ? k + " " + D.class_names[k] : String(k));

async function inflate(b64) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

let N, K, H, W, pixels, truth, preds, right, wrongCount;
const state = { a: 0, b: Math.min(1, D.cases.length - 1) };

function draw(canvas, i) {
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(W, H);
  const off = i * H * W;
  for (let p = 0; p < H * W; p++) {
    const v = 255 - pixels[off + p];
    img.data[4 * p] = img.data[4 * p + 1] = img.data[4 * p + 2] = v;
    img.data[4 * p + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

function said(name, cls, k) {
  return el("div", { className: cls }, name + ": " + lab(k));
}

function tile(i, lines, extra) {
  const canvas = el("canvas", { width: W, height: H });
  draw(canvas, i);
  const fig = el("figure", { className: "tile" }, canvas, el("figcaption", {}, ...lines));
  fig.dataset.index = i;
  fig.dataset.truth = truth[i];
  Object.assign(fig.dataset, extra || {});
  return fig;
}

function pairTile(i) {
  const a = preds[state.a][i], b = preds[state.b][i], t = truth[i];
  const lines = [el("div", { className: "muted" }, "#" + i), el("div", {}, "true: " + lab(t)),
    said("A", a === t ? "good" : "bad", a), said("B", b === t ? "good" : "bad", b)];
  const fig = tile(i, lines, { a: a, b: b });
  fig.title = "test image " + i + "\ntrue " + labLong(t) + "\nA " + D.cases[state.a].name + ": " + labLong(a) +
    "\nB " + D.cases[state.b].name + ": " + labLong(b);
  return fig;
}

function hardTile(i) {
  const votes = new Map();
  for (let c = 0; c < K; c++) if (preds[c][i] !== truth[i]) votes.set(preds[c][i], (votes.get(preds[c][i]) || 0) + 1);
  const top = [...votes.entries()].sort((x, y) => y[1] - x[1] || x[0] - y[0])[0];
  const lines = [el("div", { className: "muted" }, "#" + i), el("div", {}, "true: " + lab(truth[i])),
    el("div", { className: "bad" }, wrongCount[i] + "/" + K + " wrong")];
  if (top) lines.push(el("div", {}, "mostly: " + lab(top[0])));
  const fig = tile(i, lines, { wrong: wrongCount[i] });
  fig.title = "test image " + i + ", true " + labLong(truth[i]) + "\n" +
    D.cases.map((c, k) => c.name + ": " + labLong(preds[k][i])).join("\n");
  return fig;
}

function pager(box, button, indices, make) {
  box.replaceChildren();
  let shown = 0;
  const more = () => {
    const end = Math.min(indices.length, shown + PAGE);
    const frag = document.createDocumentFragment();
    for (; shown < end; shown++) frag.append(make(indices[shown]));
    box.append(frag);
    button.hidden = shown >= indices.length;
    button.textContent = "show " + Math.min(PAGE, indices.length - shown) + " more (" + fmt(shown) + " of " +
      fmt(indices.length) + " shown)";
  };
  button.onclick = more;
  more();
}

function openGallery(title, note, indices, make) {
  $("gallery-title").textContent = title + " (" + fmt(indices.length) + ")";
  $("gallery-note").textContent = indices.length ? note : "No image.";
  $("gallery").dataset.count = indices.length;
  pager($("gallery"), $("gallery-more"), indices, make || pairTile);
}

function where(test) {
  const out = [];
  for (let i = 0; i < N; i++) if (test(i)) out.push(i);
  return out;
}

function renderCases() {
  const t = $("case-table");
  t.replaceChildren(el("tr", {}, el("th", { className: "l" }, "case"), el("th", {}, "n_train"),
    el("th", {}, "seed"), el("th", { className: "l" }, "run"), el("th", {}, "accuracy"), el("th", {}, "errors")));
  D.cases.forEach((c, k) => {
    const errors = N - right[k].reduce((s, v) => s + v, 0);
    const tr = el("tr", { className: "pick" }, el("td", { className: "l" }, c.name), el("td", {}, fmt(c.n_train)),
      el("td", {}, String(c.seed)), el("td", { className: "l" }, c.run_id), el("td", {}, pct(c.accuracy)),
      el("td", {}, fmt(errors)));
    tr.dataset.case = k;
    tr.onclick = () => { if (k !== state.a) { if (k === state.b) state.b = state.a; state.a = k; renderPair(); } };
    t.append(tr);
  });
}

function confusion(table, k, letter) {
  const C = D.class_names.length;
  const m = Array.from({ length: C }, () => new Array(C).fill(0));
  for (let i = 0; i < N; i++) m[truth[i]][preds[k][i]]++;
  const cap = el("caption", {}, letter + ": " + D.cases[k].name);
  const head = el("tr", {}, el("th", { className: "axis" }, "true \\ said"));
  for (let p = 0; p < C; p++) head.append(el("th", { title: labLong(p) }, named ? String(p) : lab(p)));
  table.replaceChildren(cap, head);
  for (let t = 0; t < C; t++) {
    const row = el("tr", {}, el("th", { className: "l", title: labLong(t) }, labLong(t)));
    const total = m[t].reduce((s, v) => s + v, 0) || 1;
    for (let p = 0; p < C; p++) {
      const n = m[t][p];
      const td = el("td", {}, n ? String(n) : "");
      td.dataset.t = t; td.dataset.p = p;
      if (n) {
        const share = n / total;
        td.className = "n";
        td.style.background = t === p ? "rgba(46,111,192," + (0.12 + 0.5 * share).toFixed(3) + ")"
          : "rgba(200,50,30," + Math.min(0.85, 0.12 + 3 * share).toFixed(3) + ")";
        td.title = fmt(n) + " images of true " + labLong(t) + " that " + D.cases[k].name + " called " + labLong(p);
        td.onclick = () => {
          document.querySelectorAll(".confusion td.sel").forEach((c) => c.classList.remove("sel"));
          td.classList.add("sel");
          const other = letter === "A" ? "B" : "A";
          openGallery(letter + " said " + lab(p) + " for true " + lab(t), "What " + other + " (" +
            D.cases[letter === "A" ? state.b : state.a].name + ") said is under each image.",
            where((i) => truth[i] === t && preds[k][i] === p));
        };
      }
      row.append(td);
    }
    table.append(row);
  }
}

function renderPair() {
  $("case-a").value = state.a; $("case-b").value = state.b;
  const a = state.a, b = state.b, ra = right[a], rb = right[b];
  let onlyA = 0, onlyB = 0, both = 0, same = 0;
  for (let i = 0; i < N; i++) {
    if (ra[i] && !rb[i]) onlyA++;
    else if (!ra[i] && rb[i]) onlyB++;
    else if (!ra[i] && !rb[i]) { both++; if (preds[a][i] === preds[b][i]) same++; }
  }
  const p = D.mcnemar[a][b];
  const fig = $("pair-figures");
  fig.replaceChildren("A ", el("b", { id: "acc-a" }, pct(D.cases[a].accuracy)), ", B ",
    el("b", { id: "acc-b" }, pct(D.cases[b].accuracy)), "; discordant: A right and B wrong on ",
    el("b", { id: "count-a-only" }, fmt(onlyA)), ", A wrong and B right on ", el("b", { id: "count-b-only" },
    fmt(onlyB)), "; exact McNemar p = ", el("b", { id: "mcnemar-p" }, p === null ? "\u2014" : p.toPrecision(3)));
  const set = (id, text, title, note, test) => {
    const btn = $(id);
    btn.textContent = text;
    btn.onclick = () => {
      document.querySelectorAll("#pair-buttons button").forEach((x) => x.classList.remove("on"));
      btn.classList.add("on");
      openGallery(title, note, where(test));
    };
  };
  set("show-a-only", "A right, B wrong: " + fmt(onlyA), "A right, B wrong", "Images A gets right and B wrong.",
    (i) => ra[i] && !rb[i]);
  set("show-b-only", "A wrong, B right: " + fmt(onlyB), "A wrong, B right", "Images B gets right and A wrong.",
    (i) => !ra[i] && rb[i]);
  set("show-both", "both wrong: " + fmt(both) + " (same answer: " + fmt(same) + ")", "Both wrong",
    "Images neither case gets right.", (i) => !ra[i] && !rb[i]);
  confusion($("confusion-a"), a, "A");
  confusion($("confusion-b"), b, "B");
  $("show-a-only").click();
}

function renderClasses() {
  const C = D.class_names.length;
  const t = $("class-table");
  const head = el("tr", {}, el("th", {}, "label"));
  if (named) head.append(el("th", { className: "l" }, "class"));
  head.append(el("th", {}, "test images"));
  D.cases.forEach((c) => head.append(el("th", { className: "case", title: c.name }, c.name)));
  t.replaceChildren(head);
  for (let k = 0; k < C; k++) {
    const members = where((i) => truth[i] === k);
    if (!members.length && k >= 10) continue;
    const tr = el("tr", { className: "pick" }, el("td", {}, String(k)));
    if (named) tr.append(el("td", { className: "l" }, D.class_names[k]));
    tr.append(el("td", {}, fmt(members.length)));
    for (let c = 0; c < K; c++) {
      const ok = members.reduce((s, i) => s + right[c][i], 0);
      tr.append(el("td", {}, members.length ? pct(ok / members.length) : "\u2014"));
    }
    tr.dataset.class = k;
    tr.onclick = () => openGallery("Class " + labLong(k) + ", hardest first",
      "Each image with the number of cases that get it wrong.", members.slice().sort((x, y) =>
        wrongCount[y] - wrongCount[x] || x - y), hardTile);
    t.append(tr);
  }
}

function renderHardest() {
  const idx = where((i) => wrongCount[i] > 0).sort((x, y) => wrongCount[y] - wrongCount[x] || x - y);
  const none = where((i) => wrongCount[i] === K).length;
  $("hardest-note").textContent = fmt(idx.length) + " images are wrong in at least one of the " + K +
    " cases, " + fmt(none) + " in all of them; most cases wrong first, then in test order.";
  $("hardest").dataset.count = idx.length;
  pager($("hardest"), $("hardest-more"), idx, hardTile);
}

function renderSure() {
  const withProba = D.cases.map((c, k) => k).filter((k) => D.cases[k].confident_wrong);
  const s = $("case-sure");
  if (!withProba.length) {
    s.disabled = true;
    $("sure-note").textContent = "No case has stored probabilities (predict_proba): nothing to rank by confidence.";
    return;
  }
  s.replaceChildren(...withProba.map((k) => el("option", { value: k }, D.cases[k].name)));
  s.value = String(withProba[0]);
  const show = () => {
    const k = Number(s.value);
    const list = D.cases[k].confident_wrong;
    const said = new Map(list.map(([i, p, q]) => [i, [p, q]]));
    $("sure-note").textContent = "The test images " + D.cases[k].name + " gets wrong with the highest probability " +
      "on its answer (its top class in predict_proba), most confident first: " + fmt(list.length) + " image(s) " +
      "(the page keeps at most " + fmt(D.confident_wrong_max) + " per case).";
    $("sure").dataset.count = list.length;
    pager($("sure"), $("sure-more"), list.map((e) => e[0]), (i) => {
      const [p, q] = said.get(i);
      const lines = [el("div", { className: "muted" }, "#" + i), el("div", {}, "true: " + lab(truth[i])),
        el("div", { className: "bad" }, "said " + lab(p) + " at " + (100 * q).toFixed(1) + "%")];
      const fig = tile(i, lines, { said: p, confidence: q });
      fig.title = "test image " + i + ", true " + labLong(truth[i]) + "\n" + D.cases[k].name + ": " + labLong(p) +
        " with probability " + q;
      return fig;
    });
  };
  s.onchange = show;
  show();
}

async function main() {
  if (typeof DecompressionStream === "undefined") {
    $("status").textContent = "This browser cannot inflate the embedded data (DecompressionStream): use a " +
      "recent Chromium, Firefox or Safari.";
    return;
  }
  [H, W] = D.shape;
  N = D.n_test;
  K = D.cases.length;
  pixels = await inflate(D.pixels);
  const labels = await inflate(D.labels);
  truth = labels.subarray(0, N);
  preds = D.cases.map((_, k) => labels.subarray((k + 1) * N, (k + 2) * N));
  right = preds.map((p) => Uint8Array.from(p, (v, i) => (v === truth[i] ? 1 : 0)));
  wrongCount = new Uint16Array(N);
  for (const r of right) for (let i = 0; i < N; i++) wrongCount[i] += 1 - r[i];
  $("title").textContent = "Where the cases differ: " + D.dataset + ", " + fmt(N) + " test images";
  $("meta").textContent = K + " case(s) from " + D.sources.join(", ") + "; written by " + D.generator + ".";
  for (const id of ["case-a", "case-b"]) {
    const s = $(id);
    D.cases.forEach((c, k) => s.append(el("option", { value: k }, c.name)));
    s.onchange = () => { state[id === "case-a" ? "a" : "b"] = Number(s.value); renderPair(); };
  }
  $("swap").onclick = () => { [state.a, state.b] = [state.b, state.a]; renderPair(); };
  renderCases();
  renderPair();
  renderClasses();
  renderHardest();
  renderSure();
  performance.mark("explore-ready");
  document.body.dataset.ready = "yes";
}
main();
"""


def _json(payload: dict[str, Any]) -> str:
    """JSON safe inside a ``<script>`` element: ``<``, ``>`` and ``&`` escaped as ``\\u`` sequences."""
    text = json.dumps(payload, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_explorer(payload: dict[str, Any]) -> str:
    """The page for a payload of :func:`~mnist_classic.analysis.explore.explorer.explore_payload`."""
    title = f"mnist-classic explorer: {payload['dataset']}, {payload['n_test']:,} test images"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            _BODY,
            f'<script id="explore-data" type="application/json">{_json(payload)}</script>',
            f"<script>{_SCRIPT}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )
