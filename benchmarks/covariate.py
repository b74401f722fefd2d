"""Would the speed index, as a covariate, narrow ``ab``'s interval? Read from ``noise.py``'s ``ab`` results.

    python benchmarks/covariate.py DIR

``DIR`` is a ``noise.py --out`` folder: each interleaved ``ab`` comparison left its CSV there
(``interleave-<size>-<condition>-<trial>.csv``). Each case records ``calibration_s``, a short fixed
workload timed before it (``measure/machine.py``): a speed index of its process. Per comparison,
over its rounds, for ``work``'s fit: the plain 95% interval of ``ab`` (Student t on the mean log
ratio NEW/BASE) against the interval adjusted for the speed index (ordinary least squares of the
log ratio on the log ratio of the two sides' ``calibration_s``, statsmodels; its intercept is the
ratio at equal speed indices). Prints each comparison, then by rounds and condition the median
ratio of the adjusted half-width to the plain one (below 1: narrower), how often it is narrower,
and the median correlation. Reads CSVs only: it times nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats


def half_widths(frame: pd.DataFrame) -> tuple[int, float, float, float] | None:
    """Rounds, plain and adjusted 95% half-widths (log scale) and the correlation, for work's fit."""
    rows = frame[(frame["pipeline"] == "work") & (frame["status"] == "ok")]
    if rows["calibration_s"].isna().all():
        return None
    g = rows.groupby(["ab_round", "side"]).agg(fit=("fit_time_s", "first"), cal=("calibration_s", "first"))
    g = g.unstack().dropna()
    if len(g) < 6:
        return None
    y = np.log(g[("fit", "new")] / g[("fit", "base")]).to_numpy()
    x = np.log(g[("cal", "new")] / g[("cal", "base")]).to_numpy()
    n = len(y)
    plain = float(stats.t.ppf(0.975, n - 1) * y.std(ddof=1) / np.sqrt(n))
    adjusted = float(stats.t.ppf(0.975, n - 2) * sm.OLS(y, sm.add_constant(x)).fit().bse[0])
    return n, plain, adjusted, float(np.corrcoef(x, y)[0, 1])


def main() -> int:
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():
        sys.exit("covariate.py: give one folder, a noise.py --out folder with interleave-*.csv")
    found = []
    for path in sorted(Path(sys.argv[1]).glob("interleave-*.csv")):
        widths = half_widths(pd.read_csv(path))
        if widths is not None:
            found.append((path.stem, "busy" in path.stem, *widths))
    if not found:
        sys.exit(f"covariate.py: no interleave-*.csv with calibration_s in {sys.argv[1]}")
    table = pd.DataFrame(found, columns=["comparison", "busy", "rounds", "plain", "adjusted", "corr"])
    table["ratio"] = table["adjusted"] / table["plain"]
    print(table.round(4).to_string(index=False))
    summary = table.groupby(["rounds", "busy"]).agg(
        comparisons=("ratio", "size"),
        median_ratio=("ratio", "median"),
        narrower=("ratio", lambda s: int((s < 1).sum())),
        median_corr=("corr", "median"),
    )
    print(f"\n{summary.round(3).to_string()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
