"""``rank``'s output: the same sections as plain text, Markdown, or JSON (the keys documented in docs/claims.md)."""

from __future__ import annotations

import json
from typing import Any

from .datasets import DatasetsResult
from .onetest import OneTestSetResult
from .ranking import RankResult, SplitsResult

__all__ = ["FORMATS", "format_rank", "format_splits", "rank_sections"]

#: What ``rank --format`` accepts.
FORMATS: tuple[str, ...] = ("text", "md", "json")

Section = tuple[str, list[str], list[str], list[list[str]]]  # heading, lines, table head, table rows


def _p(p: Any) -> str:
    if isinstance(p, str):
        return p
    if p is None:
        return "-"
    if p == 0:
        return "< 1e-300"  # below the smallest double: the distribution's tail underflowed
    return f"{p:.1e}" if p < 1e-4 else f"{p:.4f}"


def _peq(p: Any) -> str:
    """``p = 0.0123`` or ``p < 0.0001``, for sentences."""
    text = _p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _g(x: Any, digits: int = 3) -> str:
    return x if isinstance(x, str) else "-" if x is None else f"{x:.{digits}f}"


def _groups(groups: list[list[str]]) -> str:
    return "; ".join("{" + ", ".join(g) + "}" for g in groups) or "-"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _one(r: OneTestSetResult) -> list[Section]:
    lines = [
        f"Cochran's Q = {r.cochran_q:.2f} (df {r.cochran_df}), {_peq(r.cochran_p)}: "
        + ("some cases differ" if r.cochran_p <= r.alpha else f"no difference found at alpha {r.alpha:g}"),
    ]
    head = ["case", "accuracy %", "95% interval"]
    rows = [
        [c, f"{100 * r.accuracy[c]:.2f}", f"[{100 * lo:.2f}, {100 * hi:.2f}]"] for c, (lo, hi) in r.interval.items()
    ]
    out: list[Section] = [(f"One test set: {len(r.cases)} cases on {r.n_test} images", lines, head, rows)]
    which = f"each case against {r.control}" if r.control else "every pair"
    head = ["A", "B", "A - B points", "only A right", "only B right", "McNemar p", f"{r.correction} p", "differ"]
    rows = [
        [
            d["a"],
            d["b"],
            f"{100 * d['difference']:+.2f}",
            str(d["a_only"]),
            str(d["b_only"]),
            _p(d["p"]),
            _p(d["p_adjusted"]),
            _yes(d["significant"]),
        ]
        for d in r.pairs
    ]
    lines = [] if r.control else [f"groups not significantly different: {_groups(r.groups)}"]
    out.append((f"Exact McNemar, {which} ({r.correction}, alpha {r.alpha:g})", lines, head, rows))
    return out


def _datasets(r: DatasetsResult, metric: str) -> list[Section]:
    k, n = len(r.methods), len(r.datasets)
    better = "higher" if r.higher_is_better else "lower"
    head = ["average rank", "method"]
    rows = [[f"{v:.3f}", m] for m, v in sorted(r.mean_ranks.items(), key=lambda kv: kv[1])]
    tie = ""
    if r.friedman_chi2_tie_corrected is not None:
        tie = f"; tie-corrected {r.friedman_chi2_tie_corrected:.2f}, {_peq(r.friedman_p_tie_corrected)}"
    df1, df2 = r.iman_davenport_df
    lines = [
        f"Friedman chi-square = {r.friedman_chi2:.2f} (df {k - 1}), {_peq(r.friedman_p)} (Demšar 2006{tie})",
        f"Iman-Davenport F = {_g(r.iman_davenport_f, 2)} (df {df1}, {df2}), {_peq(r.iman_davenport_p)}",
        f"Nemenyi CD = {r.cd:.2f} (q_{r.alpha:g} = {r.nemenyi_q:.3f}, k = {k}, N = {n}); "
        f"groups within the CD: {_groups(r.nemenyi_groups)}",
    ]
    if r.too_few:
        lines.append(r.too_few)
    lines += [f"note: {x}" for x in r.notes]
    title = f"{k} methods over {n} datasets ({metric}, {better} is better; rank 1 the best)"
    out: list[Section] = [(title, lines, head, rows)]
    if r.control:
        head = ["method", f"z vs {r.control}", "p", f"{r.correction} p", "differ"]
        rows = [
            [d["method"], _g(d["z"]), _p(d["p"]), _p(d["p_adjusted"]), _yes(d["significant"])] for d in r.versus_control
        ]
        bd = [f"Bonferroni-Dunn CD = {r.bonferroni_dunn_cd:.2f} (k - 1 = {k - 1} comparisons with the control)"]
        title = f"Against the control {r.control} (mean ranks; {r.correction}, alpha {r.alpha:g})"
        out.append((title, bd, head, rows))
    head = ["A", "B", "rank difference", "beyond CD", "A wins/losses/ties", "R+", "R-", "Wilcoxon p"]
    head += [f"{r.correction} p", "differ"]
    w = {(d["a"], d["b"]): d for d in r.wilcoxon}
    rows = []
    for d in r.nemenyi_pairs:
        x = w[(d["a"], d["b"])]
        rows.append(
            [
                d["a"],
                d["b"],
                _g(d["rank_difference"]),
                _yes(d["significant"]),
                f"{x['wins_a']}/{x['losses_a']}/{x['ties']}",
                _g(x["r_plus"], 1),
                _g(x["r_minus"], 1),
                _p(x["p"]),
                _p(x["p_adjusted"]),
                _yes(x["significant"]),
            ]
        )
    lines = [
        f"groups not significantly different (Wilcoxon, {r.correction}): {_groups(r.wilcoxon_groups)}",
        "the pairwise Wilcoxon verdicts do not depend on the other methods compared (Benavoli et al. 2016)",
    ]
    out.append((f"Every pair: Nemenyi and Wilcoxon signed-rank (alpha {r.alpha:g})", lines, head, rows))
    return out


