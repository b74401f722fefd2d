"""Steps of a selector, and estimators as parameter values at any depth.

A step is a registered pipeline or an importable estimator (``package.module:Name``)
with its overrides. A parameter that takes an estimator takes a selector as its
value, parsed here recursively::

    sklearn.multiclass:OneVsRestClassifier[estimator=sklearn.linear_model:LogisticRegression[solver=liblinear]]
    sklearn.ensemble:BaggingClassifier[estimator=knn]                 a registered pipeline as the value
    sklearn.ensemble:BaggingClassifier[estimator=sklearn.preprocessing:StandardScaler+knn]     steps as the value
    sklearn.ensemble:VotingClassifier[estimators=(lr=logreg,knn=knn[n_neighbors=3])]   a named list: a tuple
    sklearn.multiclass:OneVsRestClassifier[estimator=[logreg,knn]]   a grid of two estimators

**Which values are estimators.** The rule reads the estimator's own parameters
(its freshly built values, or its constructor's defaults when it cannot be built
without arguments). A parameter takes an estimator when its default is an
estimator object, or when its name is one of :data:`ESTIMATOR_PARAMS` and its
default is ``None`` or it has none. It takes a named list of estimators,
``(name=selector,...)``, when its name is one of :data:`NAMED_LIST_PARAMS` and
its default is ``None``, none, or already such a list. Every other value is read
as before (:func:`.syntax.parse_value`): ``SVC[kernel=linear]`` is the string
``"linear"``, though ``linear`` is also a pipeline's name, because SVC's
``kernel`` defaults to a string. In an estimator's place, ``drop``,
``passthrough`` and ``None`` keep their scikit-learn meaning.

A constructor with required parameters (``OneVsRestClassifier(estimator)``) is
called with those parameters; the others go through ``set_params``.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.pipeline import make_pipeline

from ..pipelines import PIPELINES
from .syntax import format_value, parse_value, split_top_level
from .targets import canonical_target, check_estimator_like, import_target

__all__ = [
    "ESTIMATOR_PARAMS",
    "NAMED_LIST_PARAMS",
    "ContractError",
    "EstimatorValue",
    "NamedEstimators",
    "Step",
    "check_estimator_like",
    "expand_chain",
    "slot_kind",
]

#: Parameter names that take one estimator (when their default is None or missing).
ESTIMATOR_PARAMS: tuple[str, ...] = (
    "estimator",
    "base_estimator",
    "final_estimator",
    "classifier",
    "regressor",
    "transformer",
)
#: Parameter names that take a named list of estimators, ``(name=selector,...)``.
NAMED_LIST_PARAMS: tuple[str, ...] = ("estimators", "steps", "transformer_list")
_KEEP = {"drop": "drop", "passthrough": "passthrough", "none": None}  # kept as they are, in an estimator's place
_REQUIRED = inspect.Parameter.empty


class ContractError(ValueError):
    """An estimator that does not behave as a scikit-learn classifier (see :mod:`mnist_classic.bench.contract`)."""


def _is_estimator(value: Any) -> bool:
    return not isinstance(value, type) and hasattr(value, "get_params") and hasattr(value, "set_params")


def _is_named_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(
        isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) for v in value
    )


def slot_kind(name: str, default: Any) -> str | None:
    """``"one"`` if a parameter takes an estimator, ``"list"`` a named list of them, else None (see the module doc).

    Examples
    --------
    >>> slot_kind("estimator", None), slot_kind("estimators", _REQUIRED), slot_kind("kernel", "rbf")
    ('one', 'list', None)
    """
    if _is_estimator(default):
        return "one"
    if name in NAMED_LIST_PARAMS and (default is None or default is _REQUIRED or _is_named_list(default)):
        return "list"
    if name in ESTIMATOR_PARAMS and (default is None or default is _REQUIRED):
        return "one"
    return None


def _required(factory: Callable[..., Any]) -> list[str]:
    """Parameters the constructor (or factory) cannot be called without."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):  # a builtin without a signature
        return []
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [n for n, p in sig.parameters.items() if p.kind in kinds and p.default is _REQUIRED]


def _user_error(what: str, selector: str, exc: BaseException) -> ContractError:
    detail = str(exc).splitlines()[0] if str(exc) else ""
    msg = f"Estimator {selector!r} failed the contract check: {what} raised {type(exc).__name__}: {detail}"
    return ContractError(msg)


