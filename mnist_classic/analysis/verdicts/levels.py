"""Where the variance of an ab's times lives: between rounds, processes and measurements.

Kalibera and Jones ("Rigorous benchmarking in reasonable time", ISMM 2013)
observe that the variance of a benchmark's times comes in levels, each with
its own cost of repetition, and that repetition pays where the variance is.
An ``ab --processes P --measurements M`` has three: rounds (each giving one
paired ratio NEW/BASE), the ``P`` processes (runs) of each side in a round,
and the ``M`` measurements (``repeat``) inside each process.
:func:`variance_levels` estimates each level's own standard deviation of log
time (moment estimates of a nested random-effects model) and the optimal
number of measurements per process.

The model, on logs: ``x[r,s,p,m] = mu[s] + a[r] + b[r,s] + c[r,s,p] + e[r,s,p,m]``,
``a`` the machine's speed in round ``r`` (common to both sides, cancelled by
pairing), ``b`` what of a round pairing does not cancel, ``c`` a process's
own offset (memory layout, the CPU it ran on), ``e`` a measurement's noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Levels", "format_levels", "process_cost", "variance_levels"]


@dataclass
class Levels:
    """The variance levels of one case and metric, and the measurements per process they call for.

    Attributes
    ----------
    case, metric : str
        ``svm n_train=2000`` and ``fit_time_s`` (or ``predict_time_s``).
    rounds, processes, measurements : int
        Rounds with both sides; processes per round and side, and measurements
        per process (their means, rounded).
    round_s, process_s, measurement_s : float or None
        Each level's own standard deviation of log time (None: too few values).
        ``round_s`` is the round ratio's (``log NEW/BASE``), the others one side's.
    round_with, process_with : str
        The lower levels an estimate still holds because they could not be told
        apart (one process per round and side, one measurement per process); "".
    ratio_s : float or None
        The spread of the rounds' log ratios, all levels together (what the t interval sees).
    process_cost_s, measurement_cost_s : float or None
        Seconds of a process beyond its measurements (start-up, imports, data),
        and of one measurement (fit + predict).
    measurements_per_process : int or None
        Kalibera and Jones's optimal count (:func:`variance_levels`); None with ``note`` saying why.
    note : str
    """

    case: str
    metric: str
    rounds: int
    processes: int
    measurements: int
    round_s: float | None
    process_s: float | None
    measurement_s: float | None
    round_with: str = ""
    process_with: str = ""
    ratio_s: float | None = None
    process_cost_s: float | None = None
    measurement_cost_s: float | None = None
    measurements_per_process: int | None = None
    note: str = ""


def _sd(variance: float | None) -> float | None:
    """A moment estimate's standard deviation; a negative estimate is a level with no variance of its own."""
    return None if variance is None else math.sqrt(max(variance, 0.0))


def process_cost(frame: pd.DataFrame, run_seconds: Sequence[float]) -> float | None:
    """Seconds of one run beyond its measurements: mean wall seconds minus the mean fit + predict seconds per run.

    ``frame``: every row of the ab (all cases: a run measures all of them);
    ``run_seconds``: the wall seconds of its runs, from the ``.ab.json`` log.
    None without run seconds; never below 0.

    Examples
    --------
    >>> rows = pd.DataFrame({"run_id": ["a", "a", "b", "b"], "fit_time_s": [1.0, 1.0, 1.2, 0.8],
    ...                      "predict_time_s": [0.5, 0.5, 0.5, 0.5]})
    >>> process_cost(rows, [5.0, 6.0])  # 5.5 s per run, 3 of them measured
    2.5
    """
    if not run_seconds or frame.empty:
        return None
    measured = _row_cost(frame).groupby(frame["run_id"].astype(str)).sum()
    return max(float(np.mean(run_seconds)) - float(measured.mean()), 0.0)


def _row_cost(rows: pd.DataFrame) -> pd.Series:
    """Each row's fit + predict seconds (a missing phase counts 0)."""
    cost = pd.Series(0.0, index=rows.index)
    for column in ("fit_time_s", "predict_time_s"):
        if column in rows:
            cost = cost + pd.to_numeric(rows[column], errors="coerce").fillna(0.0)
    return cost


