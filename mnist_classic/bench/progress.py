"""What a run shows: a line per case as it starts and ends (elapsed time, ETA), and its summary table.

Written by hand (a dozen lines) rather than with tqdm: a run's log must keep
one plain line per event, which is what a file or CI log shows best, and the
terminal only adds a bar to the same line.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np

from ..results import SELECTION_NOTE, best_on_test, is_tuned

__all__ = ["Progress", "contract_line", "summary_table"]


def _hms(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Progress:
    """Print case start/end lines to ``stream``; a bar is added when it is a terminal.

    The ETA is the mean duration of the finished cases times the number left.
    """

    def __init__(self, stream: TextIO, *, width: int = 20) -> None:
        self.stream = stream
        self.width = width
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.t0 = time.perf_counter()
        self.done = 0
        self._case_t0 = self.t0

    def _emit(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def start(self, case: Any, total: int) -> None:
        """A case starts."""
        self._case_t0 = time.perf_counter()
        elapsed = self._case_t0 - self.t0
        self._emit(f"[{case.index + 1}/{total}] start {case.label}  (elapsed {_hms(elapsed)})")

    def end(self, case: Any, row: dict[str, Any], total: int) -> None:
        """A case ended with ``row``."""
        now = time.perf_counter()
        self.done += 1
        elapsed = now - self.t0
        eta = elapsed / self.done * (total - self.done)
        if row["status"] == "ok":
            what = (
                f"ok accuracy={100 * row['accuracy']:.2f}% fit={row['fit_time_s']:.2f}s "
                f"predict={row['predict_time_s']:.2f}s"
            )
            if is_tuned(row):  # run --tune: the chosen candidate, its validation score and the search's seconds
                what += (
                    f" tuned={row['tuned_params']} validation={100 * row['validation_accuracy']:.2f}% "
                    f"search={row['tuning_time_s']:.2f}s"
                )
            if row.get("latency_ms_p50") is not None:
                what += f" one-image p50={row['latency_ms_p50']:.2f}ms"
            if row.get("notes"):
                what += f" (note: {'; '.join(row['notes'])})"
        else:
            what = f"{row['status']}: {row.get('error', '')}"
        bar = ""
        if self.tty:
            filled = round(self.width * self.done / total)
            bar = " |" + "#" * filled + "." * (self.width - filled) + "|"
        self._emit(
            f"[{case.index + 1}/{total}] end   {case.label}: {what} in {now - self._case_t0:.1f}s"
            f"{bar} (elapsed {_hms(elapsed)}, ETA {_hms(eta)})"
        )


def contract_line(names: Sequence[str], limit: float) -> str:
    """The line that says the contract check of users' estimators is running, and its limit."""
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"contract check: {shown} on ~50 images ({limit:g} s limit each)"


def _present(value: Any) -> bool:
    """Not None and not NaN (rows read back from a CSV have NaN for empty cells)."""
    return value is not None and not (isinstance(value, float) and np.isnan(value))


def summary_table(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of rows (as written, or read back from a CSV).

    Columns: pipeline, n_train, repeat, status, accuracy, fit and predict
    seconds, peak memory, and a note when a row needs one: a tuned row's
    validation accuracy and candidates, or ``best of N on the test set`` on
    the best row of an untuned grid (with :data:`~mnist_classic.results.SELECTION_NOTE`
    under the table). ``mnist-classic run`` prints it at the end.
    """
    best = best_on_test(rows)
    notes = {i: f"best of {n} on the test set" for i, n in best.items()}
    for i, r in enumerate(rows):
        if is_tuned(r) and _present(r.get("validation_accuracy")):
            notes[i] = (
                f"tuned: validation {100 * r['validation_accuracy']:.2f}%, {r['tuning_candidates']:.0f} candidates"
            )
    width = max([32, *(len(str(r["pipeline"])) for r in rows)])
    header = (
        f"{'pipeline':<{width}} {'n_train':>7} {'rep':>3} {'status':<7} {'accuracy':>9} "
        f"{'fit_s':>9} {'predict_s':>9} {'peak_MB':>8}"
    )
    lines = [header, "-" * len(header)]
    for i, r in enumerate(rows):
        acc = f"{100 * r['accuracy']:.2f}%" if _present(r.get("accuracy")) else "-"
        fit = f"{r['fit_time_s']:.2f}" if _present(r.get("fit_time_s")) else "-"
        pred = f"{r['predict_time_s']:.2f}" if _present(r.get("predict_time_s")) else "-"
        mem = f"{r['peak_memory_mb']:.0f}" if _present(r.get("peak_memory_mb")) else "-"
        note = f"  {notes[i]}" if i in notes else ""
        lines.append(
            f"{r['pipeline']:<{width}} {r['n_train']:>7} {r['repeat']:>3} {r['status']:<7} {acc:>9} "
            f"{fit:>9} {pred:>9} {mem:>8}{note}"
        )
    if best:
        lines += ["", SELECTION_NOTE]
    return "\n".join(lines)
