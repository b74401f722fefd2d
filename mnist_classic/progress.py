"""Progress of a run: a line per case as it starts and ends, with elapsed time and ETA.

Written by hand (a dozen lines) rather than with tqdm: a run's log must keep
one plain line per event, which is what a file or CI log shows best, and the
terminal only adds a bar to the same line.
"""

from __future__ import annotations

import time
from typing import Any, TextIO

__all__ = ["Progress"]


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
