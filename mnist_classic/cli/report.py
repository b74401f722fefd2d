"""``mnist-classic report``: its options, and a thin call of the report room's ``write_report``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from ..analysis.report.summary import FORMATS

__all__ = ["add_report_parser", "cmd_report"]


def _choices(allowed: Sequence[str], option: str) -> Any:
    def parse(text: str) -> list[str]:
        got = [t.strip() for t in text.split(",") if t.strip()]
        if not got or any(t not in allowed for t in got):
            msg = f"{option} takes {', '.join(allowed)} (comma-separated); got {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return list(dict.fromkeys(got))

    return parse


def add_report_parser(subparsers: Any) -> None:
    """Add the ``report`` subcommand and its options to an argparse subparsers object."""
    p = subparsers.add_parser("report", help="tables (Markdown, LaTeX, HTML) and figures of result CSVs")
    p.add_argument("results", nargs="+", metavar="RESULTS", help="results CSVs, or folders of them")
    fmt = _choices(tuple(FORMATS), "--format")
    p.add_argument(
        "--format", type=fmt, default=list(FORMATS), metavar="FMT[,FMT]", help="md, latex, html (default all)"
    )
    p.add_argument("--out", default="report", metavar="DIR", help="output folder (default: report)")
    p.add_argument("--reference", default=None, metavar="PIPELINE", help="mark cases that differ from it (McNemar)")
    p.add_argument(
        "--alpha", type=float, default=0.05, metavar="A", help="significance level of that marker (default 0.05)"
    )
    p.add_argument("--no-figures", action="store_true", help="tables only (no matplotlib needed)")
    figs = _choices(("png", "svg"), "--figure-formats")
    p.add_argument(
        "--figure-formats", type=figs, default=["png", "svg"], metavar="EXT[,EXT]", help="png, svg (default both)"
    )
    p.add_argument(
        "--data-dir", default=None, metavar="DIR", help="IDX files of the dataset, for the misclassified-digit gallery"
    )
    p.add_argument("--data-home", default=None, metavar="DIR", help="downloads and decoded cache")
    p.add_argument(
        "--explore",
        action="store_true",
        help="also write explore.html, the predictions image by image (see 'mnist-classic explore'), and link it",
    )


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report files (and figures) into ``args.out`` and print their paths; return 0."""
    from ..analysis.report.summary import write_report
    from ..analysis.runs import load_runs

    df = load_runs(args.results)
    written = write_report(
        df,
        args.out,
        formats=args.format,
        reference=args.reference,
        alpha=args.alpha,
        figures=not args.no_figures,
        figure_formats=args.figure_formats,
        data_dir=args.data_dir,
        data_home=args.data_home,
        explore=args.explore,
    )
    print("\n".join(map(str, written)))
    return 0