def variance_levels(rows: pd.DataFrame, metric: str, *, case: str = "", process_cost_s: float | None = None) -> Levels:
    r"""Each level's standard deviation of log ``metric``, and the optimal measurements per process.

    ``rows``: one case's rows of an ab (columns ``ab_round``, ``side``, ``run_id``,
    ``repeat``, ``metric``); rows not ``ok`` or without a positive value are left out.
    With ``x`` the log times, ``x[r,s,p,.]`` the mean of process ``p``'s
    measurements, ``x[r,s,.,.]`` the mean of the side's process means and
    ``L[r] = x[r,new,.,.] - x[r,base,.,.]`` the round's log ratio
    (one-way nested analysis of variance, moment estimates):

    - measurements: ``S1^2 = sum (x[r,s,p,m] - x[r,s,p,.])^2 / sum_rsp (M[r,s,p] - 1)``,
      estimating ``var(e)``;
    - processes: ``S2^2 = sum (x[r,s,p,.] - x[r,s,.,.])^2 / sum_rs (P[r,s] - 1)``,
      whose expectation is ``var(c) + var(e) / M``, so ``T2^2 = S2^2 - S1^2 / M``;
    - rounds: ``S3^2`` the sample variance of the ``L[r]``, whose expectation is
      ``var(b[r,new] - b[r,base]) + 2 (var(c) + var(e) / M) / P``, so ``T3^2 = S3^2 - 2 S2^2 / P``;

    ``T1^2 = S1^2``; each level's ``s = sqrt(max(T^2, 0))``. These are Kalibera and
    Jones's ``T_i^2 = S_i^2 - S_{i-1}^2 / n_{i-1}``, the top level's taken on a ratio of
    two sides' means (hence ``2 / P``). Where a lower level has one value per unit
    (``M = 1``: the measurements; ``P = 1``: the processes), the level above keeps its
    variance and says so (``process_with``, ``round_with``).

    The optimal measurements per process (Kalibera and Jones, ISMM 2013: the
    repetition count at level ``i`` that minimises the variance of the mean for
    a given time, ``n_i = ceil(sqrt((c_{i+1} / c_i) (T_i^2 / T_{i+1}^2)))``, with
    ``c_i`` the cost of one repetition at level ``i`` beyond the levels below it;
    Cochran's optimal two-stage sample):

    ``n_opt = ceil(sqrt((c_process / c_measurement) * (T1^2 / T2^2)))``, at least 1,

    ``c_process`` a run's wall seconds beyond its measurements (``process_cost_s``,
    :func:`process_cost`) and ``c_measurement`` the case's mean fit + predict
    seconds. It needs ``P >= 2`` and ``M >= 2``; ``T2^2 <= 0`` (processes add no
    variance of their own) makes it unbounded: measurements, not processes.

    Examples
    --------
    >>> rows = pd.DataFrame({"ab_round": [1] * 4 + [2] * 4, "side": ["base", "base", "new", "new"] * 2,
    ...                      "run_id": list("abcdefgh"), "repeat": 0,
    ...                      "fit_time_s": [1.0, 1.1, 2.0, 2.1, 1.05, 1.0, 2.0, 2.2]})
    >>> lv = variance_levels(rows, "fit_time_s")
    >>> lv.processes, lv.measurements, lv.measurement_s, lv.process_with
    (2, 1, None, 'measurements')
    """
    x = _logs(rows, metric)
    process, cell = ["ab_round", "side", "run_id"], ["ab_round", "side"]
    m_counts = x.groupby(process).size()
    p_means = x.groupby(process, as_index=False)["x"].mean()
    p_counts = p_means.groupby(cell).size()
    m_bar = float(m_counts.mean()) if len(m_counts) else 0.0
    p_bar = float(p_counts.mean()) if len(p_counts) else 0.0

    df1 = int((m_counts - 1).sum())
    within = x["x"] - x.groupby(process)["x"].transform("mean")
    s1 = float((within**2).sum()) / df1 if df1 > 0 else None
    df2 = int((p_counts - 1).sum())
    between = p_means["x"] - p_means.groupby(cell)["x"].transform("mean")
    s2 = float((between**2).sum()) / df2 if df2 > 0 else None
    sides = p_means.groupby(cell)["x"].mean().unstack("side")
    both = sides.dropna() if {"base", "new"} <= set(sides.columns) else sides.iloc[0:0]
    ratios = (both["new"] - both["base"]).to_numpy(dtype=float) if len(both) else np.empty(0)
    s3 = float(np.var(ratios, ddof=1)) if len(ratios) >= 2 else None

    t1 = s1
    t2 = None if s2 is None else s2 - (s1 / m_bar if s1 is not None else 0.0)
    if s3 is None:
        t3 = None
    elif s2 is not None:
        t3 = s3 - 2 * s2 / p_bar
    else:
        t3 = s3 - (2 * s1 / (p_bar * m_bar) if s1 is not None else 0.0)
    cost = _row_cost(rows.loc[x.index]) if len(x) else pd.Series(dtype=float)
    c_meas = float(cost.mean()) if len(cost) else None
    n_opt, note = _optimal(t1, t2, process_cost_s, c_meas)
    return Levels(
        case=case,
        metric=metric,
        rounds=len(ratios),
        processes=round(p_bar),
        measurements=round(m_bar),
        round_s=_sd(t3),
        process_s=_sd(t2),
        measurement_s=_sd(t1),
        round_with="" if s3 is None or s2 is not None else "processes" if s1 is not None else "processes, measurements",
        process_with="" if s2 is None or s1 is not None else "measurements",
        ratio_s=_sd(s3),
        process_cost_s=process_cost_s,
        measurement_cost_s=c_meas,
        measurements_per_process=n_opt,
        note=note,
    )


