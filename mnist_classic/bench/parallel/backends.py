"""Cases side by side: joblib's loky processes on this machine, or a Dask cluster (also on SLURM jobs, :mod:`.slurm`).

The engines schedule; this module only orders the cases (longest expected
first, so the run's wall time approaches its critical path), gives each case a
thread budget so concurrent cases never oversubscribe the cores, and hands
results back to the main process, which alone writes the CSV.

Budgets are work-conserving on this machine (loky, or a local Dask cluster):
a case claims its threads from a :class:`~.ledger.CoreLedger` when it starts
and again when its ``predict`` starts, so cores freed by cases that ended go
to the cases still running. On a remote Dask cluster a case has its worker's
CPUs divided by the worker's threads.

The expected cost of a case that orders them is :mod:`.order`'s (re-exported here).

Each worker process loads the dataset once, from the decoded cache's memory
maps (or the bundled files on a remote Dask worker), and keeps it for every
later case it runs: the training data reaches a worker once, not once per case.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...data.loader import load_dataset
from ...spec.cluster import ClusterSpec
from ...spec.plugins import load_entry_points, load_plugins
from ...spec.runconfig import BACKENDS
from ...spec.selectors.parse import ConfiguredPipeline
from ..case import Case, run_case
from . import slurm as _slurm
from .ledger import CoreLedger
from .order import PROBE_SIZE, PROBE_SIZES, ProbeTimes, estimate_cost, longest_first, probe_times

__all__ = [
    "PROBE_SIZE",
    "PROBE_SIZES",
    "DataRef",
    "ProbeTimes",
    "estimate_cost",
    "longest_first",
    "probe_times",
    "run_parallel",
    "thread_budget",
]

logger = logging.getLogger(__name__)

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
    paths: tuple[str, ...] = ()  # files a worker must read (none for a bundled dataset: the package has them)


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
    ref: DataRef,
    pipeline: ConfiguredPipeline,
    n_train: int,
    repeat: int,
    seed: int,
    budget: int,
    ledger: CoreLedger | None = None,
    index: int = 0,
    job_id_env: str | None = None,
    latency: int = 0,
) -> dict[str, Any]:
    """Run one case in a worker process (the function the engines execute).

    With a ``ledger`` the case claims its threads there when it starts and
    when its predict starts, and releases them when it ends; else it has
    ``budget`` threads (0: decided here, on a remote Dask worker). With
    ``job_id_env`` the batch job's id in that environment variable is
    returned as ``cluster_job_id``.
    """
    X, y, Xt, yt = _worker_data(ref)  # loads the run's plugins first: registered steps build from them
    case = Case(index, pipeline, n_train, repeat, seed)
    if ledger is None:
        budget = budget if budget >= 1 else _remote_budget()
        out = run_case(case, X, y, Xt, yt, thread_budget=budget, latency=latency)
    else:
        try:
            fit_threads = ledger.claim(index)
            out = run_case(
                case,
                X,
                y,
                Xt,
                yt,
                thread_budget=fit_threads,
                predict_budget=lambda: ledger.claim(index),
                latency=latency,
            )
        finally:
            ledger.release(index)
    out["thread_budget"] = budget
    if job_id_env is not None:
        out["cluster_job_id"] = os.environ.get(job_id_env)
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


def _cores() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def thread_budget(n_jobs: int, cores: int | None = None) -> int:
    """Threads each of ``n_jobs`` concurrent cases is sure of: the cores shared out, at least 1."""
    cores = cores or _cores()
    return max(1, cores // n_jobs)


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
    cluster: ClusterSpec | None = None,
    log_dir: Path | None = None,
    latency: int = 0,
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
    cluster : ClusterSpec or None, default=None
        Batch jobs to start for the run (backend "dask"; ``n_jobs`` is then
        its jobs): each case has the job's cores, and the cluster is closed
        at the end, on Ctrl-C and on errors (see :mod:`.slurm`).
    log_dir : Path or None, default=None
        Where the batch jobs write their logs.
    latency : int, default=0
        Test images each case predicts one at a time after its timed predict
        (see :func:`~mnist_classic.bench.case.run_case`); 0 takes none.
    """
    if backend not in BACKENDS:
        msg = f"The 'backend' parameter must be one of {', '.join(BACKENDS)}. Got {backend!r} instead."
        raise ValueError(msg)
    if cluster is not None:
        backend, n_jobs = "dask", cluster.jobs
    remote = backend == "dask" and (scheduler is not None or cluster is not None)
    if not remote and n_jobs > _cores():
        logger.warning(
            "--n-jobs %d is more than the %d cores: each case keeps at least one thread, so cases share cores "
            "and their times are inflated",
            n_jobs,
            _cores(),
        )
    with tempfile.TemporaryDirectory(prefix="mnist-classic-ledger-") as tmp:
        ledger = None
        if not remote and _can_lock():
            ledger = CoreLedger.create(
                Path(tmp) / "ledger.json", cores=_cores(), workers=n_jobs, waiting=[c.index for c in cases]
            )
        # A remote cluster's workers know their own CPUs (0: decided there); locally the cores are shared out.
        budget = cluster.cores if cluster is not None else 0 if remote else thread_budget(n_jobs)
        job_env = _slurm.JOB_ID_ENV if cluster is not None else None
        args = {
            c.index: (ref, c.pipeline, c.n_train, c.repeat, c.seed, budget, ledger, c.index, job_env, latency)
            for c in cases
        }
        if backend == "loky":
            yield from _run_loky(cases, args, n_jobs, ledger)
        elif cluster is not None:
            yield from _run_dask(cases, args, n_jobs, None, None, cluster=cluster, ref=ref, log_dir=log_dir)
        else:
            yield from _run_dask(cases, args, n_jobs, scheduler, ledger)
        if ledger is not None:
            state = ledger.read()
            logger.info("cases held at most %d threads at once, on %d cores", state.peak, state.cores)


