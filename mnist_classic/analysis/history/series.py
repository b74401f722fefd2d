"""A history of runs: one series per case along an axis, its steps, and a gate on the latest point.

Rows (from :func:`~mnist_classic.analysis.runs.load_runs`) are grouped into
points by the value of an axis column: a version (``sklearn_version``, or any
``*_version`` column, sorted as versions by :class:`packaging.version.Version`),
``git_commit`` (commits in the order of their first run) or ``started_at``
(each run a point, in time order). A case (dataset, configured pipeline,
n_train, n_test) is one series; its point at an axis value pools the repeats of
every run there.

Steps:

- fit and predict time: change points of the per-point medians, found by
  :func:`~mnist_classic.analysis.history.changepoint.detect_steps` (penalized
  piecewise-constant L1 fit). Its penalty scales with the noise, estimated
  from the differences of the medians; on a short history (4-12 points) that
  estimate is often near zero by chance, and alone it gives 3-10% false alarms
  on pure noise. The noise is therefore floored by the median standard
  deviation of the repeats within points: with 3 repeats per point, false
  alarms fall to 0.2% or fewer at 4-20 points, and steps of x1.2 are found
  65-100% of the time at 5% noise, 99-100% at 2%
  (``tests/test_history.py::test_false_alarm_rate_on_pure_noise``). Repeats of one
  run share its machine state, so run-to-run drift can exceed their spread:
  the floor is a floor, the noise estimate of the medians still applies.
  At least 4 points are needed (two on either side of a step);
- accuracy: an exact McNemar test between each point and the previous one on
  the paired per-image predictions (lowest common seed), as ``compare`` does.

Each point is also judged against the one before it with
:func:`~mnist_classic.analysis.verdicts.compare.compare_runs`, the gate of ``compare``
(threshold, noise of the repeats, Mann-Whitney where the repeats allow, time
resolution, McNemar). The history regressed when the latest point of a series
is ``worse`` than the point before it: that is the exit status CI reads.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...results import COLUMNS
from ..verdicts.compare import DEPLOYMENT_METRICS, KEY, CaseComparison, compare_runs, deployment_value, validate_gate
from ..verdicts.counts import COUNT_METRICS
from .changepoint import BETA, detect_steps, noise_scale

__all__ = [
    "AXES",
    "History",
    "HistoryPoint",
    "HistoryStep",
    "Series",
    "build_history",
    "format_markdown",
    "validate_axis",
    "write_history",
]

#: Axis columns besides the version columns (every column ending in ``_version``).
AXES: tuple[str, ...] = ("git_commit", "started_at")

#: Version columns shown beside each point.
VERSION_COLUMNS = ("sklearn_version", "numpy_version", "scipy_version", "python_version", "engine", "engine_version")

_TIMES = ("fit_time_s", "predict_time_s")
#: Speed metrics followed along the axis: seconds, and instruction counts where the rows were counted.
_SPEED = (*_TIMES, *COUNT_METRICS)


@dataclass
class HistoryPoint:
    """One case at one axis value: its runs, context and figures (medians over ok repeats)."""

    axis_value: str
    run_ids: list[str]
    commits: list[str]
    versions: dict[str, str]
    started_at: str
    repeats: int
    status: str
    fit_time_s: float | None = None
    predict_time_s: float | None = None
    fit_instructions: float | None = None
    predict_instructions: float | None = None
    accuracy: float | None = None
    deployment: dict[str, float] = field(default_factory=dict)  # DEPLOYMENT_METRICS the rows have -> median
    spread: dict[str, tuple[float, float]] = field(default_factory=dict)  # metric -> (min, max)
    sd: dict[str, float] = field(default_factory=dict)  # metric -> standard deviation of the repeats (2 or more)
    versus_previous: list[CaseComparison] = field(default_factory=list)  # compare's rows against the point before

    def verdict(self, metric: str) -> str:
        """compare's verdict of ``metric`` against the previous point ("" for the first point)."""
        return next((r.verdict for r in self.versus_previous if r.metric in (metric, "status")), "")


