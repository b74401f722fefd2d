"""k cases on one test set: Cochran's Q over their paired correctness, then exact McNemar per pair with a correction.

Dietterich (1998): when each algorithm can be run once, McNemar's test on the paired per-image
correctness is the test with an acceptable type I error. With k cases, Cochran's Q (statsmodels)
asks first whether any differ; the pairs (or each case against a control) then get the exact
McNemar test of :mod:`mnist_classic.analysis.stats` and adjusted p-values (Holm by default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..stats import mcnemar_exact, wilson_interval
from .datasets import _num, adjust, groups_within

__all__ = ["OneTestSetResult", "compare_one_test_set"]


@dataclass
class OneTestSetResult:
    """Every figure of the one-test-set comparison (see :func:`compare_one_test_set`); ``to_dict`` is the JSON."""

    cases: list[str]
    n_test: int
    accuracy: dict[str, float]
    interval: dict[str, tuple[float, float]]
    alpha: float
    correction: str
    cochran_q: float
    cochran_df: int
    cochran_p: float
    control: str | None
    pairs: list[dict[str, Any]]
    groups: list[list[str]]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``rank`` on one test set (keys documented in docs/claims.md)."""
        return {
            "kind": "one_test_set",
            "cases": self.cases,
            "n_test": self.n_test,
            "alpha": self.alpha,
            "correction": self.correction,
            "accuracy": {c: _num(v) for c, v in self.accuracy.items()},
            "accuracy_interval": {c: [_num(lo), _num(hi)] for c, (lo, hi) in self.interval.items()},
            "cochran_q": {"q": _num(self.cochran_q), "df": self.cochran_df, "p": _num(self.cochran_p)},
            "control": self.control,
            "pairs": self.pairs,
            "groups": self.groups,
            "notes": self.notes,
        }


def compare_one_test_set(
    correct: dict[str, Any],
    *,
    alpha: float = 0.05,
    control: str | None = None,
    correction: str = "holm",
) -> OneTestSetResult:
    """Compare cases by their per-image correctness on one test set.

    Parameters
    ----------
    correct : dict of str to array-like of bool
        Each case's correctness, image by image, on the same test images in the same order.
    alpha : float, default=0.05
    control : str or None, default=None
        Test each case against this one only (k - 1 tests) instead of every pair.
    correction : str, default="holm"
        See :data:`~.datasets.CORRECTIONS`.

    Returns
    -------
    OneTestSetResult
        Cases in order of accuracy (best first); each pair with the discordant counts
        ``a_only`` (images only ``a`` got right) and ``b_only``, its exact McNemar p and adjusted p.

    Raises
    ------
    ValueError
        Fewer than two cases, vectors of different lengths, or ``control`` not a case.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.random(500)
    >>> r = compare_one_test_set({"good": truth < 0.95, "fair": truth < 0.9, "bad": truth < 0.5})
    >>> r.cochran_p < 0.001, [(p["a"], p["b"], p["significant"]) for p in r.pairs][-1]
    (True, ('fair', 'bad', True))
    """
    if len(correct) < 2:
        msg = f"Ranking needs at least two cases. Got {len(correct)}: {', '.join(correct) or 'none'}."
        raise ValueError(msg)
    names = list(correct)
    arrays = {c: np.asarray(v, dtype=bool) for c, v in correct.items()}
    lengths = {c: a.size for c, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        msg = f"The cases were scored on test sets of different sizes: {lengths}"
        raise ValueError(msg)
    if control is not None and control not in arrays:
        msg = f"The 'control' parameter must be one of the cases ({', '.join(names)}). Got {control!r} instead."
        raise ValueError(msg)
    n = next(iter(lengths.values()))
    acc = {c: float(a.mean()) for c, a in arrays.items()}
    order = sorted(names, key=lambda c: (-acc[c], names.index(c)))
    x = np.column_stack([arrays[c] for c in order]).astype(int)
    q, df, p_q = _cochran_q(x)
    if control is None:
        tested = [(a, b) for i, a in enumerate(order) for b in order[i + 1 :]]
    else:
        tested = [(control, b) for b in order if b != control]
    pairs = []
    for a, b in tested:
        a_only = int(np.sum(arrays[a] & ~arrays[b]))
        b_only = int(np.sum(arrays[b] & ~arrays[a]))
        pairs.append(
            {
                "a": a,
                "b": b,
                "difference": _num(acc[a] - acc[b]),
                "a_only": a_only,
                "b_only": b_only,
                "p": _num(mcnemar_exact(a_only, b_only)),
            }
        )
    adj, rej = adjust([d["p"] for d in pairs], alpha, correction)
    for d, pa, r in zip(pairs, adj, rej, strict=True):
        d["p_adjusted"] = _num(pa)
        d["significant"] = bool(r)
    sig = {frozenset((d["a"], d["b"])) for d in pairs if d["significant"]}
    groups = groups_within(order, lambda a, b: frozenset((a, b)) in sig) if control is None else []
    return OneTestSetResult(
        cases=order,
        n_test=n,
        accuracy={c: acc[c] for c in order},
        interval={c: wilson_interval(int(arrays[c].sum()), n) for c in order},
        alpha=alpha,
        correction=correction,
        cochran_q=q,
        cochran_df=df,
        cochran_p=p_q,
        control=control,
        pairs=pairs,
        groups=groups,
    )


def _cochran_q(x: np.ndarray) -> tuple[float, int, float]:
    """Cochran's Q over the columns of a 0/1 matrix (statsmodels); Q = 0, p = 1 when no image splits the cases."""
    from statsmodels.stats.contingency_tables import cochrans_q

    k = x.shape[1]
    row_sums = x.sum(axis=1)
    if not np.any((row_sums > 0) & (row_sums < k)):
        return 0.0, k - 1, 1.0
    res = cochrans_q(x)
    q = float(res.statistic)
    return q, int(res.df), float(res.pvalue) if not math.isnan(float(res.pvalue)) else 1.0
