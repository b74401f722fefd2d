"""Cases in a child process, so that a case over its time limit can be killed (``--timeout``).

One spawned child is reused from case to case; a case past its limit, or a
child that dies, ends that child and the next case gets a fresh one.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

import numpy as np

from ..data.loader import load_dataset
from ..spec.plugins import load_entry_points, load_plugins
from .case import Case, run_case

__all__ = ["ChildRunner"]


def _child_ready(args: tuple[Any, ...]) -> None:
    """Prepare a fresh child, untimed: plugins loaded, data mapped (the imports happened on unpickling)."""
    dataset, data_dir, n_test, data_home, plugins = args[:5]
    load_entry_points()
    load_plugins(plugins)  # before building: registered steps may come from them
    load_dataset(dataset, data_dir=data_dir, n_test=n_test, data_home=data_home, download=False)


def _child_case(args: tuple[Any, ...]) -> dict[str, Any]:
    """Entry point of a case run in a child process (``--timeout``)."""
    dataset, data_dir, n_test, data_home, _, pipeline, n_train, repeat, seed, timing = args
    _child_ready(args)  # a no-op after the first case: plugins are loaded once, the data is cached
    ds = load_dataset(dataset, data_dir=data_dir, n_test=n_test, data_home=data_home, download=False)
    case = Case(0, pipeline, n_train, repeat, seed)
    X_train = np.ascontiguousarray(ds.X_train[:n_train])
    y_train = np.asarray(ds.y_train[:n_train])
    return run_case(case, X_train, y_train, np.ascontiguousarray(ds.X_test), np.asarray(ds.y_test), **timing)


def _error(exc: BaseException) -> dict[str, Any]:
    return {"status": "error", "error": f"{type(exc).__name__}: {exc}".replace("\n", " "), "predictions": None}


class ChildRunner:
    """Runs cases in one reusable child process; kills and replaces it on timeout."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._ctx = multiprocessing.get_context("spawn")
        self._pool: Any = None

    def run(self, args: tuple[Any, ...]) -> dict[str, Any]:
        """Run a case in the child; its time limit starts once the child is up (not counting start-up)."""
        if self._pool is None:
            self._pool = self._ctx.Pool(1)
            try:  # interpreter start, imports and data mapping are not the case's time
                self._pool.apply(_child_ready, (args,))
            except Exception as exc:
                self.close()
                return _error(exc)
        result = self._pool.apply_async(_child_case, (args,))
        try:
            return result.get(self.timeout)
        except multiprocessing.TimeoutError:
            self.close()
            return {"status": "timeout", "error": f"case exceeded the {self.timeout:g} s timeout", "predictions": None}
        except Exception as exc:
            self.close()
            return _error(exc)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
