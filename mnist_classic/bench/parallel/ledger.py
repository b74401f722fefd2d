"""The core ledger: work-conserving thread budgets for cases side by side.

Cases running at once share the machine's cores. A case claims a budget when
it starts and claims again when its ``predict`` starts; between claims the
budget cannot change (a BLAS or OpenMP pool cannot be resized mid-call). The
rule (:func:`claim`) gives the claiming case an even share of the free cores,
after keeping one core for every idle worker that will start a waiting case,
so when fewer cases remain than workers the remaining ones get the freed
cores, and at no moment do the cases hold more threads than there are cores.

Why a locked file, not a ``multiprocessing.Manager`` or a Dask ``Variable``:
the state is a few integers changed a few times per case, every process that
claims runs on this machine (loky workers, workers of a local Dask cluster),
and a file under ``flock`` needs no server process, no authentication key
passed through two engines' process launchers, and nothing to shut down. The
main process creates it and, when a worker dies, releases that worker's case
(and puts it back among the waiting cases when it is retried). Workers of a
remote Dask cluster do not share the file: there each case keeps the budget of
its worker (its CPUs divided by its threads).

The invariant, kept by every operation and checked by the tests::

    sum(held) + min(idle workers, waiting cases) <= cores

so that a claim always finds at least one free core for itself and leaves one
for each worker that is about to start a case.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["CoreLedger", "LedgerState", "claim", "release"]


@dataclass
class LedgerState:
    """Who holds how many cores.

    Parameters
    ----------
    cores : int
        Cores shared by the cases.
    workers : int
        Processes that run cases (at most this many cases run at once).
    waiting : list of int
        Indices of the cases not started yet.
    held : dict of int to int
        Case index -> threads held by its running phase (fit or predict).
    peak : int, default=0
        The most threads ever held at once (for tests and reports).
    """

    cores: int
    workers: int
    waiting: list[int]
    held: dict[int, int] = field(default_factory=dict)
    peak: int = 0


def claim(state: LedgerState, case: int) -> int:
    """Case ``case`` starts a phase: release what it held, return (and hold) its new budget.

    The budget is ``free // (1 + soon)``, at least 1, where ``free`` is the
    cores nobody holds and ``soon`` the idle workers (other than the claiming
    one) that will start a waiting case: each of them is left a share.

    Examples
    --------
    >>> s = LedgerState(cores=2, workers=2, waiting=[0, 1, 2])
    >>> claim(s, 0), claim(s, 1)  # both workers busy: one core each
    (1, 1)
    >>> release(s, 0); claim(s, 2)  # case 2 takes the core case 0 freed
    1
    >>> release(s, 2); claim(s, 1)  # case 1's predict starts alone: both cores
    2
    """
    state.held.pop(case, None)
    if case in state.waiting:
        state.waiting.remove(case)
    free = state.cores - sum(state.held.values())
    idle = max(0, state.workers - len(state.held) - 1)
    soon = min(idle, len(state.waiting))
    budget = max(1, free // (1 + soon))
    state.held[case] = budget
    state.peak = max(state.peak, sum(state.held.values()))
    return budget


def release(state: LedgerState, case: int, *, retry: bool = False) -> None:
    """Case ``case`` ended (or its worker died): free its cores; ``retry`` puts it back to wait."""
    state.held.pop(case, None)
    if retry and case not in state.waiting:
        state.waiting.append(case)


class CoreLedger:
    """A :class:`LedgerState` in a JSON file, changed under an exclusive ``flock``.

    Cheap to pickle (a path): the main process creates it, workers on the
    same machine claim and release through it.

    Parameters
    ----------
    path : str or os.PathLike
        The ledger file (created by :meth:`create`).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)

    @classmethod
    def create(cls, path: str | os.PathLike[str], *, cores: int, workers: int, waiting: list[int]) -> CoreLedger:
        """Write a fresh ledger at ``path`` and return it."""
        ledger = cls(path)
        Path(path).write_text(json.dumps(asdict(LedgerState(cores, workers, list(waiting)))))
        return ledger

    @contextmanager
    def _state(self) -> Iterator[LedgerState]:
        """The state, under an exclusive lock; written back whole (a temporary file renamed over it).

        The lock is a separate file, so that the state is replaced atomically: a
        worker killed while writing leaves the previous state, never a torn one,
        and the kernel drops a dead process's lock.
        """
        import fcntl

        with open(self.path + ".lock", "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                raw = json.loads(Path(self.path).read_text())
                raw["held"] = {int(k): v for k, v in raw["held"].items()}
                state = LedgerState(**raw)
                yield state
                tmp = f"{self.path}.{os.getpid()}.tmp"
                Path(tmp).write_text(json.dumps(asdict(state)))
                os.replace(tmp, self.path)
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def claim(self, case: int) -> int:
        """See :func:`claim`."""
        with self._state() as state:
            return claim(state, case)

    def release(self, case: int, *, retry: bool = False) -> None:
        """See :func:`release`."""
        with self._state() as state:
            release(state, case, retry=retry)

    def read(self) -> LedgerState:
        """The current state (a copy)."""
        with self._state() as state:
            return state
