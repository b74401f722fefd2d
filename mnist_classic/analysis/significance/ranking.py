"""The library side of ``mnist-classic rank``: which cases of result rows (or of a table of scores) differ.

Rows are sorted into what each test can use:

- canonical rows (empty ``split``) of one dataset and one test set: :func:`~.onetest.compare_one_test_set`
  on each case's per-image correctness (the predictions sidecar);
- canonical rows over several datasets: :func:`~.datasets.compare_datasets` on each case's mean score per dataset;
- rows of resampled splits (``run --splits``): the 5x2cv t and F tests, or the corrected resampled t test and
  P(A > B), pair by pair, paired by split.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...results import NUMERIC_COLUMNS, row_labels
from .datasets import CORRECTIONS, DatasetsResult, _num, adjust, compare_datasets
from .onetest import OneTestSetResult, compare_one_test_set
from .resampled import corrected_resampled_t, five_by_two_f, five_by_two_t, probability_better, splits_needed

__all__ = [
    "RankResult",
    "canonical_rows",
    "SplitsResult",
    "compare_splits",
    "higher_is_better",
    "rank_rows",
    "rank_table",
    "read_score_table",
    "split_regressions",
]


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is better: accuracy yes; times, memory and instruction counts no."""
    return not (metric.endswith(("_s", "_mb", "_instructions")) or metric in ("n_params",))


@dataclass
class SplitsResult:
    """Pairwise tests over resampled splits of one dataset (``scheme`` ``5x2`` or ``resplit``)."""

    dataset: str
    scheme: str
    n_splits: int
    n_train: int
    n_test: int
    alpha: float
    power: float
    correction: str
    splits_needed: int
    mean: dict[str, float]
    pairs: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """The JSON of one group of resampled splits (keys documented in docs/claims.md)."""
        return {
            "dataset": self.dataset,
            "scheme": self.scheme,
            "n_splits": self.n_splits,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "alpha": self.alpha,
            "power": self.power,
            "correction": self.correction,
            "splits_needed": self.splits_needed,
            "mean": {m: _num(v) for m, v in self.mean.items()},
            "pairs": self.pairs,
        }


