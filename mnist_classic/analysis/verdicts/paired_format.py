"""The verdicts of ``mnist-classic ab`` as text, markdown or JSON (:class:`.paired.PairedComparison`)."""

from __future__ import annotations

import json
from dataclasses import asdict

from .counts import COUNT_METRICS
from .levels import format_levels
from .paired import PairedComparison, PairedRow

__all__ = ["format_json", "format_markdown", "format_text"]

_NAMES = dict(
    fit_time_s="fit", predict_time_s="predict", fit_instructions="fit instr", predict_instructions="predict instr"
)
_HEAD = ["case", "metric", "rounds", "base", "new", "new/base [interval]", "verdict"]


def _fmt(r: PairedRow) -> list[str]:
    metric = _NAMES.get(r.metric, r.metric)
    verdict = r.verdict + (f" ({r.note})" if r.note else "")
    if r.metric == "status":
        return [r.case, metric, "", "", "", "", verdict]
    if r.metric == "accuracy":
        change = f"{r.ratio:+.2f} pt, {r.changed_predictions} changed, p={r.p_value:.2g}"
        return [r.case, metric, "1", f"{100 * (r.base or 0):.2f}%", f"{100 * (r.new or 0):.2f}%", change, verdict]
    ci = f" [{r.ci[0]:.3f}, {r.ci[1]:.3f}]" if r.ci else ""
    if r.metric in COUNT_METRICS:
        base, new = f"{(r.base or 0) / 1e6:,.2f} M", f"{(r.new or 0) / 1e6:,.2f} M"
    else:
        base, new = f"{r.base:.3f} s", f"{r.new:.3f} s"
    return [r.case, metric, str(r.rounds), base, new, f"x{r.ratio:.3f}{ci}", verdict]


def _verdict_line(cmp: PairedComparison) -> str:
    worse = cmp.regressions
    cases = len({r.case for r in cmp.rows})
    how = cmp.settings["interval"]
    if cmp.settings.get("correction") == "bonferroni" and cmp.settings.get("metrics_judged", 1) > 1:
        how += f"; speed verdicts Bonferroni-corrected over {cmp.settings['metrics_judged']} metrics"
    unknown = len(cmp.unknown)
    aside = f"; {unknown} verdict(s) unknown (see the notes for what would decide them)" if unknown else ""
    if not worse:
        return f"no regression in {cases} paired case(s) ({how}){aside}"
    names = ", ".join(sorted({f"{r.case} ({_NAMES.get(r.metric, r.metric)})" for r in worse}))
    return f"REGRESSION in {len(worse)} metric(s): {names}{aside}"


def format_text(cmp: PairedComparison) -> str:
    """An aligned plain-text table, then a one-line verdict."""
    table = [_HEAD, *(_fmt(r) for r in cmp.rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(_HEAD))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join([*lines, *map(format_levels, cmp.levels), _verdict_line(cmp)]) + "\n"


def format_markdown(cmp: PairedComparison) -> str:
    """A GitHub-flavoured Markdown table (pipes escaped) and the verdict."""
    lines = ["| " + " | ".join(_HEAD) + " |", "|" + "---|" * len(_HEAD)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in _fmt(r)) + " |" for r in cmp.rows]
    if cmp.levels:
        lines += ["", *(f"- {format_levels(lv)}" for lv in cmp.levels)]
    return "\n".join([*lines, "", f"**{_verdict_line(cmp)}**"]) + "\n"


def format_json(cmp: PairedComparison) -> str:
    """Every figure, machine-readable."""
    doc = {
        "settings": cmp.settings,
        "regressed": bool(cmp.regressions),
        "unknown": len(cmp.unknown),
        "rows": [{"case": r.case, **asdict(r)} for r in cmp.rows],
        "levels": [asdict(lv) for lv in cmp.levels],
    }
    return json.dumps(doc, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o)) + "\n"
