"""The verdict on one speed metric from its paired values: one ratio NEW/BASE per round, judged together.

The ratio shown is the geometric mean of the rounds' ratios, with a Student t
interval on the log ratios mapped back with ``exp``; the verdict is
:func:`.decide.decide`'s on the test interval (Bonferroni over the metrics
judged together) and the ``1 - 2 alpha`` equivalence interval. :mod:`.paired`
gathers the values of every metric of an ``ab`` run and calls this.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..stats import log_ratio_interval
from .decide import decide_time, resolved, rounds_needed, under_resolution

__all__ = ["judge_ratios", "untested_by_resolution"]


def judge_ratios(
    base: Sequence[float],
    new: Sequence[float],
    gate: float,
    confidence: float,
    resolution: float = 0.0,
    family: int = 1,
    margin: float | None = None,
) -> dict[str, Any]:
    """The verdict on one metric from its paired values (one per round, both sides positive).

    The interval returned is the ``confidence`` interval; the verdict's test is at
    ``1 - (1 - confidence) / family`` (Bonferroni over ``family`` metrics judged together); the
    equivalence test's (``same``) is the ``1 - 2 (1 - confidence)`` interval inside ``[1/margin, margin]``
    (``margin`` None: the gate). Several metrics all called ``same`` need no correction (an
    intersection-union test). A difference under ``resolution`` seconds is ``same``
    (:func:`.decide.under_resolution`), except a ``worse`` or ``better`` of a metric longer than the
    resolution (:func:`.decide.resolved`): the resolution never hides a significant change beyond the gate
    of a 0.65 s fit, only the ratios of times too short to judge.

    Returns the fields ``rounds, base, new, ratio, ci, verdict, note, ratios`` of a :class:`PairedRow`.

    Examples
    --------
    >>> judge_ratios([1.0, 1.2, 0.9], [1.5, 1.8, 1.35], gate=1.1, confidence=0.95)["verdict"]
    'worse'
    >>> judge_ratios([1.0, 1.2, 0.9], [1.5, 1.3, 1.2], gate=1.6, confidence=0.95)["verdict"]  # too few rounds
    'unknown'
    >>> judge_ratios([1.0, 1.2, 0.9, 1.1], [1.01, 1.2, 0.9, 1.1], gate=1.1, confidence=0.95)["verdict"]
    'same'
    """
    b, n = np.asarray(base, dtype=float), np.asarray(new, dtype=float)
    ratios = n / b
    mean, lo, hi = log_ratio_interval(ratios, confidence)
    _, tlo, thi = log_ratio_interval(ratios, 1 - (1 - confidence) / max(family, 1))
    gb, gn, (elo, ehi) = _equivalence(b, n, confidence)
    m = gate if margin is None else margin
    verdict, note = "unknown", ""
    if len(ratios) < 2:
        note = "needs 2 rounds or more"
    elif bool(np.all(ratios == 1)):
        verdict, note = "same", "identical in every round"
    else:
        verdict, note = decide_time(mean, (tlo, thi), (elo, ehi), (gb, gn), resolution, gate=gate, margin=m)
        if verdict == "same" and not note:
            note = f"interval inside the margin (x{m:g})"
        elif verdict == "unknown":
            note = _undecided(mean, (lo, hi), (tlo, thi), len(ratios), gate, m, family)
    return {
        "rounds": len(ratios),
        "base": gb,
        "new": gn,
        "ratio": mean,
        "ci": None if math.isnan(lo) else (lo, hi),
        "equivalence_ci": None if math.isnan(elo) else (elo, ehi),
        "verdict": verdict,
        "note": note,
        "ratios": [float(x) for x in ratios],
    }


def _equivalence(b: np.ndarray, n: np.ndarray, confidence: float) -> tuple[float, float, tuple[float, float]]:
    """The geometric means of both sides and the ``1 - 2 (1 - confidence)`` interval of their ratio."""
    _, elo, ehi = log_ratio_interval(n / b, 1 - 2 * (1 - confidence))
    return float(np.exp(np.log(b).mean())), float(np.exp(np.log(n).mean())), (elo, ehi)


def untested_by_resolution(base: Sequence[float], new: Sequence[float], confidence: float, resolution: float) -> bool:
    """Whether :func:`judge_ratios` calls these values ``same`` by the resolution, whatever the test says.

    The difference lies under ``resolution`` seconds (:func:`.decide.under_resolution`) and the metric
    is shorter than it (not :func:`.decide.resolved`): such a metric is no test, and is left out of
    the Bonferroni family; a longer one may still be worse, and is counted.

    Examples
    --------
    >>> untested_by_resolution([0.010, 0.011, 0.010], [0.012, 0.012, 0.013], 0.95, resolution=0.05)
    True
    >>> untested_by_resolution([0.65, 0.64, 0.66], [0.66, 0.65, 0.67], 0.95, resolution=0.05)  # may be worse
    False
    >>> untested_by_resolution([1.0, 1.1, 1.0], [1.2, 1.2, 1.3], 0.95, resolution=0.01)
    False
    """
    b, n = np.asarray(base, dtype=float), np.asarray(new, dtype=float)
    gb, gn, interval = _equivalence(b, n, confidence)
    return under_resolution(gb, gn, interval, resolution) and not resolved(gb, resolution)


def _undecided(
    mean: float,
    ci: tuple[float, float],
    test: tuple[float, float],
    rounds: int,
    gate: float,
    margin: float,
    family: int,
) -> str:
    """What would decide an ``unknown`` paired verdict: about how many rounds, else a quieter machine or counts."""
    if (mean > gate or mean < 1 / gate) and not ci[0] <= 1 <= ci[1] and family > 1:
        why = f"significant alone, not among {family} metrics (Bonferroni)"
    elif mean > gate or mean < 1 / gate:
        why = f"beyond the gate (x{gate:g}), not significant"
    else:
        why = f"interval wider than the margin (x{margin:g})"
    need = rounds_needed(mean, test, rounds, gate, margin)
    if need is None:
        return f"{why}: more rounds will not settle it soon; a quieter machine or --measure instructions"
    return f"{why}: about {need} rounds would decide"
