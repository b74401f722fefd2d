"""What a selector names: registered pipelines, or estimators imported as ``package.module:Name``.

Modules are imported only here, and only what the user names: the command line,
a run file or Python. ``reproduce`` re-reads selectors from a results file under
:func:`allowed_imports`, so that a row imports nothing the user did not allow:
a selector may name any callable, and a constructor's required parameters are
passed to it.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sklearn.base import BaseEstimator

from ..pipelines import PIPELINES

__all__ = ["allowed_imports", "canonical_target", "check_estimator_like", "import_target"]

_ALLOWED: list[tuple[str, ...] | None] = [None]  # the import policy in force (None: anything the user named)


@contextmanager
def allowed_imports(modules: tuple[str, ...]) -> Iterator[None]:
    """Within the block, only these modules (and their submodules) may be imported by a selector."""
    _ALLOWED.append(tuple(modules))
    try:
        yield
    finally:
        _ALLOWED.pop()


def import_target(target: str, selector: str) -> Callable[..., Any]:
    """The class or factory that ``module:attr`` names, imported now."""
    module_name, _, attr = target.partition(":")
    allowed = _ALLOWED[-1]
    if allowed is not None and not any(module_name == m or module_name.startswith(m + ".") for m in allowed):
        msg = f"Selector {selector!r} names module {module_name!r}, which is not allowed here (--allow-import)"
        raise ValueError(msg)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        msg = f"Cannot import module {module_name!r} named by selector {selector!r}: {exc}"
        raise ValueError(msg) from None
    except Exception as exc:  # the module itself failed while importing
        msg = f"Importing module {module_name!r} named by selector {selector!r} failed: {type(exc).__name__}: {exc}"
        raise ValueError(msg) from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            msg = f"Module {module_name!r} has no attribute {attr!r} (selector {selector!r}){hint}"
            raise ValueError(msg)
        obj = getattr(obj, part)
    if not callable(obj):
        msg = f"{target!r} (selector {selector!r}) is not an estimator class or a factory: got {type(obj).__name__}"
        raise ValueError(msg)
    return obj


def check_estimator_like(est: Any, what: str) -> BaseEstimator:
    if not (hasattr(est, "fit") and hasattr(est, "get_params") and hasattr(est, "set_params")):
        msg = f"{what} must give a scikit-learn estimator (fit, get_params, set_params); got {type(est).__name__}"
        raise ValueError(msg)
    return est


def canonical_target(text: str, selector: str) -> str:
    """A registered name as it is; ``pkg.mod:Name`` or ``pkg.mod.Name`` as ``pkg.mod:Name``."""
    if text in PIPELINES:
        return text
    if ":" in text:
        module, _, attr = text.partition(":")
        if module and attr:
            return f"{module}:{attr}"
    elif "." in text:
        module, _, attr = text.rpartition(".")
        return f"{module}:{attr}"
    where = f" (in selector {selector!r})" if selector.strip() != text else ""
    msg = (
        f"Unknown pipeline {text!r}; valid pipelines: {', '.join(PIPELINES)}, "
        f"or an importable estimator as package.module:Name{where}"
    )
    raise ValueError(msg)
