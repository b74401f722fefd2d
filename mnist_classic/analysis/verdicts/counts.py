"""Speed verdicts on instruction counts (rows of ``run --measure instructions``).

When both sides of a case were counted, its speed verdict is on instructions
(fit and predict separately): the ratio NEW/BASELINE of the medians over
repeats, "worse" beyond the gate (default: more than 1% more instructions) and
beyond the noise. The noise is measured, not assumed: the larger of

- :func:`count_noise`, the largest difference between two counts of the same
  code that the A/A checks of docs/speed.md measured: a relative part
  (:data:`NOISE_FLOOR`) and a fixed number of instructions
  (:data:`NOISE_INSTRUCTIONS`); and
- the relative spread of counts of the same seed within either side (rows of
  several runs in a folder), which shows any nondeterminism of the case itself.

Wall times measured under valgrind are shown and never judged; counts taken
with another valgrind version or on another CPU (model or instruction-set
flags) are not compared, and the row says why.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from ..stats import relative_spread
from .decide import decide

__all__ = [
    "COUNT_METRICS",
    "NOISE_FLOOR",
    "NOISE_INSTRUCTIONS",
    "count_noise",
    "counted",
    "counts_incomparable",
    "judge_counts",
    "time_note",
]

#: The counted metrics, judged in place of the times when both sides have them.
COUNT_METRICS: tuple[str, ...] = ("fit_instructions", "predict_instructions")

#: The noise of a count, measured, in two parts: a relative part and a fixed number of instructions, the largest
#: differences between counts of the same code that the A/A checks of docs/speed.md found (the default grid and
#: a plugin at n_train 500, n_test 200). Python's own state at a region's start (the dictionaries' collisions,
#: which follow addresses) costs a number of instructions whatever the region's size, and large regions move a
#: little in proportion. With the allocators and the method cache's misses left out (``callgrind.UNCOUNTED``),
#: a fixed entropy stream and the cache emptied before each region, the A/A of a 2-core Intel Xeon (2026-12-05)
#: agreed within 0.0175% (the work plugin's predict, 1,783 of 10.2 million), 15 children of rf's case within
#: 0.006% (fit, 84,700 of 1.39 billion) and 7,003 instructions (predict, 41 million); before the cache's misses
#: were left out, on a 2-core AMD EPYC, small regions within 3,663 (pca_svm's PCA predict, 3.6 million). So a
#: count's noise is ``NOISE_FLOOR + NOISE_INSTRUCTIONS / count`` (:func:`count_noise`), each part about three
#: times the largest measured: 0.057% for 300 million instructions, 1.05% for a region of 2 million (a region
#: of more than 2.1 million is judged at the default 1% gate).
NOISE_FLOOR = 0.0005
#: The fixed part of a count's noise, in instructions (see :data:`NOISE_FLOOR`). 60,000 until 2026-12-05.
NOISE_INSTRUCTIONS = 20_000


def count_noise(count: float) -> float:
    """The relative noise of a count of ``count`` instructions: ``NOISE_FLOOR + NOISE_INSTRUCTIONS / count``.

    Examples
    --------
    >>> round(count_noise(300e6), 6), round(count_noise(2e6), 4)
    (0.000567, 0.0105)
    """
    return NOISE_FLOOR + NOISE_INSTRUCTIONS / count if count > 0 else float("inf")


def counted(rows: pd.DataFrame) -> bool:
    """Whether every row was counted (``measure == "instructions"``) and has its counts."""
    if rows.empty or "measure" not in rows:
        return False
    return bool((rows["measure"] == "instructions").all() and rows["fit_instructions"].notna().all())


def _basis(rows: pd.DataFrame) -> set[tuple[str, str, str, str]]:
    out = set()
    for version, text in zip(rows["valgrind_version"], rows["count_basis"], strict=True):
        try:
            basis = json.loads(text) if isinstance(text, str) and text else {}
        except ValueError:
            basis = {}
        cpu, flags = str(basis.get("cpu_model", "")), str(basis.get("cpu_flags_sha256", ""))
        out.add((str(version), cpu, flags, str(basis.get("uncounted", ""))))
    return out


def counts_incomparable(base: pd.DataFrame, new: pd.DataFrame) -> str:
    """Why two sides' counts cannot be compared ("" when they can): valgrind version, CPU, what was not counted."""
    b, n = _basis(base), _basis(new)
    if len(b) > 1 or len(n) > 1:
        return "not compared: counts on one side come from several valgrind versions or CPUs"
    (bv, bc, bf, bu), (nv, nc, nf, nu) = next(iter(b)), next(iter(n))
    if bv != nv:
        return f"not compared: valgrind {bv} vs {nv} (counts change with valgrind's version)"
    if bc != nc:
        return f"not compared: CPU {bc!r} vs {nc!r} (counts change with the CPU's instruction sets and kernels)"
    if bf != nf:
        return "not compared: the CPUs' instruction-set flags differ (counts change with the kernels chosen)"
    if bu != nu:
        return "not compared: the sides left different allocators out of their counts (counts of another version)"
    return ""


def time_note(base_counted: bool, new_counted: bool) -> str:
    """How wall times are treated when either side was counted ("" when neither was)."""
    if base_counted and new_counted:
        return "timed under valgrind: shown, not judged"
    if base_counted or new_counted:
        side = "baseline" if base_counted else "new"
        return f"not compared: the {side} side was timed under valgrind"
    return ""


def _seed_spread(rows: pd.DataFrame, metric: str) -> float:
    return max((relative_spread(group[metric]) for _, group in rows.groupby("seed")), default=0.0)


def judge_counts(b_ok: pd.DataFrame, n_ok: pd.DataFrame, metric: str, max_ratio: float) -> dict[str, Any]:
    """The verdict on one counted metric: baseline and new medians, ratio, noise, verdict, note."""
    cb, cn = b_ok[metric].to_numpy(dtype=float), n_ok[metric].to_numpy(dtype=float)
    mb, mn = float(np.median(cb)), float(np.median(cn))
    ratio = mn / mb if mb > 0 else (float("inf") if mn > 0 else 1.0)
    noise = max(count_noise(min(mb, mn)), _seed_spread(b_ok, metric), _seed_spread(n_ok, metric))
    # A count is exact up to the measured noise: the ratio's interval is ratio x/÷ (1 + noise), and the same
    # interval serves the test and the equivalence (there is no sampling to correct for).
    interval = (ratio / (1 + noise), ratio * (1 + noise))
    verdict = decide(ratio, interval, interval, gate=max_ratio)
    note = ""
    if verdict == "same":
        note = (
            f"inside the noise ({100 * noise:.2g}%)" if abs(ratio - 1) <= noise else f"within the gate (x{max_ratio:g})"
        )
    elif verdict == "unknown" and 1 + noise >= max_ratio and noise == count_noise(min(mb, mn)):
        note = (
            f"x{ratio:.4f}: a region of {min(mb, mn) / 1e6:.3g} M instructions is too small to judge at "
            f"x{max_ratio:g}: its noise ({100 * noise:.2g}%, {NOISE_INSTRUCTIONS:,} instructions or more) is "
            "wider than the gate; a larger case (more images) would decide"
        )
    elif verdict == "unknown":
        note = (
            f"x{ratio:.4f} is within the noise ({100 * noise:.2g}%) of the gate (x{max_ratio:g} or its inverse): "
            "neither worse nor the same; more repeats on each side, or another gate, would decide"
        )
    return {
        "baseline": mb,
        "new": mn,
        "change": ratio,
        "verdict": verdict,
        "note": note,
        "noise": noise,
        "repeats": (len(cb), len(cn)),
    }
