"""Selectors: what a user names on the command line, parsed into configured pipelines.

A selector is one or more steps joined by ``+``; each step is a registered
pipeline or an importable estimator, with optional ``[param=value,...]``::

    svm[C=5]                                          a registered pipeline, one parameter set
    sklearn.ensemble:ExtraTreesClassifier[n_estimators=300]     any estimator class (or factory)
    sklearn.preprocessing:StandardScaler+sklearn.svm:SVC[gamma=0.001]   steps, as make_pipeline
    svm[C=[1,10,100]]                                 a grid: three configurations

Parameters go through ``set_params``, with full names (``svc__C``) or short ones
(``C``) where only one parameter of the step has that name. A list value is a
grid (several configurations, their product when there are several lists);
pass a tuple (``(100,100)``) for a parameter whose value is a sequence. The
configured name, with full parameter names and keys sorted, is a case's
identity in the CSV, progress lines, compare and report:
``pca_svm[pca__n_components=30,svc__C=5]``.

Modules are imported only here, from what the user names (the command line, a
run file or Python); nothing read from a results file is ever imported.
"""

from __future__ import annotations

import difflib
import importlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import Pipeline, make_pipeline

from .pipelines import PIPELINES, PipelineSpec
from .syntax import format_value, parse_value, split_top_level

__all__ = [
    "ConfiguredPipeline",
    "Step",
    "check_estimator_like",
    "effective_params",
    "expand_selector",
    "parse_selector",
]


def _tunable(estimator: BaseEstimator) -> list[str]:
    """Hyper-parameter names settable by a selector (not whole steps or estimators)."""
    params = estimator.get_params(deep=True)
    skip = ("steps", "memory", "verbose", "transform_input")
    return sorted(k for k, v in params.items() if not isinstance(v, BaseEstimator) and k not in skip)


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


def _import_target(target: str, selector: str) -> Callable[[], Any]:
    """The class or factory that ``module:attr`` names, imported now."""
    module_name, _, attr = target.partition(":")
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


def _canonical_target(text: str, selector: str) -> str:
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


