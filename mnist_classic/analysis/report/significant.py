"""The report's "which differences are significant" section and CD diagram, from :mod:`..significance`.

A report with three cases or more on one test set gets Cochran's Q and the exact McNemar test of
every pair with Holm's correction; one that spans several datasets gets the Friedman, Nemenyi and
Wilcoxon tables and the critical-difference diagram; rows of resampled splits get their 5x2cv or
corrected resampled t tables. What cannot be tested (predictions missing, a case missing on a
dataset) is said in a note instead of failing the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...results import ResultsSchemaError
from ..plotting import FigureFile, save_figure, slug
from ..significance import RankResult, cd_figure, rank_rows, rank_sections
from .tables import ReportTable

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["significance_figures", "significance_tables"]

_TITLE = "Which differences are significant"


def _split(df: pd.DataFrame) -> pd.Series:
    return df["split"].fillna("").astype(str) if "split" in df else df["pipeline"].map(lambda _: "")


def _results(df: pd.DataFrame, alpha: float) -> list[tuple[str, RankResult | str]]:
    """(scope, result or the reason it could not be tested) of every analysis the rows allow."""
    ok = df[df["status"] == "ok"]
    split = _split(ok)
    canonical, resampled = ok[split == ""], ok[split != ""]
    out: list[tuple[str, RankResult | str]] = []

    def attempt(scope: str, rows: pd.DataFrame) -> None:
        try:
            out.append((scope, rank_rows(rows, alpha=alpha)))
        except (ValueError, ResultsSchemaError) as exc:
            out.append((scope, str(exc).splitlines()[0]))

    keys: Any
    for keys, rows in canonical.groupby(["dataset", "n_test"], sort=False):
        cases = rows[["pipeline", "n_train"]].drop_duplicates()
        if len(cases) >= 3:
            attempt(f"{keys[0]}, {int(keys[1]):,} test images", rows)
    if canonical["dataset"].nunique() > 1:
        attempt("over datasets", canonical)
    if not resampled.empty:
        attempt("resampled splits", resampled)
    return out


def significance_tables(df: pd.DataFrame, alpha: float = 0.05) -> list[ReportTable]:
    """The report tables of the "which differences are significant" section (none with fewer than three cases)."""
    tables: list[ReportTable] = []
    for scope, result in _results(df, alpha):
        if isinstance(result, str):
            tables.append(ReportTable(f"{_TITLE} ({scope})", [], ["not tested"], [[result]], []))
            continue
        for heading, lines, head, rows in rank_sections(result):
            if not head:
                head, rows = ["note"], [[x] for x in lines]
                lines = []
            tables.append(
                ReportTable(f"{_TITLE} ({scope}): {heading}", [], head, rows, list(lines), left_columns={0, 1})
            )
    return tables


def significance_figures(df: pd.DataFrame, folder: Path, formats: Any, alpha: float = 0.05) -> list[FigureFile]:
    """The CD diagram when the rows span several datasets (and every case ran on each)."""
    out = []
    for scope, result in _results(df, alpha):
        if isinstance(result, str) or result.datasets is None:
            continue
        d = result.datasets
        fig = cd_figure(d.mean_ranks, d.cd, d.nemenyi_groups, title=f"Nemenyi CD at alpha {d.alpha:g}")
        folder.mkdir(parents=True, exist_ok=True)
        caption = (
            f"Average ranks of {len(d.methods)} cases over {len(d.datasets)} datasets (rank 1 the best); "
            f"cases joined by a bar do not differ by more than the critical difference {d.cd:.2f} "
            f"(Nemenyi, alpha {d.alpha:g}); {scope}."
        )
        out.append(
            save_figure(fig, folder, slug(f"critical-difference-{scope}"), formats, "Critical difference", caption)
        )
    return out
