"""k methods over N datasets (Demšar 2006; Benavoli, Corani & Mangili 2016): ranks, Friedman, Nemenyi, Holm, Wilcoxon.

scipy and statsmodels give the distributions, the tie-corrected Friedman test, the Wilcoxon
signed-rank test and the multiple-test corrections; what they lack is written here, each
checked against Demšar's worked example in the tests: Friedman's chi-square as Demšar writes it
(no tie correction), the Iman-Davenport F, Nemenyi's critical difference and the z statistics
of the mean-rank comparisons against a control.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CORRECTIONS",
    "DatasetsResult",
    "adjust",
    "average_ranks",
    "compare_datasets",
    "friedman_demsar",
    "groups_within",
    "iman_davenport",
    "nemenyi_cd",
    "nemenyi_q",
]

#: What ``--correction`` accepts, and statsmodels' ``multipletests`` method for each.
CORRECTIONS: dict[str, str] = {
    "holm": "holm",
    "bonferroni": "bonferroni",
    "hochberg": "simes-hochberg",
    "hommel": "hommel",
    "fdr_bh": "fdr_bh",
    "none": "none",
}


def adjust(pvalues: Any, alpha: float, correction: str = "holm") -> tuple[np.ndarray, np.ndarray]:
    """Adjusted p-values and rejections of a family of tests (statsmodels ``multipletests``).

    Examples
    --------
    >>> adj, reject = adjust([0.0156927678567521, 0.01916976526997524, 0.6084445067059205], 0.05)
    >>> [round(float(p), 4) for p in adj], reject.tolist()
    ([0.0471, 0.0471, 0.6084], [True, True, False])
    """
    p = np.asarray(pvalues, dtype=float)
    if correction not in CORRECTIONS:
        msg = f"The 'correction' parameter must be one of {', '.join(CORRECTIONS)}. Got {correction!r} instead."
        raise ValueError(msg)
    if p.size == 0:
        return p, np.zeros(0, dtype=bool)
    if correction == "none":
        return p, p <= alpha
    from statsmodels.stats.multitest import multipletests

    reject, adjusted, _, _ = multipletests(p, alpha=alpha, method=CORRECTIONS[correction])
    return np.asarray(adjusted, dtype=float), np.asarray(reject, dtype=bool)


def average_ranks(scores: pd.DataFrame, *, higher_is_better: bool = True) -> pd.Series:
    """Each method's mean rank over the datasets (rows): rank 1 is the best; ties share the mean rank.

    Examples
    --------
    >>> t = pd.DataFrame({"a": [0.9, 0.8], "b": [0.8, 0.8], "c": [0.7, 0.9]})
    >>> average_ranks(t).round(2).tolist()
    [1.75, 2.25, 2.0]
    """
    ranks = scores.rank(axis=1, ascending=not higher_is_better, method="average")
    return ranks.mean(axis=0)


def friedman_demsar(mean_ranks: Any, n_datasets: int) -> tuple[float, float]:
    """Friedman's chi-square from average ranks as Demšar (2006, eq. in 3.2.2) writes it (no tie correction), p.

    chi2_F = 12 N / (k (k + 1)) * (sum_j R_j^2 - k (k + 1)^2 / 4), on k - 1 degrees of freedom.

    Examples
    --------
    >>> chi2, p = friedman_demsar([44 / 14, 28 / 14, 40.5 / 14, 27.5 / 14], 14)
    >>> round(chi2, 2), round(p, 4)
    (9.28, 0.0258)
    """
    from scipy.stats import chi2

    r = np.asarray(mean_ranks, dtype=float)
    k, n = r.size, n_datasets
    stat = 12.0 * n / (k * (k + 1)) * (float(np.sum(r**2)) - k * (k + 1) ** 2 / 4.0)
    stat = max(stat, 0.0)
    return stat, float(chi2.sf(stat, k - 1))


def iman_davenport(chi2_f: float, k: int, n_datasets: int) -> tuple[float, float, tuple[int, int]]:
    """Iman and Davenport's F from Friedman's chi-square: F, p and its (k - 1, (k - 1)(N - 1)) degrees of freedom.

    F_F = (N - 1) chi2_F / (N (k - 1) - chi2_F); infinite (p = 0) when every dataset ranks the methods alike.

    Examples
    --------
    >>> f, p, df = iman_davenport(9.278571428571437, 4, 14)
    >>> round(f, 2), round(p, 4), df
    (3.69, 0.0198, (3, 39))
    """
    from scipy.stats import f as f_dist

    n = n_datasets
    df = (k - 1, (k - 1) * (n - 1))
    denom = n * (k - 1) - chi2_f
    if denom <= 0:
        return math.inf, 0.0, df
    stat = (n - 1) * chi2_f / denom
    return stat, float(f_dist.sf(stat, *df)), df


def nemenyi_q(k: int, alpha: float) -> float:
    """Nemenyi's q_alpha: the studentized range's 1 - alpha quantile for k groups, infinite d.o.f., over sqrt(2).

    Examples
    --------
    >>> round(nemenyi_q(4, 0.05), 3), round(nemenyi_q(4, 0.10), 3)
    (2.569, 2.291)
    """
    from scipy.stats import studentized_range

    return float(studentized_range.ppf(1 - alpha, k, np.inf)) / math.sqrt(2)


def nemenyi_cd(k: int, n_datasets: int, alpha: float) -> float:
    """Nemenyi's critical difference of average ranks: q_alpha sqrt(k (k + 1) / (6 N)).

    Examples
    --------
    >>> round(nemenyi_cd(4, 14, 0.05), 2), round(nemenyi_cd(4, 14, 0.10), 2)
    (1.25, 1.12)
    """
    return nemenyi_q(k, alpha) * math.sqrt(k * (k + 1) / (6.0 * n_datasets))


def groups_within(order: list[str], differ: Any) -> list[list[str]]:
    """Maximal runs of ``order`` (best first) in which no pair differs: ``differ(a, b)`` says whether a pair does.

    The bars of a CD diagram: each run is as long as it can be, and a run inside another is left out.

    Examples
    --------
    >>> r = {"a": 1.0, "b": 1.5, "c": 3.0}
    >>> groups_within(["a", "b", "c"], lambda x, y: abs(r[x] - r[y]) > 1.0)
    [['a', 'b'], ['c']]
    """
    runs: list[list[str]] = []
    for i in range(len(order)):
        j = i
        while j + 1 < len(order) and not any(differ(order[m], order[j + 1]) for m in range(i, j + 1)):
            j += 1
        run = order[i : j + 1]
        if not any(set(run) <= set(r) for r in runs):
            runs.append(run)
    return runs


@dataclass
class DatasetsResult:
    """Every figure of the many-datasets comparison (see :func:`compare_datasets`); ``to_dict`` is the JSON."""

    methods: list[str]
    datasets: list[str]
    scores: pd.DataFrame
    ranks: pd.DataFrame
    mean_ranks: dict[str, float]
    alpha: float
    correction: str
    higher_is_better: bool
    friedman_chi2: float
    friedman_p: float
    friedman_chi2_tie_corrected: float | None
    friedman_p_tie_corrected: float | None
    iman_davenport_f: float
    iman_davenport_p: float
    iman_davenport_df: tuple[int, int]
    nemenyi_q: float
    cd: float
    nemenyi_pairs: list[dict[str, Any]]
    nemenyi_groups: list[list[str]]
    control: str | None
    versus_control: list[dict[str, Any]]
    bonferroni_dunn_cd: float | None
    wilcoxon: list[dict[str, Any]]
    wilcoxon_groups: list[list[str]]
    too_few: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``rank`` for several datasets (keys documented in docs/claims.md)."""
        return {
            "kind": "datasets",
            "methods": self.methods,
            "datasets": self.datasets,
            "alpha": self.alpha,
            "correction": self.correction,
            "higher_is_better": self.higher_is_better,
            "scores": {m: [_num(v) for v in self.scores[m]] for m in self.methods},
            "ranks": {m: [_num(v) for v in self.ranks[m]] for m in self.methods},
            "average_ranks": {m: _num(v) for m, v in self.mean_ranks.items()},
            "friedman": {
                "chi2": _num(self.friedman_chi2),
                "df": len(self.methods) - 1,
                "p": _num(self.friedman_p),
                "chi2_tie_corrected": _num(self.friedman_chi2_tie_corrected),
                "p_tie_corrected": _num(self.friedman_p_tie_corrected),
            },
            "iman_davenport": {
                "f": _num(self.iman_davenport_f),
                "df": list(self.iman_davenport_df),
                "p": _num(self.iman_davenport_p),
            },
            "nemenyi": {
                "q_alpha": _num(self.nemenyi_q),
                "cd": _num(self.cd),
                "pairs": self.nemenyi_pairs,
                "groups": self.nemenyi_groups,
            },
            "control": self.control,
            "versus_control": self.versus_control,
            "bonferroni_dunn_cd": _num(self.bonferroni_dunn_cd),
            "wilcoxon": {"pairs": self.wilcoxon, "groups": self.wilcoxon_groups},
            "too_few": self.too_few,
            "notes": self.notes,
        }


