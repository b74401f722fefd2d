"""Parallel cases against the machine's limit, and Dask with 2 workers against 1.

1. The five default pipelines on full MNIST, in one run of this script:
   - a plain loop over scikit-learn (fit, predict, one after the other), with
     scikit-learn's default threads;
   - the same loop on one thread, whose CPU seconds per fit and per predict
     (``time.process_time``) give the limit of any schedule on C cores:
     max(critical path with a split predict, total CPU seconds / C), the
     critical path being the longest case's fit plus its predict divided by C;
   - ``run --n-jobs 2`` (loky, longest expected first): goal within 1.1x of
     the limit, identical predictions for every pipeline but ``logreg`` and
     ``pca_svm`` (see THREAD_DEPENDENT);
   - the same with the worst order (shortest first), to show that order matters;
   - the probe's cost estimates (which order the run: one-thread fit and
     predict on 500 and 1,000 images, extrapolated by the growth they show)
     next to the loop's times.
   Ratios, not times, are the result: other processes on the machine distort
   walls, so the load average is printed before and after each measurement.
2. Ten independent cases on a Dask LocalCluster of 2 workers against 1 worker.
   Goal: at least 1.7x faster.

    python benchmarks/parallel.py [--part 1|2|all] [--n-train 60000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

import mnist_classic.bench.runner as runner_module
from mnist_classic import DEFAULT_PIPELINES, load_dataset, parse_selector, read_results
from mnist_classic.bench.parallel.backends import PROBE_SIZE, PROBE_SIZES, estimate_cost, longest_first, probe_times
from mnist_classic.bench.runner import RunConfig, run_benchmark
from mnist_classic.results import labels_sha256

# Predictions that depend on the number of BLAS threads (the summation order): lbfgs stops at another
# point; PCA's components differ in the last bits (1 label of 10,000 on full MNIST, 1 vs 2 threads).
THREAD_DEPENDENT = {"logreg", "pca_svm"}


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def sequential_loop(
    n_train: int | None, threads: int | None = None
) -> tuple[float, dict[str, str], dict[str, tuple[float, float]]]:
    """Wall of the plain loop, prediction hashes, and (fit, predict) CPU seconds per pipeline.

    ``threads=None`` leaves scikit-learn's defaults (BLAS and OpenMP on every
    core); ``threads=1`` gives one-core CPU seconds, which the limit needs: a
    BLAS thread spinning while it waits counts as CPU time without doing work.
    """
    ds = load_dataset("mnist", n_train=n_train)
    X, y = np.ascontiguousarray(ds.X_train), np.asarray(ds.y_train)
    Xt = np.ascontiguousarray(ds.X_test)
    hashes, cpu = {}, {}
    t0 = time.perf_counter()
    with threadpool_limits(limits=threads):
        for name in DEFAULT_PIPELINES:
            est = parse_selector(name).build(random_state=0)
            c0 = time.process_time()
            est.fit(X, y)
            c1 = time.process_time()
            pred = est.predict(Xt)
            cpu[name] = (c1 - c0, time.process_time() - c1)
            hashes[name] = labels_sha256(pred)
    return time.perf_counter() - t0, hashes, cpu


def limit(cpu: dict[str, tuple[float, float]], cores: int) -> tuple[float, float]:
    """(critical path with a split predict, total CPU seconds / cores)."""
    critical = max(fit + predict / cores for fit, predict in cpu.values())
    return critical, sum(f + p for f, p in cpu.values()) / cores


def parallel_run(n_train: int | None, folder: Path, **kwargs: Any) -> tuple[float, dict[str, str], Any]:
    out = folder / f"run-{time.monotonic_ns()}.csv"
    config = RunConfig(n_train=[n_train], output=out, **kwargs)
    t0 = time.perf_counter()
    result = run_benchmark(config)
    wall = time.perf_counter() - t0
    assert result.exit_code == 0, [r["error"] for r in result.rows]
    df = read_results(out)
    return wall, dict(zip(df["pipeline"], df["predictions_sha256"], strict=True)), df


def part1(n_train: int | None, folder: Path) -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    n = n_train or 60000
    print(f"part 1: default pipelines, n_train={n}, {cores} cores; {load()} at start")
    ds = load_dataset("mnist", n_train=n_train)
    data = tuple(np.ascontiguousarray(a[:PROBE_SIZE]) for a in (ds.X_train, ds.y_train, ds.X_test))
    t0 = time.perf_counter()
    probes = {p: probe_times(parse_selector(p), *data) for p in DEFAULT_PIPELINES}
    probe_wall = time.perf_counter() - t0

    seq_wall, seq, _ = sequential_loop(n_train)
    print(f"  plain sequential loop (scikit-learn's default threads): {seq_wall:.1f} s ({load()} after)")
    one_wall, one, cpu = sequential_loop(n_train, threads=1)
    total_cpu = sum(f + p for f, p in cpu.values())
    print(f"  the same loop on one thread: {one_wall:.1f} s wall, {total_cpu:.1f} s CPU ({load()} after)")
    critical, spread = limit(cpu, cores)
    lim = max(critical, spread)
    print(
        f"  limit from the one-thread loop's CPU seconds: {lim:.1f} s = max(critical path {critical:.1f} s, "
        f"CPU {total_cpu:.1f} s / {cores} cores = {spread:.1f} s)"
    )

    n_test = len(ds.X_test)
    est = {
        p: estimate_cost(parse_selector(p), n, probe=lambda c: probes[c.name], n_test=n_test) for p in DEFAULT_PIPELINES
    }
    print(
        f"  probe (fit on {PROBE_SIZES[0]} and {PROBE_SIZES[1]} images, predict {PROBE_SIZES[0]}, one thread; "
        f"{probe_wall:.2f} s for all five) vs the loop's CPU seconds:"
    )
    for p in sorted(DEFAULT_PIPELINES, key=lambda p: -sum(cpu[p])):
        t = probes[p]
        assert t is not None
        e_fit, e_predict = t.exponents()
        print(
            f"    {p:8s} probe fit {t.fit[0]:.3f}/{t.fit[1]:.3f} s (growth n^{e_fit:.2f}), predict "
            f"{t.predict[0]:.3f}/{t.predict[1]:.3f} s (n^{e_predict:.2f}) -> {est[p]:7.1f} s; "
            f"measured fit {cpu[p][0]:6.1f} + predict {cpu[p][1]:5.1f} = {sum(cpu[p]):6.1f} s"
        )
    same = [p for p in sorted(est, key=lambda p: -est[p])] == [p for p in sorted(cpu, key=lambda p: -sum(cpu[p]))]
    print(f"  the probe's order is the measured order: {same}")

    par_wall, par, df = parallel_run(n_train, folder, n_jobs=2)
    order = [
        c.pipeline.name
        for c in longest_first(
            runner_module.plan_cases([parse_selector(p) for p in DEFAULT_PIPELINES], [n], 1, 0),
            probe=lambda c: probes[c.name],
            n_test=n_test,
        )
    ]
    threads = ", ".join(
        f"{p} {int(f)}/{int(q)}"
        for p, f, q in zip(df["pipeline"], df["fit_threads"], df["predict_threads"], strict=True)
    )
    print(f"  run --n-jobs 2, longest first: {par_wall:.1f} s ({load()} after)")
    print(f"    order by this script's probe (the run probes again): {' > '.join(order)}")
    print(f"    threads fit/predict: {threads}")
    walls = ", ".join(
        f"{p} {f:.1f} + {q:.1f} s"
        for p, f, q in zip(df["pipeline"], df["fit_time_s"], df["predict_time_s"], strict=True)
    )
    print(f"    fit + predict walls: {walls}")

    real = runner_module.longest_first

    def shortest_first(cases: Any, history: Any = None, probe: Any = None, n_test: Any = None) -> list[Any]:
        return real(cases, history, probe, n_test)[::-1]

    runner_module.longest_first = shortest_first  # the worst order for 2 workers: the longest case last
    try:
        worst_wall, worst, _ = parallel_run(n_train, folder, n_jobs=2)
    finally:
        runner_module.longest_first = real
    print(f"  run --n-jobs 2, shortest first: {worst_wall:.1f} s ({load()} after)")

    runs = {"default-threads loop": seq, "one-thread loop": one, "longest first": par, "shortest first": worst}
    for p in DEFAULT_PIPELINES:
        groups: dict[str, list[str]] = {}
        for run, hashes in runs.items():
            groups.setdefault(hashes[p], []).append(run)
        print(f"    {p:8s} identical predictions: {' | '.join(', '.join(g) for g in groups.values())}")
    check = [k for k in seq if k not in THREAD_DEPENDENT]
    differ = [k for k in check if not (seq[k] == one[k] == par[k] == worst[k])]
    print(
        f"RESULT: --n-jobs 2 / limit = {par_wall / lim:.2f} (goal <= 1.10); shortest-first / limit = "
        f"{worst_wall / lim:.2f}; --n-jobs 2 / plain loop = {par_wall / seq_wall:.2f}; identical predictions for "
        f"{len(check) - len(differ)} of the {len(check)} thread-count-independent pipelines (in all four runs)"
        + (f" (differ: {', '.join(differ)})" if differ else "")
        + "".join(
            f"; {p} identical to the default-threads loop: {seq[p] == par[p]}, to the one-thread loop: "
            f"{one[p] == par[p]}"
            for p in sorted(THREAD_DEPENDENT)
        )
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
