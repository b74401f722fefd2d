"""Compare two sets of runs: accuracy and speed together, with the noise taken into account.

Cases are matched by dataset, configured pipeline name, n_train and n_test.

- Accuracy: an exact McNemar test on the paired per-image predictions (from
  the predictions sidecar), the number of images whose prediction changed, and
  a 95% Wilson interval for each accuracy. Repeats are paired by seed; the
  lowest seed present on both sides is the pair tested.
- Time (fit and predict separately), one of three verdicts (:mod:`.decide`):
  the unit of replication is the run (``run_id``, else the CSV), since the
  repeats inside one process share its speed level and hide the run-to-run
  variance (Kalibera & Jones). Each run gives the geometric mean of its
  repeats; the ratio is that of the two sides' mean logs, with a pooled t
  interval over the runs (3 runs in all at least: a folder of runs on a side).
  ``worse``: beyond the gate and the ``1 - alpha`` interval above 1; ``same``:
  the ``1 - 2 alpha`` interval inside ``[1/margin, margin]`` (equivalence,
  TOST), or the difference under the time resolution (a metric longer than
  the resolution: only when it is not worse); ``unknown``: neither
  (one run per side always is), with what would decide it. A difference the
  machine may explain (busy, steal, speed index, threads; :mod:`.machine`)
  is ``unknown`` too. ``noise`` (the spread of the repeats) is shown only.

A metric is "worse" only when it is beyond the gate's threshold and
significant; only "worse" fails (exit 1); ``--fail-on-unknown`` exits 3 on an
"unknown".

When both sides were counted (``run --measure instructions``), the speed
verdicts are on instruction counts instead (:mod:`.counts`), and the wall
times, measured under valgrind, are shown but not judged.

What a deployment asks (:data:`DEPLOYMENT_METRICS`: model size, one-image
latency, multiply-adds, log-loss, ECE, Brier) is shown where either side has
it and judged only when asked: ``max_model_growth`` gates ``model_bytes`` (a
ratio NEW/BASELINE above it is a regression). One-image latencies are single
runs without a noise estimate, and probability scores move with accuracy,
which has its own test: neither is judged.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...results import ResultsSchemaError, row_labels
from ..runs import DATA_SHA_COLUMNS, KEY
from ..stats import mcnemar_exact, relative_spread, wilson_interval
from .counts import COUNT_METRICS, counted, counts_incomparable, judge_counts, time_note
from .decide import decide_time, exit_code, rounds_needed
from .machine import machine_note, speed_note, threads_note

__all__ = [
    "DEPLOYMENT_METRICS",
    "CaseComparison",
    "Comparison",
    "compare_runs",
    "validate_gate",
]

#: Deployment columns compare shows (median over repeats): ratios for sizes, times and counts, differences for scores.
DEPLOYMENT_METRICS: tuple[str, ...] = (
    "model_bytes",
    "latency_ms_p50",
    "latency_ms_p99",
    "macs",
    "log_loss",
    "ece",
    "brier",
)
_SCORES = ("log_loss", "ece", "brier")


@dataclass
class CaseComparison:
    """One metric of one case: the figures on each side and the verdict."""

    dataset: str
    pipeline: str
    n_train: int
    n_test: int
    metric: (
        str  # accuracy, fit_time_s, predict_time_s, fit_instructions, predict_instructions, status; DEPLOYMENT_METRICS
    )
    baseline: float | None = None
    new: float | None = None
    change: float | None = None  # accuracy: points; times, sizes, counts: ratio new/baseline; scores: difference
    p_value: float | None = None
    verdict: str = "same"  # worse, better, same, unknown (decide.VERDICTS)
    note: str = ""
    baseline_ci: tuple[float, float] | None = None
    new_ci: tuple[float, float] | None = None
    changed_predictions: int | None = None
    noise: float | None = None
    repeats: tuple[int, int] = (0, 0)
    ci: tuple[float, float] | None = None  # times: the 1 - alpha interval of the ratio over runs
    runs: tuple[int, int] = (0, 0)  # times: runs (the unit of replication) on each side

    @property
    def case(self) -> str:
        """``pipeline n_train=N`` (plus the dataset when it is not MNIST)."""
        prefix = "" if self.dataset == "mnist" else f"{self.dataset}: "
        return f"{prefix}{self.pipeline} n_train={self.n_train}"


@dataclass
class Comparison:
    """All metric comparisons, and the cases found on one side only."""

    rows: list[CaseComparison] = field(default_factory=list)
    only_baseline: list[tuple[Any, ...]] = field(default_factory=list)
    only_new: list[tuple[Any, ...]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def regressions(self) -> list[CaseComparison]:
        """Rows whose verdict is ``worse``."""
        return [r for r in self.rows if r.verdict == "worse"]

    @property
    def unknown(self) -> list[CaseComparison]:
        """Rows whose verdict is ``unknown``: neither worse nor shown to be the same."""
        return [r for r in self.rows if r.verdict == "unknown"]

    def exit_code(self, *, fail_on_missing: bool = False, fail_on_unknown: bool = False) -> int:
        """1 when anything regressed (or, if asked, a baseline case is missing); 3 if asked and any is unknown; 0."""
        if fail_on_missing and self.only_baseline:
            return 1
        return exit_code([r.verdict for r in self.rows], fail_on_unknown=fail_on_unknown)


def _check_payloads(base: pd.DataFrame, new: pd.DataFrame) -> None:
    for dataset in sorted(set(base["dataset"]) & set(new["dataset"])):
        sides = []
        for name, df in (("baseline", base), ("new", new)):
            hashes = df.loc[df["dataset"] == dataset, list(DATA_SHA_COLUMNS)].drop_duplicates()
            if len(hashes) > 1:
                msg = f"The {name} runs of {dataset} used {len(hashes)} different dataset payloads (sha256 columns)"
                raise ResultsSchemaError(msg)
            sides.append(tuple(hashes.iloc[0]))
        if sides[0] != sides[1]:
            which = next(c for c, a, b in zip(DATA_SHA_COLUMNS, *sides, strict=True) if a != b)
            i = DATA_SHA_COLUMNS.index(which)
            msg = (
                f"Refusing to compare runs on different {dataset} payloads: {which} is "
                f"{sides[0][i][:12]}... in baseline, {sides[1][i][:12]}... in new"
            )
            raise ResultsSchemaError(msg)


def _accuracy(case: dict[str, Any], b_ok: pd.DataFrame, n_ok: pd.DataFrame, alpha: float, max_drop: float) -> Any:
    common = sorted(set(b_ok["seed"]) & set(n_ok["seed"]))
    note = ""
    if common:
        rb = b_ok[b_ok["seed"] == common[0]].iloc[0]
        rn = n_ok[n_ok["seed"] == common[0]].iloc[0]
    else:
        rb, rn = b_ok.iloc[0], n_ok.iloc[0]
        note = "seeds differ; first repeats paired"
    if rb["truth_sha256"] != rn["truth_sha256"]:
        msg = f"Refusing to compare {case['pipeline']}: the two runs used different test labels (truth_sha256)"
        raise ResultsSchemaError(msg)
    truth = row_labels(rb, "truth_sha256")
    pb, pn = row_labels(rb, "predictions_sha256"), row_labels(rn, "predictions_sha256")
    if not len(truth) == len(pb) == len(pn):
        msg = f"Predictions of {case['pipeline']} do not have one label per test image"
        raise ResultsSchemaError(msg)
    ok_b, ok_n = pb == truth, pn == truth
    b = int(np.sum(ok_b & ~ok_n))  # right before, wrong now
    c = int(np.sum(~ok_b & ok_n))  # wrong before, right now
    p = mcnemar_exact(b, c)
    n = len(truth)
    acc_b, acc_n = float(ok_b.mean()), float(ok_n.mean())
    diff_pts = 100 * (acc_n - acc_b)
    changed = int(np.sum(pb != pn))
    verdict = "same"
    if changed == 0:
        note = "identical predictions"
    elif p < alpha and -diff_pts > max_drop:
        verdict = "worse"
    elif p < alpha and diff_pts > max_drop:
        verdict = "better"
    elif p >= alpha:
        note = note or f"{b} right->wrong, {c} wrong->right: not significant"
    return CaseComparison(
        **case,
        metric="accuracy",
        baseline=acc_b,
        new=acc_n,
        change=diff_pts,
        p_value=p,
        verdict=verdict,
        note=note,
        baseline_ci=wilson_interval(int(ok_b.sum()), n),
        new_ci=wilson_interval(int(ok_n.sum()), n),
        changed_predictions=changed,
        repeats=(len(b_ok), len(n_ok)),
    )


def _runs(rows: pd.DataFrame, metric: str) -> np.ndarray:
    """One value per run (the unit of replication): the geometric mean of ``metric`` over each run's repeats.

    A run is a ``run_id`` in a ``_source`` CSV: the repeats inside one
    process share its speed level, so the run-to-run variance shows only
    between runs (Kalibera & Jones, ISMM 2013).
    """
    by = [c for c in ("_source", "run_id") if c in rows]
    x = pd.to_numeric(rows[metric], errors="coerce")
    keep = x > 0
    if not by:
        return np.log(x[keep].to_numpy(dtype=float)).mean(keepdims=True) if keep.any() else np.empty(0)
    logs = pd.Series(np.log(x[keep].to_numpy(dtype=float)), index=x[keep].index)
    keys = [rows.loc[keep, c].astype(str) for c in by]
    return logs.groupby(keys).mean().to_numpy(dtype=float)


def _run_interval(lb: np.ndarray, ln: np.ndarray, confidence: float) -> tuple[float, float, float] | None:
    """The pooled two-sample t interval of the difference of per-run log means, and its p; None below 3 runs."""
    from scipy.stats import t

    nb, nn = lb.size, ln.size
    if nb < 1 or nn < 1 or nb + nn < 3:
        return None
    df = nb + nn - 2
    ss = float(((lb - lb.mean()) ** 2).sum() + ((ln - ln.mean()) ** 2).sum())
    se = math.sqrt(ss / df * (1 / nb + 1 / nn))
    diff = float(ln.mean() - lb.mean())
    if se == 0:
        return (diff, diff, 1.0 if diff == 0 else 0.0)
    half = float(t.ppf(0.5 + confidence / 2, df)) * se
    return (diff - half, diff + half, float(2 * t.sf(abs(diff) / se, df)))


def _time(
    case: dict[str, Any],
    metric: str,
    b_ok: pd.DataFrame,
    n_ok: pd.DataFrame,
    alpha: float,
    max_slowdown: float,
    resolution: float,
    margin: float,
) -> CaseComparison:
    tb = b_ok[metric].to_numpy(dtype=float)
    tn = n_ok[metric].to_numpy(dtype=float)
    mb, mn = float(np.median(tb)), float(np.median(tn))
    lb, ln = _runs(b_ok, metric), _runs(n_ok, metric)
    ratio = mn / mb if mb > 0 else math.inf if mn > 0 else 1.0
    noise = max(relative_spread(tb), relative_spread(tn))
    test, equivalence, p = None, None, None
    if lb.size and ln.size:
        ratio = math.exp(float(ln.mean() - lb.mean()))  # the geometric mean of the runs' geometric means
        tested = _run_interval(lb, ln, 1 - alpha)
        tost = _run_interval(lb, ln, 1 - 2 * alpha)
        if tested is not None and tost is not None:
            test, p = (math.exp(tested[0]), math.exp(tested[1])), tested[2]
            equivalence = (math.exp(tost[0]), math.exp(tost[1]))
    verdict, note = decide_time(ratio, test, equivalence, (mb, mn), resolution, gate=max_slowdown, margin=margin)
    if verdict == "unknown":
        note = _undecided(ratio, test, (lb.size, ln.size), max_slowdown, margin)
    return CaseComparison(
        **case,
        metric=metric,
        baseline=mb,
        new=mn,
        change=ratio,
        p_value=p,
        verdict=verdict,
        note=note,
        noise=noise if len(tb) >= 2 or len(tn) >= 2 else None,
        repeats=(len(tb), len(tn)),
        ci=test,
        runs=(int(lb.size), int(ln.size)),
    )


def _deployment(
    case: dict[str, Any], b_ok: pd.DataFrame, n_ok: pd.DataFrame, max_model_growth: float | None
) -> list[CaseComparison]:
    """A row per deployment column either side has (medians over repeats); only ``model_bytes`` is gated, if asked."""
    rows = []
    for metric in DEPLOYMENT_METRICS:
        if metric not in b_ok or metric not in n_ok:
            continue
        tb, tn = b_ok[metric].astype(float).dropna(), n_ok[metric].astype(float).dropna()
        if tb.empty and tn.empty:
            continue
        mb = float(tb.median()) if len(tb) else None
        mn = float(tn.median()) if len(tn) else None
        change = None
        if mb is not None and mn is not None:
            change = mn - mb if metric in _SCORES else (mn / mb if mb > 0 else math.inf if mn > 0 else 1.0)
        verdict, note = "same", "shown, not gated"
        if mb is None or mn is None:
            note = f"{'baseline' if mb is None else 'new'} has none"
        elif metric == "model_bytes" and max_model_growth is not None and change is not None:
            note = ""
            if change > max_model_growth:
                verdict = "worse"
            elif change < 1 / max_model_growth:
                verdict = "better"
        rows.append(
            CaseComparison(
                **case,
                metric=metric,
                baseline=mb,
                new=mn,
                change=change,
                verdict=verdict,
                note=note,
                repeats=(len(tb), len(tn)),
            )
        )
    return rows


def _undecided(
    ratio: float, test: tuple[float, float] | None, runs: tuple[int, int], gate: float, margin: float
) -> str:
    """What would decide an ``unknown`` time verdict of ``compare``."""
    if test is None:
        return (
            f"{runs[0]} run(s) vs {runs[1]}: the run-to-run spread is not measured; give each side a folder "
            "of 2 runs or more, or use ab, or --measure instructions"
        )
    need = rounds_needed(ratio, test, min(runs), gate, margin)
    interval = f"[{test[0]:.3f}, {test[1]:.3f}]"
    if need is None:
        return f"interval {interval} too wide for the runs given: a quieter machine, ab, or --measure instructions"
    return f"interval {interval}: about {need} runs per side would decide, or ab, or --measure instructions"


def validate_gate(
    max_slowdown: float,
    max_accuracy_drop: float,
    alpha: float,
    time_resolution: float,
    max_instructions: float = 1.01,
    max_model_growth: float | None = None,
    margin: float | None = None,
) -> None:
    """Check the gate's parameters (see :func:`compare_runs`); raise ValueError naming the bad one."""
    if max_model_growth is not None and not max_model_growth > 1:
        msg = f"The 'max_model_growth' parameter must be a ratio > 1. Got {max_model_growth!r} instead."
        raise ValueError(msg)
    if margin is not None and not margin > 1:
        msg = f"The 'margin' parameter must be a ratio > 1 (or None: the gate). Got {margin!r} instead."
        raise ValueError(msg)
    if not max_instructions > 1:
        msg = f"The 'max_instructions' parameter must be a ratio > 1. Got {max_instructions!r} instead."
        raise ValueError(msg)
    if not max_slowdown > 1:
        msg = f"The 'max_slowdown' parameter must be a ratio > 1. Got {max_slowdown!r} instead."
        raise ValueError(msg)
    if not max_accuracy_drop >= 0:
        msg = f"The 'max_accuracy_drop' parameter must be >= 0 (points). Got {max_accuracy_drop!r} instead."
        raise ValueError(msg)
    if not 0 < alpha < 1:
        msg = f"The 'alpha' parameter must be in (0, 1). Got {alpha!r} instead."
        raise ValueError(msg)
    if not time_resolution >= 0:
        msg = f"The 'time_resolution' parameter must be >= 0 seconds. Got {time_resolution!r} instead."
        raise ValueError(msg)


