"""The contract check: every estimator a user brings is tried on a few real images before the first case.

A benchmark that fails in its last hour for a reason a second's check would
have shown wastes the hour; one that writes rows for a broken estimator
pollutes the results. So before anything is written, each configuration that
is not a built-in pipeline is cloned, round-tripped through ``get_params`` /
``set_params``, fitted on about 50 training images of the run's own data and
asked to predict about 50 test images: it must return one label per image,
each one of the training labels. The first failure stops the run with one
line naming the selector and what failed.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.base import clone

from .selectors import ConfiguredPipeline
from .steps import ContractError

__all__ = ["ContractError", "check_contract", "contract_sample"]


def contract_sample(y: np.ndarray, per_class: int = 5, seed: int = 0) -> np.ndarray:
    """Indices of up to ``per_class`` images of each class (about 50 for 10 classes), sorted.

    Examples
    --------
    >>> contract_sample(np.array([0, 1, 0, 1]), per_class=2).tolist()
    [0, 1, 2, 3]
    >>> len(contract_sample(np.repeat(np.arange(10), 100)))
    50
    """
    rng = np.random.default_rng(seed)
    picks = []
    for label in np.unique(y):
        where = np.flatnonzero(y == label)
        picks.append(where[:per_class] if len(where) <= per_class else np.sort(rng.choice(where, per_class, False)))
    return np.sort(np.concatenate(picks))


def _fail(name: str, what: str, exc: BaseException | None = None) -> ContractError:
    detail = f": {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ") if exc else ""
    return ContractError(f"Estimator {name!r} failed the contract check: {what}{detail}")


def check_one(configured: ConfiguredPipeline, X: np.ndarray, y: np.ndarray, X_test: np.ndarray, seed: int = 0) -> None:
    """Check one configuration on a small sample; raise :class:`ContractError` on the first failure."""
    name = configured.name
    try:
        est = configured.build(random_state=seed)
    except Exception as exc:
        raise _fail(name, "building it raised", exc) from None
    try:
        twin = clone(est)
    except Exception as exc:
        raise _fail(name, "sklearn.base.clone raised", exc) from None
    try:
        params = est.get_params(deep=False)
        twin.set_params(**params)
        again = twin.get_params(deep=False)
    except Exception as exc:
        raise _fail(name, "get_params/set_params round trip raised", exc) from None
    if set(again) != set(params):
        raise _fail(name, f"get_params after set_params gives other keys ({sorted(set(again) ^ set(params))})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings on 50 images say nothing
            twin.fit(X, y)
    except Exception as exc:
        raise _fail(name, f"fit on {len(y)} images raised", exc) from None
    try:
        pred = np.asarray(twin.predict(X_test))
    except Exception as exc:
        raise _fail(name, f"predict on {len(X_test)} images raised", exc) from None
    if pred.shape != (len(X_test),):
        raise _fail(name, f"predict returned shape {pred.shape} for {len(X_test)} images (one label per image)")
    unknown = sorted(set(pred.tolist()) - set(np.unique(y).tolist()), key=str)
    if unknown:
        raise _fail(name, f"predict returned labels not among the training labels: {unknown[:5]}")


def check_contract(
    pipelines: Sequence[ConfiguredPipeline],
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    *,
    seed: int = 0,
) -> list[str]:
    """Check every user-brought configuration on ~50 images of the data; return the names checked.

    Raises
    ------
    ContractError
        The first configuration that fails, named, with what failed.
    """
    idx = contract_sample(np.asarray(y_train), seed=seed)
    X, y = np.ascontiguousarray(X_train[idx]), np.asarray(y_train)[idx]
    Xt = np.ascontiguousarray(X_test[: len(idx)])
    checked = []
    for configured in pipelines:
        if configured.user_brought:
            check_one(configured, X, y, Xt, seed)
            checked.append(configured.name)
    return checked
