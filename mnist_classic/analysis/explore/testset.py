"""The test images a result row was measured on, loaded and checked against the row's hashes.

A row names its test set by the dataset, ``n_test``, ``subset`` (the first
images, or a stratified sample with a seed) and the SHA-256 of the test
payloads and labels; :func:`load_image_set` loads that set (bundled, cached or
from ``data_dir``, never downloaded) and refuses images that are not the run's.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...data.datasets import DATASETS
from ...data.loader import DataIntegrityError, load_dataset
from ...results import labels_sha256

__all__ = ["IMAGE_SET_COLUMNS", "ImageSet", "image_set_key", "load_image_set"]

#: The columns that together name a test set: rows that agree on all of them were tested on the same images.
IMAGE_SET_COLUMNS: tuple[str, ...] = (
    "dataset",
    "n_test",
    "subset",
    "sha256_test_images",
    "sha256_test_labels",
    "truth_sha256",
)
_STRATIFIED = re.compile(r"stratified\(seed=(\d+)\)")


@dataclass(frozen=True)
class ImageSet:
    """Test images as bytes (0 = background), their labels and the dataset's class names."""

    name: str
    images: np.ndarray  # (n, height, width) uint8
    labels: np.ndarray  # (n,) int64
    class_names: tuple[str, ...]


def image_set_key(row: Any) -> tuple[str, ...]:
    """The values of :data:`IMAGE_SET_COLUMNS` in ``row``, as strings (``n_test`` without a decimal point)."""
    return tuple(str(int(row[c])) if c == "n_test" else str(row[c]) for c in IMAGE_SET_COLUMNS)


def load_image_set(
    row: Any, *, data_dir: str | os.PathLike[str] | None = None, data_home: str | os.PathLike[str] | None = None
) -> ImageSet:
    """Load the test images of a result row and check them against its hashes.

    Parameters
    ----------
    row : mapping
        A result row (``dataset``, ``n_test``, ``subset``, ``sha256_test_images``,
        ``sha256_test_labels``, ``truth_sha256``).
    data_dir : path-like or None, default=None
        Where the dataset's IDX files are; needed for a dataset that is not
        registered (a run on a directory of files).
    data_home : path-like or None, default=None
        Downloads and the decoded cache (nothing is downloaded).

    Raises
    ------
    ValueError
        A dataset that is not registered, without ``data_dir``.
    FileNotFoundError
        The dataset's files are not on this machine.
    DataIntegrityError
        The images or labels found are not the ones the run used.
    """
    dataset = str(row["dataset"])
    registered = dataset in DATASETS
    if not registered and data_dir is None:
        msg = f"{dataset} is not a registered dataset: pass the folder of its IDX files as data_dir (--data-dir)"
        raise ValueError(msg)
    subset = str(row["subset"])
    stratified = _STRATIFIED.fullmatch(subset)
    if subset != "first" and stratified is None:
        msg = f"The 'subset' column must be 'first' or 'stratified(seed=S)'. Got {subset!r} instead."
        raise ValueError(msg)
    where = dataset if registered else os.fspath(data_dir)  # type: ignore[arg-type]
    ds = load_dataset(
        where,
        data_dir=data_dir if registered else None,
        n_test=int(row["n_test"]),
        seed=int(stratified.group(1)) if stratified else None,
        data_home=data_home,
        download=False,
    )
    for role in ("test_images", "test_labels"):
        if ds.sha256[role] != row[f"sha256_{role}"]:
            msg = (
                f"The {dataset} images found ({where}) are not the run's: sha256_{role} is "
                f"{str(row[f'sha256_{role}'])[:12]}... in the CSV, {ds.sha256[role][:12]}... on disk; "
                "pass the data_dir (--data-dir) the run used"
            )
            raise DataIntegrityError(msg)
    if labels_sha256(ds.y_test) != row["truth_sha256"]:
        msg = f"The {dataset} test labels found ({where}) do not hash to the run's truth_sha256"
        raise DataIntegrityError(msg)
    shape = next(f.shape[1:] for f in ds.files if f.role == "test_images")
    # The loader scales bytes to float32 v / 255; rint(x * 255) gives the bytes back exactly.
    pixels = np.rint(np.asarray(ds.X_test, dtype=np.float32) * 255).astype(np.uint8)
    return ImageSet(ds.name, pixels.reshape(len(pixels), *shape), np.asarray(ds.y_test, dtype=np.int64), ds.class_names)