@dataclass(frozen=True)
class Step:
    """One step of a configured pipeline: a registered pipeline or an importable estimator, with overrides.

    Attributes
    ----------
    target : str
        A registry name (``svm``) or ``package.module:Name``.
    overrides : tuple of (str, object)
        Full parameter names of this step and their values, sorted by name.
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

    def make(self, selector: str = "") -> BaseEstimator:
        """A fresh estimator of the target, without the overrides."""
        if self.registered:
            if self.target not in PIPELINES:
                msg = f"Unknown pipeline {self.target!r}; valid pipelines: {', '.join(PIPELINES)}"
                raise ValueError(msg)
            return PIPELINES[self.target].factory()
        factory = _import_target(self.target, selector or self.name)
        try:
            est = factory()
        except Exception as exc:
            msg = f"Could not build {self.target!r} (selector {selector or self.name!r}): {type(exc).__name__}: {exc}"
            raise ValueError(msg) from None
        return check_estimator_like(est, f"{self.target!r} (selector {selector or self.name!r})")


@dataclass(frozen=True)
class ConfiguredPipeline:
    """A configuration that builds fresh estimators: steps from a selector, or an estimator object.

    Attributes
    ----------
    steps : tuple of Step
        One step, or several composed with :func:`sklearn.pipeline.make_pipeline`.
    label : str or None
        The name of an estimator object given from Python (``steps`` is then empty).
    prototype : estimator or None
        That object; every case fits a clone of it.
    engine : str, default="sklearn"
        The engine that runs it (:mod:`.engines`); part of the identity when
        it is not the default, as a suffix of the name: ``svm@sklearnex``.
    """

    steps: tuple[Step, ...] = ()
    label: str | None = None
    prototype: Any = field(default=None, compare=False, hash=False, repr=False)
    engine: str = "sklearn"

    @property
    def name(self) -> str:
        """The identity of the configuration: ``svm[C=10,gamma=scale]``, ``a:B+c:D[x=1]``, or the label.

        With an engine other than the default, ``@engine`` is appended: ``svm@sklearnex``.
        """
        name = self.label if self.label is not None else "+".join(s.name for s in self.steps)
        return name if self.engine == "sklearn" else f"{name}@{self.engine}"

    @property
    def spec(self) -> PipelineSpec | None:
        """The registry entry when the configuration is one registered step, else None."""
        if len(self.steps) == 1 and self.steps[0].registered:
            return PIPELINES.get(self.steps[0].target)
        return None

    @property
    def base(self) -> str:
        """The registry name of a one-step registered configuration, else the configured name."""
        return self.steps[0].target if self.spec is not None else self.name

    @property
    def serial_predict(self) -> bool:
        """Whether ``predict`` uses one core (registered pipelines that say so)."""
        return bool(self.spec and self.spec.serial_predict)

    @property
    def user_brought(self) -> bool:
        """Whether anything in it is not a built-in pipeline of this package (the contract check's business)."""
        if self.prototype is not None:
            return True
        return any(not s.registered or PIPELINES[s.target].origin != "built-in" for s in self.steps)

    def build(self, random_state: int | None = None, n_jobs: int | None = None) -> BaseEstimator:
        """A fresh estimator, overrides applied, seeds and a thread budget set.

        Parameters
        ----------
        random_state : int or None, default=None
            Value for every parameter whose name ends in ``random_state``,
            unless the selector set it (an estimator object: those left None).
        n_jobs : int or None, default=None
            Value for every ``*n_jobs`` parameter that is None (one core) and
            that the selector did not set.
        """
        if self.prototype is not None:
            est = clone(self.prototype)
        else:
            parts = []
            for step in self.steps:
                part = step.make(self.name)
                if step.overrides:
                    part.set_params(**dict(step.overrides))
                parts.append(part)
            est = parts[0] if len(parts) == 1 else make_pipeline(*parts)
        values: dict[str, Any] = {}
        if random_state is not None:
            values |= dict.fromkeys(self.free_params(est, "random_state", only_unset=False), random_state)
        if n_jobs is not None:
            values |= dict.fromkeys(self.free_params(est, "n_jobs"), n_jobs)
        if values:
            est.set_params(**values)
        return est

    def free_params(self, est: BaseEstimator, suffix: str, *, only_unset: bool = True) -> list[str]:
        """Parameters of ``est`` (built by :meth:`build`) ending in ``suffix`` that the user did not set.

        With ``only_unset``, only those whose value is None. For an estimator
        object, every parameter with a value counts as set by the user.
        """
        params = est.get_params(deep=True)
        if self.prototype is not None:
            explicit = {k for k, v in params.items() if v is not None}
        else:
            names = [n for n, _ in est.steps] if len(self.steps) > 1 else [""]
            explicit = {
                f"{n}__{k}" if n else k for n, step in zip(names, self.steps, strict=True) for k, _ in step.overrides
            }
        return [
            k for k, v in params.items() if k.endswith(suffix) and k not in explicit and (v is None or not only_unset)
        ]


def _validate(estimator: BaseEstimator) -> None:
    """Let scikit-learn check the values now rather than mid-run (private API, optional)."""
    steps = [s for _, s in estimator.steps] if isinstance(estimator, Pipeline) else [estimator]
    for step in steps:
        check = getattr(step, "_validate_params", None)
        if callable(check) and hasattr(step, "_parameter_constraints"):  # estimators outside sklearn lack them
            check()


def _parse_step(text: str, selector: str) -> tuple[str, list[tuple[str, Any]]]:
    """``target[k=v,...]`` -> (canonical target, [(full key, value or grid list)])."""
    target, bracket, rest = text.partition("[")
    target = target.strip()
    if not target or (bracket and not rest.endswith("]")):
        msg = f"Malformed pipeline selector {selector!r}: expected name[param=value,...], steps joined by '+'"
        raise ValueError(msg)
    target = _canonical_target(target, selector)
    items = [i for i in split_top_level(rest[:-1]) if i] if bracket else []
    valid = _tunable(Step(target).make(selector))  # imports it now: a bad name fails here, named
    overrides: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            msg = f"Malformed parameter {item!r} in selector {selector!r}: expected param=value"
            raise ValueError(msg)
        full = _resolve_key(key.strip(), valid, target)
        if full in overrides:
            msg = f"Parameter {full!r} is set twice in selector {selector!r}"
            raise ValueError(msg)
        overrides[full] = parse_value(value.strip())
    return target, sorted(overrides.items())


def expand_selector(selector: str) -> list[ConfiguredPipeline]:
    """Parse a selector into its configurations: one, or the product of its grids.

    Parameters
    ----------
    selector : str
        E.g. ``"svm"``, ``"svm[C=[1,10,100]]"``,
        ``"sklearn.preprocessing:StandardScaler+sklearn.svm:SVC[gamma=0.01]"``.

    Returns
    -------
    list of ConfiguredPipeline
        In grid order (the last list varies fastest).

    Raises
    ------
    ValueError
        Malformed selector, unknown pipeline or parameter (the message lists
        the valid ones), a module or name that cannot be imported, an empty
        grid, or a value that ``set_params`` or the estimator's own
        validation rejects.

    Examples
    --------
    >>> [p.name for p in expand_selector("svm[C=[1,10]]")]
    ['svm[C=1]', 'svm[C=10]']
    >>> expand_selector("sklearn.preprocessing:StandardScaler+sklearn.neighbors:KNeighborsClassifier[p=1]")[0].name
    'sklearn.preprocessing:StandardScaler+sklearn.neighbors:KNeighborsClassifier[p=1]'
    """
    if not isinstance(selector, str) or not selector.strip():
        msg = f"The 'pipelines' parameter takes selectors such as svm[C=10]. Got {selector!r} instead."
        raise ValueError(msg)
    parsed = [_parse_step(part, selector) for part in split_top_level(selector.strip(), "+")]
    axes: list[list[tuple[int, str, Any]]] = []
    for i, (_, overrides) in enumerate(parsed):
        for key, value in overrides:
            if isinstance(value, list):
                if not value:
                    msg = f"Parameter {key!r} in selector {selector!r} has an empty grid []"
                    raise ValueError(msg)
                axes.append([(i, key, v) for v in value])
            else:
                axes.append([(i, key, value)])
    configs = []
    for combo in itertools.product(*axes) if axes else [()]:
        per_step: list[dict[str, Any]] = [{} for _ in parsed]
        for i, key, value in combo:
            per_step[i][key] = value
        steps = tuple(Step(t, tuple(sorted(per_step[i].items()))) for i, (t, _) in enumerate(parsed))
        configured = ConfiguredPipeline(steps)
        try:
            _validate(configured.build())
        except (ValueError, TypeError) as exc:
            detail = str(exc).splitlines()[0] if str(exc) else repr(exc)
            msg = f"Invalid value in selector {selector!r}: {detail}"
            raise ValueError(msg) from None
        configs.append(configured)
    return configs


def parse_selector(selector: str) -> ConfiguredPipeline:
    """Parse a selector naming exactly one configuration (see :func:`expand_selector` for grids).

    Examples
    --------
    >>> parse_selector("svm[gamma=scale,C=10]").name
    'svm[C=10,gamma=scale]'
    >>> parse_selector("pca_svm[n_components=30]").name
    'pca_svm[pca__n_components=30]'
    """
    configs = expand_selector(selector)
    if len(configs) != 1:
        msg = f"Selector {selector!r} is a grid of {len(configs)} configurations; one was expected here"
        raise ValueError(msg)
    return configs[0]


def effective_params(estimator: BaseEstimator) -> str:
    """The estimator's hyper-parameters as sorted JSON (nested steps flattened)."""
    params = {k: v for k, v in estimator.get_params(deep=True).items() if k in _tunable(estimator)}
    return json.dumps(params, sort_keys=True, default=repr)