def compare_runs(
    baseline: pd.DataFrame,
    new: pd.DataFrame,
    *,
    max_slowdown: float = 1.10,
    max_accuracy_drop: float = 0.1,
    alpha: float = 0.01,
    time_resolution: float = 0.05,
    max_instructions: float = 1.01,
    max_model_growth: float | None = None,
    margin: float | None = None,
) -> Comparison:
    """Compare result frames (from :func:`load_runs`) case by case.

    Parameters
    ----------
    baseline, new : pandas.DataFrame
        Rows of ``mnist-classic run``, with a ``_source`` column naming each
        row's CSV (its predictions sidecar is found beside it).
    max_slowdown : float, default=1.10
        A time ratio NEW/BASELINE above this is a regression (if outside the
        noise and significant); below its inverse, an improvement.
    max_accuracy_drop : float, default=0.1
        Accuracy drop in percentage points beyond which a significant
        change is a regression.
    alpha : float, default=0.01
        Significance level of the McNemar test and the time intervals (``1 - alpha``; TOST ``1 - 2 alpha``).
    time_resolution : float, default=0.05
        Seconds; absolute time differences below this are "same".
    max_instructions : float, default=1.01
        Where both sides were counted: an instruction-count ratio
        NEW/BASELINE above this (beyond the measured noise) is a regression,
        below its inverse an improvement; the counts' equivalence margin too.
    max_model_growth : float or None, default=None
        When set, a ``model_bytes`` ratio NEW/BASELINE above this is a
        regression, below its inverse an improvement (sizes are exact: no
        noise floor). None shows the deployment columns without judging them.
    margin : float or None, default=None
        The equivalence margin of the times (a ratio > 1): ``same`` when the
        ``1 - 2 alpha`` interval over runs lies inside ``[1/margin, margin]``;
        None: ``max_slowdown``.

    Returns
    -------
    Comparison

    Raises
    ------
    ResultsSchemaError
        Runs on different dataset payloads or test labels, or missing predictions.
    ValueError
        A gate parameter out of range.
    """
    validate_gate(
        max_slowdown,
        max_accuracy_drop,
        alpha,
        time_resolution,
        max_instructions,
        max_model_growth=max_model_growth,
        margin=margin,
    )
    _check_payloads(baseline, new)
    settings = {
        "max_model_growth": max_model_growth,
        "margin": max_slowdown if margin is None else margin,
        "max_instructions": max_instructions,
        "max_slowdown": max_slowdown,
        "max_accuracy_drop": max_accuracy_drop,
        "alpha": alpha,
        "time_resolution": time_resolution,
    }
    out = Comparison(settings=settings)
    keys_b = {k for k, _ in baseline.groupby(list(KEY), sort=True)}
    keys_n = {k for k, _ in new.groupby(list(KEY), sort=True)}
    out.only_baseline = sorted(keys_b - keys_n)
    out.only_new = sorted(keys_n - keys_b)
    # The speed index is judged over whole runs (every case of each side), the rest case by case.
    speed = speed_note(baseline[baseline["status"] == "ok"], new[new["status"] == "ok"])
    gb = dict(iter(baseline.groupby(list(KEY), sort=True)))
    gn = dict(iter(new.groupby(list(KEY), sort=True)))
    for key in sorted(keys_b & keys_n):
        values: tuple[Any, ...] = tuple(key)
        case = {"dataset": values[0], "pipeline": values[1], "n_train": int(values[2]), "n_test": int(values[3])}
        b_all, n_all = gb[key], gn[key]
        b_ok, n_ok = b_all[b_all["status"] == "ok"], n_all[n_all["status"] == "ok"]
        if b_ok.empty or n_ok.empty:
            verdict = "worse" if n_ok.empty and not b_ok.empty else "better" if not n_ok.empty else "same"
            n_status = ",".join(sorted(set(n_all["status"])))
            b_status = ",".join(sorted(set(b_all["status"])))
            out.rows.append(
                CaseComparison(**case, metric="status", verdict=verdict, note=f"baseline {b_status}, new {n_status}")
            )
            continue
        acc = _accuracy(case, b_ok, n_ok, alpha, max_accuracy_drop)
        threads = threads_note(b_ok, n_ok, "fit") or threads_note(b_ok, n_ok, "predict")
        if threads and acc.changed_predictions:
            # logreg's lbfgs and pca_svm's PCA give slightly different results on another thread count.
            acc.note = f"{threads}: some pipelines' predictions move with the thread count" + (
                "; not judged" if acc.verdict != "same" else ""
            )
            acc.verdict = "same"
        out.rows.append(acc)
        out.rows.extend(_speed(case, b_ok, n_ok, settings, speed))
        out.rows.extend(_deployment(case, b_ok, n_ok, max_model_growth))
    return out


