"""The runner: a grid of cases, each fitted, timed and recorded as it ends.

A run is dataset x configured pipeline x n_train x repeat; repeat ``r`` uses
seed ``seed + r``. Each case builds a fresh estimator, times ``fit`` and
``predict`` separately (and each step of a multi-step pipeline), scores
accuracy outside the timed regions, and its row is appended to the CSV the
moment it ends. A case that raises is recorded with status ``error`` and the
run goes on; with a timeout, cases run in a child process that is killed when
the time is up (status ``timeout``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_write
from ..data.datasets import DATASETS
from ..data.loader import Dataset
from ..measure.calibration import probability_scores
from ..measure.environment import collect_environment
from ..measure.machine import FreeCoresMonitor
from ..results import ResultWriter, load_probabilities, read_results, save_labels, save_probabilities
from ..spec.cluster import ClusterSpec, cluster_spec
from ..spec.engines import get_engine
from ..spec.runconfig import RunConfig, check_latency, check_splits
from ..spec.selectors.parse import ConfiguredPipeline, effective_params
from .case import Case, forget_warmups, plan_cases, run_case
from .counted import run_counted, run_counted_cases
from .isolation import ChildRunner
from .parallel.backends import DataRef, run_parallel, thread_budget
from .parallel.order import PROBE_SIZE, ProbeTimes, longest_first, probe_times
from .parallel.slurm import check_slurm
from .plan import check_free_space, finished_cases, prepare
from .splits import Split, payload_sha256, split_arrays, splits_for

__all__ = ["RunConfig", "RunResult", "run_benchmark"]  # RunConfig lives in spec.runconfig

logger = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What a run wrote: its id, the rows in order, and whether it was interrupted."""

    run_id: str
    output: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    planned: int = 0
    interrupted: bool = False
    skipped: int = 0
    write_error: str | None = None

    @property
    def nondeterministic(self) -> list[str]:
        """Pipelines whose predictions differed between two fits with the same seed."""
        return sorted({r["pipeline"] for r in self.rows if r.get("deterministic") is False})

    @property
    def exit_code(self) -> int:
        """0 when every planned case ran, is ok and (if checked) deterministic; else 1.

        130 when interrupted; 2 when results could not be written.
        """
        if self.write_error:
            return 2
        if self.interrupted:
            return 130
        ok = all(r["status"] == "ok" for r in self.rows) and len(self.rows) == self.planned
        return 0 if ok and not self.nondeterministic else 1


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus 6 random hex digits."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def _save_config(writer: ResultWriter, text: str) -> str:
    """Store a run file's text beside the CSV as ``<stem>.configs/<sha256>.toml``; return the hash."""
    data = text.encode("utf-8")
    sha = hashlib.sha256(data).hexdigest()
    folder = writer.path.with_suffix(".configs")
    path = folder / f"{sha}.toml"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    return sha


