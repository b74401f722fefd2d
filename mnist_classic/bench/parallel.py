"""Cases side by side: joblib's loky processes on this machine, or a Dask cluster.

The engines schedule; this module only orders the cases (longest expected
first, so the run's wall time approaches its critical path), gives each case a
thread budget so concurrent cases never oversubscribe the cores, and hands
results back to the main process, which alone writes the CSV.

Each worker process loads the dataset once, from the decoded cache's memory
maps (or the bundled files on a remote Dask worker), and keeps it for every
later case it runs: the training data reaches a worker once, not once per case.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data.loader import load_dataset
from .case import Case, run_case
from .pipelines import PipelineSpec
from .plugins import load_entry_points, load_plugins
from .selectors import ConfiguredPipeline

__all__ = ["BACKENDS", "DataRef", "estimate_cost", "longest_first", "run_parallel", "thread_budget"]

logger = logging.getLogger(__name__)

#: Engines that ``--backend`` accepts.
BACKENDS: tuple[str, ...] = ("loky", "dask")
_RETRIES = 2  # a case whose worker died is retried this many times, then recorded as an error


@dataclass(frozen=True)
class DataRef:
    """Where a worker finds the data: enough to call ``load_dataset`` (cheap to send)."""

    dataset: str
    data_dir: str | None
    data_home: str | None
    n_test: int | None
    n_train_max: int
    sha256: tuple[tuple[str, str], ...]
    plugins: tuple[str, ...] = ()


_WORKER_DATA: dict[DataRef, tuple[np.ndarray, ...]] = {}


def _worker_data(ref: DataRef) -> tuple[np.ndarray, ...]:
    """The arrays of ``ref``, loaded once per worker process and kept."""
    if ref not in _WORKER_DATA:
        load_entry_points()
        load_plugins(ref.plugins)
        ds = load_dataset(ref.dataset, data_dir=ref.data_dir, n_test=ref.n_test, data_home=ref.data_home)
        if tuple(ds.sha256.items()) != ref.sha256:
            msg = f"worker {os.getpid()} loaded other payloads of {ref.dataset} than the main process"
            raise RuntimeError(msg)
        n = ref.n_train_max
        arrays = (
            np.ascontiguousarray(ds.X_train[:n]),
            np.asarray(ds.y_train[:n]),
            np.ascontiguousarray(ds.X_test),
            np.asarray(ds.y_test),
        )
        _WORKER_DATA.clear()  # one dataset at a time per worker
        _WORKER_DATA[ref] = arrays
    return _WORKER_DATA[ref]


def worker_case(
    ref: DataRef, pipeline: ConfiguredPipeline, n_train: int, repeat: int, seed: int, budget: int
) -> dict[str, Any]:
    """Run one case in a worker process (the function the engines execute)."""
    X, y, Xt, yt = _worker_data(ref)  # loads the run's plugins first: registered steps build from them
    case = Case(0, pipeline, n_train, repeat, seed)
    if budget < 1:
        budget = _remote_budget()
    out = run_case(case, X, y, Xt, yt, thread_budget=budget)
    out["thread_budget"] = budget
    return out


def _remote_budget() -> int:
    """On a worker of a remote Dask cluster: the CPUs this process may use, shared by its threads."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        from distributed import get_worker

        nthreads = get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        nthreads = 1
    return max(1, cpus // max(1, nthreads))


def thread_budget(n_jobs: int, cores: int | None = None) -> int:
    """Threads each of ``n_jobs`` concurrent cases may use: the cores shared out, at least 1."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores // n_jobs)


def estimate_cost(pipeline: ConfiguredPipeline, n_train: int, history: Any = None) -> float:
    """Expected seconds of fit plus predict for a case.

    From ``history`` (a results frame) when it holds ok rows of the same
    configured pipeline and n_train (their median); else from the pipeline's
    cost model (:attr:`~mnist_classic.bench.pipelines.PipelineSpec.cost`).
    """
    if history is not None and len(history):
        rows = history[
            (history["pipeline"] == pipeline.name) & (history["n_train"] == n_train) & (history["status"] == "ok")
        ]
        if len(rows):
            return float((rows["fit_time_s"] + rows["predict_time_s"]).median())
    spec = pipeline.spec
    seconds, exponent = spec.cost if spec is not None else PipelineSpec.cost  # no model of its own: the default
    return seconds * (n_train / 60000) ** exponent


def longest_first(cases: Sequence[Any], history: Any = None) -> list[Any]:
    """``cases`` sorted by expected cost, longest first (ties keep the plan's order)."""
    costs = {c.index: estimate_cost(c.pipeline, c.n_train, history) for c in cases}
    return sorted(cases, key=lambda c: -costs[c.index])


def _is_worker_death(exc: BaseException) -> bool:
    names = {type(e).__name__ for e in (exc, exc.__cause__) if e is not None}
    return bool(names & {"TerminatedWorkerError", "BrokenProcessPool", "KilledWorker", "CommClosedError"})


def _error(exc: BaseException) -> dict[str, Any]:
    return {"status": "error", "error": f"{type(exc).__name__}: {exc}".replace("\n", " "), "predictions": None}


def run_parallel(
    cases: Sequence[Any],
    ref: DataRef,
    *,
    n_jobs: int,
    backend: str = "loky",
    scheduler: str | None = None,
) -> Generator[tuple[Any, dict[str, Any]], None, None]:
    """Run ``cases`` on ``n_jobs`` workers; yield ``(case, result)`` as each finishes.

    Cases are submitted in the given order (see :func:`longest_first`). A case
    whose worker died is retried (twice), then yielded as an error; no case is
    yielded twice.

    Parameters
    ----------
    cases : sequence of Case
    ref : DataRef
    n_jobs : int
        Concurrent cases (loky workers, or Dask workers of a local cluster).
    backend : {"loky", "dask"}, default="loky"
    scheduler : str or None, default=None
        Address of a running Dask scheduler; without one a ``LocalCluster`` on
        127.0.0.1 is started and closed.
    """
    if backend not in BACKENDS:
        msg = f"The 'backend' parameter must be one of {', '.join(BACKENDS)}. Got {backend!r} instead."
        raise ValueError(msg)
    # A remote cluster's workers know their own CPUs (0: decided there); locally the cores are shared out.
    budget = 0 if backend == "dask" and scheduler is not None else thread_budget(n_jobs)
    args = {c.index: (ref, c.pipeline, c.n_train, c.repeat, c.seed, budget) for c in cases}
    if backend == "loky":
        yield from _run_loky(cases, args, n_jobs)
    else:
        yield from _run_dask(cases, args, n_jobs, scheduler)


def _run_loky(
    cases: Sequence[Any], args: dict[int, tuple[Any, ...]], n_jobs: int
) -> Generator[tuple[Any, dict], None, None]:
    from concurrent.futures import FIRST_COMPLETED, wait

    from joblib.externals.loky import get_reusable_executor

    tries = dict.fromkeys(args, 0)
    executor = get_reusable_executor(max_workers=n_jobs, reuse=False)
    pending = {executor.submit(worker_case, *args[c.index]): c for c in cases}
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                case = pending.pop(fut)
                exc = fut.exception()
                if exc is None:
                    yield case, fut.result()
                elif _is_worker_death(exc) and tries[case.index] < _RETRIES:
                    tries[case.index] += 1
                    logger.warning("worker died during %s; retrying (%d)", case.label, tries[case.index])
                    executor = get_reusable_executor(max_workers=n_jobs)  # a fresh pool after a death
                    pending[executor.submit(worker_case, *args[case.index])] = case
                else:
                    yield case, _error(exc)
    finally:
        for fut in pending:
            fut.cancel()
        executor.shutdown(wait=False, kill_workers=bool(pending))


def _run_dask(
    cases: Sequence[Any], args: dict[int, tuple[Any, ...]], n_jobs: int, scheduler: str | None
) -> Generator[tuple[Any, dict], None, None]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        msg = 'The Dask backend needs dask.distributed: pip install "mnist-classic[dask]"'
        raise ImportError(msg) from None
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=n_jobs,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.CRITICAL,
        )
        client = Client(cluster)
    else:
        client = Client(scheduler, timeout=30)
    try:
        # Dask retries a task whose worker died (allowed_failures) before raising KilledWorker;
        # priority keeps the longest-first order among queued cases.
        futures = {
            client.submit(
                worker_case,
                *args[c.index],
                pure=False,
                key=f"case-{c.index}-{os.getpid()}",
                priority=len(cases) - i,
                retries=0,
            ): c
            for i, c in enumerate(cases)
        }
        for fut in as_completed(futures):
            case = futures[fut]
            if fut.status == "finished":
                yield case, fut.result()
            else:
                yield case, _error(fut.exception())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
