"""How often detect_steps raises a false alarm on pure noise, and how often it finds planted steps.

Series of 20-30 points with multiplicative normal noise of 2-5% (the run-to-run
noise of the suite's timings on a quiet machine), fixed seeds:

- false alarms: the share of pure-noise series in which any step is found,
  without and with one outlier (one point x1.5, anywhere);
- detection: the share of series with one planted step (x1.1, x1.2, x1.5, at
  an index drawn from the middle, with at least 5 points on either side) in
  which a step is found within one index of the planted one, and the share in
  which exactly that one step and no other is found.

Usage: python benchmarks/changepoint_false_alarms.py [--series 1000] [--beta B] [--min-size 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mnist_classic.analysis.history import changepoint
from mnist_classic.analysis.history.changepoint import detect_steps


def series(rng: np.random.Generator, ratio: float | None, outlier: bool = False) -> tuple[np.ndarray, int | None]:
    n = int(rng.integers(20, 31))
    noise = rng.uniform(0.02, 0.05)
    level = np.ones(n)
    at = None
    if ratio is not None:
        at = int(rng.integers(5, n - 4))
        level[at:] = ratio
    y = level * (1 + noise * rng.standard_normal(n))
    if outlier:  # one run 1.5 times slower, anywhere (a busy machine for a moment)
        y[rng.integers(n)] *= 1.5
    return y, at


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000, help="series per scenario (default 1000)")
    parser.add_argument("--beta", type=float, default=changepoint.BETA, help="penalty scale (default BETA)")
    parser.add_argument("--min-size", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    changepoint.BETA = args.beta
    start = time.perf_counter()
    print(f"beta={args.beta} min_size={args.min_size} series={args.series} n=20-30 noise=2-5%")
    for ratio, outlier in ((None, False), (None, True), (1.1, False), (1.2, False), (1.5, False)):
        rng = np.random.default_rng([args.seed, outlier, 0 if ratio is None else int(ratio * 100)])
        found = near = exact = 0
        for _ in range(args.series):
            y, at = series(rng, ratio, outlier)
            steps = detect_steps(y, min_size=args.min_size)
            found += bool(steps)
            if at is not None:
                hit = any(abs(s.index - at) <= 1 for s in steps)
                near += hit
                exact += hit and len(steps) == 1
        if ratio is None:
            what = "noise + 1 outlier" if outlier else "pure noise"
            print(f"{what}: false-alarm rate {found / args.series:.4f} ({found}/{args.series})")
        else:
            print(
                f"step x{ratio}: detected (within 1 index) {near / args.series:.3f}, "
                f"exactly that one step {exact / args.series:.3f}"
            )
    print(f"({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