@dataclass
class HistoryStep:
    """A step in one metric of one series, at point ``index`` (the first point after it)."""

    metric: str  # fit_time_s, predict_time_s, fit_instructions, predict_instructions, accuracy
    index: int
    before: float
    after: float
    change: float  # times: ratio after/before; accuracy: points
    p_value: float | None
    verdict: str  # worse, better, same
    method: str  # "change point" or "McNemar"


@dataclass
class Series:
    """One case over the axis."""

    dataset: str
    pipeline: str
    n_train: int
    n_test: int
    points: list[HistoryPoint]
    steps: list[HistoryStep] = field(default_factory=list)

    @property
    def case(self) -> str:
        """``pipeline n_train=N`` (plus the dataset when it is not MNIST)."""
        prefix = "" if self.dataset == "mnist" else f"{self.dataset}: "
        return f"{prefix}{self.pipeline} n_train={self.n_train}"

    @property
    def gate(self) -> list[CaseComparison]:
        """compare's rows of the latest point against the one before it (empty with one point)."""
        return self.points[-1].versus_previous if len(self.points) > 1 else []

    @property
    def regressions(self) -> list[CaseComparison]:
        """The gate's rows whose verdict is ``worse``."""
        return [r for r in self.gate if r.verdict == "worse"]

    @property
    def unknown(self) -> list[CaseComparison]:
        """The gate's rows whose verdict is ``unknown`` (neither worse nor shown to be the same)."""
        return [r for r in self.gate if r.verdict == "unknown"]


@dataclass
class History:
    """Every series along one axis, and the settings of its gate."""

    axis: str
    axis_values: list[str]
    series: list[Series]
    settings: dict[str, Any]
    dropped: int = 0  # rows without a value on the axis

    @property
    def regressions(self) -> list[tuple[Series, CaseComparison]]:
        """(series, row) for every metric whose latest point regressed."""
        return [(s, r) for s in self.series for r in s.regressions]

    @property
    def exit_code(self) -> int:
        """1 when the latest point of any series regressed, else 0."""
        return 1 if self.regressions else 0

    @property
    def unknown(self) -> list[tuple[Series, CaseComparison]]:
        """(series, row) for every metric whose latest point is ``unknown``."""
        return [(s, r) for s in self.series for r in s.unknown]

    def verdict_line(self) -> str:
        """One line: the regressions of the latest points, or how many series were judged; and the unknown."""
        worse = self.regressions
        unknown = len(self.unknown)
        aside = f"; {unknown} verdict(s) unknown at the latest point (see the summary's notes)" if unknown else ""
        if not worse:
            latest = sum(len(s.points) > 1 for s in self.series)
            return f"no regression at the latest point of {latest} series with a previous point{aside}"
        names = ", ".join(f"{s.case} ({r.metric})" for s, r in worse)
        return f"REGRESSION at the latest point in {len(worse)} metric(s): {names}{aside}"


def _version_key(value: str) -> tuple[int, Any]:
    from packaging.version import InvalidVersion, Version

    try:
        return (0, Version(value))
    except InvalidVersion:
        return (1, value)


def _axis_order(df: pd.DataFrame, axis: str) -> list[str]:
    """The axis values of ``df`` in history order."""
    values = df[axis].astype(str)
    if axis.endswith("_version"):
        return sorted(set(values), key=_version_key)
    # commits and run times: by the earliest start of their rows, ties in order of appearance
    first = pd.DataFrame({"v": values, "t": df["started_at"].fillna("").astype(str), "i": np.arange(len(df))})
    order = first.groupby("v", sort=False).agg(t=("t", "min"), i=("i", "min")).sort_values(["t", "i"])
    return [str(v) for v in order.index]


def _joined(rows: pd.DataFrame, column: str) -> str:
    return ", ".join(dict.fromkeys(str(v) for v in rows[column] if isinstance(v, str) and v))


