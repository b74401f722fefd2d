"""Significance: which differences are real (Cochran/McNemar on one test set, Friedman/Nemenyi/Wilcoxon, 5x2cv).

May import ``analysis.runs``, ``analysis.stats``, ``analysis.plotting`` and ``results``; no other analysis room.
"""

from .datasets import CORRECTIONS, DatasetsResult, average_ranks, compare_datasets, nemenyi_cd, nemenyi_q
from .diagram import FIGURE_FORMATS, cd_figure, write_cd_diagram
from .onetest import OneTestSetResult, compare_one_test_set
from .ranking import (
    RankResult,
    SplitsResult,
    canonical_rows,
    compare_splits,
    rank_rows,
    rank_table,
    read_score_table,
    split_regressions,
)
from .render import FORMATS, format_rank, format_splits, rank_sections
from .resampled import corrected_resampled_t, five_by_two_f, five_by_two_t, probability_better, splits_needed

__all__ = [
    "CORRECTIONS",
    "FIGURE_FORMATS",
    "FORMATS",
    "DatasetsResult",
    "OneTestSetResult",
    "RankResult",
    "SplitsResult",
    "average_ranks",
    "canonical_rows",
    "cd_figure",
    "compare_datasets",
    "compare_one_test_set",
    "compare_splits",
    "corrected_resampled_t",
    "five_by_two_f",
    "five_by_two_t",
    "format_rank",
    "format_splits",
    "nemenyi_cd",
    "nemenyi_q",
    "probability_better",
    "rank_rows",
    "rank_sections",
    "rank_table",
    "read_score_table",
    "split_regressions",
    "splits_needed",
    "write_cd_diagram",
]
