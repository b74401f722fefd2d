"""Whether two sides' wall times were measured on a comparable machine (rows of 0.3 and later).

A time verdict is only as good as the machine it was measured on. Before
``compare`` calls a case slower or faster, it checks what the rows recorded
(:mod:`mnist_classic.measure.machine`), each side's median over its repeats:

- other processes' load during the case (``others_cores``): above
  :data:`BUSY_CORES` on either side (:data:`DUET_BUSY_CORES` for the rounds
  of ``ab --mode duet``), the seconds measure the neighbours as much as the
  code;
- the hypervisor's steal (``steal_fraction``) above :data:`STEAL`;
- the speed index (``calibration_s``, a fixed workload timed before each
  case), over every case of each side (:func:`speed_note`): sides whose
  indexes differ by more than :data:`SPEED`, and significantly, ran on a
  different machine, or on the same machine in another state;
- the threads a case had (``fit_threads``/``predict_threads``, empty meaning
  every core): a case given fewer threads is slower for that reason alone,
  and ``logreg``'s and ``pca_svm``'s predictions depend on the thread count.

Any of these makes the time verdict "same", with a note saying why ("not
judged: ..."): such a comparison neither fails the gate nor passes a real
slowdown as judged. Rows of older files have none of these columns and are
judged as before.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..stats import relative_spread

__all__ = [
    "BUSY_CORES",
    "DUET_BUSY_CORES",
    "INDEX_ALPHA",
    "INDEX_VALUES",
    "SPEED",
    "STEAL",
    "busy_line",
    "machine_note",
    "speed_note",
    "threads_note",
]

#: Cores other processes may use, on average during a case, before its time is not judged.
BUSY_CORES = 0.5
#: The same line for the sides of ``ab --mode duet``, which hold both cores of a 2-core machine between them:
#: a neighbour gets half of what it takes beside one process. Measured on the reference VM (docs/speed.md):
#: one process keeping a core busy recorded ``others_cores`` 1.00 a side beside interleaved rounds and 0.50
#: a side beside duets (medians 0.496-0.511), so at the plain line a duet sat on it; quiet duets recorded
#: 0.000-0.012.
DUET_BUSY_CORES = BUSY_CORES / 2
#: Steal fraction beyond which times are not judged.
STEAL = 0.05
#: Relative difference of the speed index beyond which two sides ran on different machines (or days).
SPEED = 0.10
#: Speed-index values each side needs before the difference is tested (Mann-Whitney) rather than set against the spread.
INDEX_VALUES = 6
#: The test's level (with the SPEED effect size as well; measured on the reference VM, docs/speed.md).
INDEX_ALPHA = 0.05


def _numbers(rows: pd.DataFrame, column: str) -> np.ndarray:
    """The finite values of ``column`` (none when the rows, older ones, have no such column)."""
    if column not in rows:
        return np.empty(0)
    x = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)
    return x[np.isfinite(x)]


def _median(rows: pd.DataFrame, column: str) -> float | None:
    x = _numbers(rows, column)
    return float(np.median(x)) if x.size else None


def _threads(rows: pd.DataFrame, column: str) -> float:
    """The median thread count over the repeats; empty (or no column: older rows) is every core, infinity."""
    if column not in rows:
        return math.inf
    x = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)
    return float(np.median(np.where(np.isnan(x), math.inf, x))) if x.size else math.inf


def threads_note(base: pd.DataFrame, new: pd.DataFrame, phase: str) -> str:
    """Why ``phase`` (fit or predict) ran on different thread counts ("" when they match).

    Examples
    --------
    >>> rows = lambda *t: pd.DataFrame({"fit_threads": t})
    >>> threads_note(rows(None, None, 1), rows(None, None, None), "fit")  # the median: every core on both
    ''
    >>> threads_note(rows(1, 1, None), rows(None, None, None), "fit")
    'threads differ (1 vs all)'
    """
    b, n = _threads(base, f"{phase}_threads"), _threads(new, f"{phase}_threads")
    if b == n:
        return ""
    show = lambda x: "all" if math.isinf(x) else f"{x:g}"  # noqa: E731 - empty: the libraries' defaults, every core
    return f"threads differ ({show(b)} vs {show(n)})"


def busy_line(duet: bool = False) -> float:
    """Cores other processes may use during a case before its time is not judged.

    :data:`DUET_BUSY_CORES` for the sides of ``ab --mode duet``, :data:`BUSY_CORES` otherwise.

    Examples
    --------
    >>> busy_line(), busy_line(duet=True)
    (0.5, 0.25)
    """
    return DUET_BUSY_CORES if duet else BUSY_CORES


def machine_note(base: pd.DataFrame, new: pd.DataFrame, duet: bool = False) -> str:
    """Why one case's two sides ran on machines not comparable for wall times ("" when they were).

    Other processes' load and steal are judged per case (they come and go within
    a run); the speed index over whole runs, by :func:`speed_note`. ``duet``: the
    rows are the sides of ``ab --mode duet``, judged on :data:`DUET_BUSY_CORES`
    (named in the note) rather than :data:`BUSY_CORES`.

    Examples
    --------
    >>> rows = lambda busy: pd.DataFrame({"others_cores": [busy] * 3})
    >>> machine_note(rows(0.01), rows(0.3))
    ''
    >>> machine_note(rows(0.01), rows(0.3), duet=True)
    "not judged: other processes used 0.30 cores during the new runs (a duet's line: 0.25)"
    """
    reasons = []
    line = busy_line(duet)
    for side, rows in (("baseline", base), ("new", new)):
        busy = _median(rows, "others_cores")
        if busy is not None and busy > line:
            used = f"other processes used {busy:.2f} cores" if duet else f"other processes used {busy:.1f} cores"
            reasons.append(f"{used} during the {side} runs" + (f" (a duet's line: {line:g})" if duet else ""))
        steal = _median(rows, "steal_fraction")
        if steal is not None and steal > STEAL:
            reasons.append(f"{100 * steal:.0f}% steal during the {side} runs")
    return "not judged: " + "; ".join(reasons) if reasons else ""


def speed_note(base: pd.DataFrame, new: pd.DataFrame) -> str:
    """Why the two sides' speed indexes say they ran on different machines, or days ("" when they did not).

    ``base`` and ``new`` are every row of each side, all cases: one case's three
    calibrations are too few to judge by (on the reference VM they fall in two
    groups, about 4.7 and 6.6 ms, within one quiet run), while a run's whole set
    moved with the machine: a quiet run whose index was x0.70-0.76 of the next
    seven runs' (Mann-Whitney p 0.001-0.022 against each) timed ``pca_svm``'s
    predict at 0.51 s against their 0.58-0.62 s and ``rf``'s at 0.15 s against
    0.18-0.31 s, while those seven agreed with each other within x1.08.
    With :data:`INDEX_VALUES` values or more on each side, the medians must
    differ by more than :data:`SPEED` and a Mann-Whitney test must find the
    difference at :data:`INDEX_ALPHA`; with fewer, by more than :data:`SPEED`
    and more than either side's own spread.
    """
    b, n = (x[x > 0] for x in (_numbers(base, "calibration_s"), _numbers(new, "calibration_s")))
    if not (b.size and n.size):
        return ""
    ratio = float(np.median(n) / np.median(b))
    if abs(ratio - 1) <= SPEED:
        return ""
    if min(b.size, n.size) >= INDEX_VALUES:
        from scipy.stats import mannwhitneyu

        differs = float(mannwhitneyu(n, b, alternative="two-sided").pvalue) < INDEX_ALPHA
    else:
        differs = abs(ratio - 1) > max(relative_spread(b), relative_spread(n))
    return f"not judged: the machine's speed index differs (x{ratio:.2f})" if differs else ""
