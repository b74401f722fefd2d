"""The order of parallel cases: each case's expected cost, longest first.

The expected cost of a case (:func:`estimate_cost`) is learned, never typed
in: the median of earlier rows of the output for the same case, else a probe
(one-core fit and predict on 500 and on 1,000 images, :func:`probe_times`)
extrapolated to the case's n_train and n_test by the growth it measured,
else unknown (started last).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from time import process_time
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from ...spec.selectors.parse import ConfiguredPipeline

__all__ = [
    "PROBE_SIZE",
    "PROBE_SIZES",
    "ProbeTimes",
    "estimate_cost",
    "growth_exponent",
    "longest_first",
    "probe_times",
]

logger = logging.getLogger(__name__)

#: Training sizes of the probe that estimates a case's cost when no earlier row exists
#: (the smaller is also its number of test images).
PROBE_SIZES: tuple[int, int] = (500, 1000)
PROBE_SIZE = PROBE_SIZES[1]  # the probe needs this many training images


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
            search = rows["tuning_time_s"].fillna(0) if "tuning_time_s" in rows else 0
            return float((rows["fit_time_s"] + rows["predict_time_s"] + search).median())
    if probe is not None:
        times = probe(pipeline)
        if times is not None:
            # a tuned grid fits each candidate (on part of the training set) before the winner's fit
            return times.extrapolate(n_train, n_test) * (1 + len(pipeline.candidates))
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
