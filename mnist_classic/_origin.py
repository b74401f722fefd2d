"""Where a registry entry comes from: built in, a plugin named on the command line, or an entry point.

The plugin loader (:mod:`mnist_classic.spec.plugins`) sets the origin while it
imports a plugin; the registries read it when an entry is added, so that
``mnist-classic list`` can say where each entry comes from.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["current_origin", "registering_from"]

_ORIGIN: ContextVar[str | None] = ContextVar("mnist_classic_origin", default=None)


def current_origin(module: str = "") -> str:
    """The origin of an entry being registered now, from the module that defines it if no plugin is loading.

    Examples
    --------
    >>> current_origin("mnist_classic.spec.pipelines")
    'built-in'
    >>> current_origin("my_script")
    'python: my_script'
    """
    origin = _ORIGIN.get()
    if origin is not None:
        return origin
    if module == "mnist_classic" or module.startswith("mnist_classic."):
        return "built-in"
    return f"python: {module}" if module else "python"


@contextmanager
def registering_from(origin: str) -> Iterator[None]:
    """Entries registered inside this block are attributed to ``origin``."""
    token = _ORIGIN.set(origin)
    try:
        yield
    finally:
        _ORIGIN.reset(token)
