"""The predictions sidecar: labels stored beside a results CSV, named by their hash.

Predicted labels are kept in ``<stem>.predictions/<sha256>.npz``, named by the
SHA-256 of the labels (canonical little-endian int64 bytes), which is also the
value of the ``predictions_sha256`` column: the hash both identifies and locates them.
Predicted probabilities are kept the same way, as float32 with the labels of
their columns (:func:`save_probabilities`), named by the ``probabilities_sha256``
column.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_write
from .schema import ResultsSchemaError

__all__ = [
    "labels_sha256",
    "load_labels",
    "load_probabilities",
    "predictions_dir",
    "probabilities_sha256",
    "row_labels",
    "row_probabilities",
    "save_labels",
    "save_probabilities",
]


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


def probabilities_sha256(proba: np.ndarray, classes: np.ndarray) -> str:
    """SHA-256 of probabilities (canonical little-endian float32) and their columns' labels (int64), with the shape."""
    proba = np.ascontiguousarray(proba, dtype="<f4")
    h = hashlib.sha256(f"proba:{proba.shape[0]}x{proba.shape[1]};".encode())
    h.update(np.ascontiguousarray(classes, dtype="<i8").tobytes())
    h.update(proba.tobytes())
    return h.hexdigest()


def save_probabilities(folder: str | os.PathLike[str], proba: np.ndarray, classes: np.ndarray) -> str:
    """Store probabilities (as float32, compressed) and their columns' labels as ``<sha256>.npz``; return the hash.

    Parameters
    ----------
    folder : str or os.PathLike
        The sidecar folder (:func:`predictions_dir`).
    proba : numpy.ndarray of shape (n_samples, n_classes)
        Stored as float32: what :func:`load_probabilities` returns and what the
        row's probability columns are computed from.
    classes : numpy.ndarray of shape (n_classes,)
        The label of each column (the model's ``classes_``), integers.
    """
    folder = Path(folder)
    proba = np.ascontiguousarray(proba, dtype=np.float32)
    classes = np.asarray(classes)
    if proba.ndim != 2 or classes.shape != (proba.shape[1],):
        msg = (
            "probabilities must be (n_samples, n_classes) with one label per column; "
            f"got {proba.shape} and {classes.shape}"
        )
        raise ValueError(msg)
    sha = probabilities_sha256(proba, classes)
    path = folder / f"{sha}.npz"
    if path.exists():
        return sha
    folder.mkdir(parents=True, exist_ok=True)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, proba=proba, classes=classes.astype(np.int64))

    atomic_write(path, write)
    return sha


def load_probabilities(folder: str | os.PathLike[str], sha: str) -> tuple[np.ndarray, np.ndarray]:
    """Load probabilities saved by :func:`save_probabilities` and check their hash: (proba float32, classes int64).

    Raises
    ------
    FileNotFoundError
        If no such file is in ``folder``.
    ResultsSchemaError
        If the file holds no probabilities or they do not hash to ``sha``.
    """
    path = Path(folder) / f"{sha}.npz"
    with np.load(path, allow_pickle=False) as z:
        if "proba" not in z.files:
            msg = f"{path}: holds no probabilities"
            raise ResultsSchemaError(msg)
        proba, classes = z["proba"].astype(np.float32), z["classes"].astype(np.int64)
    if probabilities_sha256(proba, classes) != sha:
        msg = f"{path}: stored probabilities do not match their SHA-256 {sha}"
        raise ResultsSchemaError(msg)
    return proba, classes


def row_probabilities(row: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """The probabilities a result row points to (``probabilities_sha256``), or None when it has none.

    Raises
    ------
    ResultsSchemaError
        When the row names probabilities that its sidecar folder lacks.
    """
    sha = row.get("probabilities_sha256") if hasattr(row, "get") else row["probabilities_sha256"]
    if not isinstance(sha, str) or not sha:
        return None
    folder = predictions_dir(row["_source"])
    try:
        return load_probabilities(folder, sha)
    except FileNotFoundError:
        msg = (
            f"{row['_source']}: probabilities of {row['pipeline']} ({sha[:12]}...) not found in {folder}; "
            "keep the .predictions folder beside its CSV"
        )
        raise ResultsSchemaError(msg) from None
