"""The predictions sidecar: labels stored beside a results CSV, named by their hash.

Predicted labels are kept in ``<stem>.predictions/<sha256>.npz``, named by the
SHA-256 of the labels (canonical little-endian int64 bytes), which is also the
value of the ``predictions_sha256`` column: the hash both identifies and locates them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_write
from .schema import ResultsSchemaError

__all__ = ["labels_sha256", "load_labels", "predictions_dir", "row_labels", "save_labels"]


def predictions_dir(csv_path: str | os.PathLike[str]) -> Path:
    """The sidecar folder of a results CSV: ``results/x.csv`` -> ``results/x.predictions``."""
    return Path(csv_path).with_suffix(".predictions")


def labels_sha256(labels: np.ndarray) -> str:
    """SHA-256 of labels as canonical little-endian int64 bytes."""
    return hashlib.sha256(np.ascontiguousarray(labels, dtype="<i8").tobytes()).hexdigest()


def save_labels(folder: str | os.PathLike[str], labels: np.ndarray) -> str:
    """Store ``labels`` as ``<sha256>.npz`` in ``folder`` (atomically, once) and return the hash."""
    folder = Path(folder)
    sha = labels_sha256(labels)
    path = folder / f"{sha}.npz"
    if path.exists():
        return sha
    folder.mkdir(parents=True, exist_ok=True)
    labels = np.asarray(labels)
    small = labels.astype(np.uint8) if labels.size and labels.min() >= 0 and labels.max() < 256 else labels

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:  # a file object: savez would append ".npz" to a name
            np.savez_compressed(f, labels=small)

    atomic_write(path, write)
    return sha


def load_labels(folder: str | os.PathLike[str], sha: str) -> np.ndarray:
    """Load labels saved by :func:`save_labels` and check their hash.

    Raises
    ------
    FileNotFoundError
        If no such file is in ``folder``.
    ResultsSchemaError
        If the stored labels do not hash to ``sha``.
    """
    path = Path(folder) / f"{sha}.npz"
    with np.load(path, allow_pickle=False) as z:
        labels = z["labels"].astype(np.int64)
    if labels_sha256(labels) != sha:
        msg = f"{path}: stored labels do not match their SHA-256 {sha}"
        raise ResultsSchemaError(msg)
    return labels


def row_labels(row: Any, column: str) -> np.ndarray:
    """The labels a result row points to (``predictions_sha256`` or ``truth_sha256``).

    ``row`` comes from :func:`mnist_classic.analysis.runs.load_runs`: its ``_source``
    column names the CSV, whose sidecar folder holds the labels.

    Raises
    ------
    ResultsSchemaError
        When the row names no labels, or its sidecar folder lacks them.
    """
    sha = row[column]
    folder = predictions_dir(row["_source"])
    if not isinstance(sha, str) or not sha:
        msg = f"{row['_source']}: the {row['pipeline']} row has no {column}"
        raise ResultsSchemaError(msg)
    try:
        return load_labels(folder, sha)
    except FileNotFoundError:
        msg = (
            f"{row['_source']}: predictions of {row['pipeline']} ({sha[:12]}...) not found in {folder}; "
            "keep the .predictions folder beside its CSV"
        )
        raise ResultsSchemaError(msg) from None
