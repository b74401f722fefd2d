"""Does the warm-up make the first repeat like the others? The evidence for ``run --warmup``.

    python benchmarks/warmup.py [--pipelines svm pca_svm knn rf logreg] [--n-train 2000] [--repeats 4]
                                [--rounds 2] [--out DIR]

Runs the same cases with ``--warmup none``, ``small`` and ``full`` (each a
fresh process, the three in turn, ``--rounds`` times), then prints, per
pipeline and phase, the first repeat's seconds over the median of the later
repeats of the same run (1.00: the first repeat is like the others), as the
median over the rounds. Only phases of 0.05 s or more are shown. Run it alone.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

MODES = ("none", "small", "full")


def first_over_rest(path: Path) -> dict[tuple[str, str], float]:
    """Per (pipeline, phase): the first repeat's seconds over the median of the later ones."""
    rows = pd.read_csv(path, comment="#")
    out = {}
    for pipeline, g in rows.groupby("pipeline", sort=False):
        g = g.sort_values("repeat")
        for phase in ("fit", "predict"):
            t = g[f"{phase}_time_s"].to_numpy(dtype=float)
            if len(t) < 2:
                continue
            rest = float(pd.Series(t[1:]).median())
            if rest >= 0.05:
                out[(str(pipeline), phase)] = float(t[0] / rest)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", nargs="+", default=["svm", "pca_svm", "knn", "rf", "logreg"])
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    folder = Path(args.out or tempfile.mkdtemp(prefix="warmup-"))
    folder.mkdir(parents=True, exist_ok=True)
    ratios: dict[str, dict[tuple[str, str], list[float]]] = {m: {} for m in MODES}
    for k in range(args.rounds):
        for mode in MODES:
            out = folder / f"{mode}-{k}.csv"
            argv = ["run", "--pipelines", *args.pipelines, "--n-train", str(args.n_train)]
            argv += ["--repeats", str(args.repeats), "--warmup", mode, "-q", "-o", str(out)]
            subprocess.run([sys.executable, "-m", "mnist_classic", *argv], check=True, capture_output=True)
            for key, r in first_over_rest(out).items():
                ratios[mode].setdefault(key, []).append(r)
            print(f"round {k + 1}: --warmup {mode} done", flush=True)
    keys = sorted({key for m in MODES for key in ratios[m]})
    print("\n| pipeline | phase | " + " | ".join(f"--warmup {m}" for m in MODES) + " |")
    print("|---|---|" + "---:|" * len(MODES))
    for key in keys:
        cells = [f"x{pd.Series(ratios[m][key]).median():.2f}" if key in ratios[m] else "" for m in MODES]
        print(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
