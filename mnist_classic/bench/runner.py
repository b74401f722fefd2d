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

import errno
import hashlib
import logging
import os
import secrets
import shutil
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_write
from ..data.loader import Dataset, load_dataset
from ..results import ResultWriter, read_results, save_labels
from .case import Case, plan_cases, run_case
from .contract import check_contract
from .engines import get_engine, list_engines
from .environment import collect_environment
from .isolation import ChildRunner
from .parallel import BACKENDS, DataRef, longest_first, run_parallel, thread_budget
from .pipelines import DEFAULT_PIPELINES
from .plugins import load_entry_points, load_plugins
from .selectors import ConfiguredPipeline, configure, effective_params

__all__ = ["RunConfig", "RunResult", "run_benchmark"]

logger = logging.getLogger(__name__)


@dataclass
class RunConfig:
    """What to run; the CLI's options (and a run file's keys), as data.

    Parameters
    ----------
    dataset : str or sequence of str, default="mnist"
        Registered names or directories (see :func:`~mnist_classic.load_dataset`);
        several run one after the other into the same CSV.
    data_dir : str or None, default=None
        Directory holding the (single) dataset's files instead of its own copy.
    pipelines : sequence, default=DEFAULT_PIPELINES
        Selectors (``svm[C=10]``, ``sklearn.ensemble:ExtraTreesClassifier``,
        ``a:B+c:D[x=1]``; a list value is a grid), estimator objects, or
        ``(name, estimator)`` pairs; objects are cloned for every case.
    n_train : sequence of int or None, default=(None,)
        Training-set sizes (first ``n`` images); ``None`` is the whole set.
    n_test : int or None, default=None
        Test-set size (first ``n`` images); ``None`` is the whole set.
    repeats : int, default=1
        Repeats per (pipeline, n_train); repeat ``r`` uses seed ``seed + r``.
    seed : int, default=0
        Base seed, given to every ``*random_state`` parameter.
    timeout : float or None, default=None
        Seconds per case; when set, cases run in a child process.
    output : str or os.PathLike, default="mnist_classic_results.csv"
        The CSV to create or append to.
    data_home : str or None, default=None
        Downloads and decoded cache (see :func:`~mnist_classic.data.fetch.get_data_home`).
    command : str, default=""
        The command line, recorded in every row.
    check_determinism : bool, default=False
        Fit and predict every case a second time with the same seed (untimed
        for the row) and record in ``deterministic`` whether the predictions
        were identical.
    resume : bool, default=False
        Skip every case already in ``output`` with status ok for the same
        dataset payloads, configured pipeline, n_train, n_test and seed.
    n_jobs : int, default=1
        Cases run at once. 1 (the default) runs them one after the other in
        this process: the cleanest timings. More run them side by side in
        worker processes, longest expected first, each with a thread budget.
    backend : {"loky", "dask"}, default="loky"
        The engine for parallel cases: joblib's loky processes, or Dask.
    scheduler : str or None, default=None
        Address of a Dask scheduler (backend "dask"); without one a
        LocalCluster of ``n_jobs`` workers on 127.0.0.1 is started and closed.
    plugins : sequence of str, default=()
        Modules or ``.py`` files to load first; their ``register_pipeline``
        and ``register_dataset`` calls add entries (see :mod:`.plugins`).
    config_text : str or None, default=None
        The run file this configuration came from, stored beside the CSV
        (``<stem>.configs/<sha256>.toml``) and named by ``config_sha256`` in
        every row, so that the run can be repeated exactly.
    check_contract : bool, default=True
        Try every estimator that is not a built-in pipeline on ~50 images
        before the first case (see :mod:`.contract`).
    engine : str, default="sklearn"
        What runs the estimators (see :mod:`.engines`): ``sklearn`` (stock)
        or ``sklearnex`` (Intel Extension for Scikit-learn). Another engine
        than the default is part of each case's identity: ``svm@sklearnex``.
    """

    dataset: str | Sequence[str] = "mnist"
    data_dir: str | None = None
    pipelines: Sequence[Any] = DEFAULT_PIPELINES
    n_train: Sequence[int | None] = (None,)
    n_test: int | None = None
    repeats: int = 1
    seed: int = 0
    timeout: float | None = None
    output: str | os.PathLike[str] = "mnist_classic_results.csv"
    data_home: str | None = None
    command: str = ""
    check_determinism: bool = False
    resume: bool = False
    n_jobs: int = 1
    backend: str = "loky"
    scheduler: str | None = None
    plugins: Sequence[str] = ()
    config_text: str | None = None
    check_contract: bool = True
    engine: str = "sklearn"


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


def available_engines() -> list[str]:
    """Names of the registered engines that can run here."""
    return [name for name in list_engines() if get_engine(name).available()]


