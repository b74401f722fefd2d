"""``mnist-classic reproduce``: rows of a results CSV run again, each said to be the same or not."""

from __future__ import annotations

import argparse
import math
from typing import Any

__all__ = ["add_reproduce_parser", "cmd_reproduce", "describe"]


def add_reproduce_parser(subparsers: Any) -> None:
    """Add the ``reproduce`` subcommand."""
    p = subparsers.add_parser(
        "reproduce",
        help="run rows of a results CSV again; exit 0 when every row gives the same predictions",
        description="Run rows of a results CSV again from what they recorded (pipeline, data hashes, n_train, "
        "n_test, seed, engine) and report per row: the same predictions or not, the accuracy and time change, and "
        "the environment columns that differ. Exit 0 when every row reproduces, 1 when one does not, 2 for misuse. "
        "Nothing a row names is imported unless you allow it (--allow-import, --plugin).",
    )
    p.add_argument("results", metavar="RESULTS.csv", help="a CSV written by 'mnist-classic run'")
    p.add_argument(
        "rows",
        nargs="*",
        metavar="ROW",
        help="row numbers (1 is the first row under the header), ranges 3-5, run ids or pipelines (default: all)",
    )
    p.add_argument(
        "--allow-import",
        action="append",
        default=[],
        metavar="MODULE",
        help="a module the rows' selectors may import, with its submodules (repeatable): sklearn, mypkg.models",
    )
    p.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE|FILE.py",
        help="load a plugin first, for rows naming its pipelines (repeatable)",
    )
    p.add_argument("--data-dir", default=None, help="the dataset's files (for a dataset not registered here)")
    p.add_argument("--data-home", default=None, help="downloads and decoded cache")
    p.add_argument("--timeout", type=float, default=None, metavar="SEC", help="per-case limit (a child process)")
    p.add_argument(
        "--output",
        "-o",
        default=None,
        metavar="PATH",
        help="append the new rows to this CSV (default: a temporary folder, removed)",
    )


def _seconds(old: Any, new: Any) -> str:
    if not _number(old) or not _number(new):
        return "-"
    ratio = f" (x{new / old:.2f})" if old > 0 else ""
    return f"{old:.3g} s -> {new:.3g} s{ratio}"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value))


def describe(outcome: Any) -> list[str]:
    """The lines that report one row: the verdict and changes, then the environment that differs."""
    old, new = outcome.old, outcome.new
    head = f"row {outcome.row} {old['pipeline']} n_train={int(old['n_train'])} seed={int(old['seed'])}:"
    if new.get("status") != "ok" or old.get("status") != "ok":
        verdict = "same" if outcome.same else "NOT reproduced"
        error = f" ({new.get('error')})" if new.get("error") else ""
        return [f"{head} {verdict}: status {old.get('status')} -> {new.get('status')}{error}"]
    sha = str(new.get("predictions_sha256"))[:12]
    was = str(old.get("predictions_sha256"))[:12]
    verdict = f"same predictions (sha256 {sha})" if sha == was else f"DIFFERENT predictions (sha256 {was} -> {sha})"
    tuned_old, tuned_new = old.get("tuned_params"), new.get("tuned_params")
    if isinstance(tuned_old, str) and tuned_old:  # a tuned row: its search ran again
        chose = "the same candidate" if tuned_old == tuned_new else f"ANOTHER candidate ({tuned_old} -> {tuned_new})"
        verdict = f"{chose} chosen, {verdict}"
    accuracy = f"accuracy {100 * old['accuracy']:.2f}% -> {100 * new['accuracy']:.2f}%"
    accuracy += f" ({100 * (new['accuracy'] - old['accuracy']):+.2f} pt)"
    times = f"fit {_seconds(old['fit_time_s'], new['fit_time_s'])}, predict "
    times += _seconds(old["predict_time_s"], new["predict_time_s"])
    lines = [f"{head} {verdict}; {accuracy}; {times}"]
    if outcome.environment:
        lines.append("  environment: " + "; ".join(f"{c} {a or '-'} -> {b or '-'}" for c, a, b in outcome.environment))
    return lines


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Run the rows again, print a report per row as it ends, and the verdict; 0 when all are the same."""
    from ..bench.reproduce import reproduce_rows

    def show(outcome: Any) -> None:
        print("\n".join(describe(outcome)), flush=True)

    outcomes = reproduce_rows(
        args.results,
        args.rows,
        allow_import=args.allow_import,
        plugins=args.plugin,
        data_dir=args.data_dir,
        data_home=args.data_home,
        timeout=args.timeout,
        output=args.output,
        on_row=show,
    )
    same = sum(o.same for o in outcomes)
    print(f"\n{same} of {len(outcomes)} rows reproduced" + ("" if same == len(outcomes) else "; see above"))
    return 0 if same == len(outcomes) else 1
