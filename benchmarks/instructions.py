"""The evidence for ``run --measure instructions``: A/A agreement, injected changes, and the mode's cost.

    python benchmarks/instructions.py [--n-train 1000] [--n-test 10000] [--n-jobs 2] [--out DIR]

1. **A/A**: the default grid plus a plugin pipeline (``work``: a fixed amount
   of deterministic work in ``fit``, then a nearest-centroid classifier)
   counted twice, the second time beside a process that keeps one core busy
   (started and ended by this script): the largest relative difference of
   every count (fit, predict, each step), and ``compare``'s exit code.
2. **Injected changes**: the same grid with ``work``'s fit doing 1% and 3% more
   units of work (a code change of known size, as a plugin file of the same
   name): the measured ratio, and whether ``compare`` flags that case and
   nothing else (the 1% change with ``--max-instructions 1.005``, since 1%
   sits on the default gate).
3. **Cost**: the wall time of the counted runs against the same grid run
   natively (timed, one case at a time) in the same session.

Run it alone: the counts do not care about load, but the cost figure does.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from workload import plugin_source

PIPELINES = ["svm", "pca_svm", "knn", "rf", "logreg", "work"]


def run(out: Path, plugin: Path, args: argparse.Namespace, *, counted: bool) -> float:
    cmd = [sys.executable, "-m", "mnist_classic", "run", "--pipelines", *PIPELINES, "--plugin", str(plugin)]
    cmd += ["--n-train", str(args.n_train), "--n-test", str(args.n_test), "-o", str(out), "-q"]
    if counted:
        cmd += ["--measure", "instructions", "--n-jobs", str(args.n_jobs)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def counts(path: Path) -> dict[str, int]:
    """Every count of a counted CSV: case/fit, case/predict and case/step/phase."""
    out = {}
    for _, r in pd.read_csv(path).iterrows():
        out[f"{r['pipeline']} fit"] = int(r["fit_instructions"])
        out[f"{r['pipeline']} predict"] = int(r["predict_instructions"])
        if isinstance(r["step_instructions"], str) and r["step_instructions"]:
            for step, phases in json.loads(r["step_instructions"]).items():
                for phase, n in phases.items():
                    out[f"{r['pipeline']} {step} {phase}"] = int(n)
    return out


def compare(a: Path, b: Path, *extra: str) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "mnist_classic", "compare", str(a), str(b), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout.strip().splitlines()[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--n-test", type=int, default=10000)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default=None, help="keep the CSVs here (default: a temporary folder)")
    args = parser.parse_args()
    # A TERM (kill, pkill) ends the script through its finally blocks, which end the busy neighbour it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    folder = Path(args.out or tempfile.mkdtemp(prefix="instructions-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    plugins = {}
    for name, extra in (("same", 0.0), ("plus1", 0.01), ("plus3", 0.03)):
        (folder / name).mkdir(exist_ok=True)
        plugins[name] = folder / name / "work_plugin.py"
        plugins[name].write_text(plugin_source(extra, units=200))
    print(f"load average at the start: {os.getloadavg()[0]:.2f}; CSVs in {folder}", flush=True)

    native = run(folder / "native.csv", plugins["same"], args, counted=False)
    print(f"native run (timed, one case at a time): {native:.0f} s", flush=True)
    a = run(folder / "a.csv", plugins["same"], args, counted=True)
    print(f"counted run A: {a:.0f} s", flush=True)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # the busy neighbour, on purpose
    try:
        b = run(folder / "b.csv", plugins["same"], args, counted=True)
    finally:
        busy.kill()
        busy.wait()
    print(f"counted run B, beside a busy process: {b:.0f} s", flush=True)
    c1 = run(folder / "plus1.csv", plugins["plus1"], args, counted=True)
    c3 = run(folder / "plus3.csv", plugins["plus3"], args, counted=True)

    ca, cb = counts(folder / "a.csv"), counts(folder / "b.csv")
    print("\n## A/A: the same code counted twice, the second time beside a busy process\n")
    print("| count | run A | run B (busy neighbour) | relative difference |")
    print("|---|---:|---:|---:|")
    worst = 0.0
    for key in ca:
        diff = abs(cb[key] - ca[key]) / ca[key]
        worst = max(worst, diff)
        print(f"| {key} | {ca[key]:,} | {cb[key]:,} | {100 * diff:.4f}% |")
    code, line = compare(folder / "a.csv", folder / "b.csv")
    print(f"\nlargest relative difference: {100 * worst:.4f}%; compare A B: exit {code} ({line})")

    print("\n## Injected changes in work's fit\n")
    print("| injected | work fit ratio | compare | exit | verdict line |")
    print("|---|---:|---|---:|---|")
    injected = (("+1% units", "plus1.csv", ["--max-instructions", "1.005"]), ("+3% units", "plus3.csv", []))
    for label, path, gate in injected:
        ratio = counts(folder / path)["work fit"] / ca["work fit"]
        code, line = compare(folder / "a.csv", folder / path, *gate)
        print(f"| {label} | x{ratio:.4f} | {' '.join(gate) or 'default gate'} | {code} | {line} |")

    print("\n## Cost\n")
    print(f"native {native:.0f} s; counted (--n-jobs {args.n_jobs}) {a:.0f} s, {b:.0f} s beside a busy process, ")
    print(f"{c1:.0f} s and {c3:.0f} s: {a / native:.1f}x the native run")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
