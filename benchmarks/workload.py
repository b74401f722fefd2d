"""The ``work`` pipeline of the speed benchmarks (instructions.py, noise.py): known work, changed by a known amount.

``fit`` runs a fixed number of units of deterministic one-thread work (a product of the training
images with a fixed random matrix), ``units * (1 + EXTRA)`` of them, then fits a nearest-centroid
classifier: a version with ``EXTRA = 0.05`` is a code change that makes ``fit`` about 5% slower.
"""

from __future__ import annotations

import textwrap

_WORK = """
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.neighbors import NearestCentroid
from threadpoolctl import threadpool_limits

EXTRA = {extra}  # the injected change: this fraction more units of work in fit


class Work(ClassifierMixin, BaseEstimator):
    def __init__(self, units={units}):
        self.units = units

    def fit(self, X, y):
        W = np.random.default_rng(0).standard_normal((X.shape[1], 16)).astype(X.dtype)
        with threadpool_limits(limits=1):
            self.acc_ = sum(float(np.abs(X @ W).sum()) for _ in range(self.units + round(self.units * EXTRA)))
        self.nc_ = NearestCentroid().fit(X, y)
        self.classes_ = self.nc_.classes_
        return self

    def predict(self, X):
        return self.nc_.predict(X)
"""

_DESCRIPTION = "a fixed amount of deterministic one-thread work in fit, then nearest centroid"


def plugin_source(extra: float, units: int = 100) -> str:
    """A plugin file (``run --plugin FILE.py``) registering ``work``."""
    code = textwrap.dedent(_WORK).format(extra=extra, units=units)
    return (
        code + f'\nfrom mnist_classic import register_pipeline\n\nregister_pipeline("work", "{_DESCRIPTION}")(Work)\n'
    )


def package_source(extra: float, units: int = 100) -> str:
    """A package's module whose ``register`` is its ``mnist_classic.pipelines`` entry point."""
    code = textwrap.dedent(_WORK).format(extra=extra, units=units)
    return code + (
        "\n\ndef register():\n    from mnist_classic import register_pipeline\n\n"
        f'    register_pipeline("work", "{_DESCRIPTION}")(Work)\n'
    )
