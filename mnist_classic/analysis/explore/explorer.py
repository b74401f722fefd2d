"""The explorer of predictions: one self-contained HTML page to see where cases differ, image by image.

:func:`explore` reads result rows, takes every ``ok`` case (or the ones named)
on one test set, loads each case's predicted labels from the predictions
sidecar (checked against their SHA-256) and the test images from the dataset
the rows name (checked against the rows' payload hashes), and writes
``explore.html``: the images and the labels packed once (zlib, base64) with the
exact McNemar test of every pair of cases, drawn by the page's own script
(:mod:`.page`). Nothing is fetched: the page opens from disk. For
each case with probabilities in the sidecar (``probabilities_sha256``), the
images it is most confidently wrong about (:func:`confidently_wrong`) are listed too.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._files import atomic_write
from ..._version import __version__
from ...results import ResultsSchemaError, row_labels, row_probabilities
from ..stats import mcnemar_exact
from .page import render_explorer
from .testset import IMAGE_SET_COLUMNS, image_set_key, load_image_set

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CONFIDENT_WRONG",
    "EXPLORE_FILE",
    "ExploreCase",
    "confidently_wrong",
    "explore",
    "explore_pages",
    "explore_payload",
    "select_cases",
    "write_pages",
]

logger = logging.getLogger(__name__)

#: The page :func:`explore` writes into its ``out`` folder.
EXPLORE_FILE = "explore.html"
#: Most confidently wrong images listed per case with probabilities.
CONFIDENT_WRONG = 120


def confidently_wrong(
    proba: np.ndarray, classes: np.ndarray, truth: np.ndarray, n: int = CONFIDENT_WRONG
) -> list[tuple[int, int, float]]:
    """The ``n`` test images whose top-probability class is wrong, most confident first.

    Parameters
    ----------
    proba : numpy.ndarray of shape (n_test, n_classes)
    classes : numpy.ndarray of shape (n_classes,)
        The label of each column.
    truth : numpy.ndarray of shape (n_test,)
    n : int, default=CONFIDENT_WRONG

    Returns
    -------
    list of (index, label said, probability of that label)
        Ties in probability in test order.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    >>> confidently_wrong(p, np.array([0, 1]), np.array([1, 1, 1]))
    [(0, 0, 0.9), (2, 0, 0.6)]
    """
    top = np.asarray(proba).argmax(axis=1)
    confidence = np.asarray(proba)[np.arange(len(top)), top].astype(float)
    said = np.asarray(classes)[top]
    wrong = np.flatnonzero(said != np.asarray(truth))
    order = wrong[np.lexsort((wrong, -confidence[wrong]))][:n]
    return [(int(i), int(said[i]), round(float(confidence[i]), 4)) for i in order]


_QUALIFIERS = (
    ("n_train", "n_train={}"),
    ("n_test", "n_test={}"),
    ("seed", "seed={}"),
    ("run_id", "run {}"),
    ("_source", "{}"),
)


@dataclass(frozen=True)
class ExploreCase:
    """One case of the page: its unique name, the row it came from and its predicted labels."""

    name: str
    row: Any
    predictions: np.ndarray


def _names(rows: Any) -> list[str]:
    """A unique, readable name per row: the pipeline, qualified by what tells apart rows of one pipeline."""
    names = [str(p) for p in rows["pipeline"]]
    for pipeline in dict.fromkeys(names):
        same = rows[rows["pipeline"] == pipeline]
        if len(same) < 2:
            continue
        parts: list[list[str]] = [[] for _ in range(len(same))]
        for col, fmt in _QUALIFIERS:  # in order, those that vary, until the names differ
            if len({" ".join(p) for p in parts}) == len(parts):
                break
            values = [fmt.format(int(v) if col in ("n_train", "n_test", "seed") else v) for v in same[col]]
            if len(set(values)) > 1:
                parts = [[*p, v] for p, v in zip(parts, values, strict=True)]
        for j, p in zip(np.flatnonzero(rows["pipeline"].to_numpy() == pipeline), parts, strict=True):
            names[j] = " ".join([pipeline, *p])
    counts = Counter(names)
    seen: Counter[str] = Counter()
    for i, name in enumerate(names):  # still equal (the same case twice in one run): number them
        seen[name] += 1
        if counts[name] > 1:
            names[i] = f"{name} #{seen[name]}"
    return names


def select_cases(df: pd.DataFrame, cases: Sequence[str] | None = None) -> list[tuple[str, Any]]:
    """The ``ok`` rows to explore, named: all of them, or those ``cases`` names (a name or a pipeline).

    Raises
    ------
    ValueError
        No ``ok`` row; a name that matches no case; cases on different test sets.
    """
    ok = df[df["status"] == "ok"].reset_index(drop=True)
    if ok.empty:
        msg = "The results hold no case with status ok: there are no predictions to explore"
        raise ValueError(msg)
    named = list(zip(_names(ok), (r for _, r in ok.iterrows()), strict=True))
    if cases is not None:
        if isinstance(cases, str) or not len(cases):
            msg = f"The 'cases' parameter must be a non-empty list of case names. Got {cases!r} instead."
            raise ValueError(msg)
        picked: dict[str, Any] = {}
        for want in cases:
            hits = [(n, r) for n, r in named if n == want] or [(n, r) for n, r in named if r["pipeline"] == want]
            if not hits:
                valid = ", ".join(n for n, _ in named)
                msg = f"The 'cases' parameter must name cases with status ok: one of {valid}. Got {want!r} instead."
                raise ValueError(msg)
            picked.update(hits)
        named = [(n, r) for n, r in named if n in picked]
    sets: dict[tuple[str, ...], list[str]] = {}
    for name, row in named:
        sets.setdefault(image_set_key(row), []).append(name)
    if len(sets) > 1:
        listed = "; ".join(f"{k[0]}, {int(k[1]):,} test images: {', '.join(v)}" for k, v in sets.items())
        msg = (
            f"The cases are on {len(sets)} different test sets ({listed}): explore the cases of one test set, "
            "named by the 'cases' parameter (--cases)"
        )
        raise ValueError(msg)
    return named


def _pack(array: np.ndarray) -> str:
    """uint8 bytes, zlib-compressed (the page inflates them with DecompressionStream), as base64."""
    return base64.b64encode(zlib.compress(np.ascontiguousarray(array, dtype=np.uint8).tobytes(), 6)).decode("ascii")


def explore_payload(
    df: pd.DataFrame,
    *,
    cases: Sequence[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    data_home: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Everything the page shows, as a JSON-ready dict (see :func:`explore` for the parameters).

    Keys: ``dataset``, ``n_test``, ``shape`` (height, width), ``class_names``,
    ``sources``, ``cases`` (name, pipeline, n_train, seed, run_id, accuracy,
    ``confident_wrong``: :func:`confidently_wrong` from the stored probabilities, or None),
    ``confident_wrong_max`` (how many of those are kept at most),
    ``mcnemar`` (the exact two-sided p-value of every pair, ``None`` on the
    diagonal), ``pixels`` (the test images, row-major uint8) and ``labels``
    (the true labels, then each case's predictions), both packed by zlib and
    base64, and ``generator``.
    """
    named = select_cases(df, cases)
    first = named[0][1]
    explored = [ExploreCase(name, row, row_labels(row, "predictions_sha256")) for name, row in named]
    images = load_image_set(first, data_dir=data_dir, data_home=data_home)  # after the cheaper checks
    truth = images.labels
    for c in explored:
        if len(c.predictions) != len(truth):
            msg = (
                f"{c.row['_source']}: predictions of {c.name} hold {len(c.predictions)} labels "
                f"for {len(truth)} test images"
            )
            raise ResultsSchemaError(msg)
    n_classes = len(images.class_names)
    top = max(int(truth.max(initial=0)), *(int(c.predictions.max(initial=0)) for c in explored))
    if top > 255:
        msg = f"The explorer packs labels as bytes: label {top} does not fit in [0, 255]"
        raise ValueError(msg)
    names = list(images.class_names) + [str(k) for k in range(n_classes, top + 1)]
    right = [c.predictions == truth for c in explored]
    k = len(explored)
    mcnemar: list[list[float | None]] = [[None] * k for _ in range(k)]
    for i in range(k):
        for j in range(i + 1, k):
            p = mcnemar_exact(int(np.sum(right[i] & ~right[j])), int(np.sum(~right[i] & right[j])))
            mcnemar[i][j] = mcnemar[j][i] = p
    labels = np.concatenate([truth, *(c.predictions for c in explored)])
    height, width = images.images.shape[1:]
    wrong: list[list[tuple[int, int, float]] | None] = []
    for c in explored:
        stored = row_probabilities(c.row)
        if stored is not None and len(stored[0]) != len(truth):
            msg = f"{c.row['_source']}: probabilities of {c.name} hold {len(stored[0])} rows for {len(truth)} images"
            raise ResultsSchemaError(msg)
        wrong.append(None if stored is None else confidently_wrong(stored[0], stored[1], truth))
    return {
        "dataset": images.name,
        "n_test": len(truth),
        "shape": [int(height), int(width)],
        "class_names": names,
        "test_set": {c: str(first[c]) for c in IMAGE_SET_COLUMNS if c != "dataset"},
        "sources": list(dict.fromkeys(str(r["_source"]) for _, r in named)),
        "cases": [
            {
                "name": c.name,
                "pipeline": str(c.row["pipeline"]),
                "n_train": int(c.row["n_train"]),
                "seed": int(c.row["seed"]),
                "run_id": str(c.row["run_id"]),
                "accuracy": float(np.mean(ok)),
                "confident_wrong": w,
            }
            for c, ok, w in zip(explored, right, wrong, strict=True)
        ],
        "mcnemar": mcnemar,
        "confident_wrong_max": CONFIDENT_WRONG,
        "pixels": _pack(images.images),
        "labels": _pack(labels),
        "generator": f"mnist-classic {__version__}",
    }


