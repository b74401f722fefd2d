"""``mnist-classic bisect GOOD BAD -- [run options]``: the first bad commit, found by ``git bisect run``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from .errors import PROG, UsageError

__all__ = ["add_bisect_parser", "cmd_bisect"]


def add_bisect_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``bisect`` subcommand; options it does not know (after ``--``) are ``run``'s."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "bisect",
        allow_abbrev=False,
        help="the first commit between GOOD and BAD whose cases are worse than GOOD's (git bisect run)",
        description="Check the repository out at GOOD in a temporary worktree, run 'mnist-classic run' with the "
        "run options there, then at BAD (which must be worse), then let 'git bisect run' measure the commits "
        "between, each judged against GOOD by 'compare': worse is bad, same is good, unknown is skipped (125). "
        "Instruction counts by default (one run per commit decides). Prints the commits measured and the first "
        "bad commit; exit 0 when one was found, 1 when skipped commits leave it open, 2 on misuse.",
    )
    p.add_argument("good", metavar="GOOD", help="a commit without the regression (an ancestor of BAD)")
    p.add_argument("bad", metavar="BAD", help="a commit with it")
    p.add_argument("--repo", default=".", metavar="PATH", help="the git repository (default: the current folder)")
    p.add_argument(
        "--measure",
        choices=("instructions", "time"),
        default="instructions",
        help="instructions (default: counted under valgrind, exact) or time (wall seconds, --runs per commit)",
    )
    p.add_argument(
        "--phase",
        choices=("all", "fit", "predict"),
        default="all",
        help="what decides: all of compare's verdicts (default), or only fit's or only predict's speed",
    )
    p.add_argument(
        "--runs", type=int, default=None, metavar="N", help="runs per commit (default 1 on instructions, 3 on time)"
    )
    p.add_argument(
        "--max-instructions", type=float, default=1.01, metavar="RATIO", help="compare's gate on counts (default 1.01)"
    )
    p.add_argument(
        "--max-slowdown", type=float, default=1.10, metavar="RATIO", help="compare's gate on times (default 1.10)"
    )
    return p


def cmd_bisect(args: argparse.Namespace, run_args: Sequence[str]) -> int:
    """Bisect; print a line per commit to stderr as it is measured, then the table; return 0, 1 or 2."""
    from ..matrix.bisect import BisectError, BisectStep, format_table, run_bisect

    for name, value in (("--max-instructions", args.max_instructions), ("--max-slowdown", args.max_slowdown)):
        if not value > 1:
            raise UsageError(f"{PROG} bisect: {name} takes a ratio > 1; got {value!r}")
    if args.runs is not None and args.runs < 1:
        raise UsageError(f"{PROG} bisect: --runs takes an integer >= 1; got {args.runs!r}")
    if not run_args:
        raise UsageError(f"{PROG} bisect: give run options after '--' (at least --pipelines)")

    def step(s: BisectStep) -> None:
        print(f"{s.commit[:12]} {s.verdict}: {s.worst or s.note}", file=sys.stderr, flush=True)

    gate = ["--max-instructions", str(args.max_instructions), "--max-slowdown", str(args.max_slowdown)]
    try:
        result = run_bisect(
            args.good,
            args.bad,
            run_args,
            repo=args.repo,
            measure=args.measure,
            runs=args.runs,
            gate_args=gate,
            on_step=step,
            phase=args.phase,
        )
    except BisectError as exc:
        raise UsageError(f"{PROG} {exc}") from None
    sys.stdout.write(format_table(result))
    return 0 if result.first_bad else 1