def _can_lock() -> bool:
    try:
        import fcntl  # noqa: F401
    except ImportError:  # no flock (Windows): each case keeps its share of the cores
        return False
    return True


def _run_loky(
    cases: Sequence[Any], args: dict[int, tuple[Any, ...]], n_jobs: int, ledger: CoreLedger | None
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
                retry = exc is not None and _is_worker_death(exc) and tries[case.index] < _RETRIES
                if ledger is not None:  # a dead worker's case released its cores: do it here
                    ledger.release(case.index, retry=retry)
                if exc is None:
                    yield case, fut.result()
                elif retry:
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
    cases: Sequence[Any],
    args: dict[int, tuple[Any, ...]],
    n_jobs: int,
    scheduler: str | None,
    ledger: CoreLedger | None,
    *,
    cluster: ClusterSpec | None = None,
    ref: DataRef | None = None,
    log_dir: Path | None = None,
) -> Generator[tuple[Any, dict], None, None]:
    try:
        from distributed import Client, LocalCluster, wait
    except ImportError:
        msg = 'The Dask backend needs dask.distributed: pip install "mnist-classic[dask]"'
        raise ImportError(msg) from None
    local = batch = client = None
    try:
        if cluster is not None:
            batch = _slurm.start_cluster(cluster, log_dir)
            client = Client(batch)
        elif scheduler is None:
            local = LocalCluster(
                n_workers=n_jobs,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.CRITICAL,
            )
            client = Client(local)
        else:
            client = Client(scheduler, timeout=30)
        if batch is not None and ref is not None:
            _check_worker_data(client, ref)
        # Dask retries a task whose worker died (allowed_failures) before raising KilledWorker;
        # priority keeps the longest-first order among queued cases.
        pending = {
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
        watch = _slurm.JobWatch(batch, n_jobs) if batch is not None else None
        while pending:
            try:
                done = wait(list(pending), timeout=5, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                done = set()
            for fut in done:
                case = pending.pop(fut)
                if ledger is not None:  # Dask retried a case whose worker died; a failed one is released here
                    ledger.release(case.index)
                if fut.status == "finished":
                    yield case, fut.result()
                else:
                    yield case, _error(fut.exception())
            reason = watch.check() if watch is not None else None
            if reason is not None:
                for fut, case in list(pending.items()):
                    fut.cancel()
                    del pending[fut]
                    yield case, {"status": "error", "error": reason, "predictions": None}
    finally:
        if client is not None:
            client.close()
        if local is not None:
            local.close()
        if batch is not None:
            _slurm.stop_cluster(batch)


def _data_problem(ref: DataRef) -> str | None:
    """On a worker: why it cannot read the data of ``ref`` (the first file it cannot open), or None once loaded."""
    bad = _slurm.unreadable(ref.paths)
    if bad is not None:
        return f"a worker on {_slurm.worker_host()} cannot read {bad}: the data must be on a path the workers share"
    _worker_data(ref)
    return None


def _check_worker_data(client: Any, ref: DataRef) -> None:
    """On one worker, before any case: the data's files readable, and the data loaded; else one line naming why."""

    try:
        problem = client.submit(_data_problem, ref, pure=False, key=f"data-check-{os.getpid()}").result()
    except Exception as exc:
        problem = f"a worker could not load {ref.dataset}: {type(exc).__name__}: {exc}".replace("\n", " ")
    if problem is not None:
        raise ValueError(problem)
