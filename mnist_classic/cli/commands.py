"""Handlers of the commands ``data``, ``list``, ``compare``, ``summary`` and ``run``.

Each parses nothing and decides nothing: it calls the library, prints, and
returns an exit code (see :mod:`.app` for the codes).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..data.datasets import DATASET_ORIGINS, DATASETS, get_dataset_spec
from ..data.fetch import fetch_dataset
from ..data.loader import load_dataset, verify_dataset
from .errors import PROG

__all__ = [
    "cmd_compare",
    "cmd_data_download",
    "cmd_data_info",
    "cmd_data_show",
    "cmd_data_verify",
    "cmd_list",
    "cmd_run",
    "cmd_summary",
]


def cmd_data_info(args: argparse.Namespace) -> int:
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


def cmd_data_show(args: argparse.Namespace) -> int:
    from ..analysis.explore.dataview import show_dataset

    if args.name is None and args.data_dir is not None:  # any directory, named by its hashes if registered
        dataset, data_dir = args.data_dir, None
    else:
        dataset, data_dir = get_dataset_spec(args.name or "mnist").name, args.data_dir
    preview = show_dataset(
        dataset,
        data_dir=data_dir,
        out=args.out,
        per_class=args.per_class,
        formats=args.formats,
        seed=args.seed,
        data_home=args.data_home,
    )
    sys.stdout.write(preview.summary())
    return 0


def cmd_data_verify(args: argparse.Namespace) -> int:
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


def cmd_data_download(args: argparse.Namespace) -> int:
    spec = get_dataset_spec(args.name)
    if spec.bundled:
        print(f"{spec.name} is bundled with the package: nothing to download")
        return 0
    paths = fetch_dataset(spec, data_home=args.data_home)
    ds = load_dataset(spec.name, data_home=args.data_home, download=False)  # verifies and pins payloads
    for f in ds.files:
        print(f"{f.role:<13} {f.payload_sha256}  {paths[f.role]}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from ..spec.plugins import load_entry_points, load_plugins

    load_entry_points()
    load_plugins(args.plugin or ())
    if args.what in (None, "pipelines"):
        from ..spec.pipelines import DEFAULT_PIPELINES, PIPELINES

        print("pipelines (* = run by default; any estimator as package.module:Name works too):")
        for name, spec in PIPELINES.items():
            mark = "*" if name in DEFAULT_PIPELINES else " "
            where = "" if spec.origin == "built-in" else f"  [{spec.origin}]"
            print(f" {mark} {name:<9} {spec.description}{where}")
            print(f"   {'':<9} {' '.join(repr(spec.factory()).split())}")
    if args.what in (None, "suites"):
        from ..spec.pipelines import SUITES

        if args.what is None:
            print()
        print("suites (run --suite NAME):")
        for suite in SUITES.values():
            where = "" if suite.origin == "built-in" else f"  [{suite.origin}]"
            print(f"   {suite.name:<10} {suite.description}{where}")
            print(f"   {'':<10} {' '.join(suite.pipelines)}")
    if args.what in (None, "datasets"):
        if args.what is None:
            print()
        print("datasets:")
        for name, ds in DATASETS.items():
            where = "bundled" if ds.bundled else "download"
            origin = DATASET_ORIGINS.get(name, "built-in")
            extra = "" if origin == "built-in" else f"  [{origin}]"
            print(f"   {name:<14} [{where}] {ds.description}; {ds.license}{extra}")
        print("   or any directory holding train/t10k images and labels as IDX (raw or .gz)")
    return 0


#: The gate's options (cli/app.py's _add_gate_options), as compare_runs and build_history take them.
GATE_OPTIONS = (
    "max_slowdown",
    "max_accuracy_drop",
    "alpha",
    "time_resolution",
    "max_instructions",
    "max_model_growth",
    "margin",
)


def gate_options(args: argparse.Namespace) -> dict[str, Any]:
    """The gate of ``compare`` and ``history`` from their parsed options, as keywords."""
    return {name: getattr(args, name) for name in GATE_OPTIONS}


def cmd_compare(args: argparse.Namespace) -> int:
    from ..analysis.runs import load_runs
    from ..analysis.significance import compare_splits, format_splits, split_regressions
    from ..analysis.verdicts.compare import compare_runs, format_json, format_markdown, format_text, validate_gate

    gate = gate_options(args)
    validate_gate(**gate)  # before any file is read
    baseline, new = load_runs([args.baseline]), load_runs([args.new])
    # Rows of resampled splits (run --splits) are judged split by split (5x2cv F, corrected t), not by the gate.
    canonical = [df[df["split"].fillna("") == ""] for df in (baseline, new)]
    splits = compare_splits(baseline, new, alpha=args.alpha)
    code = 0
    if splits and any(df.empty for df in canonical):
        text = "" if args.format == "json" else format_splits(splits, args.format)
        payload: dict[str, Any] = {}
    else:
        result = compare_runs(*canonical, **gate)
        formatter = {"text": format_text, "md": format_markdown, "json": format_json}[args.format]
        text = formatter(result)
        payload = json.loads(text) if args.format == "json" else {}
        if splits and args.format != "json":
            text += "\n" + format_splits(splits, args.format)
        code = result.exit_code(fail_on_missing=args.fail_on_missing, fail_on_unknown=args.fail_on_unknown)
    if args.format == "json" and splits:
        payload["resampled_splits"] = [s.to_dict() for s in splits]
        text = json.dumps(payload, indent=2) + "\n"
    worse = split_regressions(splits)
    if worse:
        code = max(code, 1)
        if args.format != "json":
            text += f"\nworse over resampled splits: {', '.join(worse)}\n"
    sys.stdout.write(text)
    return code


def cmd_summary(args: argparse.Namespace) -> int:
    from ..analysis.runs import load_runs
    from ..bench.progress import summary_table
    from ..spec.pipelines import suite_pipelines

    df = load_runs(args.results)
    if args.run_id is not None:
        df = df[df["run_id"] == args.run_id]
        if df.empty:
            msg = f"The '--run-id' option must name a run in {', '.join(args.results)}. Got {args.run_id!r} instead."
            raise ValueError(msg)
    if args.suite is not None:
        df = df[df["pipeline"].isin(suite_pipelines([args.suite]))]
    print(summary_table([{str(k): v for k, v in row.items()} for row in df.to_dict("records")]))
    if args.total:
        seconds = float((df["fit_time_s"].fillna(0) + df["predict_time_s"].fillna(0)).sum())
        print(f"\ntotal fit + predict: {seconds:.0f} s over {len(df)} cases")
    return 0


#: ``run`` options that a run file may also set: (option attribute, RunConfig field).
_RUN_OVERRIDES = (
    ("pipelines", "pipelines"),
    ("n_train", "n_train"),
    ("n_test", "n_test"),
    ("repeats", "repeats"),
    ("seed", "seed"),
    ("timeout", "timeout"),
    ("output", "output"),
    ("data_home", "data_home"),
    ("n_jobs", "n_jobs"),
    ("backend", "backend"),
    ("scheduler", "scheduler"),
    ("resume", "resume"),
    ("check_determinism", "check_determinism"),
    ("engine", "engine"),
    ("measure", "measure"),
    ("warmup", "warmup"),
    ("threads", "threads"),
    ("splits", "splits"),
    ("latency", "latency"),
    ("side", "side"),
    ("ab_round", "ab_round"),
    ("tune", "tune"),
    ("validation", "validation"),
    ("cv", "cv"),
    ("budget", "budget"),
    ("search", "search"),
)


def run_config(args: argparse.Namespace, argv: Sequence[str]) -> Any:
    """The RunConfig of a ``run`` command line: the run file's values, then the options given."""
    from ..bench.runner import RunConfig
    from ..spec.runfile import read_run_file

    values: dict[str, Any] = {}
    text = None
    if args.config is not None:
        values, text = read_run_file(args.config)
    for option, name in _RUN_OVERRIDES:
        given = getattr(args, option)
        if given is not None:
            values[name] = given
    if args.cluster is not None or args.cluster_jobs is not None:
        table = dict(values.get("cluster") or {})
        if args.cluster is not None:
            table["kind"] = args.cluster
        if args.cluster_jobs is not None:
            if "kind" not in table:
                msg = "The '--cluster-jobs' option needs a cluster: --cluster slurm (or a run file's [cluster] table)."
                raise ValueError(msg)
            table["jobs"] = args.cluster_jobs
        values["cluster"] = table
    if args.plugin:
        values["plugins"] = [*values.get("plugins", []), *args.plugin]
    suites = args.suite if args.suite is not None else values.pop("suites", None)
    values.pop("suites", None)
    if suites:
        from ..spec.pipelines import suite_pipelines
        from ..spec.plugins import load_entry_points, load_plugins

        load_entry_points()
        load_plugins(values.get("plugins", ()))  # a plugin may add suites or their members
        named = args.pipelines if args.pipelines is not None else [] if args.suite else values.get("pipelines", [])
        values["pipelines"] = [*suite_pipelines(suites), *named]
    if args.dataset:
        values["dataset"] = args.dataset if len(args.dataset) > 1 else args.dataset[0]
        values.pop("data_dir", None)
    if args.data_dir is not None:
        if not args.dataset:  # a directory alone is the dataset; with a name, that name's files
            values["dataset"] = args.data_dir
        else:
            values["data_dir"] = args.data_dir
    return RunConfig(**values, command=shlex.join([PROG, *argv]), config_text=text)


