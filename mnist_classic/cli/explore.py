"""``mnist-classic explore``: its options, and a thin call of :func:`mnist_classic.explore`."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_explore_parser", "cmd_explore"]


def add_explore_parser(subparsers: Any) -> None:
    """Add the ``explore`` subcommand and its options to an argparse subparsers object."""
    p = subparsers.add_parser(
        "explore",
        help="one self-contained HTML page to see, image by image, where two cases differ",
        description="Write explore.html into --out: the test images and every case's predictions (from the "
        "predictions sidecar) in one file that opens from disk, with no network. Pick two cases for their "
        "discordant images and exact McNemar test, click a confusion-matrix cell for its images, browse the "
        "test set by class and the images most cases get wrong.",
    )
    p.add_argument("results", nargs="+", metavar="RESULTS", help="results CSVs, or folders of them")
    p.add_argument("--out", default="explore", metavar="DIR", help="output folder (default: explore)")
    p.add_argument(
        "--cases",
        nargs="+",
        default=None,
        metavar="NAME",
        help="the cases to show, by name or pipeline (default: every ok case); they must share one test set",
    )
    p.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="the dataset's IDX files (a dataset not registered here, or not downloaded)",
    )
    p.add_argument("--data-home", default=None, metavar="DIR", help="downloads and decoded cache")


def cmd_explore(args: argparse.Namespace) -> int:
    """Write the page and print its path and size; return 0."""
    from ..analysis.explore.explorer import explore

    path = explore(args.results, out=args.out, cases=args.cases, data_dir=args.data_dir, data_home=args.data_home)
    print(path)
    return 0