def run_benchmark(
    config: RunConfig,
    *,
    on_start: Callable[[Case, int], None] | None = None,
    on_end: Callable[[Case, dict[str, Any], int], None] | None = None,
    on_check: Callable[[list[str], float], None] | None = None,
) -> RunResult:
    """Run the grid of ``config``, appending a CSV row as each case ends.

    Parameters
    ----------
    config : RunConfig
    on_start, on_end : callable or None
        Progress hooks: ``on_start(case, total)`` and ``on_end(case, row, total)``.
    on_check : callable or None
        Called as ``on_check(names, limit)`` when the contract check of users'
        estimators starts (see :mod:`.contract`).

    Returns
    -------
    RunResult
        Interrupted (Ctrl-C) runs return with ``interrupted=True`` and every
        finished row already on disk.

    Raises
    ------
    ValueError, OSError
        On a bad config, data, output or estimator (the contract check),
        before any case runs.
    """
    plan = prepare(config, on_check)
    output = Path(config.output)
    counting = config.measure == "instructions"
    cluster = cluster_spec(config.cluster)
    if cluster is not None and not counting:
        check_slurm(cluster)  # dask-jobqueue, sbatch, and the jobs SLURM would take: before anything is written
    parallel = (config.n_jobs > 1 or config.backend == "dask" or cluster is not None) and not counting
    # Earlier rows of the output, read once: the cases --resume skips, and the history that orders parallel cases.
    earlier = None
    if (config.resume or parallel) and output.is_file():
        ResultWriter(output)  # checks the header and removes a row cut short by a crash
        earlier = read_results(output)
    several = len(plan.datasets) > 1
    groups: list[tuple[str, Dataset, list[Case]]] = []
    skipped = start = 0
    drawn: dict[int, Split] = {}  # run --splits: each case's split, by case index
    for name, ds, sizes in plan.datasets:
        if config.splits is not None:
            cases = _split_cases(plan.pipelines, ds, sizes, config, start, drawn, ds.name if several else "")
        else:
            cases = plan_cases(plan.pipelines, sizes, config.repeats, config.seed, dataset=ds.name if several else "")
        if config.resume and earlier is not None:
            done = finished_cases(earlier, ds.sha256, len(ds.y_test))
            todo = [c for c in cases if (c.pipeline.name, c.n_train, c.seed) not in done]
            skipped += len(cases) - len(todo)
            cases = todo
        if config.splits is None:
            cases = [replace(c, index=start + i) for i, c in enumerate(cases)]
        start += len(cases)
        groups.append((name, ds, cases))
    total = start
    check_free_space(output, total)
    writer = ResultWriter(output)
    result = RunResult(new_run_id(), writer.path, planned=total, skipped=skipped)
    config_sha = _save_config(writer, config.config_text) if config.config_text is not None else None
    environment = collect_environment()
    for name, ds, cases in groups:
        if not cases or result.interrupted or result.write_error:
            continue
        common = {
            "run_id": result.run_id,
            "dataset": ds.name,
            "n_test": len(ds.y_test),
            "truth_sha256": save_labels(writer.predictions, np.asarray(ds.y_test)),
            "subset": ds.subset,
            "execution": _execution(config, parallel, cluster),
            "n_jobs": cluster.jobs if cluster is not None else config.n_jobs,
            "thread_budget": (
                cluster.cores
                if cluster is not None
                else thread_budget(config.n_jobs)
                if parallel and config.scheduler is None
                else None
            ),
            "command": config.command,
            "config_sha256": config_sha,
            "engine": config.engine,
            "engine_version": get_engine(config.engine).version(),
            "measure": config.measure,
            "side": config.side,
            "ab_round": config.ab_round,
            **{f"sha256_{role}": sha for role, sha in ds.sha256.items()},
            **environment,
        }
        data_dir = config.data_dir if not several else None
        if parallel:
            n_max = max(c.n_train for c in cases)
            bundled = data_dir is None and name in DATASETS and DATASETS[name].bundled
            ref = DataRef(
                name,
                data_dir,
                config.data_home,
                config.n_test,
                n_max,
                tuple(ds.sha256.items()),
                tuple(config.plugins),
                paths=() if bundled else tuple(str(Path(f.path).absolute()) for f in ds.files),
            )
            # Cases without earlier rows are ordered by a probe on the first images (one thread:
            # 2.5 s for the five defaults).
            probe_data = tuple(np.ascontiguousarray(a[:PROBE_SIZE]) for a in (ds.X_train, ds.y_train, ds.X_test))

            def probe(p: ConfiguredPipeline, data: tuple[np.ndarray, ...] = probe_data) -> ProbeTimes | None:
                return probe_times(p, *data)

            order = longest_first(cases, earlier, probe, n_test=len(ds.X_test))
            outcomes = run_parallel(
                order,
                ref,
                n_jobs=config.n_jobs,
                backend=config.backend,
                scheduler=config.scheduler,
                cluster=cluster,
                log_dir=writer.path.with_suffix(".slurm-logs") if cluster is not None else None,
                latency=check_latency(config.latency, len(ds.y_test)),
            )
        elif counting and config.n_jobs > 1:
            spec = _counted_spec(name, data_dir, config)
            outcomes = run_counted_cases(cases, spec, n_jobs=config.n_jobs, timeout=config.timeout)
        else:
            outcomes = _run_sequential(cases, ds, name, data_dir, config, on_start, total, drawn)
        _record(outcomes, common, writer, result, on_end, total, np.asarray(ds.y_test))
    return result


