"""The ``mnist-classic`` command: thin wrappers that parse, call the library, print.

Exit codes: 0 success; 1 a definite "no" (a payload that fails verification, a
run with failed or timed-out cases); 2 misuse or bad input, reported as one
line on stderr without a traceback; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

from . import __version__
from .datasets import DATASETS, get_dataset_spec
from .fetch import FetchError, fetch_dataset
from .idx import IDXError
from .loader import DataIntegrityError, load_dataset, verify_dataset

__all__ = ["main"]

PROG = "mnist-classic"
_USER_ERRORS = (ValueError, OSError, IDXError, DataIntegrityError, FetchError)


class UsageError(Exception):
    """A command-line mistake: reported in one line, exit 2."""


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


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Classical machine-learning benchmarks on MNIST-format datasets.")
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="fit and time pipelines, appending one CSV row per case")
    src = run.add_argument_group("data")
    src.add_argument("--dataset", default=None, help="registered dataset name or directory (default: mnist)")
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
        help="selectors name[param=value,...] (default: svm pca_svm knn rf logreg)",
    )
    run.add_argument(
        "--n-train",
        type=_n_train_list,
        default=[None],
        metavar="N[,N...]",
        help="training sizes, first N images (default: all)",
    )
    run.add_argument("--n-test", type=int, default=None, metavar="N", help="test size, first N images (default: all)")
    run.add_argument("--repeats", type=int, default=1, metavar="R", help="repeats per case, seeds seed..seed+R-1")
    run.add_argument("--seed", type=int, default=0, metavar="S", help="base seed for every *random_state (default 0)")
    run.add_argument(
        "--timeout", type=float, default=None, metavar="SEC", help="per-case limit; cases then run in a child process"
    )
    run.add_argument(
        "--output",
        "-o",
        default="mnist_classic_results.csv",
        metavar="PATH",
        help="CSV to create or append to (default: mnist_classic_results.csv)",
    )
    par = run.add_argument_group("parallel cases")
    par.add_argument(
        "--n-jobs",
        type=int,
        default=1,
        metavar="N",
        help="cases run at once, each with cores/N threads (default 1: one at a time, clean timings)",
    )
    par.add_argument(
        "--backend",
        choices=("loky", "dask"),
        default="loky",
        help="engine for parallel cases: joblib's loky processes, or Dask (needs the [dask] extra)",
    )
    par.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Dask scheduler address (default: a LocalCluster of N workers on 127.0.0.1)",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="skip cases already in --output with status ok (same data, pipeline, n_train, seed)",
    )
    run.add_argument(
        "--check-determinism",
        action="store_true",
        help="fit every case twice with the same seed; exit 1 if predictions differ",
    )
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
    d = dsub.add_parser("download", help="fetch a dataset into the cache (mirrors in order, hash-checked)")
    d.add_argument("name", metavar="NAME")
    d.add_argument("--data-home", default=None, help="downloads and decoded cache")

    cmp = sub.add_parser("compare", help="compare two runs; exit 1 when accuracy or speed regressed")
    cmp.add_argument("baseline", metavar="BASELINE", help="results CSV, or a folder of them")
    cmp.add_argument("new", metavar="NEW", help="results CSV, or a folder of them")
    cmp.add_argument("--format", choices=("text", "md", "json"), default="text", help="output format")
    cmp.add_argument(
        "--max-slowdown",
        type=float,
        default=1.10,
        metavar="RATIO",
        help="fail when a time ratio NEW/BASELINE exceeds this, beyond noise (default 1.10)",
    )
    cmp.add_argument(
        "--max-accuracy-drop",
        type=float,
        default=0.1,
        metavar="POINTS",
        help="fail when accuracy drops by more than this many points, significantly (default 0.1)",
    )
    cmp.add_argument("--alpha", type=float, default=0.01, help="significance level (default 0.01)")
    cmp.add_argument(
        "--time-resolution",
        type=float,
        default=0.05,
        metavar="SEC",
        help="absolute time differences below this are not judged (default 0.05)",
    )
    cmp.add_argument(
        "--fail-on-missing", action="store_true", help="also fail when a baseline case is missing from NEW"
    )

    summ = sub.add_parser("summary", help="print the summary table of a results CSV")
    summ.add_argument("results", metavar="CSV", help="a CSV written by 'mnist-classic run'")
    summ.add_argument("--run-id", default=None, help="only the rows of this run")

    lst = sub.add_parser("list", help="list pipelines (with defaults) and datasets")
    lst.add_argument("what", nargs="?", choices=("pipelines", "datasets"), default=None)
    from .report import add_report_parser  # light: pandas and matplotlib load only when it runs

    add_report_parser(sub)
    return p


def _cmd_data_info(args: argparse.Namespace) -> int:
    if args.name is None and args.data_dir is not None:  # any directory, named by its hashes if registered
        ds = load_dataset(args.data_dir, data_home=args.data_home, download=False)
    else:  # a registered name (only a name: a path goes to --data-dir), from DIR if given
        name = get_dataset_spec(args.name or "mnist").name
        ds = load_dataset(name, data_dir=args.data_dir, data_home=args.data_home, download=False)
    counts = {
        split: {int(k): int(v) for k, v in enumerate(np.bincount(np.asarray(y)))}
        for split, y in (("train", ds.y_train), ("test", ds.y_test))
    }
    info: dict[str, Any] = {
        "dataset": ds.name,
        "files": [
            {
                "role": f.role,
                "path": f.path,
                "idx_dtype": f.idx_dtype,
                "shape": list(f.shape),
                "payload_sha256": f.payload_sha256,
            }
            for f in ds.files
        ],
        "matrices": {
            k: {"shape": list(getattr(ds, k).shape), "dtype": str(getattr(ds, k).dtype)}
            for k in ("X_train", "y_train", "X_test", "y_test")
        },
        "label_counts": counts,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"dataset: {ds.name}")
    for f in info["files"]:
        shape = "x".join(str(d) for d in f["shape"])
        print(f"  {f['role']:<13} {f['idx_dtype']:<6} {shape:<12} sha256 {f['payload_sha256']}  {f['path']}")
    for k, m in info["matrices"].items():
        print(f"  {k:<8} {tuple(m['shape'])} {m['dtype']}")
    for split, c in counts.items():
        print(f"  {split} label counts: " + " ".join(f"{k}:{v}" for k, v in c.items()))
    return 0


def _cmd_data_verify(args: argparse.Namespace) -> int:
    name = args.name or "mnist"
    checks = verify_dataset(name, data_dir=args.data_dir, data_home=args.data_home)
    bad = [c for c in checks if not c.ok]
    if bad:
        reasons = "; ".join(
            f"{c.path}: {c.error}" if c.error else f"{c.path}: expected {c.expected}, got {c.actual}" for c in bad
        )
        print(f"{PROG}: {len(bad)} of {len(checks)} {name} files failed verification: {reasons}", file=sys.stderr)
        return 1
    for c in checks:
        print(f"OK  {c.role:<13} {c.actual}  {c.path}")
    print(f"all {len(checks)} payloads match the pinned SHA-256 of {name}")
    return 0


def _cmd_data_download(args: argparse.Namespace) -> int:
    spec = get_dataset_spec(args.name)
    if spec.bundled:
        print(f"{spec.name} is bundled with the package: nothing to download")
        return 0
    paths = fetch_dataset(spec, data_home=args.data_home)
    ds = load_dataset(spec.name, data_home=args.data_home, download=False)  # verifies and pins payloads
    for f in ds.files:
        print(f"{f.role:<13} {f.payload_sha256}  {paths[f.role]}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    if args.what in (None, "pipelines"):
        from .pipelines import DEFAULT_PIPELINES, PIPELINES

        print("pipelines (* = run by default):")
        for name, spec in PIPELINES.items():
            mark = "*" if name in DEFAULT_PIPELINES else " "
            print(f" {mark} {name:<9} {spec.description}")
            print(f"   {'':<9} {' '.join(repr(spec.factory()).split())}")
    if args.what in (None, "datasets"):
        if args.what is None:
            print()
        print("datasets:")
        for name, ds in DATASETS.items():
            where = "bundled" if ds.bundled else "download"
            print(f"   {name:<14} [{where}] {ds.description}; {ds.license}")
        print("   or any directory holding train/t10k images and labels as IDX (raw or .gz)")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from .compare import compare_runs, format_json, format_markdown, format_text, load_runs, validate_gate

    validate_gate(args.max_slowdown, args.max_accuracy_drop, args.alpha, args.time_resolution)
    result = compare_runs(
        load_runs([args.baseline]),
        load_runs([args.new]),
        max_slowdown=args.max_slowdown,
        max_accuracy_drop=args.max_accuracy_drop,
        alpha=args.alpha,
        time_resolution=args.time_resolution,
    )
    formatter = {"text": format_text, "md": format_markdown, "json": format_json}[args.format]
    sys.stdout.write(formatter(result))
    return result.exit_code(fail_on_missing=args.fail_on_missing)


def _cmd_summary(args: argparse.Namespace) -> int:
    from .progress import summary_table
    from .results import read_results

    df = read_results(args.results)
    if args.run_id is not None:
        df = df[df["run_id"] == args.run_id]
        if df.empty:
            msg = f"The '--run-id' option must name a run in {args.results}. Got {args.run_id!r} instead."
            raise ValueError(msg)
    print(summary_table(df.to_dict("records")))
    return 0


def _cmd_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .pipelines import DEFAULT_PIPELINES
    from .progress import Progress, summary_table
    from .runner import RunConfig, run_benchmark

    dataset = args.dataset or (args.data_dir if args.data_dir else "mnist")
    data_dir = args.data_dir if args.dataset else None
    config = RunConfig(
        dataset=dataset,
        data_dir=data_dir,
        pipelines=args.pipelines or DEFAULT_PIPELINES,
        n_train=args.n_train,
        n_test=args.n_test,
        repeats=args.repeats,
        seed=args.seed,
        timeout=args.timeout,
        output=args.output,
        data_home=args.data_home,
        command=shlex.join([PROG, *argv]),
        check_determinism=args.check_determinism,
        resume=args.resume,
        n_jobs=args.n_jobs,
        backend=args.backend,
        scheduler=args.scheduler,
    )
    progress = None if args.quiet else Progress(sys.stderr)
    result = run_benchmark(
        config,
        on_start=progress.start if progress else None,
        on_end=progress.end if progress else None,
    )
    print(summary_table(result.rows))
    failed = sum(r["status"] != "ok" for r in result.rows)
    print(
        f"\n{len(result.rows)} of {result.planned} cases written to {result.output} (run_id {result.run_id})"
        + (f"; {failed} failed" if failed else "")
    )
    if args.check_determinism:
        if result.nondeterministic:
            print(f"non-deterministic with a fixed seed: {', '.join(result.nondeterministic)}")
        else:
            print(f"deterministic: all {len(result.rows)} cases predicted the same labels when fitted twice")
    if result.skipped:
        print(f"{result.skipped} case(s) already in {result.output} were skipped (--resume)")
    if result.write_error:
        print(f"{PROG}: error: {result.write_error}; {len(result.rows)} finished cases are kept", file=sys.stderr)
    if result.interrupted:
        print(f"{PROG}: interrupted: {len(result.rows)} of {result.planned} cases finished and kept", file=sys.stderr)
    return result.exit_code


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
        args = parser.parse_args(argv)
        logging.basicConfig(
            level=logging.INFO if args.verbose else logging.WARNING,
            format=f"{PROG}: %(levelname)s: %(message)s",
            stream=sys.stderr,
        )
        if args.command == "run":
            return _cmd_run(args, argv)
        if args.command == "data":
            handlers = {"info": _cmd_data_info, "verify": _cmd_data_verify, "download": _cmd_data_download}
            if args.data_command is None:
                raise UsageError(f"{PROG} data: choose an action: {', '.join(handlers)}")
            return handlers[args.data_command](args)
        if args.command == "list":
            return _cmd_list(args)
        if args.command == "summary":
            return _cmd_summary(args)
        if args.command == "compare":
            return _cmd_compare(args)
        if args.command == "report":
            from .report import cmd_report

            return cmd_report(args)
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