@dataclass
class RankResult:
    """What ``rank`` found: one or more of the three analyses, on ``metric``."""

    metric: str
    one_test_set: OneTestSetResult | None = None
    datasets: DatasetsResult | None = None
    splits: list[SplitsResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document ``rank --format json`` prints."""
        return {
            "metric": self.metric,
            "one_test_set": self.one_test_set.to_dict() if self.one_test_set else None,
            "datasets": self.datasets.to_dict() if self.datasets else None,
            "splits": [s.to_dict() for s in self.splits],
            "notes": self.notes,
        }


def read_score_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A wide CSV of scores: the first column names the datasets, every other column is a method.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Not a CSV, fewer than two methods, or a cell that is not a number (named by row and column).
    """
    path = Path(path)
    if not path.is_file():
        msg = f"The '--table' option must name a CSV file of scores. No such file: {path}"
        raise FileNotFoundError(msg)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        msg = f"{path}: not a CSV table of scores: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        raise ValueError(msg) from None
    if raw.shape[1] < 3:
        msg = f"{path}: a table of scores needs a dataset column and at least two method columns; got {raw.shape[1]}"
        raise ValueError(msg)
    table = raw.set_index(raw.columns[0])
    empty = table.apply(lambda col: col.str.strip() == "")
    if empty.to_numpy().any():
        cells = [f"{m} on {d}" for d in table.index for m in table.columns if empty.loc[d, m]]
        msg = f"{path}: Friedman needs every method on every dataset (complete blocks); missing: {', '.join(cells)}"
        raise ValueError(msg)
    out = table.apply(pd.to_numeric, errors="coerce")
    bad = out.isna()
    if bad.to_numpy().any():
        r, c = (int(i[0]) for i in np.nonzero(bad.to_numpy()))
        row = r + 2  # 1-based, after the header
        cell = table.iloc[r, c]
        msg = (
            f"{path}: line {row}: the cell of {table.columns[c]!r} on {table.index[r]!r} must be a number, got {cell!r}"
        )
        raise ValueError(msg)
    return out


def rank_table(
    scores: pd.DataFrame,
    *,
    alpha: float = 0.05,
    control: str | None = None,
    correction: str = "holm",
    higher: bool = True,
) -> RankResult:
    """:func:`~.datasets.compare_datasets` on a table of scores (rows datasets, columns methods)."""
    _check_options(alpha, correction)
    result = compare_datasets(scores, alpha=alpha, control=control, correction=correction, higher_is_better=higher)
    return RankResult("score", datasets=result)


def _check_options(alpha: float, correction: str, power: float = 0.95) -> None:
    if not 0 < alpha < 1:
        msg = f"The '--alpha' option must be in (0, 1). Got {alpha!r} instead."
        raise ValueError(msg)
    if not 0 < power < 1:
        msg = f"The '--power' option must be in (0, 1). Got {power!r} instead."
        raise ValueError(msg)
    if correction not in CORRECTIONS:
        msg = f"The '--correction' option must be one of {', '.join(CORRECTIONS)}. Got {correction!r} instead."
        raise ValueError(msg)


def _split_of(df: pd.DataFrame) -> pd.Series:
    if "split" not in df.columns:
        return pd.Series([""] * len(df), index=df.index)
    return df["split"].fillna("").astype(str)


def canonical_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of the canonical split (``split`` empty or absent): those of ``run --splits`` left out."""
    return df[_split_of(df) == ""]


def rank_rows(
    df: pd.DataFrame,
    *,
    metric: str = "accuracy",
    alpha: float = 0.05,
    control: str | None = None,
    correction: str = "holm",
    power: float = 0.95,
) -> RankResult:
    """Which cases of result rows differ significantly (see the module's documentation for which test when).

    Parameters
    ----------
    df : pandas.DataFrame
        Rows read by :func:`~mnist_classic.analysis.runs.load_runs`; only rows with status ok are used.
    metric : str, default="accuracy"
        A numeric column of the rows; the one-test-set tests always use per-image correctness.
    alpha : float, default=0.05
    control : str or None, default=None
        A case to test every other against, instead of every pair.
    correction : str, default="holm"
        See :data:`~.datasets.CORRECTIONS`.
    power : float, default=0.95
        The power for the number of splits needed (:func:`~.resampled.splits_needed`).

    Raises
    ------
    ValueError
        Fewer than two cases, a metric not in the rows, ``control`` not a case, a case missing on some
        dataset, cases of one dataset on different test sets, or an incomplete set of splits.
    """
    _check_options(alpha, correction, power)
    ok = df[df["status"] == "ok"].copy()
    if metric not in NUMERIC_COLUMNS or metric not in ok.columns or ok[metric].isna().all():
        have = sorted(c for c in NUMERIC_COLUMNS if c in ok.columns and ok[c].notna().any())
        msg = f"The '--metric' option must name a numeric column the rows hold ({', '.join(have)}). Got {metric!r}."
        raise ValueError(msg)
    cases = sorted(set(ok["pipeline"]))
    if len(ok[["pipeline", "n_train"]].drop_duplicates()) < 2:
        msg = f"Ranking needs at least two cases. Got {len(cases)}: {', '.join(cases) or 'none'} (status ok rows)."
        raise ValueError(msg)
    if control is not None and control not in cases:
        msg = f"The '--control' option must name one of the cases ({', '.join(cases)}). Got {control!r} instead."
        raise ValueError(msg)
    split = _split_of(ok)
    canonical, resampled = ok[split == ""], ok[split != ""]
    result = RankResult(metric)
    if not canonical.empty:
        datasets = sorted(set(canonical["dataset"]))
        if len(datasets) == 1:
            result.one_test_set = _one_test_set(canonical, alpha, control, correction, result.notes)
        else:
            result.datasets = _over_datasets(canonical, metric, alpha, control, correction)
    for key, rows in resampled.groupby([resampled["dataset"], _split_of(resampled).str.split(":").str[0]]):
        result.splits.append(_splits(rows, str(key[0]), str(key[1]), metric, alpha, control, correction, power))
    return result


def _case_names(rows: pd.DataFrame) -> pd.Series:
    """A case's name: its pipeline, with ``n_train=N`` when the rows hold several training sizes."""
    if rows["n_train"].nunique() > 1:
        return rows["pipeline"] + " n_train=" + rows["n_train"].astype(int).astype(str)
    return rows["pipeline"]


def _one_test_set(
    rows: pd.DataFrame, alpha: float, control: str | None, correction: str, notes: list[str]
) -> OneTestSetResult:
    test_cols = [c for c in ("n_test", "sha256_test_images", "sha256_test_labels", "truth_sha256") if c in rows]
    keys = rows[test_cols].astype(str).drop_duplicates()
    if len(keys) > 1:
        by = rows.assign(_key=rows[test_cols].astype(str).agg("|".join, axis=1)).groupby("_key")["pipeline"]
        sets = "; ".join(f"{', '.join(sorted(set(v)))} (n_test {str(k).split('|')[0]})" for k, v in by)
        msg = (
            f"The one-test-set tests need every case on the same test set; the rows of {rows['dataset'].iloc[0]} "
            f"were scored on {len(keys)} test sets: {sets}"
        )
        raise ValueError(msg)
    rows = rows.assign(_case=_case_names(rows)).sort_values(["seed", "repeat"], kind="stable")
    if control is not None and control not in set(rows["_case"]):
        msg = f"The '--control' option must name one of the cases ({', '.join(sorted(set(rows['_case'])))})."
        raise ValueError(msg)
    firsts = rows.drop_duplicates("_case")
    if len(firsts) < len(rows):
        notes.append("cases with several repeats are tested on their first repeat's predictions (lowest seed)")
    truth = row_labels(firsts.iloc[0], "truth_sha256")
    correct = {str(r["_case"]): row_labels(r, "predictions_sha256") == truth for _, r in firsts.iterrows()}
    return compare_one_test_set(correct, alpha=alpha, control=control, correction=correction)


def _over_datasets(
    rows: pd.DataFrame, metric: str, alpha: float, control: str | None, correction: str
) -> DatasetsResult:
    several = rows.groupby("dataset")["n_train"].nunique().max() > 1
    block = rows["dataset"] + (" n_train=" + rows["n_train"].astype(int).astype(str) if several else "")
    table = rows.assign(_block=block).pivot_table(index="_block", columns="pipeline", values=metric, aggfunc="mean")
    table = table.reindex(columns=sorted(set(rows["pipeline"])))
    missing = [f"{m} on {d}" for d in table.index for m in table.columns if pd.isna(table.loc[d, m])]
    if missing:
        msg = f"Friedman's test needs every case on every dataset (complete blocks); missing: {', '.join(missing)}"
        raise ValueError(msg)
    table.index.name = "dataset"
    return compare_datasets(
        table, alpha=alpha, control=control, correction=correction, higher_is_better=higher_is_better(metric)
    )


def _splits(
    rows: pd.DataFrame,
    dataset: str,
    scheme: str,
    metric: str,
    alpha: float,
    control: str | None,
    correction: str,
    power: float,
) -> SplitsResult:
    sign = 1.0 if higher_is_better(metric) else -1.0
    table = rows.pivot_table(index="split", columns="pipeline", values=metric, aggfunc="count")
    if (table > 1).to_numpy().any():
        msg = f"{dataset}: a case has two rows for the same split ({scheme}); rank one run's splits at a time"
        raise ValueError(msg)
    wide = rows.pivot_table(index="split", columns="pipeline", values=metric, aggfunc="first")
    missing = [f"{m} on {s}" for s in wide.index for m in wide.columns if pd.isna(wide.loc[s, m])]
    if missing:
        msg = f"{dataset}: the paired split tests need every case on every split; missing: {', '.join(missing)}"
        raise ValueError(msg)
    methods = sorted(wide.columns, key=lambda m: -sign * float(np.mean(wide[m].to_numpy(float))))
    if len(methods) < 2:
        msg = f"{dataset}: the split tests need at least two cases on the same splits. Got {', '.join(methods)}."
        raise ValueError(msg)
    n_train, n_test = int(rows["n_train"].iloc[0]), int(rows["n_test"].iloc[0])
    if scheme == "5x2":
        labels = [f"5x2:rep={i}:fold={j}" for i in range(1, 6) for j in (1, 2)]
        if sorted(wide.index) != sorted(labels):
            msg = f"{dataset}: the 5x2cv tests need the ten splits 5x2:rep=1..5:fold=1..2; got {', '.join(wide.index)}"
            raise ValueError(msg)
        wide = wide.loc[labels]
    else:
        wide = wide.loc[sorted(wide.index, key=_split_number)]
    if control is not None and control not in methods:
        msg = f"{dataset}: the '--control' case {control!r} has no rows of these splits ({scheme}); cases: {methods}"
        raise ValueError(msg)
    if control is None:
        tested = [(a, b) for i, a in enumerate(methods) for b in methods[i + 1 :]]
    else:
        tested = [(control, b) for b in methods if b != control]
    pairs: list[dict[str, Any]] = []
    for a, b in tested:
        d = wide[a].to_numpy(float) - wide[b].to_numpy(float)
        pair: dict[str, Any] = {"a": a, "b": b, "mean_difference": _num(d.mean())}
        if scheme == "5x2":
            t, pt = five_by_two_t(d.reshape(5, 2))
            f, pf = five_by_two_f(d.reshape(5, 2))
            pair.update(t=_num(t), p_t=_num(pt), f=_num(f), p_f=_num(pf), p=_num(pf))
        else:
            t, pt = corrected_resampled_t(d, n_train, n_test)
            pb, lo, hi = probability_better(sign * wide[a].to_numpy(float), sign * wide[b].to_numpy(float))
            pair.update(
                t=_num(t), p_t=_num(pt), p=_num(pt), p_a_better=_num(pb), p_a_better_interval=[_num(lo), _num(hi)]
            )
        pairs.append(pair)
    adj, rej = adjust([p["p"] for p in pairs], alpha, correction)
    for p, pa, r in zip(pairs, adj, rej, strict=True):
        p["p_adjusted"] = _num(pa)
        p["significant"] = bool(r)
    return SplitsResult(
        dataset=dataset,
        scheme=scheme,
        n_splits=len(wide),
        n_train=n_train,
        n_test=n_test,
        alpha=alpha,
        power=power,
        correction=correction,
        splits_needed=splits_needed(alpha, power),
        mean={m: float(wide[m].mean()) for m in methods},
        pairs=pairs,
    )


def _split_number(label: str) -> float:
    try:
        return float(label.rsplit(":", 1)[-1])
    except ValueError:
        return math.inf


def compare_splits(
    baseline: pd.DataFrame,
    new: pd.DataFrame,
    *,
    metric: str = "accuracy",
    alpha: float = 0.05,
    correction: str = "holm",
    power: float = 0.95,
) -> list[SplitsResult]:
    """``compare`` on split rows: each case of the baseline against the same case of the new run, split by split.

    The cases are named ``<pipeline> (baseline)`` and ``<pipeline> (new)``; a case on one side only is left out.
    """
    out: list[SplitsResult] = []
    frames = []
    for side, df in (("baseline", baseline), ("new", new)):
        ok = df[(df["status"] == "ok") & (_split_of(df) != "")]
        frames.append(ok.assign(_side=side))
    both = pd.concat(frames, ignore_index=True)
    if both.empty:
        return out
    schemes = _split_of(both).str.split(":").str[0]
    for (dataset, scheme, pipeline), rows in both.groupby([both["dataset"], schemes, both["pipeline"]]):
        if rows["_side"].nunique() < 2:
            continue
        named = rows.assign(pipeline=rows["pipeline"] + " (" + rows["_side"] + ")")
        res = _splits(named, str(dataset), str(scheme), metric, alpha, f"{pipeline} (baseline)", correction, power)
        out.append(res)
    return out


def split_regressions(results: list[SplitsResult]) -> list[str]:
    """The cases of :func:`compare_splits` whose new side is significantly worse than their baseline."""
    worse = []
    for res in results:
        for p in res.pairs:
            if p["significant"] and p["mean_difference"] > 0:  # baseline - new, on a higher-is-better metric
                worse.append(f"{p['a'].removesuffix(' (baseline)')} ({res.dataset}, {res.scheme})")
    return worse
