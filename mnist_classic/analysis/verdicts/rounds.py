"""The rows of ``mnist-classic ab`` grouped as the verdicts read them: case, round, side, process, measurement.

A side's value of a metric in a round is the geometric mean over its
processes (``run_id``) of each process's geometric mean over its measurements
(``repeat``); :mod:`.paired` judges the ratios of those values and
:mod:`.levels` splits their variance by level.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from ...results import ResultsSchemaError
from ..runs import DATA_SHA_COLUMNS, KEY

__all__ = [
    "KEY",
    "Side",
    "all_ok",
    "complete_rounds",
    "first_row",
    "pairs",
    "paired_values",
    "processes",
    "side_value",
    "step_values",
    "value",
]


#: The rows of one side in one round: every measurement of each of its processes, in the order written.
Side = pd.DataFrame


def pairs(frame: pd.DataFrame) -> dict[tuple[Any, ...], dict[int, dict[str, Side]]]:
    """case key -> round -> side -> its rows; checking that no (case, round, side, run_id, repeat) has two rows."""
    ab = frame[frame["side"].isin(["base", "new"]) & frame["ab_round"].notna()]
    if ab.empty:
        msg = "No rows of mnist-classic ab here (the side and ab_round columns are empty): run 'mnist-classic ab'"
        raise ResultsSchemaError(msg)
    for dataset, rows in ab.groupby("dataset"):
        if len(rows[list(DATA_SHA_COLUMNS)].drop_duplicates()) > 1:
            msg = f"The rows of {dataset} used different dataset payloads (sha256 columns): not a pair of sides"
            raise ResultsSchemaError(msg)
    ab = ab.assign(ab_round=ab["ab_round"].astype(int), side=ab["side"].astype(str))
    twice = ab[ab.duplicated([*KEY, "ab_round", "side", "run_id", "repeat"])]
    if not twice.empty:
        row = twice.iloc[0]
        msg = (
            f"Round {row['ab_round']} of {row['pipeline']} n_train={row['n_train']} has two {row['side']} rows "
            f"of run {row['run_id']}, repeat {row['repeat']}: these rows come from more than one ab (give one ab's CSV)"
        )
        raise ResultsSchemaError(msg)
    out: dict[tuple[Any, ...], dict[int, dict[str, Side]]] = {}
    for (*key, _, side), rows in ab.groupby([*KEY, "ab_round", "side"], sort=False, dropna=False):
        out.setdefault(tuple(key), {}).setdefault(int(rows["ab_round"].iloc[0]), {})[str(side)] = rows
    return out


def processes(rows: Side) -> list[Side]:
    """A side's runs in a round, in the order they wrote, each's measurements by ``repeat``."""
    return [g.sort_values("repeat", kind="stable") for _, g in rows.groupby("run_id", sort=False)]


def first_row(rows: Side) -> pd.Series:
    """The first process's first measurement: the row whose predictions are paired."""
    return processes(rows)[0].iloc[0]


def all_ok(rows: Side) -> bool:
    return bool((rows["status"] == "ok").all())


def step_values(row: pd.Series) -> dict[str, float]:
    text = row.get("step_times")
    try:
        steps = json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        return {}
    out = {}
    if isinstance(steps, dict) and len(steps) > 1:  # one step: the same figure as the total
        for name, times in steps.items():
            for phase in ("fit", "predict"):
                value = times.get(phase) if isinstance(times, dict) else None
                if isinstance(value, (int, float)):
                    out[f"{phase}/{name}"] = float(value)
    return out


def value(row: pd.Series, metric: str) -> float | None:
    """One row's positive, finite ``metric`` (a column, or ``fit/<step>``, ``predict/<step>`` in ``step_times``)."""
    v = row.get(metric) if "/" not in metric else step_values(row).get(metric)
    if v is None or not isinstance(v, (int, float, np.number)) or not np.isfinite(v) or v <= 0:
        return None
    return float(v)


def side_value(rows: Side, metric: str) -> float | None:
    """A side's ``metric`` in one round: ``exp(mean over processes of mean over measurements of log x)``.

    One process of one measurement: its value itself. None when any value is missing or not positive.

    Examples
    --------
    >>> rows = pd.DataFrame({"run_id": ["a", "a", "b", "b"], "repeat": [0, 1, 0, 1], "fit_time_s": [1, 4, 3, 3]})
    >>> round(side_value(rows, "fit_time_s"), 6)  # sqrt(geomean(1, 4) * geomean(3, 3)) = sqrt(2 * 3)
    2.44949
    """
    logs = []
    for process in processes(rows):
        values = [value(row, metric) for _, row in process.iterrows()]
        if not values or any(v is None for v in values):
            return None
        if len(rows) == 1:
            return values[0]
        logs.append(float(np.mean(np.log(np.asarray(values, dtype=float)))))
    return float(np.exp(np.mean(logs))) if logs else None


def paired_values(rounds: dict[int, dict[str, Side]], metric: str) -> tuple[list[float], list[float]]:
    """The paired positive values of ``metric`` over the rounds both sides completed."""
    base, new = [], []
    for k in sorted(rounds):
        vb, vn = side_value(rounds[k]["base"], metric), side_value(rounds[k]["new"], metric)
        if vb is not None and vn is not None:
            base.append(vb)
            new.append(vn)
    return base, new


def complete_rounds(rounds: dict[int, dict[str, Side]]) -> dict[int, dict[str, Side]]:
    """The rounds where both sides ran as many processes as the case's most (an interrupted round has fewer)."""
    count = {k: {side: rows["run_id"].nunique() for side, rows in v.items()} for k, v in rounds.items()}
    most = max(n for c in count.values() for n in c.values())
    return {k: v for k, v in rounds.items() if set(v) == {"base", "new"} and set(count[k].values()) == {most}}
