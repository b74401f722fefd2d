"""The history dashboard: one self-contained HTML page, charts as inline SVG written here.

No script, no external file, no network: the page opens from disk or an
artifact store as it is. Each series (case) gets three charts, fit time,
predict time and accuracy along the axis: the median of each point, a whisker
from the fastest to the slowest repeat, points coloured by ``compare``'s verdict
against the point before, and a dashed line at each step found. Hovering a point
shows (SVG ``<title>``) its runs, commit and versions; a table under the charts
says the same for every point, with its deployment columns (model size,
one-image latency, MACs, probability scores: medians, shown and not judged
unless ``--max-model-growth`` gates the size).
"""

from __future__ import annotations

from html import escape
from typing import Any, TypeAlias

from ..verdicts.compare import DEPLOYMENT_METRICS, deployment_value

# The objects drawn are analysis.history's History, Series, HistoryPoint and HistoryStep, typed Any
# here: history imports this module to write the page, and the package has no import cycle.
History: TypeAlias = Any
HistoryPoint: TypeAlias = Any
Series: TypeAlias = Any
HistoryStep: TypeAlias = Any

__all__ = ["render_dashboard"]

_W, _H = 300, 170  # one chart
_L, _R, _T, _B = 52, 10, 22, 34  # margins
_COLOUR = {"worse": "#c0392b", "better": "#1e8449", "same": "#566573", "": "#2e86c1"}
_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .5em 0; font-size: 12px; }
td, th { border: 1px solid #ddd; padding: 2px 6px; text-align: left; vertical-align: top; }
.charts { display: flex; flex-wrap: wrap; gap: 8px; }
.worse { color: #c0392b; font-weight: bold; } .better { color: #1e8449; }
svg text { font: 10px system-ui, sans-serif; fill: #333; }
.legend span { margin-right: 1.2em; }
"""
_METRICS = (("fit_time_s", "fit time (s)"), ("predict_time_s", "predict time (s)"), ("accuracy", "accuracy (%)"))


def _fmt(metric: str, x: float | None) -> str:
    if x is None:
        return "-"
    return f"{100 * x:.2f}%" if metric == "accuracy" else f"{x:.3g} s"


def _hover(history: History, p: HistoryPoint, metric: str) -> str:
    versions = ", ".join(f"{k.removesuffix('_version')} {v}" for k, v in p.versions.items() if v)
    lines = [
        f"{history.axis} = {p.axis_value}",
        f"runs: {', '.join(p.run_ids)}",
        f"commit: {', '.join(c[:12] for c in p.commits) or '?'}",
        versions,
        f"{metric}: median {_fmt(metric, getattr(p, metric))} over {p.repeats} ok repeat(s)",
    ]
    if metric in p.spread:
        lo, hi = p.spread[metric]
        lines.append(f"min {_fmt(metric, lo)}, max {_fmt(metric, hi)}")
    row = next((r for r in p.versus_previous if r.metric in (metric, "status")), None)
    if row is not None:
        change = ""
        if row.change is not None:
            change = f" {row.change:+.2f} pt" if metric == "accuracy" else f" x{row.change:.3f}"
        p_value = "" if row.p_value is None else f", p = {row.p_value:.2g}"
        lines.append(f"vs previous point: {row.verdict}{change}{p_value}" + (f" ({row.note})" if row.note else ""))
    return "\n".join(lines)


def _chart(history: History, s: Series, metric: str, title: str) -> str:
    scale = 100.0 if metric == "accuracy" else 1.0
    pts = [(i, p) for i, p in enumerate(s.points) if getattr(p, metric) is not None]
    ys = [scale * v for _, p in pts for v in (getattr(p, metric), *p.spread.get(metric, ()))]
    out = [f'<svg width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" role="img">', f"<title>{escape(title)}</title>"]
    out.append(f'<text x="{_L}" y="13" font-weight="bold">{escape(title)}</text>')
    if not ys:
        out.append(f'<text x="{_L}" y="{_H // 2}">no ok runs</text></svg>')
        return "".join(out)
    lo, hi = min(ys), max(ys)
    if metric != "accuracy":
        lo = 0.0
    pad = (hi - lo) * 0.08 or abs(hi) * 0.05 or 1.0
    lo, hi = (lo if metric != "accuracy" else lo - pad), hi + pad
    n = len(s.points)
    w, h = _W - _L - _R, _H - _T - _B

    def x(i: int) -> float:
        return _L + (w * (i + 0.5) / n)

    def y(v: float) -> float:
        return _T + h * (1 - (v - lo) / (hi - lo))

    out.append(f'<rect x="{_L}" y="{_T}" width="{w}" height="{h}" fill="#fafafa" stroke="#ccc"/>')
    for v in (lo, (lo + hi) / 2, hi):
        out.append(f'<text x="{_L - 4}" y="{y(v) + 3:.1f}" text-anchor="end">{v:.3g}</text>')
    for i, p in enumerate(s.points):
        label = p.axis_value if len(p.axis_value) <= 10 else p.axis_value[:9] + "…"
        out.append(f'<text x="{x(i):.1f}" y="{_T + h + 13}" text-anchor="middle">{escape(label)}</text>')
    for st in (st for st in s.steps if st.metric == metric):
        xs = (x(st.index - 1) + x(st.index)) / 2
        out.append(
            f'<line x1="{xs:.1f}" y1="{_T}" x2="{xs:.1f}" y2="{_T + h}" stroke="{_COLOUR[st.verdict]}" '
            f'stroke-dasharray="4 3"><title>{escape(_step_text(st))}</title></line>'
        )
    line = " ".join(f"{x(i):.1f},{y(scale * getattr(p, metric)):.1f}" for i, p in pts)
    out.append(f'<polyline points="{line}" fill="none" stroke="#85929e"/>')
    for i, p in pts:
        if metric in p.spread:
            a, b = (scale * v for v in p.spread[metric])
            out.append(f'<line x1="{x(i):.1f}" y1="{y(a):.1f}" x2="{x(i):.1f}" y2="{y(b):.1f}" stroke="#aab7b8"/>')
        colour = _COLOUR.get(p.verdict(metric), _COLOUR[""])
        cy = y(scale * getattr(p, metric))
        out.append(
            f'<circle cx="{x(i):.1f}" cy="{cy:.1f}" r="4" fill="{colour}">'
            f"<title>{escape(_hover(history, p, metric))}</title></circle>"
        )
    out.append("</svg>")
    return "".join(out)


def _step_text(st: HistoryStep) -> str:
    change = f"{st.change:+.2f} pt" if st.metric == "accuracy" else f"x{st.change:.3f}"
    p = "" if st.p_value is None else f", p = {st.p_value:.2g}"
    return f"step in {st.metric} ({st.method}): {change}{p}: {st.verdict}"


def _points_table(history: History, s: Series) -> str:
    head = [history.axis, "runs", "commit", "versions", "repeats", "fit", "predict", "accuracy", "deployment"]
    head.append("vs previous")
    rows = ["<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"]
    for p in s.points:
        verdicts = ", ".join(
            f'<span class="{r.verdict}">{escape(r.metric.removesuffix("_time_s"))} {r.verdict}</span>'
            for r in p.versus_previous
            if r.metric not in DEPLOYMENT_METRICS or r.verdict != "same"  # shown in their own column
        )
        deployment = "<br>".join(escape(f"{m}: {deployment_value(m, v)}") for m, v in p.deployment.items())
        versions = "<br>".join(escape(f"{k.removesuffix('_version')} {v}") for k, v in p.versions.items() if v)
        cells = [
            escape(p.axis_value),
            "<br>".join(map(escape, p.run_ids)),
            escape(", ".join(c[:12] for c in p.commits)),
            versions,
            str(p.repeats) + ("" if p.status == "ok" else f" ({escape(p.status)})"),
            escape(_fmt("fit_time_s", p.fit_time_s)),
            escape(_fmt("predict_time_s", p.predict_time_s)),
            escape(_fmt("accuracy", p.accuracy)),
            deployment,
            verdicts,
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return "".join(rows) + "</table>"


def _steps_table(history: History) -> str:
    found = [(s, st) for s in history.series for st in s.steps]
    if not found:
        return "<p>No step found.</p>"
    head = ["case", "metric", "at", "before", "after", "change", "p", "method", "verdict"]
    rows = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for s, st in found:
        change = f"{st.change:+.2f} pt" if st.metric == "accuracy" else f"x{st.change:.3f}"
        cells = [
            s.case,
            st.metric,
            f"{s.points[st.index - 1].axis_value} → {s.points[st.index].axis_value}",
            _fmt(st.metric, st.before),
            _fmt(st.metric, st.after),
            change,
            "" if st.p_value is None else f"{st.p_value:.2g}",
            st.method,
        ]
        row = "".join(f"<td>{escape(c)}</td>" for c in cells)
        rows.append(f'<tr>{row}<td class="{st.verdict}">{st.verdict}</td></tr>')
    return "".join(rows) + "</table>"


def render_dashboard(history: History) -> str:
    """The dashboard of ``history`` as one HTML document (a string)."""
    s = history.settings
    verdict = history.verdict_line()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>mnist-classic history along {escape(history.axis)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>History along <code>{escape(history.axis)}</code></h1>",
        f'<p class="{"worse" if history.exit_code else "better"}">{escape(verdict)}</p>',
        f"<p>{len(history.axis_values)} points ({escape(', '.join(history.axis_values))}), "
        f"{len(history.series)} series. Gate (as <code>compare</code>): slowdown beyond x{s['max_slowdown']:g}, "
        f"accuracy drop beyond {s['max_accuracy_drop']:g} points, alpha {s['alpha']:g}, time differences under "
        f"{s['time_resolution']:g} s not judged."
        + (f" {history.dropped} rows without a value on the axis were left out." if history.dropped else "")
        + "</p>",
        '<p class="legend">Points: median over repeats, whisker min to max; colour = verdict against the point '
        f'before: <span style="color:{_COLOUR["worse"]}">● worse</span><span style="color:{_COLOUR["better"]}">'
        f'● better</span><span style="color:{_COLOUR["same"]}">● same</span>; dashed line = step found. '
        "Hover a point for its runs, commit and versions.</p>",
        "<h2>Steps found</h2>",
        _steps_table(history),
    ]
    for series in history.series:
        parts.append(f"<h2>{escape(series.case)}, {series.n_test:,} test images</h2>")
        charts = "".join(_chart(history, series, m, t) for m, t in _METRICS)
        parts.append(f'<div class="charts">{charts}</div>')
        parts.append(_points_table(history, series))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