def _splits(s: SplitsResult) -> list[Section]:
    if s.scheme == "5x2":
        title = f"{s.dataset}: 5x2cv ({s.n_splits} folds of {s.n_train} training images), paired by split"
        head = ["A", "B", "mean A - B", "5x2cv t", "p (t)", "5x2cv F", "p (F)", f"{s.correction} p (F)", "differ"]
        rows = [
            [
                d["a"],
                d["b"],
                f"{d['mean_difference']:+.4f}",
                _g(d["t"]),
                _p(d["p_t"]),
                _g(d["f"]),
                _p(d["p_f"]),
                _p(d["p_adjusted"]),
                _yes(d["significant"]),
            ]
            for d in s.pairs
        ]
        lines = ["Dietterich's 5x2cv paired t (df 5) and Alpaydin's combined 5x2cv F (df 10, 5); the verdict is F's"]
    else:
        title = f"{s.dataset}: {s.n_splits} resplits ({s.n_train} train / {s.n_test} test), paired by split"
        head = ["A", "B", "mean A - B", "corrected t", "p", f"{s.correction} p", "P(A > B)", "95% interval", "differ"]
        rows = [
            [
                d["a"],
                d["b"],
                f"{d['mean_difference']:+.4f}",
                _g(d["t"]),
                _p(d["p_t"]),
                _p(d["p_adjusted"]),
                _g(d["p_a_better"], 2),
                "[" + ", ".join(_g(x, 2) for x in d["p_a_better_interval"]) + "]",
                _yes(d["significant"]),
            ]
            for d in s.pairs
        ]
        lines = ["Nadeau-Bengio corrected resampled t (df J - 1); P(A > B) with a percentile-bootstrap interval"]
    need = (
        f"splits needed to tell P(A > B) = 0.75 from 0.5 at alpha {s.alpha:g} with power {s.power:g}: "
        f"{s.splits_needed} (Bouthillier et al. 2021)"
    )
    if s.scheme == "5x2":
        lines.append(f"{need}; for that claim, run --splits {s.splits_needed}")
    else:
        enough = "enough" if s.n_splits >= s.splits_needed else "too few"
        lines.append(f"{need}; these rows have {s.n_splits} ({enough})")
    return [(title, lines, head, rows)]


def rank_sections(result: RankResult) -> list[Section]:
    """The sections ``rank`` prints, in order: (heading, lines, table head, table rows)."""
    out: list[Section] = []
    if result.one_test_set:
        out += _one(result.one_test_set)
    if result.datasets:
        out += _datasets(result.datasets, result.metric)
    for s in result.splits:
        out += _splits(s)
    if result.notes:
        out.append(("Notes", list(result.notes), [], []))
    return out


def _text_table(head: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*head).rstrip(), *(fmt.format(*r).rstrip() for r in rows)]


def format_splits(splits: list[SplitsResult], fmt: str = "text") -> str:
    """``compare``'s section on rows of resampled splits, as ``text`` or ``md``."""
    return format_rank(RankResult("accuracy", splits=splits), fmt)


def format_rank(result: RankResult, fmt: str = "text") -> str:
    """``result`` as ``text``, ``md`` (Markdown) or ``json``.

    Raises
    ------
    ValueError
        A format not in :data:`FORMATS`.
    """
    if fmt == "json":
        return json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if fmt not in FORMATS:
        msg = f"The 'format' parameter must be one of {', '.join(FORMATS)}. Got {fmt!r} instead."
        raise ValueError(msg)
    parts: list[str] = []
    for heading, lines, head, rows in rank_sections(result):
        if fmt == "md":
            block = [f"## {heading}", ""]
            if head:
                block += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                block += ["| " + " | ".join(r) + " |" for r in rows]
                block.append("")
            block += [f"{x}  " for x in lines]
        else:
            block = [heading, "-" * len(heading)]
            block += _text_table(head, rows) if head else []
            block += lines
        parts.append("\n".join(block).rstrip())
    return "\n\n".join(parts) + "\n"
