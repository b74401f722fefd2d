"""Cases side by side: joblib's loky processes on this machine, or a Dask cluster.

The engines schedule; this module only orders the cases (longest expected
first, so the run's wall time approaches its critical path), gives each case a
thread budget so concurrent cases never oversubscribe the cores, and hands
results back to the main process, which alone writes the CSV.

Budgets are work-conserving on this machine (loky, or a local Dask cluster):
a case claims its threads from a :class:`~.ledger.CoreLedger` when it starts
and again when its ``predict`` starts, so cores freed by cases that ended go
to the cases still running. On a remote Dask cluster a case has its worker's
CPUs divided by the worker's threads.

The expected cost of a case (:func:`estimate_cost`) is learned, never typed
in: the median of earlier rows of the output for the same case, else a probe
(one-core fit and predict on 500 and on 1,000 images, :func:`probe_times`)
extrapolated to the case's n_train and n_test by the growth it measured,
else unknown (started last).

Each worker process loads the dataset once, from the decoded cache's memory
maps (or the bundled files on a remote Dask worker), and keeps it for every
later case it runs: the training data reaches a worker once, not once per case.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from time import process_time
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from ..data.loader import load_dataset
from .case import Case, run_case
from .ledger import CoreLedger
from .plugins import load_entry_points, load_plugins
from .selectors import ConfiguredPipeline

__all__ = [
    "BACKENDS",
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

#: Engines that ``--backend`` accepts.
BACKENDS: tuple[str, ...] = ("loky", "dask")
_RETRIES = 2  # a case whose worker died is retried this many times, then recorded as an error
#: Training sizes of the probe that estimates a case's cost when no earlier row exists
#: (the smaller is also its number of test images).
PROBE_SIZES: tuple[int, int] = (500, 1000)
PROBE_SIZE = PROBE_SIZES[1]  # the probe needs this many training images


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
    ref: DataRef,
    pipeline: ConfiguredPipeline,
    n_train: int,
    repeat: int,
    seed: int,
    budget: int,
    ledger: CoreLedger | None = None,
    index: int = 0,
) -> dict[str, Any]:
    """Run one case in a worker process (the function the engines execute).

    With a ``ledger`` the case claims its threads there when it starts and
    when its predict starts, and releases them when it ends; else it has
    ``budget`` threads (0: decided here, on a remote Dask worker).
    """
    X, y, Xt, yt = _worker_data(ref)  # loads the run's plugins first: registered steps build from them
    case = Case(index, pipeline, n_train, repeat, seed)
    if ledger is None:
        budget = budget if budget >= 1 else _remote_budget()
        out = run_case(case, X, y, Xt, yt, thread_budget=budget)
    else:
        try:
            fit_threads = ledger.claim(index)
            out = run_case(case, X, y, Xt, yt, thread_budget=fit_threads, predict_budget=lambda: ledger.claim(index))
        finally:
            ledger.release(index)
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


def _cores() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def thread_budget(n_jobs: int, cores: int | None = None) -> int:
    """Threads each of ``n_jobs`` concurrent cases is sure of: the cores shared out, at least 1."""
    cores = cores or _cores()
    return max(1, cores // n_jobs)


@dataclass(frozen=True)
class ProbeTimes:
    """One-thread CPU seconds of a pipeline on two small training sizes.

    ``fit[i]`` is the fit on ``sizes[i]`` training images, ``predict[i]``
    that model's predict on ``n_test`` test images. :meth:`extrapolate`
    scales them to a case: fit by the growth measured between the two sizes,
    predict by the same and linearly in the number of test images (a nearest-
    neighbour predict grows with both; a forest's hardly with n_train).
    """

    sizes: tuple[int, int]
    n_test: int
    fit: tuple[float, float]
    predict: tuple[float, float]
    prior: float = 1.0  # growth exponent used where a time is too short to measure one

    def exponents(self) -> tuple[float, float]:
        """Growth exponents (fit, predict) with n_train, measured, clamped to what estimators do.

        The fit's is at least the prior (the registry's exponent, 1 for a
        user's estimator): on a few hundred images a fit's fixed costs (a
        forest's per-tree set-up, a solver's validation) hide its growth, so
        small sizes understate it; a kernel SVM measured at n^1.1 here grows
        as n^1.7 to 60,000.
        """
        e_fit = self._exponent(self.fit, self.prior, _FIT_EXPONENT)
        return max(e_fit, self.prior), self._exponent(self.predict, min(self.prior, 1.0), _PREDICT_EXPONENT)

    def _exponent(self, times: tuple[float, float], prior: float, bounds: tuple[float, float]) -> float:
        small, large = times
        if small < _MEASURABLE_S or large < _MEASURABLE_S or self.sizes[1] <= self.sizes[0]:
            return prior
        growth = np.log(large / small) / np.log(self.sizes[1] / self.sizes[0])
        return float(np.clip(growth, *bounds))

    def extrapolate(self, n_train: int, n_test: int | None = None) -> float:
        """Expected seconds of fit plus predict on ``n_train`` training and ``n_test`` test images."""
        e_fit, e_predict = self.exponents()
        scale = max(1.0, n_train / self.sizes[1])
        tests = (n_test or self.n_test) / self.n_test
        return self.fit[1] * scale**e_fit + self.predict[1] * scale**e_predict * tests


# Timings under this many CPU seconds are too coarse (and too cheap) to measure growth from.
_MEASURABLE_S = 0.02
# Measured exponents are clamped: fits grow at most quadratically (kernel SVMs),
# predicts at most linearly in n_train (neighbours, support vectors).
_FIT_EXPONENT = (0.0, 2.0)
_PREDICT_EXPONENT = (0.0, 1.0)


def probe_times(
    pipeline: ConfiguredPipeline,
    X: np.ndarray,
    y: np.ndarray,
    X_test: np.ndarray,
    *,
    sizes: tuple[int, int] = PROBE_SIZES,
) -> ProbeTimes | None:
    """Time fit and predict on the first ``sizes[0]``, then ``sizes[1]`` images, on one thread.

    CPU seconds (``time.process_time``) of one thread are what the probe's wall
    would be on an idle machine, whatever else runs. The test images are the
    first ``sizes[0]`` of ``X_test``. Returns None when the pipeline cannot be
    fitted on so few images.
    """
    sizes = (min(sizes[0], len(X)), min(sizes[1], len(X)))
    X_test = X_test[: sizes[0]]
    fit, predict = [], []
    try:
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence on a tiny subset is not the point
            for size in sizes:
                est = pipeline.build(random_state=0)
                t0 = process_time()
                est.fit(X[:size], y[:size])
                t1 = process_time()
                est.predict(X_test)
                fit.append(t1 - t0)
                predict.append(process_time() - t1)
    except Exception as exc:  # an estimator's own error: the case is started last, and fails in its run
        logger.debug("probe of %s failed: %s", pipeline.name, exc)
        return None
    return ProbeTimes(
        (sizes[0], sizes[1]), len(X_test), (fit[0], fit[1]), (predict[0], predict[1]), growth_exponent(pipeline)
    )


def growth_exponent(pipeline: ConfiguredPipeline) -> float:
    """The registry's growth exponent of a pipeline (``cost ~ n_train ** e``), else 1."""
    spec = pipeline.spec
    return spec.cost[1] if spec is not None else 1.0


def estimate_cost(
    pipeline: ConfiguredPipeline,
    n_train: int,
    history: Any = None,
    probe: Callable[[ConfiguredPipeline], ProbeTimes | None] | None = None,
    n_test: int | None = None,
) -> float:
    """Expected seconds of fit plus predict for a case; -1 when unknown.

    Parameters
    ----------
    pipeline : ConfiguredPipeline
    n_train : int
    history : pandas.DataFrame or None, default=None
        Earlier results: the median of their ok rows of the same configured
        pipeline and n_train, when there are any.
    probe : callable or None, default=None
        Else ``probe(pipeline)``, a :class:`ProbeTimes` (see
        :func:`probe_times`), extrapolated to ``n_train`` and ``n_test``.
    n_test : int or None, default=None
        Test images of the case; None: as many as the probe's.
    """
    if history is not None and len(history):
        rows = history[
            (history["pipeline"] == pipeline.name) & (history["n_train"] == n_train) & (history["status"] == "ok")
        ]
        if len(rows):
            return float((rows["fit_time_s"] + rows["predict_time_s"]).median())
    if probe is not None:
        times = probe(pipeline)
        if times is not None:
            return times.extrapolate(n_train, n_test)
    return -1.0


def longest_first(
    cases: Sequence[Any],
    history: Any = None,
    probe: Callable[[ConfiguredPipeline], ProbeTimes | None] | None = None,
    n_test: int | None = None,
) -> list[Any]:
    """``cases`` sorted by expected cost (:func:`estimate_cost`), longest first; unknown last.

    Each configured pipeline is probed at most once; ties keep the plan's order.
    """
    seen: dict[str, ProbeTimes | None] = {}

    def once(p: ConfiguredPipeline) -> ProbeTimes | None:
        if p.name not in seen:
            seen[p.name] = probe(p) if probe is not None else None
        return seen[p.name]

    costs = {c.index: estimate_cost(c.pipeline, c.n_train, history, once, n_test) for c in cases}
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
    remote = backend == "dask" and scheduler is not None
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
        budget = 0 if remote else thread_budget(n_jobs)
        args = {c.index: (ref, c.pipeline, c.n_train, c.repeat, c.seed, budget, ledger, c.index) for c in cases}
        if backend == "loky":
            yield from _run_loky(cases, args, n_jobs, ledger)
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
            if ledger is not None:  # Dask retried a case whose worker died; a failed one is released here
                ledger.release(case.index)
            if fut.status == "finished":
                yield case, fut.result()
            else:
                yield case, _error(fut.exception())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
