"""Change points in a benchmark's history: where a time series of one metric steps up or down.

The model is asv's (airspeed velocity, ``asv/step_detect.py``, BSD-3-Clause):
the series is piecewise constant plus noise, and the steps are those of the
fit that minimises

.. math::

   \\sum_{r=1}^{k} \\sum_{i \\in S_r} |y_i - \\mu_r| + \\gamma (k - 1)

over the number of segments ``k``, the segments ``S_r`` (contiguous, each at
least ``min_size`` points) and their levels ``mu_r`` (the segment medians).
The L1 cost makes one outlier cost what it is, not its square, so a single
slow run does not become a pair of steps.

This is our own implementation, not a copy of asv's: the exact optimal
partition by dynamic programming with PELT pruning (Killick, Fearnhead and
Eckley 2012), which is exact and quick for the tens to hundreds of points a
benchmark history has. The penalty ``gamma`` is scaled to the noise, as asv
does, but estimated directly instead of through asv's information criterion:
``gamma = beta * sigma * log(n)``, where ``sigma`` is a robust estimate of the
noise from first differences (a step moves one difference, not their median)
and ``beta`` was calibrated on pure noise with
``benchmarks/changepoint_false_alarms.py``.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["Step", "detect_steps", "noise_scale"]

#: Penalty per step in units of ``sigma * log(n)``. Calibrated with
#: benchmarks/changepoint_false_alarms.py (1,000 series of 20-30 points, 2-5% noise,
#: min_size=2): 0.2% false alarms on pure noise; steps of x1.1, x1.2, x1.5 found
#: in 71%, 99%, 100% of series (beta=2: 2.1% false alarms; beta=4: 0%, x1.1 in 52%).
BETA = 3.0

#: Noise floor relative to the median absolute level, so that a series without
#: noise still has a positive penalty (asv uses the same kind of floor).
_RELATIVE_FLOOR = 1e-3

# Median absolute deviation -> standard deviation for normal noise; and the
# difference of two independent draws has sqrt(2) times their spread.
_MAD_TO_SD = 1.4826
_SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class Step:
    """One change point.

    Attributes
    ----------
    index : int
        Position of the first value after the step.
    before, after : float
        Medians of the segments on either side.
    ratio : float
        ``after / before`` (``inf`` or ``nan`` when ``before`` is 0).
    """

    index: int
    before: float
    after: float
    ratio: float


def _validate(values: ArrayLike) -> np.ndarray:
    try:
        y = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        msg = f"The 'values' parameter of detect_steps must be a 1-D array of numbers. Got {values!r:.80} instead."
        raise ValueError(msg) from None
    if y.ndim != 1:
        msg = f"The 'values' parameter of detect_steps must be a 1-D array of numbers. Got {y.ndim} dimensions instead."
        raise ValueError(msg)
    bad = ~np.isfinite(y)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = (
            "The 'values' parameter of detect_steps must hold finite numbers (drop missing runs first). "
            f"Got {y[i]} at index {i} instead."
        )
        raise ValueError(msg)
    return y


def noise_scale(values: ArrayLike) -> float:
    """Robust estimate of the noise's standard deviation in a piecewise-constant series.

    The median absolute deviation of the first differences, scaled to a
    standard deviation for normal noise: each step moves one difference only,
    so a few steps barely change the estimate. Floored at 0.1% of the median
    absolute level, so a noise-free series still gets a positive scale.

    Parameters
    ----------
    values : array-like of shape (n,)

    Returns
    -------
    float

    Examples
    --------
    >>> round(noise_scale([1.0, 1.0, 1.0, 2.0, 2.0]), 6)  # no noise: the floor
    0.001
    """
    y = _validate(values)
    floor = _RELATIVE_FLOOR * float(np.median(np.abs(y))) if y.size else 0.0
    if y.size < 3:
        return floor
    d = np.diff(y)
    sigma = _MAD_TO_SD * float(np.median(np.abs(d - np.median(d)))) / _SQRT2
    return max(sigma, floor)


def _l1_cost(y: np.ndarray, start: int, stop: int) -> float:
    seg = y[start:stop]
    return float(np.abs(seg - np.median(seg)).sum())


def _sorted_l1_cost(v: list[float]) -> float:
    """Sum of absolute deviations from the median of the sorted values ``v``."""
    m = len(v)
    return sum(v[m - m // 2 :]) - sum(v[: m // 2])


def _optimal_partition(y: np.ndarray, penalty: float, min_size: int) -> list[int]:
    """Segment starts (after the first) of the penalised L1 optimum: PELT."""
    n = y.size
    values = y.tolist()
    # best[t]: optimal cost of y[:t]; last[t]: start of the last segment of that optimum.
    best = [math.inf] * (n + 1)
    best[0] = -penalty  # the first segment pays no penalty
    last = [0] * (n + 1)
    # candidate start s -> the sorted values of y[s:t], and the first t at which s may be dropped
    window: dict[int, list[float]] = {0: []}
    drop: dict[int, float] = {0: math.inf}
    for t in range(1, n + 1):
        for s in [s for s, at in drop.items() if at <= t]:
            del window[s], drop[s]
        for v in window.values():
            bisect.insort(v, values[t - 1])
        admissible = [s for s in window if t - s >= min_size]
        if not admissible:
            continue
        costs = [best[s] + _sorted_l1_cost(window[s]) + penalty for s in admissible]
        i = min(range(len(costs)), key=costs.__getitem__)
        best[t], last[t] = costs[i], admissible[i]
        # PELT: a start s that does worse up to t than the optimum (less the
        # penalty) is beaten, from t + min_size on, by the optimum up to t plus
        # a segment from t (splitting a segment never raises its L1 cost).
        for s, c in zip(admissible, costs, strict=True):
            if c - penalty > best[t]:
                drop[s] = min(drop[s], t + min_size)
        if t <= n - min_size:  # y[t:] can still hold a whole segment
            window[t], drop[t] = [], math.inf
    starts = []
    t = n
    while t > 0:
        s = last[t]
        if s > 0:
            starts.append(s)
        t = s
    return sorted(starts)


def detect_steps(values: ArrayLike, *, penalty: float | None = None, min_size: int = 2) -> list[Step]:
    """Find the steps of a benchmark time series.

    The series (one metric of one case, in run order) is fitted with the
    piecewise-constant function of least L1 error plus ``penalty`` per step;
    the steps of that fit are returned.

    Parameters
    ----------
    values : array-like of shape (n,)
        The series, finite numbers in run order (drop failed runs first).
    penalty : float or None, default=None
        Cost of one step, in the units of ``values``. None: scaled to the
        noise, ``BETA * noise_scale(values) * log(n)``. Larger means fewer steps.
    min_size : int, default=2
        Fewest points in a segment. With 2, one slow run at either end of
        the series is not a step until the next run confirms it: on series of
        20-30 points with 2-5% noise and one outlier, false alarms fall from
        28% (``min_size=1``) to 0.3%, and planted steps are found as often
        (``benchmarks/changepoint_false_alarms.py``).

    Returns
    -------
    list of Step
        In index order; empty for a series shorter than ``2 * min_size``.

    Raises
    ------
    ValueError
        If ``values`` is not 1-D or holds NaN or infinity, ``penalty`` is
        negative or not finite, or ``min_size`` is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> times = np.r_[np.full(12, 1.0), np.full(13, 1.3)] * (1 + 0.03 * rng.standard_normal(25))
    >>> [(s.index, round(s.ratio, 1)) for s in detect_steps(times)]
    [(12, 1.3)]
    >>> detect_steps(np.full(10, 2.0))
    []
    """
    y = _validate(values)
    if isinstance(min_size, bool) or not isinstance(min_size, int | np.integer) or min_size < 1:
        msg = f"The 'min_size' parameter of detect_steps must be an int >= 1. Got {min_size!r} instead."
        raise ValueError(msg)
    min_size = int(min_size)
    n = y.size
    if penalty is None:
        penalty = BETA * noise_scale(y) * math.log(max(n, 2))
    elif not isinstance(penalty, int | float | np.number) or not math.isfinite(penalty) or penalty < 0:
        msg = f"The 'penalty' parameter of detect_steps must be a finite float >= 0 or None. Got {penalty!r} instead."
        raise ValueError(msg)
    if n < 2 * min_size:
        return []
    starts = _optimal_partition(y, float(penalty), min_size)
    bounds = [0, *starts, n]
    levels = [float(np.median(y[a:b])) for a, b in itertools.pairwise(bounds)]
    steps = []
    for i, s in enumerate(starts):
        before, after = levels[i], levels[i + 1]
        steps.append(Step(index=s, before=before, after=after, ratio=_ratio(after, before)))
    return steps


def _ratio(after: float, before: float) -> float:
    if before != 0:
        return after / before
    return math.nan if after == 0 else math.copysign(math.inf, after)
