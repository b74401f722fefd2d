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

from ..pipelines import PIPELINES, PipelineSpec
from .steps import ContractError, EstimatorValue, NamedEstimators, Step, _tunable, check_estimator_like, expand_chain
from .syntax import format_value

__all__ = [
    "ConfiguredPipeline",
    "EstimatorValue",
    "NamedEstimators",
    "Step",
    "Tuning",
    "check_estimator_like",
    "effective_params",
    "expand_selector",
    "parse_selector",
    "tuned_grid",
]

#: What ``run --search`` accepts: scikit-learn's GridSearchCV, RandomizedSearchCV or HalvingGridSearchCV.
SEARCHES: tuple[str, ...] = ("grid", "random", "halving")
#: The validation fraction when neither ``validation`` nor ``cv`` is given: 10,000 of MNIST's 60,000.
DEFAULT_VALIDATION = 1 / 6


@dataclass(frozen=True)
class Tuning:
    """How a tuned grid chooses its candidate (``run --tune``); see :mod:`mnist_classic.bench.tuning`.

    Attributes
    ----------
    search : {"grid", "random", "halving"}, default="grid"
        The scikit-learn search. ``grid`` with a ``budget`` smaller than the
        grid draws that many candidates at random (it is then recorded as ``random``).
    validation : float or None, default=None
        The fraction of the training set held out, stratified and seeded
        (:data:`DEFAULT_VALIDATION` when ``cv`` is None too).
    cv : int or None, default=None
        Stratified folds of the training set instead of a holdout.
    budget : int or None, default=None
        At most this many candidates scored (halving: as many full-size fits).
    """

    search: str = "grid"
    validation: float | None = None
    cv: int | None = None
    budget: int | None = None

    @property
    def fraction(self) -> float:
        """The holdout's fraction (meaningless with ``cv``)."""
        return DEFAULT_VALIDATION if self.validation is None else float(self.validation)

    def protocol(self, seed: int) -> str:
        """The ``validation`` column: ``holdout:0.1667:seed=0`` or ``cv:5:seed=0``."""
        if self.cv is not None:
            return f"cv:{self.cv}:seed={seed}"
        return f"holdout:{self.fraction:.4f}:seed={seed}"


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
    candidates : tuple of ConfiguredPipeline, default=()
        A tuned grid (``run --tune``, :func:`tuned_grid`): its configurations,
        one of which the case chooses on validation data; ``label`` is then
        the grid's selector and ``steps`` the first candidate's.
    tuning : Tuning or None, default=None
        How a tuned grid chooses (set with ``candidates``).
    """

    steps: tuple[Step, ...] = ()
    label: str | None = None
    prototype: Any = field(default=None, compare=False, hash=False, repr=False)
    engine: str = "sklearn"
    candidates: tuple[ConfiguredPipeline, ...] = ()
    tuning: Tuning | None = None

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
        steps = [s for c in self.candidates for s in c.steps] if self.candidates else self.steps
        targets = [t for s in steps for t in s.targets()]
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


def _grid_text(configs: list[ConfiguredPipeline]) -> str:
    """The selector of a grid from its configurations: each key with its distinct values, ``[a,b]`` when several."""
    parts = []
    for i, first in enumerate(configs[0].steps):
        steps = [c.steps[i] for c in configs]
        items = []
        for j, (key, _) in enumerate(first.overrides):
            values = list(dict.fromkeys(format_value(s.overrides[j][1], item=True) for s in steps))
            if len(values) == 1:
                items.append(f"{key}={format_value(first.overrides[j][1])}")
            else:
                items.append(f"{key}=[{','.join(values)}]")
        parts.append(f"{first.target}[{','.join(items)}]" if items else first.target)
    return "+".join(parts)


def tuned_grid(selector: str, configs: list[ConfiguredPipeline], tuning: Tuning) -> ConfiguredPipeline:
    """One tuned case from a grid's configurations, named by the grid's canonical selector.

    Examples
    --------
    >>> tuned = tuned_grid("knn[n_neighbors=[1, 3]]", expand_selector("knn[n_neighbors=[1, 3]]"), Tuning())
    >>> tuned.name, [c.name for c in tuned.candidates]
    ('knn[n_neighbors=[1,3]]', ['knn[n_neighbors=1]', 'knn[n_neighbors=3]'])
    """
    name = selector.strip()
    try:
        canonical = _grid_text(configs)
        if [c.name for c in expand_selector(canonical)] == [c.name for c in configs]:
            name = canonical  # the same grid, however it was written
    except (ValueError, IndexError):  # steps that differ in shape between configurations: the text as given
        pass
    return ConfiguredPipeline(configs[0].steps, label=name, candidates=tuple(configs), tuning=tuning)


def effective_params(estimator: BaseEstimator) -> str:
    """The estimator's hyper-parameters as sorted JSON (nested steps flattened)."""
    every = estimator.get_params(deep=True)
    params = {k: v for k, v in every.items() if k in _tunable(every)}
    return json.dumps(params, sort_keys=True, default=repr)
