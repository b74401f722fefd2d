"""Estimator objects given from Python, as configured pipelines cloned for every case."""

from __future__ import annotations

import inspect
from typing import Any

from sklearn.base import BaseEstimator, clone

from .parse import ConfiguredPipeline, check_estimator_like, expand_selector
from .steps import ContractError
from .syntax import format_value

__all__ = ["configure", "configure_estimator"]


def _object_name(est: BaseEstimator) -> str:
    """``module:Class[changed params]`` for an estimator object given without a name."""
    cls = type(est)
    params = est.get_params(deep=False)
    try:
        defaults = cls().get_params(deep=False)
    except Exception:  # a class with required parameters: the constructor's defaults
        try:
            sig = inspect.signature(cls).parameters.values()
            defaults = {p.name: p.default for p in sig if p.default is not inspect.Parameter.empty}
        except (TypeError, ValueError):
            defaults = {}
    changed = {k: v for k, v in params.items() if k not in defaults or repr(defaults[k]) != repr(v)}
    inner = ",".join(f"{k}={_value_name(v)}" for k, v in sorted(changed.items()))
    base = f"{cls.__module__}:{cls.__qualname__}"
    return f"{base}[{inner}]" if inner else base


def _value_name(value: Any) -> str:
    """A parameter's value in an object's name: estimators (and named lists of them) by their own names."""
    if isinstance(value, BaseEstimator):
        return _object_name(value)
    if isinstance(value, list) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        if all(isinstance(n, str) and isinstance(e, BaseEstimator) for n, e in value):
            return "(" + ",".join(f"{n}={_object_name(e)}" for n, e in value) + ")"
    return format_value(value)


def configure_estimator(item: Any) -> ConfiguredPipeline:
    """A configured pipeline from an estimator object or a ``(name, estimator)`` pair (cloned for every case).

    Examples
    --------
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> configure_estimator(KNeighborsClassifier(n_neighbors=3)).name
    'sklearn.neighbors._classification:KNeighborsClassifier[n_neighbors=3]'
    >>> configure_estimator(("my-knn", KNeighborsClassifier())).name
    'my-knn'
    """
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
        name, est = item
        if not name.strip():
            msg = "The name of an (name, estimator) pair must be a non-empty string."
            raise ValueError(msg)
    else:
        name, est = None, item
    est = check_estimator_like(est, "An estimator given in 'pipelines'")
    try:
        clone(est)
    except Exception as exc:
        msg = f"An estimator given in 'pipelines' cannot be cloned: {type(exc).__name__}: {exc}"
        raise ValueError(msg) from None
    try:
        label = name or _object_name(est)
    except Exception as exc:  # a user's get_params that raises
        what = f"get_params raised {type(exc).__name__}: {exc}"
        msg = f"An estimator given in 'pipelines' failed the contract check: {what}"
        raise ContractError(msg.splitlines()[0]) from None
    return ConfiguredPipeline(label=label, prototype=est)


def configure(items: Any) -> list[ConfiguredPipeline]:
    """Selectors (grids expanded), estimator objects and (name, estimator) pairs, in order."""
    out: list[ConfiguredPipeline] = []
    for item in items:
        if isinstance(item, ConfiguredPipeline):
            out.append(item)
        elif isinstance(item, str):
            out.extend(expand_selector(item))
        else:
            out.append(configure_estimator(item))
    return out