def _speed(
    case: dict[str, Any], b_ok: pd.DataFrame, n_ok: pd.DataFrame, s: dict[str, Any], speed: str
) -> list[CaseComparison]:
    """The time rows, judged unless either side was timed under valgrind; then the counts, if both were counted.

    ``speed`` is :func:`.machine.speed_note` of the whole runs ("" when their speed indexes agree).
    """
    b_counted, n_counted = counted(b_ok), counted(n_ok)
    untimed = time_note(b_counted, n_counted)
    machine = "" if untimed else machine_note(b_ok, n_ok) or speed
    rows = []
    for metric in ("fit_time_s", "predict_time_s"):
        row = _time(case, metric, b_ok, n_ok, s["alpha"], s["max_slowdown"], s["time_resolution"], s["margin"])
        threads = threads_note(b_ok, n_ok, metric.split("_")[0])
        if untimed:  # timed under valgrind: shown only
            row.verdict, row.note = "same", untimed
        elif machine or threads:  # the machine, not the code, may explain a difference (see .machine)
            row.verdict, row.note = "unknown", machine or f"not judged: {threads}"
        rows.append(row)
    if b_counted and n_counted:
        why = counts_incomparable(b_ok, n_ok)
        for metric in COUNT_METRICS:
            if why:
                b, n = float(b_ok[metric].median()), float(n_ok[metric].median())
                rows.append(CaseComparison(**case, metric=metric, baseline=b, new=n, change=n / b, note=why))
            else:
                rows.append(
                    CaseComparison(**case, metric=metric, **judge_counts(b_ok, n_ok, metric, s["max_instructions"]))
                )
    return rows


