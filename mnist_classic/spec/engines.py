"""The engine registry: what runs a pipeline's estimators (stock scikit-learn or an accelerator).

An engine turns a freshly built pipeline into the one it runs
(:meth:`Engine.prepare`), watches the case while it runs (:meth:`Engine.activate`,
a context manager yielding a :class:`Trace`), and tells afterwards, step by step,
whether each step really ran accelerated (:meth:`Engine.accelerated`): an
accelerator may fall back to stock code for some parameters or methods, and a
time labelled "sklearnex" that was in fact scikit-learn's would mislead.

Built-ins:

- ``sklearn``: stock scikit-learn, always available, nothing accelerated.
- ``sklearnex``: Intel Extension for Scikit-learn (``pip install scikit-learn-intelex``).
  Each step whose class sklearnex replaces is rebuilt as the sklearnex class
  with the same parameters. Classes are swapped rather than patched with
  ``sklearnex.patch_sklearn()`` because patching replaces attributes of the
  ``sklearn`` modules and so misses classes imported before it, which every
  pipeline factory of this package is. What ran is read from sklearnex's own
  log (logger ``sklearnex`` at INFO): one record per call,
  ``sklearn.svm.SVC.fit: running accelerated version on CPU`` or
  ``...: fallback to original Scikit-learn``. A step counts as accelerated
  only if it logged at least one call and none fell back; the estimator's
  ``_onedal_estimator`` attribute is not used, as some accelerated estimators
  (LogisticRegression, sklearnex 2026.2) do not set it.

Other packages add engines through the entry-point group ``mnist_classic.engines``
(each entry point names an :class:`Engine`); :func:`get_engine` and
:func:`list_engines` load them on first use.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ENGINES",
    "ENTRY_POINT_GROUP",
    "Call",
    "Engine",
    "Trace",
    "get_engine",
    "list_engines",
    "register_engine",
]

ENTRY_POINT_GROUP = "mnist_classic.engines"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Call:
    """One estimator method call as the engine reported it."""

    estimator: str  # the class name, e.g. "SVC"
    method: str  # e.g. "fit", "predict", "fit_transform"
    accelerated: bool
    message: str = ""


@dataclass
class Trace:
    """What an engine saw during one :meth:`Engine.activate` block."""

    calls: list[Call] = field(default_factory=list)


def _steps(estimator: Any) -> list[tuple[str, Any]]:
    """(name, estimator) for each step of a Pipeline, or one pair named after the class."""
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list):
        return [(str(name), step) for name, step in steps]
    return [(type(estimator).__name__.lower(), estimator)]


def _never(estimator: Any, trace: Trace) -> dict[str, bool]:
    return {name: False for name, _ in _steps(estimator)}


@contextmanager
def _nothing() -> Iterator[Trace]:
    yield Trace()


def _clone(estimator: Any) -> Any:
    from sklearn.base import clone

    return clone(estimator)


@dataclass(frozen=True)
class Engine:
    """A registered engine: a name, one line of description, and its hooks.

    Parameters
    ----------
    name : str
        Identity on the command line and in results.
    description : str
    available : callable () -> bool
        Whether the engine can run here (its package imports).
    version : callable () -> str or None
        Version of the engine's package, None when not installed.
    prepare : callable (estimator) -> estimator, default=sklearn.base.clone
        A fresh, unfitted estimator to run in place of a stock one (never the
        same object: the stock one stays unfitted).
    activate : callable () -> context manager yielding Trace
        Wraps the timed calls of one case; fills the trace with what ran.
    accelerated : callable (estimator, Trace) -> dict of str to bool
        For each step (Pipeline step names, or the lowercase class name of a
        lone estimator): did every call of that step run accelerated?
    """

    name: str
    description: str
    available: Callable[[], bool]
    version: Callable[[], str | None]
    prepare: Callable[[Any], Any] = _clone
    activate: Callable[[], AbstractContextManager[Trace]] = _nothing
    accelerated: Callable[[Any, Trace], dict[str, bool]] = _never


#: The registry: name -> Engine. Add one with :func:`register_engine` or an entry point.
ENGINES: dict[str, Engine] = {}

_entry_points_loaded = False


def register_engine(engine: Engine) -> Engine:
    """Add ``engine`` to :data:`ENGINES` (and return it).

    Raises
    ------
    ValueError
        If an engine of that name is already registered.
    """
    if engine.name in ENGINES:
        msg = f"An engine named {engine.name!r} is already registered"
        raise ValueError(msg)
    ENGINES[engine.name] = engine
    return engine


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            engine = ep.load()
            if callable(engine) and not isinstance(engine, Engine):
                engine = engine()
            if not isinstance(engine, Engine):
                msg = f"entry point {ep.name!r} ({ep.value}) gave {type(engine).__name__}, not an Engine"
                raise TypeError(msg)
            if engine.name not in ENGINES:
                register_engine(engine)
        except Exception as exc:  # a broken plugin must not break the suite
            logger.warning("Could not load engine entry point %r (%s): %s", ep.name, ep.value, exc)


def list_engines() -> list[str]:
    """Names of all registered engines (built-ins and entry points), available here or not."""
    _load_entry_points()
    return sorted(ENGINES)


def get_engine(name: str) -> Engine:
    """The registered engine called ``name``.

    Raises
    ------
    ValueError
        If no engine has that name.
    """
    _load_entry_points()
    try:
        return ENGINES[name]
    except KeyError:
        msg = f"The 'engine' parameter must be one of {', '.join(sorted(ENGINES))}. Got {name!r} instead."
        raise ValueError(msg) from None


def _dist_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


# --- sklearn: stock -------------------------------------------------------------------------


def _sklearn_version() -> str | None:
    return _dist_version("scikit-learn")


register_engine(
    Engine(
        name="sklearn",
        description="stock scikit-learn",
        available=lambda: True,
        version=_sklearn_version,
    )
)


# --- sklearnex: Intel Extension for Scikit-learn ----------------------------------------------

_SKLEARNEX_RECORD = re.compile(
    r"(?P<path>[\w.]+)\.(?P<method>\w+): (?P<what>running accelerated version|fallback to original)"
)


def _sklearnex_available() -> bool:
    try:
        importlib.import_module("sklearnex")
    except Exception:  # not installed, or built for another scikit-learn
        return False
    return True


def _sklearnex_class(stock: type) -> type | None:
    """The sklearnex class that replaces the stock class ``stock``, if any."""
    sklearnex = importlib.import_module("sklearnex")
    for entry in sklearnex.get_patch_map().values():
        # 2026.x: (module, name, sklearnex class, stock class); older releases nest lists of tuples
        stack: list[Any] = [entry]
        found: list[type] = []
        while stack:
            item = stack.pop()
            if isinstance(item, list | tuple):
                stack.extend(item)
            elif isinstance(item, type):
                found.append(item)
        if stock in found:
            for cls in found:
                if cls is not stock and cls.__module__.split(".")[0] in {"sklearnex", "daal4py"}:
                    return cls
    return None


def _sklearnex_prepare(estimator: Any) -> Any:
    """Rebuild each top-level step whose class sklearnex replaces, with the same parameters."""
    from sklearn.base import clone

    def convert(step: Any) -> Any:
        cls = _sklearnex_class(type(step))
        if cls is None:
            return clone(step)
        return cls(**step.get_params(deep=False))

    if isinstance(getattr(estimator, "steps", None), list):
        new = clone(estimator)
        new.set_params(**{name: convert(step) for name, step in estimator.steps if step not in (None, "passthrough")})
        return new
    return convert(estimator)


class _TraceHandler(logging.Handler):
    def __init__(self, trace: Trace) -> None:
        super().__init__(logging.INFO)
        self.trace = trace

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        match = _SKLEARNEX_RECORD.search(message)
        if match:
            call = Call(
                estimator=match["path"].rsplit(".", 1)[-1],
                method=match["method"],
                accelerated=match["what"] == "running accelerated version",
                message=message.strip(),
            )
            self.trace.calls.append(call)


@contextmanager
def _sklearnex_activate() -> Iterator[Trace]:
    """Record sklearnex's per-call log in a Trace; its own stderr handler is muted meanwhile."""
    sx_logger = logging.getLogger("sklearnex")
    saved = (sx_logger.level, sx_logger.handlers[:], sx_logger.propagate)
    trace = Trace()
    sx_logger.handlers = [_TraceHandler(trace)]
    sx_logger.propagate = False
    sx_logger.setLevel(logging.INFO)
    try:
        yield trace
    finally:
        sx_logger.setLevel(saved[0])
        sx_logger.handlers = saved[1]
        sx_logger.propagate = saved[2]


def _sklearnex_accelerated(estimator: Any, trace: Trace) -> dict[str, bool]:
    out = {}
    for name, step in _steps(estimator):
        calls = [c for c in trace.calls if c.estimator == type(step).__name__]
        out[name] = bool(calls) and all(c.accelerated for c in calls)
    return out


register_engine(
    Engine(
        name="sklearnex",
        description="Intel Extension for Scikit-learn (oneDAL), with per-call fallback detection",
        available=_sklearnex_available,
        version=lambda: _dist_version("scikit-learn-intelex"),
        prepare=_sklearnex_prepare,
        activate=_sklearnex_activate,
        accelerated=_sklearnex_accelerated,
    )
)