def _point(value: str, rows: pd.DataFrame) -> HistoryPoint:
    ok = rows[rows["status"] == "ok"]
    point = HistoryPoint(
        axis_value=value,
        run_ids=list(dict.fromkeys(map(str, rows["run_id"]))),
        commits=list(dict.fromkeys(str(c) for c in rows["git_commit"] if isinstance(c, str))),
        versions={c: _joined(rows, c) for c in VERSION_COLUMNS},
        started_at=min((str(t) for t in rows["started_at"] if isinstance(t, str)), default=""),
        repeats=len(ok),
        status=",".join(sorted(set(map(str, rows["status"])))),
    )
    for metric in (*_SPEED, "accuracy"):
        x = ok[metric].to_numpy(dtype=float)
        x = x[np.isfinite(x)]
        if x.size:
            setattr(point, metric, float(np.median(x)))
            point.spread[metric] = (float(x.min()), float(x.max()))
            if x.size >= 2:
                point.sd[metric] = float(x.std(ddof=1))
    for metric in DEPLOYMENT_METRICS:  # shown beside each point, judged only by compare's rows (model size, if asked)
        x = ok[metric].to_numpy(dtype=float) if metric in ok else np.empty(0)
        x = x[np.isfinite(x)]
        if x.size:
            point.deployment[metric] = float(np.median(x))
    return point


def _time_steps(points: list[HistoryPoint], settings: dict[str, Any]) -> list[HistoryStep]:
    steps = []
    for metric in _SPEED:
        # Counts: every difference is resolved, and the gate is max_instructions.
        limit, resolution = (
            (settings.get("max_instructions", 1.01), 0.0)
            if metric in COUNT_METRICS
            else (settings["max_slowdown"], settings["time_resolution"])
        )
        at = [i for i, p in enumerate(points) if getattr(p, metric) is not None]
        if len(at) < 4:  # detect_steps needs two points on either side of a step
            continue
        medians = [getattr(points[i], metric) for i in at]
        # The noise of the medians, estimated from a handful of differences, can come out near zero by
        # chance on a short history; the spread of the repeats within points is a floor (see the module doc).
        within = [points[i].sd[metric] for i in at if metric in points[i].sd]
        sigma = max(noise_scale(medians), float(np.median(within)) if within else 0.0)
        penalty = BETA * sigma * math.log(len(at))
        for s in detect_steps(medians, penalty=penalty):
            ratio, diff = s.ratio, abs(s.after - s.before)
            verdict = "same"
            if diff >= resolution and math.isfinite(ratio):
                if ratio > limit:
                    verdict = "worse"
                elif ratio < 1 / limit:
                    verdict = "better"
            steps.append(HistoryStep(metric, at[s.index], s.before, s.after, ratio, None, verdict, "change point"))
    return steps


def _accuracy_steps(points: list[HistoryPoint], alpha: float) -> list[HistoryStep]:
    steps = []
    for i, p in enumerate(points):
        row = next((r for r in p.versus_previous if r.metric == "accuracy"), None)
        if i and row is not None and row.p_value is not None and row.p_value < alpha:
            before, after = row.baseline or 0.0, row.new or 0.0
            steps.append(
                HistoryStep("accuracy", i, before, after, row.change or 0.0, row.p_value, row.verdict, "McNemar")
            )
    return steps


def validate_axis(axis: str) -> None:
    """Raise ValueError naming the accepted axes unless ``axis`` is one (see :func:`build_history`)."""
    axes = [*AXES, *(c for c in COLUMNS if c.endswith("_version"))]
    if axis not in axes:
        msg = f"The 'axis' parameter must be one of {', '.join(axes)}. Got {axis!r} instead."
        raise ValueError(msg)


