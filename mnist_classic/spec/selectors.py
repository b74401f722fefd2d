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

A parameter that takes an estimator takes a selector, at any depth, and a
named list of them as ``(name=selector,...)`` (see :mod:`.steps` for the rule
that tells an estimator from a string)::

    sklearn.multiclass:OneVsRestClassifier[estimator=sklearn.linear_model:LogisticRegression[solver=liblinear]]
    sklearn.ensemble:VotingClassifier[estimators=(lr=logreg,knn=knn)]

Modules are imported only by :mod:`.targets`, from what the user names (the
command line, a run file or Python); a selector read from a results file is
parsed only under the modules the user allows (``reproduce --allow-import``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import Pipeline, make_pipeline

from .pipelines import PIPELINES, PipelineSpec
from .steps import ContractError, EstimatorValue, NamedEstimators, Step, _tunable, check_estimator_like, expand_chain

__all__ = [
    "ConfiguredPipeline",
    "EstimatorValue",
    "NamedEstimators",
    "Step",
    "check_estimator_like",
    "effective_params",
    "expand_selector",
    "parse_selector",
]


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
        targets = [t for s in self.steps for t in s.targets()]
        return any(":" in t or PIPELINES[t].origin != "built-in" for t in targets)

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
            parts = [step.build(self.name) for step in self.steps]
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
                f"{n}__{k}" if n else k for n, step in zip(names, self.steps, strict=True) for k in step.explicit_keys()
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
    configs = []
    for chain in expand_chain(selector, selector):
        configured = ConfiguredPipeline(chain)
        try:
            _validate(configured.build())
        except (ValueError, TypeError) as exc:
            if isinstance(exc, ContractError):
                raise
            detail = str(exc).splitlines()[0] if str(exc) else repr(exc)
            msg = f"Invalid value in selector {selector!r}: {detail}"
            raise ValueError(msg) from None
        except Exception as exc:  # a user's estimator raising something else while it is built or configured
            msg = f"Estimator {selector!r} failed the contract check: building it raised {type(exc).__name__}: {exc}"
            raise ContractError(msg.splitlines()[0]) from None
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
    every = estimator.get_params(deep=True)
    params = {k: v for k, v in every.items() if k in _tunable(every)}
    return json.dumps(params, sort_keys=True, default=repr)
