"""Which ``ab`` mode gives the narrower interval per minute? Read from ``noise.py``'s A/A comparisons.

    python benchmarks/per_minute.py DIR [--rounds 10]

``DIR`` is a ``noise.py --out`` folder. For each A/A ``ab`` comparison there
(``interleave-0-*.csv``, ``duet-0-*.csv``, with their ``.ab.json`` logs), over its
first ``--rounds`` rounds, for ``work``'s fit: the half-width of the 95% Student t
interval on the mean log ratio NEW/BASE (as ``ab`` computes it, shown as a
percentage) and the rounds' wall minutes from the log (a round of interleaved
runs costs its two runs' seconds; a duet round, the longer of its two, run at
once); their product with the square root of the minutes is the half-width one
minute would give (lower is better). Prints the median per mode, the range, and a
Mann-Whitney test between the modes (scipy). Reads files only: it times nothing.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats


def comparison(csv: Path, rounds: int) -> tuple[float, float] | None:
    """The 95% half-width (a fraction) and the wall minutes of the first ``rounds`` rounds; None if too few."""
    frame = pd.read_csv(csv)
    frame = frame[(frame["pipeline"] == "work") & (frame["status"] == "ok") & (frame["ab_round"] <= rounds)]
    sides = {s: frame[frame["side"] == s].groupby("ab_round")["fit_time_s"].mean() for s in ("base", "new")}
    common = sides["base"].index.intersection(sides["new"].index)
    if len(common) < 2:
        return None
    logs = np.log(sides["new"].loc[common].to_numpy() / sides["base"].loc[common].to_numpy())
    half = stats.t.ppf(0.975, len(logs) - 1) * logs.std(ddof=1) / math.sqrt(len(logs))
    log = json.loads(csv.with_suffix(".ab.json").read_text())
    cost = max if csv.name.startswith("duet") else sum
    seconds = {r["round"]: cost(r["seconds"].values()) for e in log["ab_runs"] for r in e["rounds"]}
    return math.expm1(half), sum(seconds[k] for k in common) / 60


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    per_minute = {}
    for mode in ("interleave", "duet"):
        found = [comparison(f, args.rounds) for f in sorted(args.folder.glob(f"{mode}-0-*.csv"))]
        found = [x for x in found if x is not None]
        if not found:
            continue
        half = np.array([h for h, _ in found])
        per_minute[mode] = np.array([h * math.sqrt(m) for h, m in found])
        print(
            f"{mode}: {len(found)} A/A, half-width median ±{100 * np.median(half):.1f}% "
            f"({100 * half.min():.1f}-{100 * half.max():.1f}%), minutes median {np.median([m for _, m in found]):.2f}, "
            f"half-width x sqrt(minutes) median {100 * np.median(per_minute[mode]):.1f}% "
            f"({100 * per_minute[mode].min():.1f}-{100 * per_minute[mode].max():.1f}%)"
        )
    if len(per_minute) == 2:
        print(f"Mann-Whitney p = {stats.mannwhitneyu(per_minute['interleave'], per_minute['duet']).pvalue:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