def build_history(
    df: pd.DataFrame,
    *,
    axis: str = "sklearn_version",
    max_slowdown: float = 1.10,
    max_accuracy_drop: float = 0.1,
    alpha: float = 0.01,
    time_resolution: float = 0.05,
    max_instructions: float = 1.01,
    max_model_growth: float | None = None,
    margin: float | None = None,
) -> History:
    """One series per case along ``axis``, with its steps and the gate on its latest point.

    Parameters
    ----------
    df : pandas.DataFrame
        Result rows with a ``_source`` column (:func:`~mnist_classic.analysis.runs.load_runs`).
    axis : str, default="sklearn_version"
        ``git_commit``, ``started_at`` or a column ending in ``_version``.
    max_slowdown, max_accuracy_drop, alpha, time_resolution, max_instructions, max_model_growth, margin
        The gate, as in :func:`~mnist_classic.analysis.verdicts.compare.compare_runs`.

    Returns
    -------
    History

    Raises
    ------
    ValueError
        An unknown axis, a gate parameter out of range, or no row with a value on the axis.
    ResultsSchemaError
        Points on different dataset payloads or test labels, or missing predictions.

    Examples
    --------
    >>> import pandas as pd
    >>> build_history(pd.DataFrame(), axis="nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The 'axis' parameter must be one of git_commit, started_at, python_version, ... Got 'nope' instead.
    """
    validate_axis(axis)
    validate_gate(
        max_slowdown,
        max_accuracy_drop,
        alpha,
        time_resolution,
        max_instructions,
        max_model_growth=max_model_growth,
        margin=margin,
    )
    settings: dict[str, Any] = {
        "max_model_growth": max_model_growth,
        "margin": margin,
        "max_instructions": max_instructions,
        "max_slowdown": max_slowdown,
        "max_accuracy_drop": max_accuracy_drop,
        "alpha": alpha,
        "time_resolution": time_resolution,
    }
    df = df.copy()
    df["engine"] = df["engine"].fillna("sklearn")  # rows of the schemas before engines: stock scikit-learn
    if axis == "started_at":  # a run is a point: its first case's start
        df["started_at"] = df.groupby("run_id")["started_at"].transform("min")
    has = df[axis].notna() & (df[axis].astype(str) != "")
    dropped = int((~has).sum())
    df = df[has]
    if df.empty:
        msg = f"The 'axis' parameter names a column without values in these results: {axis!r}."
        raise ValueError(msg)
    order = _axis_order(df, axis)
    rank = {v: i for i, v in enumerate(order)}
    series = []
    for key, rows in df.groupby(list(KEY), sort=True):
        dataset, pipeline, n_train, n_test = (str(k) if i < 2 else int(float(str(k))) for i, k in enumerate(key))
        by_value = dict(iter(rows.groupby(rows[axis].astype(str), sort=False)))
        values = sorted(by_value, key=rank.__getitem__)
        points = [_point(v, by_value[v]) for v in values]
        for i in range(1, len(points)):
            cmp = compare_runs(by_value[values[i - 1]], by_value[values[i]], **settings)
            points[i].versus_previous = cmp.rows
        s = Series(str(dataset), str(pipeline), int(n_train), int(n_test), points)
        s.steps = sorted(_time_steps(points, settings) + _accuracy_steps(points, alpha), key=lambda t: t.index)
        series.append(s)
    return History(axis, order, series, settings, dropped)


# --- the Markdown summary ----------------------------------------------------------------------------------------


def _value(metric: str, x: float) -> str:
    if metric in DEPLOYMENT_METRICS:
        return deployment_value(metric, x)
    if metric in COUNT_METRICS:
        return f"{x / 1e6:,.2f} M instructions"
    return f"{100 * x:.2f}%" if metric == "accuracy" else f"{x:.3g} s"


def _change(step_or_row: Any) -> str:
    if step_or_row.change is None:
        return ""
    if step_or_row.metric == "accuracy":
        return f"{step_or_row.change:+.2f} pt"
    if step_or_row.metric in ("log_loss", "ece", "brier"):
        return f"{step_or_row.change:+.4f}"
    return f"x{step_or_row.change:.3f}"


_METRIC = {
    "fit_time_s": "fit",
    "predict_time_s": "predict",
    "fit_instructions": "fit instructions",
    "predict_instructions": "predict instructions",
    "accuracy": "accuracy",
    "status": "status",
    "model_bytes": "model size",
    "latency_ms_p50": "one-image p50",
    "latency_ms_p99": "one-image p99",
    "macs": "MACs",
    "log_loss": "log-loss",
    "ece": "ECE",
    "brier": "Brier",
}


