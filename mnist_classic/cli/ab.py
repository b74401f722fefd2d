"""``mnist-classic ab``: the same cases in two environments, round after round, judged by paired statistics.

Every option that ``ab`` does not know is a ``run`` option, checked by the
``run`` parser before any environment is built (as ``matrix`` does) and passed
to both sides' runs. ``ab --results CSV`` judges the rows of an earlier ``ab``
without running anything.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from .errors import PROG, UsageError
from .matrix import add_env_options, check_env_timeout

__all__ = ["add_ab_parser", "cmd_ab"]


def add_ab_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``ab`` subcommand; its parser lets unknown options through (they are ``run``'s)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "ab",
        allow_abbrev=False,  # unknown options are run's: --ne... must not be taken for --new
        help="A/B: the same run in two environments, round after round; paired ratios, exit 1 on a slowdown",
        description="Build (or reuse) the environments of --base and --new as 'matrix' does, then run "
        "'mnist-classic run' with the other options in both, --processes times each per round: one after the other "
        "in a random order (interleave) or both at once, one core each (duet, the default where it can run). "
        "Each round's ratio NEW/BASE is "
        "paired; the geometric mean of the ratios is judged with its t interval on the logs: worse, same (the "
        "interval inside the margin) or unknown. Exit 1 when a case is worse (slower beyond --max-slowdown and "
        "significantly); 3 with --fail-on-unknown when a verdict is unknown; 2 on misuse. Any option of 'run' may "
        "be given (--pipelines, --n-train, --n-test, --plugin, --measure, ...).",
    )
    p.add_argument("--base", metavar="REQS", help="the base side's requirements, as matrix --env takes them")
    p.add_argument("--new", metavar="REQS", help="the new side's requirements")
    p.add_argument(
        "--results",
        metavar="CSV",
        default=None,
        help="judge the rows of an earlier ab in this CSV, without running anything",
    )
    p.add_argument("--rounds", type=int, default=10, metavar="R", help="rounds, each running both sides (default 10)")
    p.add_argument(
        "--processes",
        type=int,
        default=None,
        metavar="P",
        help="runs (processes) per side in each round (default 1); a side's value in a round is the geometric "
        "mean over its runs",
    )
    p.add_argument(
        "--measurements",
        type=int,
        default=None,
        metavar="M",
        help="measurements inside each run, passed to it as --repeats (default 1); with P or M above 1 the "
        "output says how the variance splits between rounds, processes and measurements",
    )
    p.add_argument(
        "--max-rounds",
        type=int,
        default=None,
        metavar="N",
        help="sequential rounds: after the first R rounds, add batches of R while a verdict is unknown, up to N "
        "rounds in all; alpha is split over the looks (alpha / looks each; default: R rounds, one look)",
    )
    p.add_argument(
        "--max-time",
        type=float,
        default=None,
        metavar="SEC",
        help="with --max-rounds: start no further batch after SEC seconds of rounds",
    )
    p.add_argument(
        "--mode",
        choices=("auto", "interleave", "duet"),
        default="auto",
        help="duet: both at once, one core and one thread each; interleave: one side after the other, in random "
        "order, with the threads the run asks for; auto (default): duet, unless the machine has one core or the run "
        "options ask for more (--n-jobs, --threads, --scheduler, --cluster, --cluster-jobs)",
    )
    p.add_argument(
        "--order-seed", type=int, default=None, metavar="S", help="seed of the rounds' order (default: drawn, logged)"
    )
    p.add_argument(
        "--output",
        "-o",
        default=None,
        metavar="PATH",
        help="a new CSV for both sides' rows (default: ab-<UTC time>.csv)",
    )
    add_env_options(p)
    gate = p.add_argument_group("gate")
    gate.add_argument(
        "--max-slowdown",
        type=float,
        default=1.10,
        metavar="RATIO",
        help="fail when a paired time ratio NEW/BASE exceeds this and its interval lies above 1 (default 1.10)",
    )
    gate.add_argument(
        "--alpha",
        type=float,
        default=0.01,
        help="significance: the intervals are 1-alpha intervals (default 0.01, as compare's; split over the looks)",
    )
    gate.add_argument(
        "--time-resolution",
        type=float,
        default=0.05,
        metavar="SEC",
        help="differences of the sides' mean seconds below this are not judged (default 0.05)",
    )
    gate.add_argument(
        "--max-accuracy-drop",
        type=float,
        default=0.1,
        metavar="POINTS",
        help="fail when accuracy drops by more than this many points, significantly (McNemar; default 0.1)",
    )
    gate.add_argument(
        "--max-instructions",
        type=float,
        default=1.01,
        metavar="RATIO",
        help="with --measure instructions: fail when a count ratio exceeds this, significantly (default 1.01)",
    )
    gate.add_argument(
        "--correction",
        choices=("bonferroni", "none"),
        default="bonferroni",
        help="bonferroni (default): each of the m speed metrics judged is tested at alpha/m, so a version compared "
        "with itself fails with probability at most alpha; none: each at alpha",
    )
    gate.add_argument(
        "--margin",
        type=float,
        default=None,
        metavar="RATIO",
        help="equivalence margin of the times: 'same' when the 1-2*alpha interval lies inside [1/RATIO, RATIO] "
        "(default: --max-slowdown)",
    )
    gate.add_argument(
        "--fail-on-unknown",
        action="store_true",
        help="exit 3 when nothing is worse but a verdict is unknown (more rounds, or a quieter machine, would decide)",
    )
    p.add_argument("--format", choices=("text", "md", "json"), default="text", help="output format of the verdicts")
    return p


def _compare(args: argparse.Namespace, path: str) -> Any:
    from ..analysis.runs import load_runs
    from ..analysis.verdicts.paired import compare_paired
    from ..matrix.ab import ab_mode, logged_looks, looks, run_seconds

    # Judged again (--results): at the looks its ab logged, so that the verdict is the one it printed.
    n_looks = looks(args.rounds, args.max_rounds) if args.results is None else logged_looks(path)
    # A running ab's log is written at its end: until then its mode is the option's.
    running = args.mode if args.results is None else None
    result = compare_paired(
        load_runs([path]),
        max_slowdown=args.max_slowdown,
        max_accuracy_drop=args.max_accuracy_drop,
        alpha=args.alpha / n_looks,  # alpha spent evenly over the looks (a Bonferroni bound over them)
        time_resolution=args.time_resolution,
        max_instructions=args.max_instructions,
        correction=args.correction,
        margin=args.margin,
        run_seconds=run_seconds(path),
        mode="duet" if running == "duet" else ab_mode(path),
    )
    if n_looks > 1:
        result.settings["looks"] = n_looks
        result.settings["interval"] += f" (alpha {args.alpha:g} split over {n_looks} looks)"
    return result


def _judge(args: argparse.Namespace, path: str) -> int:
    from ..analysis.verdicts.decide import exit_code
    from ..analysis.verdicts.paired_format import format_json, format_markdown, format_text

    result = _compare(args, path)
    formatter = {"text": format_text, "md": format_markdown, "json": format_json}[args.format]
    sys.stdout.write(formatter(result))
    return exit_code([r.verdict for r in result.rows], fail_on_unknown=args.fail_on_unknown)


def cmd_ab(args: argparse.Namespace, run_args: Sequence[str], argv: Sequence[str]) -> int:
    """Run the rounds (unless ``--results``), print a line per round to stderr, then the verdicts; return 0, 1 or 2."""
    from ..analysis.verdicts.compare import validate_gate
    from ..matrix.ab import ABRunError, auto_mode, run_ab
    from ..matrix.envs import EnvBuildError

    validate_gate(
        args.max_slowdown, args.max_accuracy_drop, args.alpha, args.time_resolution, args.max_instructions, args.margin
    )
    if args.results is not None:
        given = [o for o, v in (("--base", args.base), ("--new", args.new), ("--output", args.output)) if v]
        given += [
            o
            for o, v in (
                ("--max-rounds", args.max_rounds),
                ("--max-time", args.max_time),
                ("--processes", args.processes),
                ("--measurements", args.measurements),
            )
            if v is not None
        ]
        if given or run_args:
            what = " ".join([*given, *run_args])
            raise UsageError(f"{PROG} ab: --results judges an earlier ab and runs nothing; drop {what}")
        return _judge(args, args.results)
    if not args.base or not args.new:
        raise UsageError(f"{PROG} ab: give both --base REQS and --new REQS (or --results CSV to judge an earlier ab)")
    check_env_timeout(args.env_timeout)
    output = args.output or f"ab-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}.csv"
    done: list[Any] = []

    if args.max_time is not None and args.max_rounds is None:
        raise UsageError(f"{PROG} ab: --max-time bounds sequential rounds: give --max-rounds too")
    total = args.max_rounds or args.rounds
    chosen = ""
    if args.mode == "auto":  # resolved once, before any round: _compare judges a running ab by args.mode
        args.mode = auto_mode(run_args)
        why = (
            "both sides at once, one core and one thread each; --mode interleave times them with their threads"
            if args.mode == "duet"
            else "one side after the other: a duet needs two cores and a run that asks for no more than one"
        )
        chosen = f"mode: {args.mode} (--mode auto: {why})"

    def round_done(r: Any) -> None:
        if not done and chosen:  # said with the first round, so that a misuse stays one line
            print(chosen, file=sys.stderr, flush=True)
        done.append(r)
        times = ", ".join(f"{key} {r.seconds[key]:.1f} s" for _, key in r.runs() if key in r.seconds)
        if r.cores and r.processes == 1:
            where = f" (cores {r.cores['base']}, {r.cores['new']})"
        else:
            where = f" (cores {', '.join(f'{k} {c}' for k, c in r.cores.items())})" if r.cores else ""
        print(f"round {r.round}/{total}: {times}{where}", file=sys.stderr, flush=True)

    def more(look: int) -> bool:
        """After a batch: another one while any speed verdict is unknown."""
        unknown = [r for r in _compare(args, str(output)).unknown if r.metric not in ("accuracy", "status")]
        if unknown:
            print(f"look {look}: {len(unknown)} verdict(s) unknown, another {args.rounds} rounds", file=sys.stderr)
        return bool(unknown)

    def output_line(side: str, line: str) -> None:
        print(f"  {side} | {line}", file=sys.stderr, flush=True)

    try:
        result = run_ab(
            args.base,
            args.new,
            run_args,
            output,
            rounds=args.rounds,
            mode=args.mode,
            processes=1 if args.processes is None else args.processes,
            measurements=1 if args.measurements is None else args.measurements,
            order_seed=args.order_seed,
            cache_dir=args.envs_dir,
            installer=args.installer,
            run_timeout=args.env_timeout,
            command=shlex.join([PROG, *argv]),
            on_round=round_done,
            on_output=output_line if args.verbose else None,
            max_rounds=args.max_rounds,
            max_time=args.max_time,
            more=more if args.max_rounds is not None else None,
        )
    except (EnvBuildError, ABRunError) as exc:
        kept = f"; the rows of {len(done)} round(s) are in {output}" if done else ""
        raise UsageError(f"{PROG} ab: error: {str(exc).splitlines()[0]}{kept}") from None
    except KeyboardInterrupt:
        if done:
            print(
                f"{PROG} ab: interrupted after {len(done)} round(s); judge them with '{PROG} ab --results {output}'",
                file=sys.stderr,
            )
        raise
    print(
        f"{len(result.rounds)} rounds ({args.mode}, order seed {result.order_seed}) into {result.output}; "
        f"log: {result.log}",
        file=sys.stderr,
    )
    return _judge(args, str(result.output))
