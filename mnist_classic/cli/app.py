"""The ``mnist-classic`` command: thin wrappers that parse, call the library, print.

Exit codes: 0 success; 1 a definite "no" (a payload that fails verification, a
run with failed or timed-out cases); 2 misuse or bad input, reported as one
line on stderr without a traceback; 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from .._version import __version__
from ..data.fetch import FetchError
from ..data.idx import IDXError
from ..data.loader import DataIntegrityError
from . import commands
from .ab import add_ab_parser, cmd_ab
from .bisect import add_bisect_parser, cmd_bisect
from .errors import PROG, UsageError
from .explore import add_explore_parser, cmd_explore
from .history import add_export_parser, add_history_parser, cmd_export, cmd_history
from .matrix import add_matrix_parser, cmd_matrix
from .rank import add_rank_parser, cmd_rank
from .report import add_report_parser, cmd_report
from .reproduce import add_reproduce_parser, cmd_reproduce

__all__ = ["main"]

_USER_ERRORS = (ValueError, OSError, IDXError, DataIntegrityError, FetchError)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _n_train_list(text: str) -> list[int | None]:
    """``60000``, ``1000,2000,5000`` or ``all``."""
    out: list[int | None] = []
    for part in text.split(","):
        part = part.strip()
        if part.lower() in ("all", "full"):
            out.append(None)
            continue
        try:
            out.append(int(part))
        except ValueError:
            msg = f"--n-train takes positive integers separated by commas, or 'all'; got {text!r}"
            raise argparse.ArgumentTypeError(msg) from None
    return out


def _add_gate_options(parser: argparse.ArgumentParser) -> None:
    """The gate of ``compare`` (and ``history``): thresholds, significance level, time resolution."""
    parser.add_argument(
        "--max-slowdown",
        type=float,
        default=1.10,
        metavar="RATIO",
        help="worse (exit 1) when a time ratio NEW/BASELINE exceeds this and significantly (over runs) (default 1.10)",
    )
    parser.add_argument(
        "--max-accuracy-drop",
        type=float,
        default=0.1,
        metavar="POINTS",
        help="fail when accuracy drops by more than this many points, significantly (default 0.1)",
    )
    parser.add_argument("--alpha", type=float, default=0.01, help="significance level (default 0.01)")
    parser.add_argument(
        "--time-resolution",
        type=float,
        default=0.05,
        metavar="SEC",
        help="absolute time differences below this are not judged (default 0.05)",
    )
    parser.add_argument(
        "--max-instructions",
        type=float,
        default=1.01,
        metavar="RATIO",
        help="where both sides were counted (run --measure instructions): fail when an instruction-count ratio "
        "NEW/BASELINE exceeds this, beyond the measured noise (default 1.01)",
    )
    parser.add_argument(
        "--max-model-growth",
        type=float,
        default=None,
        metavar="RATIO",
        help="fail when a model_bytes ratio NEW/BASELINE exceeds this (default: model size, latency, MACs and "
        "probability scores are shown, not judged)",
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=None,
        metavar="RATIO",
        help="equivalence margin of the times: 'same' when the 1-2*alpha interval lies inside [1/RATIO, RATIO] "
        "(default: --max-slowdown)",
    )
    parser.add_argument(
        "--fail-on-unknown",
        action="store_true",
        help="exit 3 when nothing is worse but a verdict is unknown (neither worse nor shown the same)",
    )


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Classical machine-learning benchmarks on MNIST-format datasets.")
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="fit and time pipelines, appending one CSV row per case")
    src = run.add_argument_group("data")
    src.add_argument(
        "--dataset",
        nargs="+",
        default=None,
        metavar="NAME",
        help="registered dataset names or directories, run one after the other (default: mnist)",
    )
    src.add_argument("--data-dir", default=None, help="directory holding the four IDX files")
    src.add_argument(
        "--data-home",
        default=None,
        help="downloads and decoded cache (default: $MNIST_CLASSIC_DATA or the user cache dir)",
    )
    run.add_argument(
        "--pipelines",
        nargs="+",
        metavar="SEL",
        default=None,
        help="selectors: name[param=value,...], package.module:Name[...], steps joined by '+'; "
        "a list value is a grid, svm[C=[1,10]] (default: svm pca_svm knn rf logreg)",
    )
    run.add_argument(
        "--suite",
        nargs="+",
        default=None,
        metavar="NAME",
        help="named sets of pipelines (see 'mnist-classic list suites'), before any --pipelines",
    )
    run.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="a TOML run file (datasets, pipelines, sizes, repeats, ...); options given here override it",
    )
    run.add_argument(
        "--plugin",
        action="append",
        default=None,
        metavar="MODULE|FILE.py",
        help="load a module or file whose register_pipeline/register_dataset calls add entries (repeatable)",
    )
    run.add_argument(
        "--n-train",
        type=_n_train_list,
        default=None,
        metavar="N[,N...]",
        help="training sizes, first N images (default: all)",
    )
    run.add_argument("--n-test", type=int, default=None, metavar="N", help="test size, first N images (default: all)")
    run.add_argument(
        "--repeats", type=int, default=None, metavar="R", help="repeats per case, seeds seed..seed+R-1 (default 1)"
    )
    run.add_argument(
        "--processes",
        type=int,
        default=None,
        metavar="P",
        help="the whole run P times, each in a fresh process, one after the other, into one --output (default 1): "
        "P runs, the unit compare judges over (a process's speed level is shared by its repeats)",
    )
    run.add_argument(
        "--seed", type=int, default=None, metavar="S", help="base seed for every *random_state (default 0)"
    )
    run.add_argument(
        "--timeout", type=float, default=None, metavar="SEC", help="per-case limit; cases then run in a child process"
    )
    run.add_argument(
        "--output",
        "-o",
        default=None,
        metavar="PATH",
        help="CSV to create or append to (default: mnist_classic_results.csv)",
    )
    par = run.add_argument_group("parallel cases")
    par.add_argument(
        "--n-jobs",
        type=int,
        default=None,
        metavar="N",
        help="cases run at once, each with cores/N threads (default 1: one at a time, clean timings)",
    )
    par.add_argument(
        "--backend",
        choices=("loky", "dask"),
        default=None,
        help="engine for parallel cases: joblib's loky processes, or Dask (needs the [dask] extra)",
    )
    par.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Dask scheduler address (default: a LocalCluster of N workers on 127.0.0.1)",
    )
    par.add_argument(
        "--cluster",
        choices=("slurm",),
        default=None,
        help="run the cases on batch jobs of this scheduler through dask-jobqueue (the [slurm] extra); "
        "more settings in a run file's [cluster] table",
    )
    par.add_argument(
        "--cluster-jobs",
        type=int,
        default=None,
        metavar="N",
        help="batch jobs to start, one Dask worker each, one case at a time (default 2)",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        default=None,
        help="skip cases already in --output with status ok (same data, pipeline, n_train, seed)",
    )
    run.add_argument(
        "--check-determinism",
        action="store_true",
        default=None,
        help="fit every case twice with the same seed; exit 1 if predictions differ",
    )
    run.add_argument(
        "--engine",
        default=None,
        metavar="NAME",
        help="what runs the estimators: sklearn (stock, default) or sklearnex (needs scikit-learn-intelex); "
        "another engine is part of the case's name, svm@sklearnex",
    )
    run.add_argument(
        "--measure",
        choices=("time", "instructions"),
        default=None,
        help="time: seconds (default); instructions: each fit and predict (and step) counted under valgrind's "
        "callgrind on one thread, a figure no other process can move (needs valgrind and the [instructions] extra)",
    )
    run.add_argument(
        "--warmup",
        choices=("small", "full", "none"),
        default=None,
        help="untimed warm-up before a pipeline's first case: small (default; fit 1,000 images, predict 500), "
        "full (the whole case once) or none",
    )
    run.add_argument(
        "--threads",
        choices=("free", "all"),
        default=None,
        help="free (default): a case gets no more BLAS/OpenMP threads than the cores other processes leave free; "
        "all: the libraries' defaults",
    )
    run.add_argument(
        "--splits",
        default=None,
        metavar="5x2|K",
        help="resampled splits instead of the canonical one: 5x2 (five stratified 2-fold splits of the training "
        "images) or K (K stratified resplits of all images at --n-train/--n-test); one row per split, labelled in "
        "the split column, for rank's 5x2cv and corrected resampled t tests",
    )
    tune = run.add_argument_group("tuning (run --tune)")
    tune.add_argument(
        "--tune",
        action="store_true",
        default=None,
        help="every selector with a grid is ONE case: candidates scored on validation data from the training set "
        "only, the best refitted on it all, the test set predicted once",
    )
    tune.add_argument(
        "--validation",
        type=float,
        default=None,
        metavar="FRACTION",
        help="the stratified, seeded share of the training set that scores candidates (default 1/6)",
    )
    tune.add_argument(
        "--cv", type=int, default=None, metavar="K", help="score candidates by K stratified folds instead"
    )
    tune.add_argument(
        "--budget", type=int, default=None, metavar="N", help="at most N candidates scored per tuned case (default all)"
    )
    tune.add_argument(
        "--search",
        choices=("grid", "random", "halving"),
        default=None,
        help="GridSearchCV (default), RandomizedSearchCV (the default when --budget is below the grid) or "
        "HalvingGridSearchCV",
    )
    run.add_argument(
        "--latency",
        type=int,
        default=None,
        metavar="N",
        help="after each case, predict N test images (a fixed seeded sample) one at a time on one thread, after "
        "10 untimed calls: latency_ms_p50 and latency_ms_p99 (default 200, or the test size when smaller; 0: off)",
    )
    # Set by 'mnist-classic ab' on each run it starts (recorded in the side and ab_round columns).
    run.add_argument("--side", default=None, help=argparse.SUPPRESS)
    run.add_argument("--ab-round", type=int, default=None, help=argparse.SUPPRESS)
    run.add_argument("--quiet", "-q", action="store_true", help="no progress lines")

    data = sub.add_parser("data", help="inspect, verify or download datasets")
    dsub = data.add_subparsers(dest="data_command", metavar="ACTION", parser_class=_Parser)
    for name, helptext in (
        ("info", "files, shapes, dtypes, label counts and payload hashes"),
        ("verify", "check every payload against NAME's pinned SHA-256 (exit 0 only if all match)"),
    ):
        d = dsub.add_parser(name, help=helptext)
        d.add_argument("name", nargs="?", default=None, metavar="NAME", help="dataset (default: mnist)")
        d.add_argument("--data-dir", default=None, help="check the files in this directory instead")
        d.add_argument("--data-home", default=None, help="downloads and decoded cache")
        if name == "info":
            d.add_argument("--json", action="store_true", help="print JSON")
    d = dsub.add_parser("show", help="look at a dataset: samples per class, class balance, mean images, pixels")
    d.add_argument("name", nargs="?", default=None, metavar="NAME", help="dataset (default: mnist)")
    d.add_argument("--data-dir", default=None, help="a directory of IDX files (class names from its hashes)")
    d.add_argument("--data-home", default=None, help="downloads and decoded cache")
    d.add_argument("--out", default="data-show", metavar="DIR", help="folder for the figures (default: data-show)")
    d.add_argument("--per-class", type=int, default=10, metavar="N", help="images per class in the grid (default 10)")
    d.add_argument(
        "--formats",
        type=lambda text: [f.strip() for f in text.split(",") if f.strip()],
        default=["png", "svg"],
        metavar="png,svg",
        help="file formats, comma-separated (default: png,svg)",
    )
    d.add_argument("--seed", type=int, default=None, metavar="S", help="a random sample per class (default: the first)")
    d = dsub.add_parser("download", help="fetch a dataset into the cache (mirrors in order, hash-checked)")
    d.add_argument("name", metavar="NAME")
    d.add_argument("--data-home", default=None, help="downloads and decoded cache")

    cmp = sub.add_parser("compare", help="compare two runs; exit 1 when accuracy or speed regressed")
    cmp.add_argument("baseline", metavar="BASELINE", help="results CSV, or a folder of them")
    cmp.add_argument("new", metavar="NEW", help="results CSV, or a folder of them")
    cmp.add_argument("--format", choices=("text", "md", "json"), default="text", help="output format")
    _add_gate_options(cmp)
    cmp.add_argument(
        "--fail-on-missing", action="store_true", help="also fail when a baseline case is missing from NEW"
    )

    summ = sub.add_parser("summary", help="print the summary table of results CSVs")
    summ.add_argument("results", metavar="CSV", nargs="+", help="CSVs written by 'mnist-classic run'")
    summ.add_argument("--run-id", default=None, help="only the rows of this run")
    summ.add_argument("--suite", default=None, metavar="NAME", help="only the rows of this suite's pipelines")
    summ.add_argument("--total", action="store_true", help="end with the total fit + predict seconds of the rows shown")

    lst = sub.add_parser("list", help="list pipelines (with defaults) and datasets")
    lst.add_argument("what", nargs="?", choices=("pipelines", "suites", "datasets"), default=None)
    lst.add_argument(
        "--plugin", action="append", default=None, metavar="MODULE|FILE.py", help="also list what a plugin adds"
    )
    add_report_parser(sub)
    add_rank_parser(sub)
    add_explore_parser(sub)
    add_history_parser(sub, gate_options=_add_gate_options)
    add_matrix_parser(sub)
    add_ab_parser(sub)
    add_export_parser(sub)
    add_reproduce_parser(sub)
    add_bisect_parser(sub)
    return p


def _matrix_run_args(parser: argparse.ArgumentParser, extra: list[str], command: str = "matrix") -> list[str]:
    """The options of ``matrix`` (or ``ab``) that are ``run``'s, checked by the ``run`` parser before any build."""
    try:
        parser.parse_args(["run", *extra])
    except UsageError as exc:
        raise UsageError(str(exc).replace(f"{PROG} run:", f"{PROG} {command} (run options):", 1)) from None
    return extra


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    Parameters
    ----------
    argv : sequence of str or None, default=None
        Arguments without the program name; ``None`` reads ``sys.argv``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra and args.command not in ("matrix", "ab", "bisect"):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        fresh = not logging.getLogger().handlers
        logging.basicConfig(
            level=logging.INFO if args.verbose else logging.WARNING,
            format=f"{PROG}: %(levelname)s: %(message)s",
            stream=sys.stderr,
        )
        if fresh:  # the handler made here shows libraries' INFO records (Dask's) only with --verbose
            logging.getLogger().handlers[0].setLevel(logging.INFO if args.verbose else logging.WARNING)
        if args.command == "run":
            return commands.cmd_run(args, argv)
        if args.command == "data":
            handlers = {
                "info": commands.cmd_data_info,
                "verify": commands.cmd_data_verify,
                "download": commands.cmd_data_download,
                "show": commands.cmd_data_show,
            }
            if args.data_command is None:
                raise UsageError(f"{PROG} data: choose an action: {', '.join(handlers)}")
            return handlers[args.data_command](args)
        if args.command == "list":
            return commands.cmd_list(args)
        if args.command == "summary":
            return commands.cmd_summary(args)
        if args.command == "compare":
            return commands.cmd_compare(args)
        if args.command == "report":
            return cmd_report(args)
        if args.command == "rank":
            return cmd_rank(args)
        if args.command == "explore":
            return cmd_explore(args)
        if args.command == "history":
            return cmd_history(args)
        if args.command == "export":
            return cmd_export(args)
        if args.command == "reproduce":
            return cmd_reproduce(args)
        if args.command == "matrix":
            run_args = _matrix_run_args(parser, extra)
            return cmd_matrix(args, run_args, argv)
        if args.command == "ab":
            return cmd_ab(args, _matrix_run_args(parser, extra, "ab"), argv)
        if args.command == "bisect":
            run_args = [a for a in extra if a != "--"]
            return cmd_bisect(args, _matrix_run_args(parser, run_args, "bisect") if run_args else [])
        parser.print_help()
        return 2
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except _USER_ERRORS as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, FileNotFoundError) and exc.filename and str(exc.filename) not in message:
            message = f"{message}: {exc.filename}"
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