def _fmt(r: CaseComparison) -> list[str]:
    if r.metric == "accuracy":
        b_ci, n_ci = r.baseline_ci or (math.nan, math.nan), r.new_ci or (math.nan, math.nan)
        base = f"{100 * (r.baseline or 0):.2f}% [{100 * b_ci[0]:.2f}, {100 * b_ci[1]:.2f}]"
        new = f"{100 * (r.new or 0):.2f}% [{100 * n_ci[0]:.2f}, {100 * n_ci[1]:.2f}]"
        change = f"{r.change:+.2f} pt, {r.changed_predictions} changed"
    elif r.metric == "status":
        base = new = change = ""
    elif r.metric in COUNT_METRICS:
        base, new = f"{(r.baseline or 0) / 1e6:,.2f} M", f"{(r.new or 0) / 1e6:,.2f} M"
        change = f"x{r.change:.4f}"
    elif r.metric in DEPLOYMENT_METRICS:
        base, new = deployment_value(r.metric, r.baseline), deployment_value(r.metric, r.new)
        change = "" if r.change is None else f"{r.change:+.4f}" if r.metric in _SCORES else f"x{r.change:.3f}"
    else:
        base, new = f"{r.baseline:.3f} s", f"{r.new:.3f} s"
        change = f"x{r.change:.3f}" + (f" [{r.ci[0]:.3f}, {r.ci[1]:.3f}]" if r.ci else "")
    p = "" if r.p_value is None else f"{r.p_value:.2g}"
    metric = {
        "fit_time_s": "fit",
        "predict_time_s": "predict",
        "fit_instructions": "fit instr",
        "predict_instructions": "predict instr",
        "model_bytes": "model size",
        "latency_ms_p50": "1-image p50",
        "latency_ms_p99": "1-image p99",
    }.get(r.metric, r.metric)
    return [r.case, metric, base, new, change, p, r.verdict + (f" ({r.note})" if r.note else "")]


