"""``mnist-classic matrix``: the same run in one isolated environment per requirement set.

Every option that ``matrix`` does not know is a ``run`` option, checked here
by the ``run`` parser and passed unchanged to each environment's run.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from .errors import PROG

__all__ = ["add_env_options", "add_matrix_parser", "cmd_matrix", "check_env_timeout"]


def add_env_options(p: argparse.ArgumentParser) -> None:
    """The options of the environments (``matrix`` and ``ab``): where they are cached, the installer, a time limit."""
    p.add_argument(
        "--envs-dir",
        default=None,
        metavar="DIR",
        help="where environments are cached (default: $MNIST_CLASSIC_ENVS or the user cache dir)",
    )
    p.add_argument(
        "--installer",
        choices=("auto", "uv", "pip"),
        default="auto",
        help="uv (needs the [matrix] extra or uv on PATH) or venv + pip; auto picks uv when found",
    )
    p.add_argument(
        "--env-timeout", type=float, default=None, metavar="SEC", help="limit on each environment's run (default none)"
    )


def check_env_timeout(value: float | None) -> None:
    """Raise ValueError unless ``--env-timeout`` is None or a positive number of seconds."""
    if value is not None and not value > 0:
        msg = f"The '--env-timeout' option must be a positive number of seconds. Got {value!r} instead."
        raise ValueError(msg)


def add_matrix_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``matrix`` subcommand; its parser lets unknown options through (they are ``run``'s)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "matrix",
        allow_abbrev=False,  # --en... must not be taken for --env: unknown options are run's
        help="the same run in one isolated environment per requirement set, all rows into one CSV",
        description="Build (or reuse) one virtual environment per --env, run 'mnist-classic run' with the other "
        "options in each, one after the other, appending to --output. Any option of 'run' may be given "
        "(--pipelines, --n-train, --repeats, --engine, --config FILE, ...). Exit 1 if any environment failed; "
        "what happened to each is logged in <stem>.matrix.json beside the CSV.",
    )
    p.add_argument(
        "--env",
        action="append",
        required=True,
        metavar="REQS",
        help="a requirement set, requirements separated by spaces: 'scikit-learn==1.7.2 numpy<2.3' (repeatable)",
    )
    p.add_argument(
        "--output",
        "-o",
        default="mnist_classic_results.csv",
        metavar="PATH",
        help="the CSV every environment appends to (default: mnist_classic_results.csv)",
    )
    add_env_options(p)
    return p


def cmd_matrix(args: argparse.Namespace, run_args: Sequence[str], argv: Sequence[str]) -> int:
    """Run the matrix; print one line per environment as it ends, then the log's path; return 0 or 1."""
    from ..matrix.run import run_matrix

    check_env_timeout(args.env_timeout)

    def env_done(outcome: Any) -> None:
        print(outcome.line, flush=True)

    def output(line: str) -> None:
        print(f"  | {line}", file=sys.stderr, flush=True)

    result = run_matrix(
        args.env,
        run_args,
        args.output,
        cache_dir=args.envs_dir,
        installer=args.installer,
        run_timeout=args.env_timeout,
        command=shlex.join([PROG, *argv]),
        on_env=env_done,
        on_output=output,
    )
    failed = [o for o in result.outcomes if o.failed]
    print(
        f"\n{len(result.outcomes) - len(failed)} of {len(result.outcomes)} environments ran every case into "
        f"{result.output}; log: {result.log}"
    )
    return result.exit_code