@dataclass(frozen=True)
class Step:
    """One step of a configured pipeline: a registered pipeline or an importable estimator, with overrides.

    Attributes
    ----------
    target : str
        A registry name (``svm``) or ``package.module:Name``.
    overrides : tuple of (str, object)
        Full parameter names of this step and their values, sorted by name; a
        value may be an :class:`EstimatorValue` or :class:`NamedEstimators`.
    """

    target: str
    overrides: tuple[tuple[str, Any], ...] = ()

    @property
    def registered(self) -> bool:
        """Whether the target is a registry entry (else an import)."""
        return ":" not in self.target

    @property
    def name(self) -> str:
        """``target[key=value,...]``, keys sorted."""
        if not self.overrides:
            return self.target
        return f"{self.target}[{','.join(f'{k}={format_value(v)}' for k, v in self.overrides)}]"

    def factory(self, selector: str = "") -> Callable[..., Any]:
        if self.registered:
            if self.target not in PIPELINES:
                msg = f"Unknown pipeline {self.target!r}; valid pipelines: {', '.join(PIPELINES)}"
                raise ValueError(msg)
            return PIPELINES[self.target].factory
        return import_target(self.target, selector or self.name)

    def make(self, selector: str = "", **required: Any) -> BaseEstimator:
        """A fresh estimator of the target, without the overrides (``required``: the constructor's arguments)."""
        factory = self.factory(selector)
        try:
            est = factory(**required)
        except Exception as exc:
            msg = f"Could not build {self.target!r} (selector {selector or self.name!r}): {type(exc).__name__}: {exc}"
            raise ValueError(msg) from None
        return check_estimator_like(est, f"{self.target!r} (selector {selector or self.name!r})")

    def build(self, selector: str = "") -> BaseEstimator:
        """A fresh estimator with the overrides: required parameters to the constructor, the rest by ``set_params``."""
        selector = selector or self.name
        values = {k: _materialize(v, selector) for k, v in self.overrides}
        required = [] if self.registered else _required(self.factory(selector))
        missing = [r for r in required if r not in values]
        if missing:
            msg = f"{self.target!r} needs the parameter {missing[0]!r}: give it, {self.target}[{missing[0]}=...]"
            raise ValueError(msg)
        est = self.make(selector, **{k: values.pop(k) for k in required})
        if values:
            est.set_params(**values)
        return est

    def explicit_keys(self) -> list[str]:
        """Full names, at any depth, of the parameters this step sets (a built estimator's ``get_params`` keys)."""
        keys = []
        for key, value in self.overrides:
            keys.append(key)
            if isinstance(value, EstimatorValue):
                keys += [f"{key}__{k}" for k in value.explicit_keys()]
            elif isinstance(value, NamedEstimators):
                parent = key.rpartition("__")[0]
                for name, item in value.items:
                    prefix = f"{parent}__{name}" if parent else name
                    if isinstance(item, EstimatorValue):
                        keys += [prefix, *(f"{prefix}__{k}" for k in item.explicit_keys())]
        return keys

    def targets(self) -> list[str]:
        """This step's target and those of its estimator values, at any depth."""
        out = [self.target]
        for _, value in self.overrides:
            if isinstance(value, (EstimatorValue, NamedEstimators)):
                out += value.targets()
        return out


@dataclass(frozen=True)
class EstimatorValue:
    """An estimator as a parameter value: one step, or several composed with ``make_pipeline``."""

    steps: tuple[Step, ...]

    def __selector__(self) -> str:
        return "+".join(s.name for s in self.steps)

    def build(self, selector: str = "") -> BaseEstimator:
        parts = [s.build(selector) for s in self.steps]
        return parts[0] if len(parts) == 1 else make_pipeline(*parts)

    def explicit_keys(self) -> list[str]:
        if len(self.steps) == 1:
            return self.steps[0].explicit_keys()
        names = [n for n, _ in self.build().steps]
        return [f"{n}__{k}" for n, s in zip(names, self.steps, strict=True) for k in s.explicit_keys()]

    def targets(self) -> list[str]:
        return [t for s in self.steps for t in s.targets()]


@dataclass(frozen=True)
class NamedEstimators:
    """A named list of estimators as a parameter value: ``(lr=logreg,knn=knn)``, in the order given."""

    items: tuple[tuple[str, Any], ...]

    def __selector__(self) -> str:
        return "(" + ",".join(f"{n}={format_value(v)}" for n, v in self.items) + ")"

    def build(self, selector: str = "") -> list[tuple[str, Any]]:
        return [(n, v.build(selector) if isinstance(v, EstimatorValue) else v) for n, v in self.items]

    def targets(self) -> list[str]:
        return [t for _, v in self.items if isinstance(v, EstimatorValue) for t in v.targets()]


def _materialize(value: Any, selector: str) -> Any:
    """A parameter value as the estimator takes it: estimator values built fresh."""
    if isinstance(value, (EstimatorValue, NamedEstimators)):
        return value.build(selector)
    return value


def _tunable(params: dict[str, Any]) -> list[str]:
    """Hyper-parameter names settable by a selector (not whole steps or estimators)."""
    skip = ("steps", "memory", "verbose", "transform_input")
    return sorted(k for k, v in params.items() if not _is_estimator(v) and k not in skip)


def _param_defaults(step: Step, selector: str) -> dict[str, Any]:
    """Every parameter of a fresh ``step`` (full names) and its default; the constructor's when it needs arguments."""
    factory = step.factory(selector)
    if not step.registered and _required(factory):
        sig = inspect.signature(factory)
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return {n: p.default for n, p in sig.parameters.items() if p.kind in kinds}
    est = step.make(selector)
    try:
        return dict(est.get_params(deep=True))
    except Exception as exc:
        raise _user_error("get_params", step.target, exc) from None


