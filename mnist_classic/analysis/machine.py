"""Whether two sides' wall times were measured on a comparable machine (rows of 0.3 and later).

A time verdict is only as good as the machine it was measured on. Before
``compare`` calls a case slower or faster, it checks what the rows recorded
(:mod:`mnist_classic.bench.machine`), each side's median over its repeats:

- other processes' load during the case (``others_cores``): above
  :data:`BUSY_CORES` on either side, the seconds measure the neighbours as
  much as the code;
- the hypervisor's steal (``steal_fraction``) above :data:`STEAL`;
- the speed index (``calibration_s``, a fixed workload timed before each
  case): sides that differ by more than :data:`SPEED` and by more than the
  index's own spread within either side ran on a different machine, or on
  the same machine on a different day;
- the threads a case had (``fit_threads``/``predict_threads``, empty meaning
  every core): a case given fewer threads is slower for that reason alone,
  and ``logreg``'s and ``pca_svm``'s predictions depend on the thread count.

Any of these makes the time verdict "same", with a note saying why ("not
judged: ..."): such a comparison neither fails the gate nor passes a real
slowdown as judged. Rows of older files have none of these columns and are
judged as before.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .stats import relative_spread

__all__ = ["BUSY_CORES", "SPEED", "STEAL", "machine_note", "threads_note"]

#: Cores other processes may use, on average during a case, before its time is not judged.
BUSY_CORES = 0.5
#: Steal fraction beyond which times are not judged.
STEAL = 0.05
#: Relative difference of the speed index beyond which two sides ran on different machines (or days).
SPEED = 0.10


def _median(rows: pd.DataFrame, column: str) -> float | None:
    if column not in rows:
        return None
    x = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else None


def threads_note(base: pd.DataFrame, new: pd.DataFrame, phase: str) -> str:
    """Why ``phase`` (fit or predict) ran on different thread counts ("" when they match)."""
    column = f"{phase}_threads"
    b, n = _median(base, column), _median(new, column)
    if b == n or (b is None and n is None):
        return ""
    show = lambda x: "all" if x is None else f"{x:g}"  # noqa: E731 - empty: the libraries' defaults, every core
    return f"threads differ ({show(b)} vs {show(n)})"


def machine_note(base: pd.DataFrame, new: pd.DataFrame) -> str:
    """Why the two sides' machines are not comparable for wall times ("" when they are)."""
    reasons = []
    for side, rows in (("baseline", base), ("new", new)):
        busy = _median(rows, "others_cores")
        if busy is not None and busy > BUSY_CORES:
            reasons.append(f"other processes used {busy:.1f} cores during the {side} runs")
        steal = _median(rows, "steal_fraction")
        if steal is not None and steal > STEAL:
            reasons.append(f"{100 * steal:.0f}% steal during the {side} runs")
    cb, cn = _median(base, "calibration_s"), _median(new, "calibration_s")
    if cb and cn:
        ratio = cn / cb
        explained = max(
            SPEED, *(relative_spread(pd.to_numeric(r["calibration_s"], errors="coerce")) for r in (base, new))
        )
        if abs(ratio - 1) > explained:
            reasons.append(f"the machine's speed index differs (x{ratio:.2f})")
    return "not judged: " + "; ".join(reasons) if reasons else ""
