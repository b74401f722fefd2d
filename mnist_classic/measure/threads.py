"""Thread limits of the BLAS/OpenMP pools, with threadpoolctl's library scan done once, not per call.

``threadpool_limits(limits=1)`` scans every shared library loaded in the
process to find the thread pools each time it is entered (3 to 4 ms here: it
walks the loaded objects and opens each candidate); a run enters a limit
several times per case (the case's budget, the one-image latency, the speed
index), so for trivial cases that scan was a large part of the harness's cost
(``benchmarks/overhead.py --harness``). :func:`limit_threads` keeps one
:class:`threadpoolctl.ThreadpoolController` and scans again only when modules
were imported since (a new extension module is how a new BLAS or OpenMP runtime
gets loaded), so a pool loaded later is still limited.
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager

from threadpoolctl import ThreadpoolController

__all__ = ["limit_threads"]

_cache: dict[str, object] = {}


def _controller() -> ThreadpoolController:
    modules = len(sys.modules)
    if _cache.get("modules") != modules or "controller" not in _cache:
        _cache.update(controller=ThreadpoolController(), modules=modules)
    controller = _cache["controller"]
    assert isinstance(controller, ThreadpoolController)
    return controller


def limit_threads(limits: int) -> AbstractContextManager[object]:
    """``threadpool_limits(limits=limits)``, from a cached controller (see the module's docstring).

    Examples
    --------
    >>> with limit_threads(1):
    ...     pass
    """
    return _controller().limit(limits=limits)
