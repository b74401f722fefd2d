"""The cost of one request: ``predict`` on one image at a time, on one thread.

Beside the batch ``predict_time_s``, a deployment answers one image per call:
:func:`one_image_latency` predicts each image of a fixed, seeded sample of the
test set alone (after untimed warm-up calls), with BLAS/OpenMP pools and
torch's intra-op pool held to one thread, timing each call with
``perf_counter``; the row keeps the median and the 99th percentile.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter
from typing import Any

import numpy as np

from .threads import limit_threads

__all__ = ["LATENCY_SEED", "LATENCY_WARMUP", "latency_sample", "one_image_latency"]

#: Seed of the sample of test images: the same images for every case of every run on a test set.
LATENCY_SEED = 0
#: Untimed one-image calls before the timed ones (first calls pay for lazy imports, caches, allocations).
LATENCY_WARMUP = 10


def latency_sample(n_test: int, n: int) -> np.ndarray:
    """Indices of the ``n`` test images timed one by one: a seeded sample without replacement, in draw order.

    Examples
    --------
    >>> latency_sample(10, 3).tolist() == latency_sample(10, 3).tolist()
    True
    """
    return np.random.default_rng(LATENCY_SEED).choice(n_test, size=n, replace=False)


@contextmanager
def _one_thread(estimator: Any) -> Iterator[None]:
    """One thread: BLAS/OpenMP pools (threadpoolctl), torch's intra-op pool if loaded, every ``*n_jobs`` at 1.

    The estimator's ``n_jobs`` parameters (a thread budget may have set them)
    are put back as they were afterwards.
    """
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    get_params = getattr(estimator, "get_params", None)
    jobs = {k: v for k, v in get_params().items() if k.endswith("n_jobs")} if get_params is not None else {}
    with limit_threads(1):
        if torch is not None:
            torch.set_num_threads(1)
        if jobs:
            estimator.set_params(**dict.fromkeys(jobs, 1))
        try:
            yield
        finally:
            if jobs:
                estimator.set_params(**jobs)
            if torch is not None and before is not None:
                torch.set_num_threads(before)


def one_image_latency(estimator: Any, X_test: np.ndarray, n: int) -> tuple[float, float]:
    """Median and 99th-percentile milliseconds of ``predict`` on one image, over ``n`` images.

    Parameters
    ----------
    estimator : fitted estimator
    X_test : numpy.ndarray of shape (n_test, n_features)
    n : int
        Images timed, ``1 <= n <= len(X_test)``; drawn by :func:`latency_sample`.
        The first :data:`LATENCY_WARMUP` of them are also predicted once, untimed, first.

    Returns
    -------
    p50_ms, p99_ms : float
        ``numpy.percentile`` (linear interpolation) of the ``n`` call times.

    Raises
    ------
    ValueError
        If ``n`` is outside ``[1, len(X_test)]``.
    """
    if isinstance(n, bool) or not 1 <= n <= len(X_test):
        msg = f"The 'n' parameter of one_image_latency must be an int in [1, {len(X_test)}]. Got {n!r} instead."
        raise ValueError(msg)
    idx = latency_sample(len(X_test), n)
    rows = [np.ascontiguousarray(X_test[i : i + 1]) for i in idx]  # copies made before any timing
    times = np.empty(n)
    with _one_thread(estimator):
        for x in rows[:LATENCY_WARMUP]:
            estimator.predict(x)
        for k, x in enumerate(rows):
            t0 = perf_counter()
            estimator.predict(x)
            times[k] = perf_counter() - t0
    p50, p99 = np.percentile(times * 1000.0, [50, 99])
    return float(p50), float(p99)
