"""The machine's state around each timed case: other processes' load, steal, and a speed index.

A wall time means something only beside what else the machine was doing. Each
timed case records (columns of the same names):

- ``others_cores``: the cores other processes used while the case ran, on
  average: the machine's busy CPU seconds (psutil's system-wide CPU times)
  minus this process's own, over the case's wall time. Immediate, unlike the
  load average, which trails by about a minute. Under ``ab --mode duet`` (which
  sets :data:`DUET_ENV` in both sides' environments) the other side, running
  at the same time by design, is not one of the others (:func:`partner_cpu`);
- ``steal_fraction``: the share of CPU time the hypervisor gave to other
  guests (Linux ``steal``; empty where the platform has no such figure);
- ``load_avg`` (1 minute) and ``procs_running`` (runnable tasks, Linux's
  ``/proc/stat``; this process included) at the case's start;
- ``calibration_s``: a short fixed workload timed before the case (best of
  three): a machine-speed index for the moment. Its ratio between two runs
  describes the day's machine; it does not translate seconds between CPU models.
  It costs about 20 ms, as much as a trivial case, so a figure younger than
  :data:`CALIBRATION_MAX_AGE_S` is the next case's too (:func:`speed_index`):
  cases of a second or more are each calibrated, a run of trivial cases once a
  second (the machine's speed levels switch over seconds, not milliseconds);
- ``process_id`` and ``cpu``: the process that measured the case and the CPU it
  was on at the end (psutil's ``cpu_num``, Linux's ``sched_getcpu``).

:func:`free_cores` samples the other processes' load before a case so that the
case asks for no more BLAS/OpenMP threads than the cores they leave free;
:class:`FreeCoresMonitor` gives the same figure from a window read beside the
cases, sleeping to sample only when that window is too short or too long.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

__all__ = [
    "CALIBRATION_MAX_AGE_S",
    "DUET_ENV",
    "FreeCoresMonitor",
    "MachineWatch",
    "calibrate",
    "free_cores",
    "partner_cpu",
    "speed_index",
]

#: Seconds a sample of the other processes' load takes before a case.
SAMPLE_S = 0.25


def _busy_and_steal() -> tuple[float, float, float]:
    """System-wide (busy, steal, total) CPU seconds so far."""
    t = psutil.cpu_times()
    total = float(sum(t))
    idle = float(t.idle) + float(getattr(t, "iowait", 0.0))
    steal = float(getattr(t, "steal", 0.0))
    return total - idle - steal, steal, total


def _own_cpu() -> float:
    t = psutil.Process().cpu_times()
    return float(t.user + t.system)


#: Set to "1" by ``ab --mode duet`` in each side's environment: the other side runs beside it by design.
DUET_ENV = "MNIST_CLASSIC_DUET"


def partner_cpu() -> float:
    """CPU seconds so far of this process's duet partner: the other children of its parent, running or ended.

    ``ab --mode duet`` starts both sides at once, as children of the ``ab``
    process. The other side's CPU time is then part of the design, not load of
    a neighbour, and :class:`MachineWatch` leaves it out of ``others_cores``
    (without it every duet case recorded about one other core, and every time
    verdict of a duet was "machine busy"). A side that ends during the other's
    case is reaped by ``ab``, and its times move to the parent's
    ``children_user`` and ``children_system``, which are counted too. The
    parent's times are read first: a reaping between the two reads loses the
    partner's seconds from that figure. At a case's end that counts them as
    others' (the cautious side); at its start it would count the partner's
    earlier seconds as spent during the case, which :class:`MachineWatch`
    bounds by taking at most one core's worth (a side is one thread on one
    core). Written by hand: psutil reads each figure, but no library knows
    which process is the partner.
    """
    try:
        parent = psutil.Process().parent()
        if parent is None:
            return 0.0
        t = parent.cpu_times()
        total = float(getattr(t, "children_user", 0.0)) + float(getattr(t, "children_system", 0.0))
        me = os.getpid()
        for child in parent.children():
            if child.pid != me:
                with contextlib.suppress(psutil.Error):  # ended between the listing and the read
                    c = child.cpu_times()
                    total += float(c.user + c.system)
        return total
    except psutil.Error:  # the parent ended, or may not be read: no partner is known
        return 0.0


def _procs_running() -> int | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("procs_running"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def free_cores(sample_s: float = SAMPLE_S) -> int:
    """Cores the other processes leave free now: all cores less their busy ones over ``sample_s`` (at least 1)."""
    n = os.cpu_count() or 1
    b0, _, _ = _busy_and_steal()
    own0, t0 = _own_cpu(), time.perf_counter()
    time.sleep(sample_s)
    b1, _, _ = _busy_and_steal()
    wall = time.perf_counter() - t0
    others = max(0.0, (b1 - b0) - (_own_cpu() - own0)) / wall
    return max(1, min(n, n - round(others)))


class FreeCoresMonitor:
    """:func:`free_cores` without a sample's sleep before every case: a window read beside the cases.

    Each call reads the machine's and this process's CPU times and compares them
    with the previous reading: the other processes' load over that window (the
    cases run in it count as this process's own time, not theirs). So:

    - a window of at least ``sample_s`` and at most ``max_window_s`` is read as
      it stands, with no sleep: after any case that ran for ``sample_s`` or more;
    - a shorter window (a case of a few milliseconds) keeps the last figure,
      at most ``sample_s`` plus one case old; the first call of all sleeps
      ``sample_s``, as :func:`free_cores` does;
    - a window longer than ``max_window_s`` (a long case) would average the
      neighbours' load over too long: the monitor then samples ``sample_s``
      afresh, a sleep small against the case before it.

    What the sample is for is kept: the budget follows the load of the last
    quarter second or more before a case; a grid of 500 trivial cases pays one
    sleep instead of 500.
    """

    def __init__(self, sample_s: float = SAMPLE_S, max_window_s: float = 2.0) -> None:
        self.sample_s = sample_s
        self.max_window_s = max_window_s
        self.samples = 0  # how many times the monitor slept to sample (for tests and benchmarks/overhead.py)
        self._last: tuple[float, float, float] | None = None  # (machine busy, own CPU, perf_counter)
        self._free: int | None = None

    def _reading(self) -> tuple[float, float, float]:
        return _busy_and_steal()[0], _own_cpu(), time.perf_counter()

    def _free_over(self, start: tuple[float, float, float], end: tuple[float, float, float]) -> int:
        n = os.cpu_count() or 1
        wall = end[2] - start[2]
        others = max(0.0, (end[0] - start[0]) - (end[1] - start[1])) / wall if wall > 0 else 0.0
        return max(1, min(n, n - round(others)))

    def __call__(self) -> int:
        """Cores the other processes leave free, over the latest window (see the class)."""
        now = self._reading()
        window = now[2] - self._last[2] if self._last is not None else 0.0
        if self._last is not None and self.sample_s <= window <= self.max_window_s:
            self._free, self._last = self._free_over(self._last, now), now
        elif self._last is not None and window < self.sample_s and self._free is not None:
            pass  # a short window: the last figure stands
        else:  # the first call, or a window too long to say what the neighbours do now
            self.samples += 1
            time.sleep(self.sample_s)
            later = self._reading()
            self._free, self._last = self._free_over(now, later), later
        assert self._free is not None
        return self._free


def calibrate(rounds: int = 3) -> float:
    """Seconds of a small fixed workload (one-thread BLAS product and a Python loop), best of ``rounds``."""
    from .threads import limit_threads

    a = np.random.default_rng(0).standard_normal((192, 192))
    best = float("inf")
    with limit_threads(1):
        for _ in range(rounds):
            t0 = time.perf_counter()
            b = a
            for _ in range(10):
                b = np.tanh(a @ b)
            sum(i * i for i in range(60_000))
            best = min(best, time.perf_counter() - t0)
    return round(best, 6)


#: A speed index measured less than this many seconds before a case is reused for it (see :func:`speed_index`).
CALIBRATION_MAX_AGE_S = 1.0
_last_index: list[tuple[float, float]] = []  # (perf_counter when measured, the index): this process's latest


def speed_index(max_age_s: float = CALIBRATION_MAX_AGE_S) -> float:
    """:func:`calibrate`, or its figure of less than ``max_age_s`` seconds ago (``calibration_s`` of a case).

    Examples
    --------
    >>> first = speed_index()
    >>> speed_index() == first  # within the second: the same figure
    True
    >>> speed_index(max_age_s=0) > 0  # always measured again
    True
    """
    now = time.perf_counter()
    if _last_index and now - _last_index[-1][0] < max_age_s:
        return _last_index[-1][1]
    value = calibrate()
    _last_index[:] = [(time.perf_counter(), value)]
    return value


@dataclass
class MachineWatch:
    """Context manager around a case: ``values`` holds its machine-state columns on exit."""

    values: dict[str, Any] = field(default_factory=dict)

    def __enter__(self) -> MachineWatch:
        try:
            load = os.getloadavg()[0]
        except (OSError, AttributeError):  # pragma: no cover - Windows
            load = None
        self.values = {"load_avg": load, "procs_running": _procs_running()}
        self._duet = os.environ.get(DUET_ENV) == "1"
        self._partner = partner_cpu() if self._duet else 0.0
        self._start = (_busy_and_steal(), _own_cpu(), time.perf_counter())
        return self

    def __exit__(self, *exc: object) -> None:
        (b0, s0, tot0), own0, t0 = self._start
        b1, s1, tot1 = _busy_and_steal()
        wall = time.perf_counter() - t0
        own = _own_cpu() - own0
        if self._duet:  # the duet's other side is not an "other" process: at most one core of it
            own += min(wall, max(0.0, partner_cpu() - self._partner))
        if wall > 0:
            # CPU times tick every 10 ms: on a short case the estimate is coarse, so it is kept within [0, cores].
            others = max(0.0, (b1 - b0) - own) / wall
            self.values["others_cores"] = round(min(others, float(os.cpu_count() or 1)), 3)
        # The measurement's process and the CPU it ended on: the machine's speed varies between
        # processes (and cores), so the rows show which repeats shared a process.
        self.values["process_id"] = os.getpid()
        try:
            self.values["cpu"] = psutil.Process().cpu_num()
        except (AttributeError, psutil.Error):  # pragma: no cover - macOS and Windows have no cpu_num
            self.values["cpu"] = None
        has_steal = hasattr(psutil.cpu_times(), "steal")
        if has_steal and tot1 > tot0:
            self.values["steal_fraction"] = round((s1 - s0) / (tot1 - tot0), 4)