def _num(value: Any) -> Any:
    """A JSON-safe number: floats rounded to 10 significant digits, inf and nan as strings."""
    if value is None:
        return None
    v = float(value)
    if math.isnan(v) or math.isinf(v):
        return str(v)
    return float(f"{v:.10g}")


def _signed_rank_sums(d: np.ndarray) -> tuple[float, float]:
    """Wilcoxon's R+ and R- (a - b > 0 and < 0), zero differences' ranks split evenly (Demšar 2006, 3.1.3)."""
    from scipy.stats import rankdata

    ranks = rankdata(np.abs(d))
    zeros = float(ranks[d == 0].sum()) / 2
    return float(ranks[d > 0].sum()) + zeros, float(ranks[d < 0].sum()) + zeros


def _too_few(k: int, n: int, alpha: float, cd: float) -> str | None:
    """One line when N datasets are too few for the tests to reach ``alpha``, saying what would be needed."""
    parts = []
    best_wilcoxon = 2.0 ** (1 - n)  # exact two-sided p when every difference has the same sign
    if best_wilcoxon > alpha:
        need = next(m for m in range(n, 64) if 2.0 ** (1 - m) <= alpha)
        parts.append(
            f"a pairwise Wilcoxon test over {n} datasets cannot go below p = {best_wilcoxon:.3g} "
            f"(needs {need} datasets for alpha {alpha:g})"
        )
    if cd >= k - 1:  # the largest possible difference of average ranks is k - 1
        need = math.ceil(nemenyi_q(k, alpha) ** 2 * k * (k + 1) / (6.0 * (k - 1) ** 2) + 1e-9)
        while nemenyi_cd(k, need, alpha) >= k - 1:
            need += 1
        parts.append(
            f"the Nemenyi CD {cd:.2f} is not below the largest possible rank difference {k - 1} (needs {need})"
        )
    if not parts:
        return None
    return f"too few datasets ({n} for {k} methods): " + "; ".join(parts)