def explore(
    results: Sequence[str | os.PathLike[str]] | pd.DataFrame,
    *,
    out: str | os.PathLike[str] = "explore",
    cases: Sequence[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    data_home: str | os.PathLike[str] | None = None,
    filename: str = EXPLORE_FILE,
) -> Path:
    """Write the explorer of predictions: one self-contained HTML file, with no network access.

    Parameters
    ----------
    results : sequence of path-like, or pandas.DataFrame
        Results CSVs (or folders of them), or rows read by
        :func:`~mnist_classic.analysis.runs.load_runs`; each CSV's
        ``.predictions`` folder must be beside it.
    out : path-like, default="explore"
        Folder to write into (created).
    cases : sequence of str or None, default=None
        The cases to show: names as the page shows them (the pipeline, with
        ``n_train=``, ``seed=`` or the run when one pipeline has several rows)
        or pipelines (all their rows). ``None``: every ``ok`` case. They must
        share one test set.
    data_dir : path-like or None, default=None
        The dataset's IDX files, when they are not the registered copy (a run
        on a directory of files needs it).
    data_home : path-like or None, default=None
        Downloads and the decoded cache (nothing is downloaded).
    filename : str, default="explore.html"
        The page's name in ``out``.

    Returns
    -------
    pathlib.Path
        The page written.

    Raises
    ------
    ValueError
        No ok case, an unknown case name, cases on different test sets, a
        missing predictions sidecar (:class:`~mnist_classic.ResultsSchemaError`),
        or a dataset that is not registered without ``data_dir``.
    FileNotFoundError
        A missing results file, or the dataset's files.
    DataIntegrityError
        Test images or labels that are not the ones the run used.

    Examples
    --------
    Two cases on 200 / 100 images, then their page:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import mnist_classic
    >>> folder = Path(tempfile.mkdtemp())
    >>> config = mnist_classic.RunConfig(pipelines=["dummy", "knn"], n_train=[200], n_test=100, output=folder / "r.csv")
    >>> _ = mnist_classic.run_benchmark(config)
    >>> page = mnist_classic.explore([folder / "r.csv"], out=folder / "explore")
    >>> page.name, page.stat().st_size < 100_000
    ('explore.html', True)
    """
    if not isinstance(filename, str) or not re.fullmatch(r"[\w.-]+\.html", filename):
        msg = f"The 'filename' parameter must be a file name ending in .html. Got {filename!r} instead."
        raise ValueError(msg)
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        msg = f"The 'out' parameter must be a folder (created if absent). Got the file {folder} instead."
        raise ValueError(msg)
    if isinstance(results, (str, os.PathLike)):
        results = [results]
    if not hasattr(results, "columns"):
        from ..runs import load_runs

        results = load_runs(results)
    payload = explore_payload(results, cases=cases, data_dir=data_dir, data_home=data_home)  # type: ignore[arg-type]
    return write_pages([(filename, payload)], folder)[0]


def write_pages(pages: Sequence[tuple[str, dict[str, Any]]], out: str | os.PathLike[str]) -> list[Path]:
    """Render each ``(file name, payload)`` and write it into the folder ``out`` (created), atomically."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    umask = os.umask(0)
    os.umask(umask)
    paths = []
    for filename, payload in pages:
        text = render_explorer(payload)

        def write(tmp: str, text: str = text) -> None:
            Path(tmp).write_text(text, encoding="utf-8")
            os.chmod(tmp, 0o666 & ~umask)  # atomic_write's temporary file is private (0600); a page is for sharing

        path = folder / filename
        atomic_write(path, write)
        logger.info("wrote %s (%d bytes, %d cases)", path, path.stat().st_size, len(payload["cases"]))
        paths.append(path)
    return paths


def explore_pages(
    df: pd.DataFrame,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    data_home: str | os.PathLike[str] | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """One explorer per test set of the ``ok`` rows, as ``(file name, payload)`` for :func:`write_pages`.

    ``explore.html``, or ``explore-<dataset>-<n_test>.html`` each when the rows hold several test
    sets: what ``report --explore`` writes beside the report. Every payload is built (and every
    input checked) before anything is written. The parameters are :func:`explore`'s.
    """
    ok = df[df["status"] == "ok"]
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, (_, row) in enumerate(ok.iterrows()):
        groups.setdefault(image_set_key(row), []).append(i)
    stems = [re.sub(r"[^\w.-]+", "-", f"explore-{key[0]}-{key[1]}") for key in groups]
    if len(stems) == 1:
        stems = ["explore"]
    stems = [f"{s}-{i + 1}" if stems.count(s) > 1 else s for i, s in enumerate(stems)]  # other payloads or subsets
    return [
        (f"{stem}.html", explore_payload(ok.iloc[rows], data_dir=data_dir, data_home=data_home))
        for stem, rows in zip(stems, groups.values(), strict=True)
    ]
