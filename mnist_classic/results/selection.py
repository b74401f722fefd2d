"""Rows selected on the test set: the best of an untuned grid, which ``summary`` and ``report`` mark.

Several rows of one estimator that differ only in parameters (``knn[n_neighbors=1]``,
``knn[n_neighbors=3]``, ...: an untuned grid, each scored on the test set) on the same
data and sizes: whoever reports the best of them has chosen it by its test accuracy,
and that figure is optimistic. Tuned rows (``run --tune``, with ``tuned_params``) were
chosen on validation data and are never part of such a group.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

__all__ = ["SELECTION_NOTE", "best_on_test", "grid_family", "is_tuned"]

#: The note beside a table that marks a row ``best of N on the test set``.
SELECTION_NOTE = (
    "best of N on the test set: the highest test accuracy among N rows of one estimator that differ only in "
    "parameters (an untuned grid); it was selected on the test set, so it is optimistic (Cawley & Talbot, JMLR 2010: "
    "the best of 20 chance-level classifiers on 1,000 test images scores about 1.8 points above chance). To report "
    "it fairly, tune instead: mnist-classic run --tune chooses the candidate on a validation split of the training "
    "set and predicts the test set once."
)


def grid_family(pipeline: str) -> str:
    """A configured name without its parameters: ``knn[n_neighbors=3]`` -> ``knn``, ``a:B[x=1]+c:D`` -> ``a:B+c:D``.

    Examples
    --------
    >>> grid_family("sklearn.dummy:DummyClassifier[random_state=3,strategy=uniform]@sklearnex")
    'sklearn.dummy:DummyClassifier@sklearnex'
    """
    out, depth = [], 0
    for ch in pipeline:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and str(value) != ""


def is_tuned(row: Any) -> bool:
    """Whether a row (a mapping) is a tuned case (``tuned_params`` set)."""
    return _present(row.get("tuned_params"))


def best_on_test(rows: Sequence[Any]) -> dict[int, int]:
    """Rows that are the best of an untuned grid by test accuracy: {row index: N, the grid's size}.

    ``rows`` are mappings with ``dataset``, ``n_test``, ``n_train``, ``pipeline``,
    ``accuracy`` and ``status`` (and ``tuned_params``); a pipeline's accuracy is
    its mean over its ok rows. A group is the ok, untuned rows of one
    :func:`grid_family` on the same dataset, test size and training size, with
    at least two pipelines; every row of its best pipeline is marked.

    Examples
    --------
    >>> rows = [dict(dataset="m", n_test=10, n_train=5, pipeline=f"knn[k={k}]", accuracy=a, status="ok")
    ...         for k, a in ((1, 0.5), (3, 0.7))]
    >>> best_on_test(rows)
    {1: 2}
    """
    groups: dict[tuple[Any, ...], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, r in enumerate(rows):
        if r.get("status") != "ok" or is_tuned(r) or not _present(r.get("accuracy")):
            continue
        key = (r.get("dataset"), r.get("n_test"), r.get("n_train"), grid_family(str(r["pipeline"])))
        groups[key][str(r["pipeline"])].append(i)
    marked: dict[int, int] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        means = {p: sum(float(rows[i]["accuracy"]) for i in idx) / len(idx) for p, idx in members.items()}
        best = max(means, key=lambda p: means[p])
        marked.update(dict.fromkeys(members[best], len(members)))
    return marked