def deployment_value(metric: str, x: float | None) -> str:
    """A deployment figure with its unit: ``3.14 MB``, ``1.97 ms``, ``0.42 M MACs``, ``0.0301``; empty for None."""
    if x is None or math.isnan(x):
        return ""
    if metric == "model_bytes":
        return f"{x / 1e6:,.3f} MB" if x >= 1e5 else f"{x / 1e3:,.1f} kB"
    if metric.startswith("latency_ms"):
        return f"{x:.3g} ms"
    if metric == "macs":
        return f"{x / 1e6:,.3f} M MACs"
    return f"{x:.4f}"


_HEAD = ["case", "metric", "baseline", "new", "change", "p", "verdict"]


def _missing_lines(cmp: Comparison) -> list[str]:
    lines = []
    for side, keys in (("baseline", cmp.only_baseline), ("new", cmp.only_new)):
        for k in keys:
            lines.append(f"only in {side}: {k[0]} {k[1]} n_train={k[2]} n_test={k[3]}")
    return lines


def format_text(cmp: Comparison) -> str:
    """An aligned plain-text table, then cases on one side only, then a one-line verdict."""
    table = [_HEAD, *(_fmt(r) for r in cmp.rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(_HEAD))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join([*lines, *_missing_lines(cmp), _verdict_line(cmp)]) + "\n"


def format_markdown(cmp: Comparison) -> str:
    """A GitHub-flavoured Markdown table (pipes escaped), cases on one side only, the verdict."""

    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    lines = ["| " + " | ".join(_HEAD) + " |", "|" + "---|" * len(_HEAD)]
    lines += ["| " + " | ".join(esc(c) for c in _fmt(r)) + " |" for r in cmp.rows]
    extra = [f"- {line}" for line in _missing_lines(cmp)]
    return "\n".join([*lines, "", *extra, *([""] if extra else []), f"**{_verdict_line(cmp)}**"]) + "\n"


def format_json(cmp: Comparison) -> str:
    """Every figure, machine-readable."""
    doc = {
        "settings": cmp.settings,
        "regressed": bool(cmp.regressions),
        "unknown": len(cmp.unknown),
        "rows": [{"case": r.case, **asdict(r)} for r in cmp.rows],
        "only_baseline": [dict(zip(KEY, k, strict=True)) for k in cmp.only_baseline],
        "only_new": [dict(zip(KEY, k, strict=True)) for k in cmp.only_new],
    }
    return json.dumps(doc, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o)) + "\n"


def _verdict_line(cmp: Comparison) -> str:
    worse = cmp.regressions
    unjudged = sum(r.note.startswith("not judged") for r in cmp.rows)
    aside = f"; {unjudged} time verdict(s) not judged: the machine differed (see the notes)" if unjudged else ""
    unknown = len(cmp.unknown)
    if unknown:
        aside = f"; {unknown} verdict(s) unknown (see the notes for what would decide them)" + aside
    if not worse:
        return f"no regression in {len({r.case for r in cmp.rows})} matched case(s){aside}"
    names = ", ".join(sorted({f"{r.case} ({r.metric})" for r in worse}))
    return f"REGRESSION in {len(worse)} metric(s): {names}{aside}"
