"""``mnist-classic history`` and ``mnist-classic export``: a results history judged and drawn, or exported."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["add_export_parser", "add_history_parser", "cmd_export", "cmd_history"]


def add_history_parser(subparsers: Any, *, gate_options: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the ``history`` subcommand (its gate options are ``compare``'s, added by ``gate_options``)."""
    p = subparsers.add_parser(
        "history",
        help="one series per case over runs along an axis: steps found, an HTML dashboard, exit 1 on a regression",
        description="Order runs along an axis (a version column, git commit or run time), find steps in fit and "
        "predict time (penalized change points on per-run medians) and in accuracy (exact McNemar between "
        "consecutive runs), write history.html and history.md into --out, and exit 1 when the latest point "
        "regressed against the one before it (the gate of 'compare').",
    )
    p.add_argument("results", nargs="+", metavar="RESULTS", help="results CSVs, or folders of them")
    p.add_argument(
        "--axis",
        default="sklearn_version",
        metavar="COLUMN",
        help="sklearn_version (default), any *_version column, git_commit (in order of run time) or started_at",
    )
    p.add_argument("--out", default="history", metavar="DIR", help="output folder (default: history)")
    gate_options(p)


def cmd_history(args: argparse.Namespace) -> int:
    """Write the dashboard and the summary; print their paths and the verdict; return the gate's exit code."""
    from ..analysis.history.series import build_history, validate_axis, write_history
    from ..analysis.runs import load_runs
    from ..analysis.verdicts.compare import validate_gate
    from ..analysis.verdicts.decide import exit_code
    from .commands import gate_options

    validate_axis(args.axis)
    gate = gate_options(args)
    validate_gate(**gate)  # before any file is read
    history = build_history(
        load_runs(args.results),
        axis=args.axis,
        **gate,
    )
    for path in write_history(history, args.out):
        print(path)
    print(history.verdict_line())
    return exit_code(
        [r.verdict for _, r in history.regressions + history.unknown], fail_on_unknown=args.fail_on_unknown
    )


def add_export_parser(subparsers: Any) -> None:
    """Add the ``export`` subcommand."""
    p = subparsers.add_parser("export", help="a results CSV as pytest-benchmark or github-action-benchmark JSON")
    p.add_argument("results", metavar="CSV", help="a CSV written by 'mnist-classic run'")
    p.add_argument(
        "--format",
        choices=("pytest-benchmark", "github-action"),
        required=True,
        help="pytest-benchmark: the --benchmark-json document; github-action: github-action-benchmark's "
        "customSmallerIsBetter (times) and customBiggerIsBetter (accuracy) lists",
    )
    p.add_argument(
        "--output",
        "-o",
        default=None,
        metavar="PATH",
        help="pytest-benchmark: the JSON file; github-action: a folder for smaller_is_better.json and "
        "bigger_is_better.json (default: print JSON to stdout)",
    )


def cmd_export(args: argparse.Namespace) -> int:
    """Write (or print) the export; return 0."""
    from ..analysis.report import export

    if args.output is None:
        doc: Any = (
            export.to_pytest_benchmark(args.results)
            if args.format == "pytest-benchmark"
            else export.to_github_benchmark(args.results)
        )
        sys.stdout.write(json.dumps(doc, indent=2, allow_nan=False) + "\n")
        return 0
    if args.format == "pytest-benchmark":
        print(export.write_pytest_benchmark(args.results, args.output))
    else:
        for path in export.write_github_benchmark(args.results, args.output):
            print(path)
    return 0