def cmd_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from ..bench.progress import Progress, contract_line, summary_table
    from ..bench.runner import run_benchmark

    config = run_config(args, argv)
    if args.processes is not None and args.processes != 1:
        return _run_processes(args.processes, config, argv)
    progress = None if args.quiet else Progress(sys.stderr)

    def checking(names: list[str], limit: float) -> None:  # on stdout: stderr keeps one line for an error
        print(contract_line(names, limit), flush=True)

    result = run_benchmark(
        config,
        on_start=progress.start if progress else None,
        on_end=progress.end if progress else None,
        on_check=checking if progress else None,
    )
    print(summary_table(result.rows))
    failed = sum(r["status"] != "ok" for r in result.rows)
    print(
        f"\n{len(result.rows)} of {result.planned} cases written to {result.output} (run_id {result.run_id})"
        + (f"; {failed} failed" if failed else "")
    )
    if config.check_determinism:
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


def _run_processes(processes: int, config: Any, argv: Sequence[str]) -> int:
    """``run --processes P``: the same run P times, each in a fresh interpreter, one after the other.

    Each process writes a run of its own (its ``run_id``) into the one output: the unit of
    replication that ``compare`` judges over, since the repeats inside one process share its speed
    level (Kalibera & Jones). The processes run this command line again with ``--processes 1``, so
    they see what it sees (a run file, plugins, options). A bad input stops at the first process
    (its one-line error); an interrupted or unwritable run stops the rest. Returns the worst exit code.
    """
    import subprocess

    from ..spec.runconfig import resolve

    if isinstance(processes, bool) or processes < 1:
        msg = f"The 'processes' parameter must be a positive int (runs in fresh processes). Got {processes!r} instead."
        raise ValueError(msg)
    if config.resume:
        msg = (
            "The 'processes' parameter does not go with 'resume': each process adds a run of every case "
            "(resume would skip them); run the missing processes again without --resume."
        )
        raise ValueError(msg)
    resolve(config)  # every other bad option is refused before the first process starts
    worst = 0
    for k in range(processes):
        print(f"process {k + 1} of {processes}", flush=True)
        command = [sys.executable, "-m", "mnist_classic", *argv, "--processes", "1"]
        code = subprocess.run(command, check=False).returncode
        if code not in (0, 1):  # a bad input (2), an interrupt (130) or a signal: the others would fail alike
            return code if code > 0 else 128 - code
        worst = max(worst, code)
    print(f"\n{processes} runs, one per process, written to {config.output}: compare judges over them")
    return worst
