"""Tuned cases (``run --tune``): a grid's candidates scored on validation data, by scikit-learn's searches.

A tuned case is a grid selector (``knn[n_neighbors=[1,3,5,7]]``) run as ONE case:

1. the candidates are scored on data carved from the training set only: a
   stratified, seeded holdout (``validation``, default 1/6, i.e. 10,000 of
   MNIST's 60,000 as in the classic 50k/10k split) given to the search as a
   :class:`~sklearn.model_selection.PredefinedSplit`, or ``cv`` stratified folds;
2. the search is scikit-learn's own: :class:`~sklearn.model_selection.GridSearchCV`,
   :class:`~sklearn.model_selection.RandomizedSearchCV` (a ``budget`` of N
   candidates drawn without replacement from the grid with the case's seed) or
   :class:`~sklearn.model_selection.HalvingGridSearchCV` (with a budget,
   :class:`~sklearn.model_selection.HalvingRandomSearchCV` over as many
   candidates as fit in N full-size fits), with ``refit=False``;
3. the winner is then an ordinary case (:func:`~.case.run_case`): the chosen
   candidate built, fitted on the whole training set and timed, predicting the
   test set once. Its predictions are those of an untuned run of that candidate.

The search's estimator is the grid's first candidate, and its grid is a list of
one-point grids, one per candidate, setting the parameters (full ``set_params``
names, the outermost that differ) whose values are taken from each candidate as
:meth:`~mnist_classic.spec.selectors.parse.ConfiguredPipeline.build` makes it (seeds
included): so a grid inside a step or a nested estimator is searched as well.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, replace
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (HalvingGridSearchCV is experimental)
from sklearn.model_selection import (
    GridSearchCV,
    HalvingGridSearchCV,
    HalvingRandomSearchCV,
    PredefinedSplit,
    RandomizedSearchCV,
    StratifiedKFold,
    train_test_split,
)

from ..spec.engines import get_engine
from ..spec.selectors.parse import ConfiguredPipeline, Tuning

__all__ = ["HALVING_FACTOR", "check_tuning", "halving_cost", "search_candidate", "tuning_of_row", "validation_split"]

#: Halving's factor: each round keeps a third of the candidates on three times the images (scikit-learn's default).
HALVING_FACTOR = 3


def check_tuning(pipeline: ConfiguredPipeline, y: np.ndarray) -> None:
    """Refuse, before any row, a protocol that the labels ``y`` (a training set) cannot split.

    Raises
    ------
    ValueError
        A holdout leaving fewer than one image per class on either side, or
        more folds than the smallest class has images.
    """
    tuning = pipeline.tuning
    if tuning is None:
        return
    labels, counts = np.unique(np.asarray(y), return_counts=True)
    smallest, n = int(counts.min()), len(y)
    which = labels[int(np.argmin(counts))]
    if tuning.cv is not None:
        if tuning.cv > smallest:
            msg = (
                f"The 'cv' parameter must not exceed the smallest class's count in the training set of {n:,} images "
                f"({smallest} images of class {which}). Got {tuning.cv} instead."
            )
            raise ValueError(msg)
        return
    n_val = math.ceil(tuning.fraction * n)  # as train_test_split rounds
    if smallest < 2 or min(n_val, n - n_val) < len(labels):
        msg = (
            f"The 'validation' parameter must leave at least one image per class on either side of the training set "
            f"of {n:,} images ({len(labels)} classes, the smallest with {smallest}). Got {tuning.fraction:g} "
            f"({n_val:,} validation, {n - n_val:,} training) instead."
        )
        raise ValueError(msg)


def validation_split(tuning: Tuning, y: np.ndarray, seed: int) -> PredefinedSplit | StratifiedKFold:
    """The search's ``cv``: a stratified, seeded holdout as a PredefinedSplit, or stratified shuffled folds."""
    if tuning.cv is not None:
        return StratifiedKFold(n_splits=tuning.cv, shuffle=True, random_state=seed)
    index = np.arange(len(y))
    _, held_out = train_test_split(index, test_size=tuning.fraction, stratify=y, random_state=seed)
    fold = np.full(len(y), -1)  # -1: always in training
    fold[held_out] = 0
    return PredefinedSplit(fold)


def _fingerprint(value: Any) -> Any:
    """A comparable form of a parameter's value: estimators by class and parameters, at any depth."""
    if hasattr(value, "get_params") and not isinstance(value, type):
        params = value.get_params(deep=False)
        return (
            type(value).__module__,
            type(value).__qualname__,
            tuple((k, _fingerprint(params[k])) for k in sorted(params)),
        )
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_fingerprint(v) for v in value))
    return repr(value)


