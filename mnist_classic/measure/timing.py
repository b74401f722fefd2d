"""Measuring one case: fit and predict timed separately, per step, and peak memory.

Only the estimator's own work is inside a timed region: for a ``Pipeline`` the
steps are fitted and applied one after the other exactly as
``Pipeline.fit``/``predict`` do (without a cache, the pipeline fits its own
step objects in place), with ``perf_counter`` read between steps, so that the
time of each step (PCA vs SVC) comes for free with the total.

A ``region`` (``run --measure instructions``: :mod:`.callgrind`) is entered
around each step's call, named ``fit/<step>`` or ``predict/<step>`` (``fit/``
and ``predict/`` for an estimator that is not a pipeline), so that a count of
each step is taken at the same places as its time.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

__all__ = ["PeakMemory", "Region", "timed_fit", "timed_predict"]

#: A context manager factory entered around each measured call, given the region's name.
Region = Callable[[str], AbstractContextManager[object]]


def _no_region(name: str) -> AbstractContextManager[object]:
    return nullcontext()


def _active_steps(est: Pipeline) -> list[tuple[str, Any]]:
    return [(n, s) for n, s in est.steps if s is not None and s != "passthrough"]


def _stepwise(
    estimator: Pipeline,
    X: np.ndarray,
    transform: Callable[[Any, Any], Any],
    final: Callable[[Any, Any], Any],
    region: Region,
    phase: str,
) -> tuple[Any, float, dict[str, float]]:
    """Pass ``X`` through the pipeline's transformers, then its final step, timing each.

    Returns (what ``final`` returned, total seconds, step name -> seconds).
    """
    steps = _active_steps(estimator)
    times: dict[str, float] = {}
    t0 = perf_counter()
    Xt = X
    for name, step in steps[:-1]:
        ts = perf_counter()
        with region(f"{phase}/{name}"):
            Xt = transform(step, Xt)
        times[name] = perf_counter() - ts
    name, last = steps[-1]
    ts = perf_counter()
    with region(f"{phase}/{name}"):
        out = final(last, Xt)
    end = perf_counter()
    times[name] = end - ts
    return out, end - t0, times


def _stepwise_ok(estimator: BaseEstimator) -> bool:
    """A pipeline without a cache: fitting its steps in place is exactly what ``Pipeline.fit`` does."""
    return isinstance(estimator, Pipeline) and estimator.memory is None


def timed_fit(
    estimator: BaseEstimator, X: np.ndarray, y: np.ndarray, *, region: Region = _no_region
) -> tuple[float, dict[str, float]]:
    """Fit ``estimator`` in place; return (total seconds, step name -> seconds).

    The step dict is empty for an estimator that is not a ``Pipeline``.
    """
    if not _stepwise_ok(estimator):
        t0 = perf_counter()
        with region("fit/"):
            estimator.fit(X, y)
        return perf_counter() - t0, {}
    fit_transform: Callable[[Any, Any], Any] = lambda s, Xt: s.fit_transform(Xt, y)  # noqa: E731
    _, total, times = _stepwise(estimator, X, fit_transform, lambda s, Xt: s.fit(Xt, y), region, "fit")
    return total, times


def timed_predict(
    estimator: BaseEstimator, X: np.ndarray, *, chunks: int = 1, region: Region = _no_region
) -> tuple[np.ndarray, float, dict[str, float]]:
    """Predict with a fitted ``estimator``; return (labels, total seconds, per-step seconds).

    With ``chunks > 1`` the rows of ``X`` are split into that many chunks
    predicted on as many threads (for estimators whose ``predict`` uses one
    core and releases the GIL, such as SVC); the time is then the wall time
    of the whole, and no per-step times are given.
    """
    if chunks > 1:
        with ThreadPoolExecutor(max_workers=chunks) as pool:
            parts = np.array_split(X, chunks)
            t0 = perf_counter()
            pred = np.concatenate(list(pool.map(estimator.predict, parts)))
            return pred, perf_counter() - t0, {}
    if not _stepwise_ok(estimator):
        t0 = perf_counter()
        with region("predict/"):
            pred = estimator.predict(X)
        return pred, perf_counter() - t0, {}
    return _stepwise(estimator, X, lambda s, Xt: s.transform(Xt), lambda s, Xt: s.predict(Xt), region, "predict")


def _lifetime_peak_mb() -> tuple[float | None, str]:
    """This process's lifetime peak resident memory (MB) and how it was read.

    ``resource.getrusage`` where the module exists (Unix): ``ru_maxrss`` is in
    KiB on Linux and the BSDs, in bytes on macOS. Elsewhere (Windows) psutil's
    ``peak_wset``, the peak working set in bytes, the same quantity. Where
    neither exists, the current resident set size (psutil ``rss``), a lower
    bound of the peak.
    """
    try:
        import resource
    except ImportError:
        resource = None  # type: ignore[assignment]
    if resource is not None:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return (rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024), "ru_maxrss"
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a dependency
        return None, "none"
    info = psutil.Process().memory_info()
    peak = getattr(info, "peak_wset", None)
    if peak is not None:  # pragma: no cover - Windows only
        return peak / (1024 * 1024), "peak_wset"
    return info.rss / (1024 * 1024), "rss"


class PeakMemory:
    """Peak resident memory (MB) of this process while the block runs.

    On Linux the kernel's high-water mark is reset on entry (``clear_refs``)
    and read on exit (``VmHWM``), so the figure is this block's peak. Where
    that is not possible, the process's lifetime peak is used, an upper bound:
    ``ru_maxrss`` (Unix) or psutil's ``peak_wset`` (Windows); where neither
    exists, the resident set size on exit (psutil). :attr:`method` says which
    (``vmhwm``, ``ru_maxrss``, ``peak_wset``, ``rss`` or ``none``).
    """

    def __init__(self) -> None:
        self.peak_mb: float | None = None
        self.method = "ru_maxrss"

    def __enter__(self) -> PeakMemory:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.method = "vmhwm"
        except OSError:
            self.method = "ru_maxrss"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.method == "vmhwm":
            try:
                for line in Path("/proc/self/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_mb = int(line.split()[1]) / 1024
                        return
            except OSError:
                pass
        self.peak_mb, self.method = _lifetime_peak_mb()