def compare_datasets(
    scores: pd.DataFrame,
    *,
    alpha: float = 0.05,
    control: str | None = None,
    correction: str = "holm",
    higher_is_better: bool = True,
) -> DatasetsResult:
    """Compare k methods over N datasets from a wide table of scores (rows datasets, columns methods).

    Parameters
    ----------
    scores : pandas.DataFrame
        One row per dataset, one column per method, every cell a number (Friedman needs complete blocks).
    alpha : float, default=0.05
    control : str or None, default=None
        A method to compare every other against (z on the average ranks, Demšar 2006 section 3.2.2).
    correction : str, default="holm"
        How the p-values of a family are adjusted (:data:`CORRECTIONS`).
    higher_is_better : bool, default=True
        Rank 1 goes to the highest score (accuracy, AUC) or, when False, the lowest (times, errors).

    Returns
    -------
    DatasetsResult

    Raises
    ------
    ValueError
        Fewer than two methods or datasets, an empty cell, ``control`` not a method, or ``alpha`` outside (0, 1).
    """
    from scipy.stats import friedmanchisquare, norm, wilcoxon

    methods = [str(c) for c in scores.columns]
    if len(methods) < 2:
        msg = f"Ranking needs at least two methods (cases). Got {len(methods)}: {', '.join(methods) or 'none'}."
        raise ValueError(msg)
    if scores.shape[0] < 2:
        msg = f"Ranking over datasets needs at least two datasets. Got {scores.shape[0]}."
        raise ValueError(msg)
    missing = [f"{m} on {d}" for d in scores.index for m in methods if pd.isna(scores.loc[d, m])]
    if missing:
        msg = f"Friedman's test needs every method on every dataset; missing: {', '.join(missing)}"
        raise ValueError(msg)
    if control is not None and control not in methods:
        msg = f"The 'control' parameter must be one of the methods ({', '.join(methods)}). Got {control!r} instead."
        raise ValueError(msg)
    if not 0 < alpha < 1:
        msg = f"The 'alpha' parameter must be in (0, 1). Got {alpha!r} instead."
        raise ValueError(msg)
    scores = scores.astype(float)
    scores.columns = methods
    k, n = len(methods), scores.shape[0]
    ranks = scores.rank(axis=1, ascending=not higher_is_better, method="average")
    mean = ranks.mean(axis=0)
    chi2_f, p_f = friedman_demsar(mean.to_numpy(), n)
    tie_chi2 = tie_p = None
    if k >= 3 and not bool((ranks.nunique(axis=1) == 1).all()):
        res = friedmanchisquare(*(scores[m].to_numpy() for m in methods))
        tie_chi2, tie_p = float(res.statistic), float(res.pvalue)
    f_f, p_ff, df = iman_davenport(chi2_f, k, n)
    q = nemenyi_q(k, alpha)
    cd = nemenyi_cd(k, n, alpha)
    order = sorted(methods, key=lambda m: (mean[m], methods.index(m)))
    pairs = [
        {
            "a": a,
            "b": b,
            "rank_difference": _num(abs(mean[a] - mean[b])),
            "significant": bool(abs(mean[a] - mean[b]) > cd),
        }
        for i, a in enumerate(order)
        for b in order[i + 1 :]
    ]
    nemenyi_groups = groups_within(order, lambda a, b: abs(mean[a] - mean[b]) > cd)
    se = math.sqrt(k * (k + 1) / (6.0 * n))
    versus: list[dict[str, Any]] = []
    bd_cd = None
    if control is not None:
        # Bonferroni-Dunn (Demšar 2006, 3.2.2): the CD for k - 1 comparisons with a control
        bd_cd = float(norm.isf(alpha / (2 * (k - 1)))) * se
        others = [m for m in order if m != control]
        z = [(mean[control] - mean[m]) / se for m in others]
        p = [float(2 * norm.sf(abs(v))) for v in z]
        adj, rej = adjust(p, alpha, correction)
        versus = [
            {"method": m, "z": _num(zv), "p": _num(pv), "p_adjusted": _num(pa), "significant": bool(r)}
            for m, zv, pv, pa, r in zip(others, z, p, adj, rej, strict=True)
        ]
        versus.sort(key=lambda d: d["p"])
    w_pairs = []
    for i, a in enumerate(order):
        for b in order[i + 1 :]:
            d = scores[a].to_numpy() - scores[b].to_numpy()
            if np.all(d == 0):
                stat, pv = 0.0, 1.0
            else:
                # zsplit: zero differences split between R+ and R- as Demšar (2006, 3.1.3) does
                res = wilcoxon(scores[a], scores[b], zero_method="zsplit")
                stat, pv = float(res.statistic), float(res.pvalue)
            r_plus, r_minus = _signed_rank_sums(d)
            wins, losses = int(np.sum(d > 0)), int(np.sum(d < 0))
            if not higher_is_better:
                wins, losses = losses, wins
            w_pairs.append(
                {
                    "a": a,
                    "b": b,
                    "statistic": _num(stat),
                    "r_plus": _num(r_plus),
                    "r_minus": _num(r_minus),
                    "p": _num(pv),
                    "wins_a": wins,
                    "losses_a": losses,
                    "ties": int(np.sum(d == 0)),
                }
            )
    adj, rej = adjust([w["p"] for w in w_pairs], alpha, correction)
    for w, pa, r in zip(w_pairs, adj, rej, strict=True):
        w["p_adjusted"] = _num(pa)
        w["significant"] = bool(r)
    sig = {frozenset((w["a"], w["b"])) for w in w_pairs if w["significant"]}
    w_groups = groups_within(order, lambda a, b: frozenset((a, b)) in sig)
    notes = []
    if n <= 10 or k <= 5:
        notes.append(
            "Friedman's chi-square is an approximation that Demšar (2006) trusts for N > 10 and k > 5; "
            "the Iman-Davenport F is the better of the two"
        )
    return DatasetsResult(
        methods=methods,
        datasets=[str(d) for d in scores.index],
        scores=scores,
        ranks=ranks,
        mean_ranks={m: float(mean[m]) for m in methods},
        alpha=alpha,
        correction=correction,
        higher_is_better=higher_is_better,
        friedman_chi2=chi2_f,
        friedman_p=p_f,
        friedman_chi2_tie_corrected=tie_chi2,
        friedman_p_tie_corrected=tie_p,
        iman_davenport_f=f_f,
        iman_davenport_p=p_ff,
        iman_davenport_df=df,
        nemenyi_q=q,
        cd=cd,
        nemenyi_pairs=pairs,
        nemenyi_groups=nemenyi_groups,
        control=control,
        versus_control=versus,
        bonferroni_dunn_cd=bd_cd,
        wilcoxon=w_pairs,
        wilcoxon_groups=w_groups,
        too_few=_too_few(k, n, alpha, cd),
        notes=notes,
    )
