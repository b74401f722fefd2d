"""Two algorithms over resampled splits of one dataset: 5x2cv t and F, the corrected resampled t, P(A > B).

Neither scipy nor statsmodels has these, so they are written here from their papers (and checked
against mlxtend's implementation in the tests):

- Dietterich (1998): the 5x2cv paired t test, t = p_1^(1) / sqrt(s^2 mean), on 5 d.o.f.;
- Alpaydin (1999): the combined 5x2cv F test, F = sum p_i^(j)^2 / (2 sum s_i^2), on (10, 5) d.o.f.;
- Nadeau & Bengio (2003): the corrected resampled t test over J resplits,
  t = mean(d) / sqrt((1 / J + n_test / n_train) var(d)), on J - 1 d.o.f.;
- Bouthillier et al. (2021): P(A > B) over paired splits with a percentile-bootstrap interval, and the
  number of splits that Noether's (1987) sample-size rule needs to tell P(A > B) = gamma from 1/2.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["corrected_resampled_t", "five_by_two_f", "five_by_two_t", "probability_better", "splits_needed"]


def _five_by_two(differences: Any) -> np.ndarray:
    d = np.asarray(differences, dtype=float)
    if d.shape != (5, 2):
        msg = f"The 5x2cv tests need a 5 x 2 array of differences (replication x fold). Got shape {d.shape} instead."
        raise ValueError(msg)
    return d


def _variances(d: np.ndarray) -> np.ndarray:
    mean = d.mean(axis=1, keepdims=True)
    return np.sum((d - mean) ** 2, axis=1)  # s_i^2 = (p_i^(1) - mean_i)^2 + (p_i^(2) - mean_i)^2


def five_by_two_t(differences: Any) -> tuple[float, float]:
    """Dietterich's 5x2cv paired t test: ``(t, two-sided p)`` on 5 degrees of freedom.

    Parameters
    ----------
    differences : array-like, shape (5, 2)
        The score difference A - B on fold j of replication i (``differences[0, 0]`` is p_1^(1)).

    Examples
    --------
    >>> d = [[0.02, 0.01], [0.015, 0.02], [0.01, 0.012], [0.02, 0.018], [0.011, 0.016]]
    >>> t, p = five_by_two_t(d)
    >>> round(t, 3), round(p, 4)
    (5.032, 0.004)
    """
    from scipy.stats import t as t_dist

    d = _five_by_two(differences)
    var = float(np.mean(_variances(d)))
    if var == 0:
        return (0.0, 1.0) if d[0, 0] == 0 else (math.copysign(math.inf, d[0, 0]), 0.0)
    t = float(d[0, 0] / math.sqrt(var))
    return t, float(2 * t_dist.sf(abs(t), 5))


def five_by_two_f(differences: Any) -> tuple[float, float]:
    """Alpaydin's combined 5x2cv F test: ``(F, p)`` on (10, 5) degrees of freedom.

    Examples
    --------
    >>> d = [[0.02, 0.01], [0.015, 0.02], [0.01, 0.012], [0.02, 0.018], [0.011, 0.016]]
    >>> f, p = five_by_two_f(d)
    >>> round(f, 2), round(p, 4)
    (15.63, 0.0036)
    """
    from scipy.stats import f as f_dist

    d = _five_by_two(differences)
    denom = 2 * float(np.sum(_variances(d)))
    if denom == 0:
        return (0.0, 1.0) if not np.any(d) else (math.inf, 0.0)
    f = float(np.sum(d**2)) / denom
    return f, float(f_dist.sf(f, 10, 5))


def corrected_resampled_t(differences: Any, n_train: int, n_test: int) -> tuple[float, float]:
    """Nadeau and Bengio's corrected resampled t test over J resplits: ``(t, two-sided p)`` on J - 1 d.o.f.

    Examples
    --------
    >>> t, p = corrected_resampled_t([0.01, 0.012, 0.008, 0.011, 0.009], 2000, 1000)
    >>> round(t, 2), round(p, 4)
    (7.56, 0.0016)
    """
    from scipy.stats import t as t_dist

    d = np.asarray(differences, dtype=float)
    if d.size < 2:
        msg = f"The corrected resampled t test needs at least two splits. Got {d.size}."
        raise ValueError(msg)
    var = float(d.var(ddof=1))
    mean = float(d.mean())
    if var == 0:
        return (0.0, 1.0) if mean == 0 else (math.copysign(math.inf, mean), 0.0)
    t = mean / math.sqrt((1.0 / d.size + n_test / n_train) * var)
    return t, float(2 * t_dist.sf(abs(t), d.size - 1))


def probability_better(
    a: Any, b: Any, *, confidence: float = 0.95, n_resamples: int = 10_000, seed: int = 0
) -> tuple[float, float, float]:
    """P(A > B) over paired splits (ties count one half) and its percentile-bootstrap interval.

    Examples
    --------
    >>> p, lo, hi = probability_better([0.90, 0.91, 0.92, 0.93], [0.89, 0.90, 0.93, 0.92])
    >>> p, lo <= p <= hi
    (0.75, True)
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    wins = (x > y).astype(float) + 0.5 * (x == y)
    p = float(wins.mean())
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, wins.size, size=(n_resamples, wins.size))
    boot = wins[idx].mean(axis=1)
    lo, hi = np.quantile(boot, [(1 - confidence) / 2, (1 + confidence) / 2])
    return p, float(lo), float(hi)


def splits_needed(alpha: float = 0.05, power: float = 0.95, gamma: float = 0.75) -> int:
    """Splits needed to tell P(A > B) = ``gamma`` from 1/2 at ``alpha`` with ``power`` (Noether 1987).

    Bouthillier et al. (2021) use this rule with gamma = 0.75 and alpha = beta = 0.05: 29 splits.

    Examples
    --------
    >>> splits_needed(0.05, 0.95), splits_needed(0.05, 0.8)
    (29, 17)
    """
    from scipy.stats import norm

    z = float(norm.ppf(1 - alpha)) + float(norm.ppf(power))
    return math.ceil(z * z / (6 * (gamma - 0.5) ** 2))