def _check_positive(value: Any, name: str, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        extra = " or None" if allow_none else ""
        msg = f"The '{name}' parameter must be a positive int{extra}. Got {value!r} instead."
        raise ValueError(msg)


def finished_cases(df: Any, sha256: dict[str, str], n_test: int) -> set[tuple[str, int, int]]:
    """(pipeline, n_train, seed) of the ok rows of results ``df`` for these payloads and test size."""
    mask = (df["status"] == "ok") & (df["n_test"] == n_test)
    for role, sha in sha256.items():
        mask &= df[f"sha256_{role}"] == sha
    done = df[mask]
    return {(p, int(n), int(s)) for p, n, s in zip(done["pipeline"], done["n_train"], done["seed"], strict=True)}


def _check_free_space(path: Path, n_cases: int) -> None:
    """Refuse to start when the output's disk cannot hold the run's rows and predictions."""
    need = (1 << 20) + n_cases * (256 << 10)  # generous: a row is ~2 KB, compressed predictions ~10 KB
    folder = path.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the output's folder may not exist yet: ask its nearest ancestor
    free = shutil.disk_usage(folder).free
    if free < need:
        msg = f"only {free // 1024} KiB free for {path}; this run of {n_cases} cases needs about {need // 1024} KiB"
        raise OSError(errno.ENOSPC, msg)


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus 6 random hex digits."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


@dataclass
class Plan:
    """A checked configuration: its pipelines, and each dataset loaded with its training sizes."""

    pipelines: list[ConfiguredPipeline]
    datasets: list[tuple[str, Dataset, list[int]]]  # (the name given, the data, sizes)


def _dataset_names(config: RunConfig) -> list[str]:
    names = [config.dataset] if isinstance(config.dataset, (str, os.PathLike)) else list(config.dataset)
    if not names or not all(isinstance(n, (str, os.PathLike)) and str(n).strip() for n in names):
        msg = f"The 'dataset' parameter must name one or more datasets or directories. Got {config.dataset!r} instead."
        raise ValueError(msg)
    names = [str(n) for n in names]
    if len(set(names)) != len(names):
        msg = f"The 'dataset' parameter lists a dataset twice: {names}"
        raise ValueError(msg)
    if config.data_dir is not None and len(names) > 1:
        msg = "The 'data_dir' parameter works with one dataset; name directories in 'dataset' instead."
        raise ValueError(msg)
    return names


def prepare(config: RunConfig) -> Plan:
    """Validate a config, load its plugins and data, and check users' estimators; raises before anything is written."""
    load_entry_points()
    load_plugins(config.plugins)
    if isinstance(config.pipelines, str) or not config.pipelines:
        got = config.pipelines
        msg = f"The 'pipelines' parameter must name at least one pipeline (selector or estimator). Got {got!r} instead."
        raise ValueError(msg)
    engine = get_engine(config.engine) if isinstance(config.engine, str) else None
    if engine is None or not engine.available():
        msg = (
            f"The 'engine' parameter must name an engine installed here ({', '.join(available_engines())}). "
            f"Got {config.engine!r}{', which does not import here,' if engine is not None else ''} instead."
        )
        raise ValueError(msg)
    pipelines = [replace(p, engine=engine.name) for p in configure(config.pipelines)]
    names = [p.name for p in pipelines]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        msg = f"Pipeline selected twice: {', '.join(dupes)} (use --repeats to repeat a case)"
        raise ValueError(msg)
    _check_positive(config.repeats, "repeats")
    if isinstance(config.seed, bool) or not isinstance(config.seed, (int, np.integer)) or config.seed < 0:
        msg = f"The 'seed' parameter must be a non-negative int. Got {config.seed!r} instead."
        raise ValueError(msg)
    _check_positive(config.n_jobs, "n_jobs")
    if config.backend not in BACKENDS:
        msg = f"The 'backend' parameter must be one of {', '.join(BACKENDS)}. Got {config.backend!r} instead."
        raise ValueError(msg)
    if config.scheduler is not None and config.backend != "dask":
        msg = "The 'scheduler' parameter needs the 'dask' backend (--backend dask)."
        raise ValueError(msg)
    if config.n_jobs > 1 or config.backend == "dask":
        for name in ("timeout", "check_determinism"):
            if getattr(config, name):
                msg = f"The '{name}' parameter works with cases run one at a time (n_jobs=1, backend loky)."
                raise ValueError(msg)
    if config.timeout is not None and not config.timeout > 0:
        msg = f"The 'timeout' parameter must be a positive number of seconds. Got {config.timeout!r} instead."
        raise ValueError(msg)
    if isinstance(config.n_train, (int, str)) or not config.n_train:
        msg = f"The 'n_train' parameter must be a non-empty list of sizes. Got {config.n_train!r} instead."
        raise ValueError(msg)
    for n in config.n_train:
        _check_positive(n, "n_train", allow_none=True)
    loaded = []
    for name in _dataset_names(config):
        ds = load_dataset(name, data_dir=config.data_dir, n_test=config.n_test, data_home=config.data_home)
        available = len(ds.y_train)
        sizes = []
        for n in config.n_train:
            if n is not None and n > available:
                msg = f"The 'n_train' parameter must be an int in [1, {available}] for {ds.name}. Got {n} instead."
                raise ValueError(msg)
            sizes.append(available if n is None else int(n))
        if len(set(sizes)) != len(sizes):
            msg = f"The 'n_train' parameter lists a size twice: {sizes}"
            raise ValueError(msg)
        if config.check_contract:
            check_contract(pipelines, ds.X_train[: max(sizes)], ds.y_train[: max(sizes)], ds.X_test, seed=config.seed)
        loaded.append((name, ds, sizes))
    return Plan(pipelines, loaded)


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
) -> RunResult:
    """Run the grid of ``config``, appending a CSV row as each case ends.

    Parameters
    ----------
    config : RunConfig
    on_start, on_end : callable or None
        Progress hooks: ``on_start(case, total)`` and ``on_end(case, row, total)``.

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
    plan = prepare(config)
    output = Path(config.output)
    parallel = config.n_jobs > 1 or config.backend == "dask"
    # Earlier rows of the output, read once: the cases --resume skips, and the history that orders parallel cases.
    earlier = None
    if (config.resume or parallel) and output.is_file():
        ResultWriter(output)  # checks the header and removes a row cut short by a crash
        earlier = read_results(output)
    several = len(plan.datasets) > 1
    groups: list[tuple[str, Dataset, list[Case]]] = []
    skipped = start = 0
    for name, ds, sizes in plan.datasets:
        cases = plan_cases(plan.pipelines, sizes, config.repeats, config.seed, dataset=ds.name if several else "")
        if config.resume and earlier is not None:
            done = finished_cases(earlier, ds.sha256, len(ds.y_test))
            todo = [c for c in cases if (c.pipeline.name, c.n_train, c.seed) not in done]
            skipped += len(cases) - len(todo)
            cases = todo
        cases = [replace(c, index=start + i) for i, c in enumerate(cases)]
        start += len(cases)
        groups.append((name, ds, cases))
    total = start
    _check_free_space(output, total)
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
            "execution": config.backend if parallel else "subprocess" if config.timeout else "inprocess",
            "n_jobs": config.n_jobs,
            "thread_budget": thread_budget(config.n_jobs) if parallel and config.scheduler is None else None,
            "command": config.command,
            "config_sha256": config_sha,
            "engine": config.engine,
            "engine_version": get_engine(config.engine).version(),
            **{f"sha256_{role}": sha for role, sha in ds.sha256.items()},
            **environment,
        }
        data_dir = config.data_dir if not several else None
        if parallel:
            n_max = max(c.n_train for c in cases)
            ref = DataRef(
                name, data_dir, config.data_home, config.n_test, n_max, tuple(ds.sha256.items()), tuple(config.plugins)
            )
            outcomes = run_parallel(
                longest_first(cases, earlier),
                ref,
                n_jobs=config.n_jobs,
                backend=config.backend,
                scheduler=config.scheduler,
            )
        else:
            outcomes = _run_sequential(cases, ds, name, data_dir, config, on_start, total)
        _record(outcomes, common, writer, result, on_end, total)
    return result


def _record(
    outcomes: Generator[tuple[Case, dict[str, Any]], None, None],
    common: dict[str, Any],
    writer: ResultWriter,
    result: RunResult,
    on_end: Callable[[Case, dict[str, Any], int], None] | None,
    total: int,
) -> None:
    """Append a row per finished case, as it finishes; stop on a write error or Ctrl-C."""
    try:
        for case, out in outcomes:
            pred = out.pop("predictions")
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
                writer.append(row)
            except OSError as exc:  # disk full, file removed...: stop, keeping what was written
                result.write_error = str(exc)
                break
            result.rows.append(row)
            if on_end:
                on_end(case, row, total)
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        outcomes.close()  # stops workers or the child process


def _run_sequential(
    cases: Sequence[Case],
    ds: Dataset,
    name: str,
    data_dir: str | None,
    config: RunConfig,
    on_start: Callable[[Case, int], None] | None,
    total: int,
) -> Generator[tuple[Case, dict[str, Any]], None, None]:
    """One case at a time, in this process (or in a child process with a timeout)."""
    child = ChildRunner(config.timeout) if config.timeout else None
    n_max = max(c.n_train for c in cases)
    # Materialize the data in memory once, outside every timed region.
    X_train, y_train = np.ascontiguousarray(ds.X_train[:n_max]), np.asarray(ds.y_train[:n_max])
    X_test, y_test = np.ascontiguousarray(ds.X_test), np.asarray(ds.y_test)

    def execute(case: Case) -> dict[str, Any]:
        if child is None:
            return run_case(case, X_train, y_train, X_test, y_test)
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
