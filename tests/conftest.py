"""Shared test set-up: an isolated data home and capped BLAS threads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Keep tests off the user's cache: downloads and the decoded cache go to a
    # folder of the checkout's own (inherited by the CLI subprocesses tests start).
    os.environ["MNIST_CLASSIC_DATA"] = str(Path(config.rootpath) / ".pytest_cache" / "mnist-classic-data")
    # Stable timings and results on a 2-core machine: one BLAS/OpenMP thread per process.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
