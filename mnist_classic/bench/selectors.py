"""The selector syntax ``name[param=value,...]``: a registered pipeline, configured.

A selector overrides hyper-parameters through ``set_params``, with nested names
(``svc__C``) or short ones (``C``) where only one step has that parameter. The
configured name, with full parameter names and keys sorted, is the identity of
a case everywhere: ``pca_svm[pca__n_components=30,svc__C=5]``.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from .pipelines import PIPELINES

__all__ = ["ConfiguredPipeline", "effective_params", "parse_selector"]


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside brackets, parentheses or quotes."""
    parts: list[str] = []
    cur: list[str] = []
    depth, quote = 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _parse_value(text: str) -> Any:
    """Python literal where it is one (10, 0.5, None, True, (100, 100)), else the bare string."""
    lowered = {"true": True, "false": False, "none": None, "null": None}
    if text.lower() in lowered:
        return lowered[text.lower()]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _format_value(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def _resolve_key(key: str, valid: list[str], pipeline: str) -> str:
    """Map a short key (``C``) to its unique full name (``svc__C``)."""
    if key in valid:
        return key
    matches = [v for v in valid if v.rsplit("__", 1)[-1] == key]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        msg = f"Parameter {key!r} of pipeline {pipeline!r} is ambiguous: use one of {', '.join(matches)}"
        raise ValueError(msg)
    msg = f"Unknown parameter {key!r} for pipeline {pipeline!r}; valid parameters: {', '.join(valid)}"
    raise ValueError(msg)


def _tunable(estimator: BaseEstimator) -> list[str]:
    """Hyper-parameter names settable by a selector (not whole steps or estimators)."""
    params = estimator.get_params(deep=True)
    skip = ("steps", "memory", "verbose", "transform_input")
    return sorted(k for k, v in params.items() if not isinstance(v, BaseEstimator) and k not in skip)


@dataclass(frozen=True)
class ConfiguredPipeline:
    """A registered pipeline with its overrides: builds fresh estimators.

    Attributes
    ----------
    base : str
        Registry name.
    overrides : tuple of (str, object)
        Full parameter names and values, sorted by name.
    """

    base: str
    overrides: tuple[tuple[str, Any], ...] = ()

    @property
    def name(self) -> str:
        """The identity of the configuration: ``svm[C=10,gamma=scale]``, keys sorted."""
        if not self.overrides:
            return self.base
        inner = ",".join(f"{k}={_format_value(v)}" for k, v in self.overrides)
        return f"{self.base}[{inner}]"

    def build(self, random_state: int | None = None) -> BaseEstimator:
        """A fresh estimator, overrides applied and every ``*random_state`` set.

        Parameters
        ----------
        random_state : int or None, default=None
            Value for every parameter whose name ends in ``random_state``
            (unless the selector set it explicitly).
        """
        est = PIPELINES[self.base].factory()
        if self.overrides:
            est.set_params(**dict(self.overrides))
        if random_state is not None:
            explicit = {k for k, _ in self.overrides}
            seeds = {
                k: random_state for k in est.get_params(deep=True) if k.endswith("random_state") and k not in explicit
            }
            est.set_params(**seeds)
        return est


def _validate(estimator: BaseEstimator) -> None:
    """Let scikit-learn check the values now rather than mid-run (private API, optional)."""
    steps = [s for _, s in estimator.steps] if isinstance(estimator, Pipeline) else [estimator]
    for step in steps:
        check = getattr(step, "_validate_params", None)
        if callable(check) and hasattr(step, "_parameter_constraints"):  # estimators outside sklearn lack them
            check()


def parse_selector(selector: str) -> ConfiguredPipeline:
    """Parse ``name`` or ``name[param=value,...]`` into a configured pipeline.

    Parameters
    ----------
    selector : str
        E.g. ``"svm"``, ``"svm[C=5]"``, ``"pca_svm[n_components=30,svc__C=5]"``.

    Returns
    -------
    ConfiguredPipeline

    Raises
    ------
    ValueError
        Malformed selector, unknown pipeline or parameter (the message lists
        the valid ones), or a value that ``set_params`` or the estimator's
        own validation rejects.

    Examples
    --------
    >>> parse_selector("svm[gamma=scale,C=10]").name
    'svm[C=10,gamma=scale]'
    >>> parse_selector("pca_svm[n_components=30]").name
    'pca_svm[pca__n_components=30]'
    """
    text = selector.strip()
    base, _, rest = text.partition("[")
    base = base.strip()
    if rest and not rest.endswith("]"):
        msg = f"Malformed pipeline selector {selector!r}: expected name[param=value,...]"
        raise ValueError(msg)
    if base not in PIPELINES:
        msg = f"Unknown pipeline {base!r}; valid pipelines: {', '.join(PIPELINES)}"
        raise ValueError(msg)
    est = PIPELINES[base].factory()
    valid = _tunable(est)
    overrides: dict[str, Any] = {}
    for item in _split_top_level(rest[:-1]) if rest else []:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            msg = f"Malformed parameter {item!r} in selector {selector!r}: expected param=value"
            raise ValueError(msg)
        full = _resolve_key(key.strip(), valid, base)
        if full in overrides:
            msg = f"Parameter {full!r} is set twice in selector {selector!r}"
            raise ValueError(msg)
        overrides[full] = _parse_value(value.strip())
    configured = ConfiguredPipeline(base, tuple(sorted(overrides.items())))
    try:
        _validate(configured.build())
    except (ValueError, TypeError) as exc:
        msg = f"Invalid value in selector {selector!r}: {exc}"
        raise ValueError(msg) from None
    return configured


def effective_params(estimator: BaseEstimator) -> str:
    """The estimator's hyper-parameters as sorted JSON (nested steps flattened)."""
    params = {k: v for k, v in estimator.get_params(deep=True).items() if k in _tunable(estimator)}
    return json.dumps(params, sort_keys=True, default=repr)
