"""Parallel cases against a plain sequential loop, and Dask with 2 workers against 1.

1. The five default pipelines on full MNIST: a plain loop over scikit-learn
   (fit, predict, one after the other) against ``run --n-jobs 2`` (loky), side
   by side in this script. Goal: the parallel wall time at most 0.85 of the
   sequential one, with identical predictions.
2. Ten independent cases on a Dask LocalCluster of 2 workers against 1 worker.
   Goal: at least 1.7x faster.

    python benchmarks/parallel.py [--part 1|2|all] [--n-train 60000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from mnist_classic import DEFAULT_PIPELINES, load_dataset, parse_selector, read_results
from mnist_classic.bench.runner import RunConfig, run_benchmark
from mnist_classic.results import labels_sha256


def sequential_loop(n_train: int | None) -> tuple[float, dict[str, str]]:
    ds = load_dataset("mnist", n_train=n_train)
    X, y = np.ascontiguousarray(ds.X_train), np.asarray(ds.y_train)
    Xt = np.ascontiguousarray(ds.X_test)
    hashes = {}
    t0 = time.perf_counter()
    for name in DEFAULT_PIPELINES:
        est = parse_selector(name).build(random_state=0)
        hashes[name] = labels_sha256(est.fit(X, y).predict(Xt))
    return time.perf_counter() - t0, hashes


def parallel_run(n_train: int | None, folder: Path, **kwargs) -> tuple[float, dict[str, str]]:
    out = folder / f"run-{time.monotonic_ns()}.csv"
    config = RunConfig(n_train=[n_train], output=out, **kwargs)
    t0 = time.perf_counter()
    result = run_benchmark(config)
    wall = time.perf_counter() - t0
    assert result.exit_code == 0, [r["error"] for r in result.rows]
    df = read_results(out)
    return wall, dict(zip(df["pipeline"], df["predictions_sha256"], strict=True))


def part1(n_train: int | None, folder: Path) -> None:
    seq_wall, seq = sequential_loop(n_train)
    par_wall, par = parallel_run(n_train, folder, n_jobs=2)
    differ = [k for k in seq if seq[k] != par[k]]
    why = f" (differ: {', '.join(differ)}; BLAS threads: all cores in the loop, 1 per parallel case)"
    print(
        f"default pipelines, n_train={n_train or 60000}: sequential loop {seq_wall:.1f} s, "
        f"run --n-jobs 2 {par_wall:.1f} s, ratio {par_wall / seq_wall:.2f} (goal <= 0.85); "
        f"identical predictions: {len(seq) - len(differ)} of {len(seq)}" + (why if differ else "")
    )


def part2(folder: Path) -> None:
    # One-core cases (explicit n_jobs=1, no BLAS), so that 1 worker cannot use the second core either.
    cases = {"pipelines": ["rf[n_estimators=200,n_jobs=1]"], "n_train": 10000, "n_test": 10000, "repeats": 10}
    walls = {}
    for workers in (1, 2):
        out = folder / f"dask-{workers}.csv"
        config = RunConfig(
            pipelines=cases["pipelines"],
            n_train=[cases["n_train"]],
            n_test=cases["n_test"],
            repeats=cases["repeats"],
            output=out,
            n_jobs=workers,
            backend="dask",
        )
        t0 = time.perf_counter()
        assert run_benchmark(config).exit_code == 0
        walls[workers] = time.perf_counter() - t0
    print(
        f"10 independent cases ({cases['pipelines'][0]}, n_train={cases['n_train']}) on a Dask LocalCluster: 1 worker "
        f"{walls[1]:.1f} s, 2 workers {walls[2]:.1f} s, speed-up {walls[1] / walls[2]:.2f}x (goal >= 1.7)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("1", "2", "all"), default="all")
    parser.add_argument("--n-train", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("1", "all"):
            part1(args.n_train, Path(tmp))
        if args.part in ("2", "all"):
            part2(Path(tmp))


if __name__ == "__main__":
    main()
