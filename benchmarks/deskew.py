"""Time ``Deskew().transform`` on the 60,000 MNIST training images.

Prints the first (cold) round and the median, min and max of the following
rounds, wall-clock (``time.perf_counter`` around the call only) and process
CPU time, with the library versions and BLAS threads. Loading the data is
outside the timed region.

Usage::

    python benchmarks/deskew.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_info

from mnist_classic import load_dataset
from mnist_classic.estimators import Deskew


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds after the first (default 7)")
    args = parser.parse_args(argv)
    X = load_dataset("mnist").X_train
    deskew = Deskew().fit(X[:1])
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(args.rounds + 1):
        c0, t0 = time.process_time(), time.perf_counter()
        deskew.transform(X)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    blas = ", ".join(f"{i.get('internal_api')}x{i.get('num_threads')}" for i in threadpool_info())
    print(
        f"Deskew().transform on X_train {X.shape} {X.dtype}; numpy {np.__version__}, Python {platform.python_version()}"
    )
    print(f"BLAS/OpenMP: {blas}; {platform.processor() or platform.machine()}")
    print(f"first (cold) round: {walls[0]:.3f} s wall, {cpus[0]:.3f} s CPU")
    rest_w, rest_c = walls[1:], cpus[1:]
    print(
        f"next {len(rest_w)} rounds: median {statistics.median(rest_w):.3f} s wall "
        f"(min {min(rest_w):.3f}, max {max(rest_w):.3f}), median {statistics.median(rest_c):.3f} s CPU"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