def _record(
    outcomes: Generator[tuple[Case, dict[str, Any]], None, None],
    common: dict[str, Any],
    writer: ResultWriter,
    result: RunResult,
    on_end: Callable[[Case, dict[str, Any], int], None] | None,
    total: int,
    y_test: np.ndarray,
) -> None:
    """Append a row per finished case, as it finishes; stop on a write error or Ctrl-C.

    Probabilities are stored in the sidecar first; ``log_loss``, ``ece`` and
    ``brier`` are then computed from the stored (float32) copy, so that they
    can be recomputed from the sidecar exactly.
    """
    try:
        for case, out in outcomes:
            pred = out.pop("predictions")
            truth = out.pop("truth", None)  # run --splits: the labels this case's split tested on
            proba, classes = out.pop("probabilities", None), out.pop("classes", None)
            notes = out.pop("notes", [])
            row = {
                **common,
                **out,
                "pipeline": case.pipeline.name,
                "n_train": case.n_train,
                "seed": case.seed,
                "repeat": case.repeat,
            }
            if "params" not in row:
                row["params"] = effective_params(case.pipeline.build(random_state=case.seed))
            try:
                if pred is not None:
                    row["predictions_sha256"] = save_labels(writer.predictions, pred)
                if truth is not None:
                    row["truth_sha256"] = save_labels(writer.predictions, truth)
                if proba is not None and row.get("status") == "ok":
                    sha = save_probabilities(writer.predictions, proba, classes)
                    row["probabilities_sha256"] = sha
                    row.update(
                        _scores(
                            *load_probabilities(writer.predictions, sha), y_test if truth is None else truth, case.label
                        )
                    )
                writer.append(row)
            except OSError as exc:  # disk full, file removed...: stop, keeping what was written
                result.write_error = str(exc)
                break
            if notes:
                row["notes"] = notes  # for the progress line; not a column
            result.rows.append(row)
            if on_end:
                on_end(case, row, total)
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        outcomes.close()  # stops workers or the child process


def _split_cases(
    pipelines: Sequence[ConfiguredPipeline],
    ds: Dataset,
    sizes: list[int],
    config: RunConfig,
    start: int,
    drawn: dict[int, Split],
    dataset: str,
) -> list[Case]:
    """run --splits: a case per (size, split, pipeline), split by split so that each split's pipelines run together."""
    scheme, count = check_splits(config)
    n_test = config.n_test if config.n_test is not None else len(ds.y_test)
    if config.n_test is not None and scheme == "resplit" and config.n_test > len(ds.y_test):
        msg = f"The 'n_test' parameter must be an int in [1, {len(ds.y_test)}] for {ds.name}. Got {config.n_test}."
        raise ValueError(msg)
    y_pool = ds.y_train if scheme == "5x2" else np.concatenate([np.asarray(ds.y_train), np.asarray(ds.y_test)])
    cases: list[Case] = []
    for n in sizes:
        for split in splits_for(scheme, count, np.asarray(y_pool), n, n_test, config.seed):
            for p in pipelines:
                index = start + len(cases)
                drawn[index] = split
                cases.append(Case(index, p, len(split.train), split.repeat, split.seed, dataset, split.label))
    return cases


def _scores(proba: np.ndarray, classes: np.ndarray, y_test: np.ndarray, label: str) -> dict[str, float]:
    """``log_loss``, ``ece`` and ``brier`` of stored probabilities, rounded for the CSV; none (logged) if they fail."""
    try:
        scores = probability_scores(proba, classes, y_test)
    except (ValueError, TypeError, FloatingPointError) as exc:  # a user's odd probabilities: empty cells, not a crash
        logger.warning("%s: log_loss, ece and brier left empty: %s: %s", label, type(exc).__name__, exc)
        return {}
    return {k: round(v, 6) for k, v in scores.items()}


def _execution(config: RunConfig, parallel: bool, cluster: ClusterSpec | None = None) -> str:
    if config.measure == "instructions":
        return "callgrind"
    if cluster is not None:
        return f"dask-{cluster.kind}"
    return config.backend if parallel else "subprocess" if config.timeout else "inprocess"


