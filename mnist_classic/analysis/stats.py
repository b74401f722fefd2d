"""Statistics shared by compare, report and ab: interval estimates and the exact McNemar test."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["accuracy_interval", "expected_max", "log_ratio_interval", "mcnemar_exact", "relative_spread"]
__all__ += ["wilson_interval"]


def expected_max(scores: ArrayLike, n_max: int | None = None) -> np.ndarray:
    """Expected best validation score after n = 1..n_max candidates drawn at random (Dodge et al., EMNLP 2019).

    The n draws are with replacement from the empirical distribution of the
    ``scores`` of the candidates scored, as in the paper: with the scores
    sorted, ``E[max_n] = sum_i v_(i) * ((i / N)^n - ((i - 1) / N)^n)``. Written
    by hand: the formula is one line, and no maintained library ships it.

    Parameters
    ----------
    scores : array-like
        Validation scores of the N candidates (NaN ignored).
    n_max : int or None, default=None
        The largest budget, N by default.

    Returns
    -------
    numpy.ndarray
        ``n_max`` values, the expected maximum for n = 1, 2, ..., n_max.

    Examples
    --------
    >>> expected_max([0.5, 0.7]).round(3).tolist()   # one draw: the mean; two: 0.7 unless both draws are 0.5
    [0.6, 0.65]
    """
    v = np.sort(np.asarray(scores, dtype=float))
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.full(n_max or 0, np.nan)
    n_max = v.size if n_max is None else n_max
    cdf = np.arange(v.size + 1) / v.size  # (i / N) for i = 0..N
    n = np.arange(1, n_max + 1)[:, None]
    weights = cdf[1:] ** n - cdf[:-1] ** n
    return np.asarray(weights @ v, dtype=float)


def relative_spread(x: ArrayLike) -> float:
    """(max - min) / median of the finite values of ``x``; 0 with fewer than two or a median <= 0.

    Examples
    --------
    >>> relative_spread([9.0, 10.0, 11.0])
    0.2
    """
    a = np.asarray(x, dtype=float)
    a = a[np.isfinite(a)]
    if a.size < 2 or not np.median(a) > 0:
        return 0.0
    return float((a.max() - a.min()) / np.median(a))


def wilson_interval(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``correct / n``.

    Examples
    --------
    >>> lo, hi = wilson_interval(9837, 10000)
    >>> round(lo, 4), round(hi, 4)
    (0.981, 0.986)
    """
    from scipy.stats import norm

    if n <= 0:
        return (math.nan, math.nan)
    z = float(norm.ppf(0.5 + confidence / 2))
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` and ``c`` discordant pairs (1.0 when none)."""
    from scipy.stats import binomtest

    if b + c == 0:
        return 1.0
    return float(binomtest(min(b, c), b + c, 0.5).pvalue)


def accuracy_interval(accuracies: ArrayLike, n_test: int, confidence: float = 0.95) -> tuple[float, float, str]:
    """A confidence interval for the mean accuracy of one case's repeats.

    Parameters
    ----------
    accuracies : array-like of float
        The accuracy (fraction) of each repeat; at least one.
    n_test : int
        Test images each accuracy was measured on.
    confidence : float, default=0.95

    Returns
    -------
    low, high : float
    method : {"Wilson", "t"}
        ``Wilson`` (score interval on ``n_test`` images) for one repeat or
        repeats with equal accuracies, else ``t`` (Student, across repeats).

    Examples
    --------
    >>> lo, hi, how = accuracy_interval([0.9837], 10000)
    >>> f"{100 * lo:.2f} {100 * hi:.2f} {how}"
    '98.10 98.60 Wilson'
    """
    acc = np.asarray(accuracies, dtype=float)
    if acc.size == 0 or n_test < 1:
        msg = f"The 'accuracies' parameter must hold at least one value and 'n_test' be >= 1. Got {acc.size}, {n_test}."
        raise ValueError(msg)
    mean = float(acc.mean())
    if acc.size == 1 or float(np.ptp(acc)) == 0.0:
        return (*wilson_interval(round(mean * n_test), n_test, confidence), "Wilson")
    from scipy.stats import t

    half = float(t.ppf(0.5 + confidence / 2, acc.size - 1)) * float(acc.std(ddof=1)) / math.sqrt(acc.size)
    return max(0.0, mean - half), min(1.0, mean + half), "t"


def log_ratio_interval(ratios: ArrayLike, confidence: float = 0.95) -> tuple[float, float, float]:
    """The geometric mean of ``ratios`` and its t interval on the logs: ``(mean, low, high)``.

    One ratio gives no interval (``nan`` bounds).

    Examples
    --------
    >>> m, lo, hi = log_ratio_interval([1.5, 1.5, 1.5])
    >>> round(m, 6), round(lo, 6), round(hi, 6)
    (1.5, 1.5, 1.5)
    >>> m, lo, hi = log_ratio_interval([0.9, 1.1, 1.0, 1.05])
    >>> lo < 1 < hi
    True
    """
    from scipy.stats import t

    logs = np.log(np.asarray(ratios, dtype=float))
    mean = float(logs.mean())
    if logs.size < 2:
        return math.exp(mean), math.nan, math.nan
    half = float(t.ppf(0.5 + confidence / 2, logs.size - 1)) * float(logs.std(ddof=1)) / math.sqrt(logs.size)
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)