def format_markdown(history: History) -> str:
    """The steps found, then the gate on the latest points, as GitHub-flavoured Markdown."""
    s = history.settings
    lines = [
        f"# History along `{history.axis}`",
        "",
        f"{len(history.axis_values)} points: " + ", ".join(f"`{v}`" for v in history.axis_values) + ".",
        f"{len(history.series)} series (dataset, pipeline, n_train, n_test).",
        "",
        "Steps in fit and predict time are change points of the per-point medians (penalized piecewise-constant "
        "fit, `detect_steps`); accuracy steps are exact McNemar tests between consecutive points "
        f"(p < {s['alpha']:g}). Verdicts use the gate of `compare`: slowdown beyond x{s['max_slowdown']:g}, "
        f"accuracy drop beyond {s['max_accuracy_drop']:g} points, time differences under "
        f"{s['time_resolution']:g} s not judged; where rows were counted (`run --measure instructions`), "
        f"instruction counts beyond x{s['max_instructions']:g}, their times not judged. Model size, one-image "
        "latency, MACs and probability scores are shown"
        + (
            f"; model size beyond x{s['max_model_growth']:g} is judged."
            if s.get("max_model_growth")
            else ", not judged."
        ),
        "",
        "## Steps",
        "",
    ]
    if history.dropped:
        lines[4:4] = [f"{history.dropped} rows without a value of `{history.axis}` were left out.", ""]
    found = [(se, st) for se in history.series for st in se.steps]
    if not found:
        lines += ["No step found.", ""]
    else:
        lines += ["| case | metric | at | before | after | change | p | method | verdict |", "|" + "---|" * 9]
        for se, st in found:
            prev = se.points[st.index - 1].axis_value
            at = f"{prev} → {se.points[st.index].axis_value}"
            p = "" if st.p_value is None else f"{st.p_value:.2g}"
            lines.append(
                f"| {se.case} | {_METRIC[st.metric]} | {at} | {_value(st.metric, st.before)} | "
                f"{_value(st.metric, st.after)} | {_change(st)} | {p} | {st.method} | {st.verdict} |"
            )
        lines.append("")
    lines += ["## The latest point against the one before it", ""]
    gated = [se for se in history.series if se.gate]
    if gated:
        lines += ["| case | metric | previous | latest | change | p | verdict |", "|" + "---|" * 7]
        for se in gated:
            prev, last = se.points[-2].axis_value, se.points[-1].axis_value
            for r in se.gate:
                if r.metric == "status":
                    lines.append(f"| {se.case} | status | {prev} | {last} |  |  | {r.verdict} ({r.note}) |")
                    continue
                p = "" if r.p_value is None else f"{r.p_value:.2g}"
                note = f" ({r.note})" if r.note else ""
                base = "" if r.baseline is None else _value(r.metric, r.baseline)
                new = "" if r.new is None else _value(r.metric, r.new)
                lines.append(
                    f"| {se.case} | {_METRIC[r.metric]} | {prev}: {base} | "
                    f"{last}: {new} | {_change(r)} | {p} | {r.verdict}{note} |"
                )
        lines.append("")
    else:
        lines += ["No series has two points.", ""]
    lines.append(f"**{history.verdict_line()}**")
    return "\n".join(lines).replace("| |", "|  |") + "\n"


def write_history(history: History, out: str | os.PathLike[str]) -> list[Path]:
    """Write ``history.html`` (the dashboard) and ``history.md`` (the summary) into ``out``; return their paths."""
    from ..._files import atomic_write
    from .dashboard import render_dashboard

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("history.html", render_dashboard(history)), ("history.md", format_markdown(history))):
        path = folder / name
        atomic_write(path, lambda tmp, text=text: Path(tmp).write_text(text, encoding="utf-8"))  # type: ignore[misc]
        written.append(path)
    return written