def _counted_spec(name: str, data_dir: str | None, config: RunConfig) -> dict[str, Any]:
    """What a counted child loads (:mod:`.counted`); ``.py`` plugins by absolute path (its cwd may differ)."""
    plugins = [str(Path(p).resolve()) if str(p).endswith(".py") else p for p in config.plugins]
    return {
        "dataset": name,
        "data_dir": data_dir,
        "n_test": config.n_test,
        "data_home": config.data_home,
        "plugins": plugins,
    }


def _run_sequential(
    cases: Sequence[Case],
    ds: Dataset,
    name: str,
    data_dir: str | None,
    config: RunConfig,
    on_start: Callable[[Case, int], None] | None,
    total: int,
    drawn: dict[int, Split] | None = None,
) -> Generator[tuple[Case, dict[str, Any]], None, None]:
    """One case at a time, in this process (or in a child process with a timeout); ``drawn``: run --splits' splits."""
    counting = config.measure == "instructions"
    spec = _counted_spec(name, data_dir, config) if counting else {}
    forget_warmups()  # each run warms up its pipelines, whatever this process ran before
    child = ChildRunner(config.timeout) if config.timeout and not counting else None
    n_max = max(c.n_train for c in cases)
    # Materialize the data in memory once, outside every timed region.
    X_train, y_train = np.ascontiguousarray(ds.X_train[:n_max]), np.asarray(ds.y_train[:n_max])
    X_test, y_test = np.ascontiguousarray(ds.X_test), np.asarray(ds.y_test)
    free_cores = FreeCoresMonitor()  # one sleep to sample per run, not per case (see its docstring)
    current: dict[
        str, Any
    ] = {}  # run --splits: the arrays of the split being run (its pipelines run one after another)

    def split_data(case: Case) -> tuple[tuple[np.ndarray, ...], dict[str, Any]]:
        split = drawn[case.index] if drawn else None
        if split is None:
            return (X_train, y_train, X_test, y_test), {}
        if current.get("key") != (split.label, split.train.size):
            five = split.label.startswith("5x2")
            pool_X = (ds.X_train,) if five else (ds.X_train, ds.X_test)
            pool_y = np.asarray(ds.y_train) if five else np.concatenate([np.asarray(ds.y_train), np.asarray(ds.y_test)])
            arrays = split_arrays(split, pool_X, pool_y)
            fields = {
                "split": split.label,
                "n_test": len(arrays[3]),
                "split_train_sha256": payload_sha256(arrays[0], arrays[1]),
                "split_test_sha256": payload_sha256(arrays[2], arrays[3]),
            }
            current.update(key=(split.label, split.train.size), arrays=arrays, fields=fields)
        return current["arrays"], dict(current["fields"], truth=current["arrays"][3])

    def execute(case: Case) -> dict[str, Any]:
        if counting:
            return run_counted(spec, case, timeout=config.timeout)
        data, fields = split_data(case)
        # Threads follow the free cores: no more BLAS/OpenMP threads than other processes leave free.
        budget = None
        if config.threads == "free" and (free := free_cores()) < (os.cpu_count() or 1):
            budget = free
        timing: dict[str, Any] = {
            "thread_budget": budget,
            "warmup": config.warmup,
            "machine": True,
            "latency": check_latency(config.latency, len(data[2])),  # a split's test set may be smaller
        }
        if child is None:
            return {**run_case(case, *data, **timing), **fields}
        args = (
            name,
            data_dir,
            config.n_test,
            config.data_home,
            tuple(config.plugins),
            case.pipeline,
            case.n_train,
            case.repeat,
            case.seed,
            timing,
        )
        return child.run(args)

    try:
        for case in cases:
            if on_start:
                on_start(case, total)
            out = execute(case)
            if config.check_determinism and out["predictions"] is not None:
                again = execute(case)["predictions"]
                out["deterministic"] = again is not None and bool(np.array_equal(out["predictions"], again))
            yield case, out
    finally:
        if child is not None:
            child.close()