def _logs(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The rows' keys and ``x = log(metric)``, for ok rows with a positive, finite value."""
    values = pd.to_numeric(rows[metric], errors="coerce") if metric in rows else pd.Series(np.nan, index=rows.index)
    keep = np.isfinite(values) & (values > 0)
    if "status" in rows:
        keep &= rows["status"] == "ok"
    out = pd.DataFrame(
        {
            "ab_round": pd.to_numeric(rows["ab_round"], errors="coerce"),
            "side": rows["side"].astype(str),
            "run_id": rows["run_id"].astype(str),
            "x": np.log(values.where(keep, 1.0)),
        },
        index=rows.index,
    )
    return out[keep.to_numpy(dtype=bool)]


def _optimal(
    t1: float | None, t2: float | None, c_process: float | None, c_measurement: float | None
) -> tuple[int | None, str]:
    """``ceil(sqrt((c_process / c_measurement) (T1^2 / T2^2)))``, at least 1; else None and why."""
    if t1 is None:
        return None, "unknown (needs 2 measurements or more per process)"
    if t2 is None:
        return None, "unknown (needs 2 processes or more per round and side)"
    if c_process is None or c_measurement is None:
        return None, "unknown (needs the runs' wall seconds, in the .ab.json log)"
    if t1 <= 0 or c_process <= 0:
        return 1, ""
    if t2 <= 0 or c_measurement <= 0:
        return None, "as many as time allows (processes add no variance of their own)"
    return max(1, math.ceil(math.sqrt(c_process / c_measurement * t1 / t2))), ""


def format_levels(lv: Levels) -> str:
    """One line: each level's standard deviation of log time, and the measurements per process they call for.

    Examples
    --------
    >>> print(format_levels(Levels("svm n_train=2000", "fit_time_s", 5, 2, 3, 0.041, 0.12, 0.01,
    ...                            measurements_per_process=1)))
    levels svm n_train=2000 fit_time_s: rounds s=0.041, processes s=0.120, measurements s=0.010 -> measurements per process: 1
    """  # noqa: E501 - one line of output
    few = {
        "rounds": f"too few values ({lv.rounds} round{'s' if lv.rounds != 1 else ''})",
        "processes": "too few values (1 per round and side)",
        "measurements": "too few values (1 per process)",
    }
    parts = []
    for name, s, with_ in (
        ("rounds", lv.round_s, lv.round_with),
        ("processes", lv.process_s, lv.process_with),
        ("measurements", lv.measurement_s, ""),
    ):
        label = f"{name} (with {with_})" if with_ else name
        parts.append(f"{name}: {few[name]}" if s is None else f"{label} s={s:.3f}")
    n = lv.note if lv.measurements_per_process is None else str(lv.measurements_per_process)
    return f"levels {lv.case} {lv.metric}: {', '.join(parts)} -> measurements per process: {n}"
