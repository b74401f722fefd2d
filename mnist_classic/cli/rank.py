"""``mnist-classic rank``: its options, and a thin call of the significance room (which cases differ)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .errors import PROG, UsageError

__all__ = ["add_rank_parser", "cmd_rank"]


def add_rank_parser(subparsers: Any) -> None:
    """Add the ``rank`` subcommand and its options to an argparse subparsers object."""
    from ..analysis.significance import CORRECTIONS, FORMATS

    p = subparsers.add_parser(
        "rank",
        help="which cases differ significantly: one test set (Cochran, McNemar), several datasets (Friedman, "
        "Nemenyi, Wilcoxon), resampled splits (5x2cv, corrected t)",
    )
    p.add_argument("results", nargs="*", metavar="RESULTS", help="results CSVs, or folders of them")
    p.add_argument(
        "--table",
        default=None,
        metavar="FILE.csv",
        help="rank a wide table of scores instead (first column the datasets, one column per method), "
        "e.g. a paper's table",
    )
    p.add_argument("--metric", default="accuracy", help="the column ranked (default accuracy)")
    p.add_argument("--control", default=None, metavar="NAME", help="test every case against this one only")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    p.add_argument(
        "--correction",
        choices=tuple(CORRECTIONS),
        default="holm",
        help="multiple-test correction of each family of p-values (default holm)",
    )
    p.add_argument(
        "--power",
        type=float,
        default=0.95,
        help="power for the number of splits needed to tell P(A > B) = 0.75 from 0.5 (default 0.95)",
    )
    p.add_argument(
        "--lower-is-better",
        action="store_true",
        help="with --table: rank 1 is the lowest score (errors, times); results rows know it from --metric",
    )
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    p.add_argument(
        "--figure",
        default=None,
        metavar="FILE.png|.svg",
        help="write the critical-difference diagram (several datasets; needs matplotlib)",
    )


def cmd_rank(args: argparse.Namespace) -> int:
    """Print which cases differ (and write the CD diagram); return 0."""
    from ..analysis.runs import load_runs
    from ..analysis.significance import format_rank, rank_rows, rank_table, read_score_table, write_cd_diagram

    if bool(args.results) == (args.table is not None):
        raise UsageError(
            f"{PROG} rank: give results CSVs or --table FILE.csv, not {'both' if args.table else 'neither'}"
        )
    if args.figure is not None and not str(args.figure).lower().endswith((".png", ".svg")):
        msg = f"The '--figure' option must name a .png or .svg file. Got {args.figure!r} instead."
        raise ValueError(msg)
    if args.table is not None:
        result = rank_table(
            read_score_table(args.table),
            alpha=args.alpha,
            control=args.control,
            correction=args.correction,
            higher=not args.lower_is_better,
        )
    else:
        result = rank_rows(
            load_runs(args.results),
            metric=args.metric,
            alpha=args.alpha,
            control=args.control,
            correction=args.correction,
            power=args.power,
        )
    if args.figure is not None:
        if result.datasets is None:
            msg = "The '--figure' option draws the critical-difference diagram of several datasets; these rows hold one"
            raise ValueError(msg)
        d = result.datasets
        write_cd_diagram(args.figure, d.mean_ranks, d.cd, d.nemenyi_groups, title=f"Nemenyi CD at alpha {d.alpha:g}")
    sys.stdout.write(format_rank(result, args.format))
    if args.figure is not None and args.format != "json":
        print(f"\ncritical-difference diagram: {args.figure}")
    return 0