def _is_named_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, tuple) and len(v) == 2 for v in value)


def _json_value(value: Any) -> Any:
    """A grid value as JSON: numbers, strings and booleans as they are, anything else (estimators) by its repr."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def candidate_grid(candidates: tuple[ConfiguredPipeline, ...], seed: int) -> tuple[BaseEstimator, list[dict[str, Any]]]:
    """The search's estimator (the first candidate) and one one-point grid per candidate, in the grid's order.

    Raises
    ------
    ValueError
        When ``set_params`` on the first candidate cannot make every other one.
    """
    built = [c.build(random_state=seed) for c in candidates]
    params = [b.get_params(deep=True) for b in built]
    keys = sorted(set().union(*params))
    differ = [k for k in keys if len({repr(_fingerprint(p.get(k, "<missing>"))) for p in params}) > 1]
    outer = [k for k in differ if not any(k.startswith(d + "__") for d in differ)]
    # A Pipeline's `steps` (a named list) differs whenever one of its steps does: set the step by its name instead,
    # unless the named items themselves differ between candidates (then the whole list).
    named = [k for k in outer if _is_named_list(params[0].get(k))]
    rest = [k for k in outer if k not in named]
    if named and rest and all(k in p for p in params for k in rest):
        outer = rest
    elif named:
        items = {f"{k.rpartition('__')[0]}__{n}".lstrip("_") for p in params for k in named for n, _ in p.get(k) or []}
        outer = named + [k for k in rest if k not in items]
    grid = []
    for c, p in zip(candidates, params, strict=True):
        if any(k not in p for k in outer):
            msg = f"Candidate {c.name} of a tuned grid lacks parameters {[k for k in outer if k not in p]}"
            raise ValueError(msg)
        grid.append({k: [p[k]] for k in outer})
    base = built[0]
    for c, one, b in zip(candidates, grid, built, strict=True):
        made = clone(base).set_params(**{k: clone(v[0], safe=False) for k, v in one.items()})
        if _fingerprint(made) != _fingerprint(b):
            msg = f"Candidate {c.name} of a tuned grid cannot be made by set_params on {candidates[0].name}"
            raise ValueError(msg)
    return base, grid


def halving_cost(n_candidates: int, n_samples: int, smallest: int, factor: int = HALVING_FACTOR) -> float:
    """Full-size fits that halving spends on ``n_candidates`` (its schedule, as HalvingGridSearchCV plans it).

    ``smallest`` is its first round's floor of images (2 x splits x classes);
    the cost is the sum over rounds of candidates x images / ``n_samples``.

    Examples
    --------
    >>> round(halving_cost(4, 5000, 20), 3)   # 4 candidates on 1,666 images, then 2 on 4,998
    3.332
    """
    required = 1 + math.floor(math.log(n_candidates, factor) + 1e-9)
    lowest = max(smallest, n_samples // factor ** (required - 1))
    possible = 1 + math.floor(math.log(max(n_samples // lowest, 1), factor) + 1e-9)
    cost, left = 0.0, n_candidates
    for i in range(min(required, possible)):
        cost += left * min(int(factor**i * lowest), n_samples) / n_samples
        left = math.ceil(left / factor)
    return cost


def _search(
    tuning: Tuning, base: BaseEstimator, grid: list[dict[str, Any]], y: np.ndarray, seed: int, n_jobs: int
) -> tuple[Any, dict[str, Any]]:
    """The scikit-learn search for ``tuning``, and what the row records about its settings."""
    cv = validation_split(tuning, y, seed)
    common: dict[str, Any] = {"cv": cv, "refit": False, "n_jobs": n_jobs}
    size, budget = len(grid), tuning.budget
    if tuning.search == "halving":
        splits = cv.get_n_splits()
        smallest = 2 * splits * len(np.unique(y))
        n = size
        if budget is not None:  # as many candidates as fit in `budget` full-size fits
            n = max([c for c in range(1, size + 1) if halving_cost(c, len(y), smallest) <= budget] or [1])
        settings = {"full_fits": round(halving_cost(n, len(y), smallest), 3), "factor": HALVING_FACTOR}
        halving = {"factor": HALVING_FACTOR, "random_state": seed, "min_resources": "exhaust", **common}
        if n < size:
            search = HalvingRandomSearchCV(base, grid, n_candidates=n, **halving)
        else:
            search = HalvingGridSearchCV(base, grid, **halving)
        return search, settings
    if tuning.search == "random" or (budget is not None and budget < size):
        n_iter = size if budget is None else min(budget, size)
        return RandomizedSearchCV(base, grid, n_iter=n_iter, random_state=seed, **common), {}
    return GridSearchCV(base, grid, **common), {}


def search_candidate(
    pipeline: ConfiguredPipeline, X: np.ndarray, y: np.ndarray, seed: int, n_jobs: int = 1
) -> tuple[ConfiguredPipeline, dict[str, Any]]:
    """Run the search of a tuned grid on the training set ``X, y``; return the chosen candidate and the row's columns.

    Parameters
    ----------
    pipeline : ConfiguredPipeline
        A tuned grid (:func:`~mnist_classic.spec.selectors.parse.tuned_grid`).
    X, y : numpy.ndarray
        The case's training set; the test set is never seen here.
    seed : int
        The case's seed: the holdout, the folds, random draws and halving's subsamples.
    n_jobs : int, default=1
        Candidates scored at once (the search's workers; each limits its
        BLAS threads to the cores over ``n_jobs``).

    Returns
    -------
    chosen : ConfiguredPipeline
        The winning candidate, with the grid's engine.
    columns : dict
        ``tuned_params``, ``validation_accuracy``, ``tuning_candidates``,
        ``tuning_time_s``, ``validation`` and ``tuning_scores``.
    """
    tuning = pipeline.tuning
    if tuning is None or not pipeline.candidates:
        msg = f"{pipeline.name} is not a tuned grid"
        raise ValueError(msg)
    candidates = pipeline.candidates
    base, grid = candidate_grid(candidates, seed)
    engine = get_engine(pipeline.engine)
    search, settings = _search(tuning, engine.prepare(base), grid, y, seed, n_jobs)
    with engine.activate():
        t0 = time.perf_counter()
        search.fit(X, y)
        elapsed = time.perf_counter() - t0
    results = search.cv_results_
    prints = [{k: repr(_fingerprint(v[0])) for k, v in one.items()} for one in grid]

    def which(params: dict[str, Any]) -> int:
        key = {k: repr(_fingerprint(v)) for k, v in params.items()}
        return prints.index(key)

    scores = np.asarray(results["mean_test_score"], dtype=float)
    if np.all(np.isnan(scores)):
        msg = f"every candidate of {pipeline.name} failed in the search (see the log with -v)"
        raise RuntimeError(msg)
    best = int(search.best_index_)
    chosen = which(results["params"][best])
    entries = []
    for j, params in enumerate(results["params"]):
        i = which(params)
        entry: dict[str, Any] = {
            "pipeline": candidates[i].name,
            "params": {k: _json_value(v) for k, v in params.items()},
            "score": None if math.isnan(scores[j]) else round(float(scores[j]), 6),
        }
        if tuning.cv is not None:
            entry["std"] = round(float(results["std_test_score"][j]), 6)
        if "n_resources" in results:
            entry.update(iter=int(results["iter"][j]), n_resources=int(results["n_resources"][j]))
        entries.append(entry)
    protocol = tuning.protocol(seed)
    scored = len({e["pipeline"] for e in entries})
    record = {
        "tuning": asdict(tuning),  # the options, exactly: reproduce rebuilds the search from them
        "search": type(search).__name__,
        "budget": tuning.budget,
        "grid": len(candidates),
        "protocol": protocol,
        "chosen": candidates[chosen].name,
        **settings,
        "candidates": entries,
    }
    columns = {
        "tuned_params": json.dumps({k: _json_value(v[0]) for k, v in grid[chosen].items()}, sort_keys=True),
        "validation_accuracy": round(float(scores[best]), 6),
        "tuning_candidates": scored,
        "tuning_time_s": round(elapsed, 6),
        "validation": protocol,
        "tuning_scores": json.dumps(record, separators=(",", ":")),
    }
    return replace(candidates[chosen], engine=pipeline.engine), columns


def tuning_of_row(tuning_scores: str) -> Tuning:
    """The :class:`~mnist_classic.spec.selectors.parse.Tuning` a tuned row was run with, from its ``tuning_scores``."""
    try:
        options = json.loads(tuning_scores)["tuning"]
        return Tuning(**options)
    except (ValueError, TypeError, KeyError) as exc:
        msg = f"the row's tuning_scores do not hold its tuning options ({type(exc).__name__}: {exc})"
        raise ValueError(msg) from None
