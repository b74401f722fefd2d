"""Plugins: code the user names, whose ``register_pipeline`` / ``register_dataset`` calls add entries.

Two ways in:

- ``--plugin NAME`` on the command line (or ``plugins = [...]`` in a run file):
  an importable module (``mypkg.benchmarks``) or a Python file (``./my_models.py``);
- the entry-point groups ``mnist_classic.pipelines`` and ``mnist_classic.datasets``
  of installed packages: each entry point names a module (imported) or a
  callable (imported, then called with no argument).

Each entry added while a plugin loads records where it came from (``plugin:
./my_models.py``, ``entry point: mypkg (mnist_classic.pipelines)``), which
``mnist-classic list`` shows. Code is only ever imported from these names:
nothing read from a results file is imported, evaluated or unpickled.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import sys
from collections.abc import Iterable
from importlib.metadata import entry_points
from pathlib import Path

from .._origin import registering_from

__all__ = ["ENTRY_POINT_GROUPS", "load_entry_points", "load_plugins"]

logger = logging.getLogger(__name__)

#: The entry-point groups an installed package may declare, by registry.
ENTRY_POINT_GROUPS: tuple[str, ...] = ("mnist_classic.pipelines", "mnist_classic.datasets")

_LOADED: set[str] = set()  # plugin names and entry points loaded in this process


def _load_file(path: Path, name: str) -> None:
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"mnist_classic_plugin_{path.stem}_{digest}"  # the same in every worker process
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        msg = f"The plugin {name!r} is not a loadable Python file"
        raise ValueError(msg)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # so that pickling its estimators by reference works in this process
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[module_name]
        raise


def load_plugins(names: Iterable[str]) -> None:
    """Import each plugin once: a module name, or the path of a ``.py`` file.

    Parameters
    ----------
    names : iterable of str
        As given on the command line; a name ending in ``.py`` (or an existing
        file) is a path.

    Raises
    ------
    ValueError
        A plugin that cannot be found or that raises while it loads: one line
        naming it and what went wrong.
    """
    for name in names:
        if not isinstance(name, str) or not name.strip():
            msg = f"The 'plugins' parameter takes module names or .py files. Got {name!r} instead."
            raise ValueError(msg)
        path = Path(name)
        is_file = name.endswith(".py") or path.is_file()
        key = f"file:{path.resolve()}" if is_file else f"module:{name}"
        if key in _LOADED:
            continue
        try:
            with registering_from(f"plugin: {name}"):
                if is_file:
                    if not path.is_file():
                        msg = f"The plugin file {name!r} does not exist"
                        raise ValueError(msg)
                    _load_file(path, name)
                else:
                    importlib.import_module(name)
        except ValueError:
            raise
        except ImportError as exc:
            msg = f"Cannot import plugin {name!r}: {exc}"
            raise ValueError(msg) from None
        except Exception as exc:
            msg = f"Plugin {name!r} failed while loading: {type(exc).__name__}: {exc}"
            raise ValueError(msg) from None
        _LOADED.add(key)
        logger.info("loaded plugin %s", name)


def load_entry_points() -> None:
    """Load every installed package's ``mnist_classic.pipelines`` and ``mnist_classic.datasets`` entry points, once.

    Raises
    ------
    ValueError
        An entry point that fails to load, naming it and its package.
    """
    for group in ENTRY_POINT_GROUPS:
        for ep in entry_points(group=group):
            dist = ep.dist.name if ep.dist is not None else "?"
            key = f"ep:{group}:{dist}:{ep.name}:{ep.value}"
            if key in _LOADED:
                continue
            try:
                with registering_from(f"entry point: {dist} ({group})"):
                    obj = ep.load()
                    if callable(obj) and not isinstance(obj, type(sys)):
                        obj()
            except Exception as exc:
                msg = f"Entry point {ep.name!r} = {ep.value!r} of package {dist} ({group}) failed: {exc}"
                raise ValueError(msg) from None
            _LOADED.add(key)
