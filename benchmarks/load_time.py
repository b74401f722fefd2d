"""Cold and warm load times of full MNIST (goal: under 0.5 s cold, under 0.05 s warm).

Cold: a new, empty data home, so the four files are inflated, hashed, checked
and normalized into the decoded cache. Warm: the same call again, served from
the cache's memory maps. Prints the median and range of several rounds, and
each round, and the CPU seconds of the cold loads (less distorted than the
wall when other processes share the cores): the first cold round of a process that has just started touches
fresh memory (page faults), later rounds reuse memory the process has freed.

    python benchmarks/load_time.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from mnist_classic import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cold, warm, cold_cpu = [], [], []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as home:
            c0, t0 = time.process_time(), time.perf_counter()
            ds = load_dataset("mnist", data_home=home)
            t1 = time.perf_counter()
            cold_cpu.append(time.process_time() - c0)
            ds = load_dataset("mnist", data_home=home)
            t2 = time.perf_counter()
            float(ds.X_train[-1].sum())  # the data is really there
            cold.append(t1 - t0)
            warm.append(t2 - t1)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    for name, xs in (("cold", cold), ("cold CPU seconds", cold_cpu), ("warm", warm)):
        print(
            f"{name}: median {statistics.median(xs):.4f} s (min {min(xs):.4f}, max {max(xs):.4f}) "
            f"over {len(xs)} rounds, full MNIST {ds.X_train.shape} + {ds.X_test.shape}; "
            f"round by round: {' '.join(f'{x:.3f}' for x in xs)}"
        )


if __name__ == "__main__":
    main()