def _resolve_key(key: str, valid: list[str], target: str) -> str:
    """Map a short key (``C``) to its unique full name (``svc__C``)."""
    if key in valid:
        return key
    matches = [v for v in valid if v.rsplit("__", 1)[-1] == key]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        msg = f"Parameter {key!r} of pipeline {target!r} is ambiguous: use one of {', '.join(matches)}"
        raise ValueError(msg)
    close = difflib.get_close_matches(key, [v.rsplit("__", 1)[-1] for v in valid], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    msg = f"Unknown parameter {key!r} for pipeline {target!r}{hint}; valid parameters: {', '.join(valid)}"
    raise ValueError(msg)


def _grid_items(text: str, key: str, selector: str) -> list[str] | None:
    """The items of ``[a,b]`` (a grid), or None when ``text`` is not one."""
    if not (text.startswith("[") and text.endswith("]")):
        return None
    items = [i for i in split_top_level(text[1:-1]) if i]
    if not items:
        msg = f"Parameter {key!r} in selector {selector!r} has an empty grid []"
        raise ValueError(msg)
    return items


def _slot_values(kind: str, text: str, key: str, selector: str) -> list[Any]:
    """The alternatives (one, or a grid's) of an estimator parameter's value."""
    items = _grid_items(text, key, selector)
    if items is not None:
        return [v for item in items for v in _slot_values(kind, item, key, selector)]
    if text[:1] in "'\"":  # a quoted selector (as a run file writes one)
        try:
            text = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            text = ""
        if not isinstance(text, str) or not text.strip():
            msg = f"Parameter {key!r} in selector {selector!r} takes an estimator: a selector, quoted or not"
            raise ValueError(msg)
        text = text.strip()
    if text.lower() in _KEEP:
        return [_KEEP[text.lower()]]
    if kind == "one":
        return [EstimatorValue(chain) for chain in expand_chain(text, selector)]
    if not (text.startswith("(") and text.endswith(")")):
        msg = (
            f"Parameter {key!r} in selector {selector!r} takes a named list of estimators, "
            f"(name=selector,...); got {text!r} ([...] is a grid of such lists)"
        )
        raise ValueError(msg)
    names, choices = [], []
    for item in (i for i in split_top_level(text[1:-1]) if i):
        name, eq, value = item.partition("=")
        if not eq or not name.strip() or not value.strip():
            msg = f"Malformed item {item!r} of {key!r} in selector {selector!r}: expected name=selector"
            raise ValueError(msg)
        names.append(name.strip())
        choices.append(_slot_values("one", value.strip(), key, selector))
    if not names or len(set(names)) != len(names):
        msg = f"Parameter {key!r} in selector {selector!r} needs one or more estimators with distinct names"
        raise ValueError(msg)
    return [NamedEstimators(tuple(zip(names, combo, strict=True))) for combo in itertools.product(*choices)]


def _step_values(text: str, selector: str) -> list[Step]:
    """``target[k=v,...]`` -> its steps: one, or the product of its grids (the last key varies fastest)."""
    target, bracket, rest = text.partition("[")
    target = target.strip()
    if not target or (bracket and not rest.endswith("]")):
        msg = f"Malformed pipeline selector {selector!r}: expected name[param=value,...], steps joined by '+'"
        raise ValueError(msg)
    target = canonical_target(target, selector)
    items = [i for i in split_top_level(rest[:-1]) if i] if bracket else []
    if not items:
        _param_defaults(Step(target), selector)  # imports and builds it now: a bad name fails here, named
        return [Step(target)]
    defaults = _param_defaults(Step(target), selector)
    slots = {k: kind for k, v in defaults.items() if (kind := slot_kind(k.rsplit("__", 1)[-1], v))}
    valid = sorted(set(_tunable(defaults)) | set(slots))
    overrides: dict[str, list[Any]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            msg = f"Malformed parameter {item!r} in selector {selector!r}: expected param=value"
            raise ValueError(msg)
        full = _resolve_key(key.strip(), valid, target)
        if full in overrides:
            msg = f"Parameter {full!r} is set twice in selector {selector!r}"
            raise ValueError(msg)
        if full in slots:
            overrides[full] = _slot_values(slots[full], value.strip(), full, selector)
        else:
            parsed = parse_value(value.strip())
            if isinstance(parsed, list) and not parsed:
                msg = f"Parameter {full!r} in selector {selector!r} has an empty grid []"
                raise ValueError(msg)
            overrides[full] = parsed if isinstance(parsed, list) else [parsed]
    keys = sorted(overrides)
    combos = itertools.product(*[overrides[k] for k in keys])
    return [Step(target, tuple(zip(keys, combo, strict=True))) for combo in combos]


def expand_chain(text: str, selector: str) -> list[tuple[Step, ...]]:
    """Steps joined by ``+``, as every combination of their grids, in grid order."""
    per_step = [_step_values(part, selector) for part in split_top_level(text.strip(), "+")]
    return [tuple(chain) for chain in itertools.product(*per_step)]
