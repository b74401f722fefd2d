"""Load an MNIST-format dataset as normalized, verified matrices.

``load_dataset`` resolves a dataset (bundled, downloaded or a local directory,
see :mod:`mnist_classic.data.sources`), reads its four IDX files through the decoded
cache (:mod:`mnist_classic.data.decoded`), checks that they agree with each other,
and returns float32 images in [0, 1] of shape (n, pixels) with int64 labels.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .datasets import ROLES, DatasetSpec, digit_names
from .decoded import CACHE_VERSION, DataIntegrityError, IDXFileInfo, decode_file, load_file
from .fetch import get_data_home
from .idx import IDXError
from .sources import find_idx_files, identify, identify_spec, resolve_files, write_pins

__all__ = [
    "DataIntegrityError",
    "Dataset",
    "FileCheck",
    "IDXFileInfo",
    "find_idx_files",
    "load_dataset",
    "verify_dataset",
]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded dataset: matrices, labels and where they came from.

    Attributes
    ----------
    name : str
        Registry name, or the directory's name for an unregistered local set.
    X_train, X_test : numpy.ndarray of shape (n, pixels), float32 in [0, 1]
    y_train, y_test : numpy.ndarray of shape (n,), int64
    files : tuple of IDXFileInfo
        The four source files, in :data:`~mnist_classic.data.datasets.ROLES` order.
    subset : str
        ``"first"`` (canonical order) or ``"stratified(seed=S)"``.
    class_names : tuple of str
        The name of each label, label 0 first: the registered dataset's
        (:attr:`DatasetSpec.class_names`), also for a directory whose payload
        hashes identify it as one; ``"0"``, ``"1"``, ... for any other.
    image_shape : tuple of int
        (height, width) of an image, upright: a row of ``X_train`` is such an
        image flattened row by row.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    files: tuple[IDXFileInfo, ...]
    subset: str = "first"
    class_names: tuple[str, ...] = ()
    image_shape: tuple[int, ...] = ()

    @property
    def sha256(self) -> dict[str, str]:
        """Role -> SHA-256 of the decompressed payload."""
        return {f.role: f.payload_sha256 for f in self.files}

    def metadata(self) -> dict[str, Any]:
        """A JSON-ready description: name, files, hashes, shapes, subset."""
        return {
            "name": self.name,
            "files": {f.role: f.path for f in self.files},
            "sha256": self.sha256,
            "shapes": {
                "X_train": list(self.X_train.shape),
                "y_train": list(self.y_train.shape),
                "X_test": list(self.X_test.shape),
                "y_test": list(self.y_test.shape),
            },
            "subset": self.subset,
            "class_names": list(self.class_names),
        }

    def _images(self, split: str, method: str) -> tuple[np.ndarray, np.ndarray]:
        if split not in ("train", "test"):
            msg = f"The 'split' parameter of Dataset.{method} must be 'train' or 'test'. Got {split!r} instead."
            raise ValueError(msg)
        X, y = (self.X_train, self.y_train) if split == "train" else (self.X_test, self.y_test)
        height, width = self.image_shape or next(f.shape[1:] for f in self.files if f.role == "train_images")
        # A copy: X may be a read-only memory map of the decoded cache, which torch refuses to share.
        return np.array(X, dtype=np.float32).reshape(len(X), height, width), np.array(y, dtype=np.int64)

    def to_torch(self, split: str = "train") -> Any:
        """The images and labels of ``split`` as a PyTorch ``TensorDataset``.

        Parameters
        ----------
        split : {"train", "test"}, default="train"

        Returns
        -------
        torch.utils.data.TensorDataset
            float32 images of shape (n, 1, height, width) in [0, 1] (channels
            first, as ``torch.nn.Conv2d`` takes them) and int64 labels.

        Raises
        ------
        ImportError
            PyTorch is not installed (the message names the extra).
        ValueError
            ``split`` is neither ``"train"`` nor ``"test"``.

        Examples
        --------
        >>> ds = load_dataset("mnist", n_train=100, n_test=10)
        >>> images, label = ds.to_torch()[0]  # doctest: +SKIP
        >>> tuple(images.shape), images.dtype, int(label)  # doctest: +SKIP
        ((1, 28, 28), torch.float32, 5)
        """
        X, y = self._images(split, "to_torch")
        try:
            import torch
        except ImportError:
            msg = "Dataset.to_torch needs PyTorch, which is not installed: pip install 'mnist-classic[cnn]'"
            raise ImportError(msg) from None
        from torch.utils.data import TensorDataset

        return TensorDataset(torch.from_numpy(X[:, None]), torch.from_numpy(y))

    def to_tf(self, split: str = "train") -> Any:
        """The images and labels of ``split`` as a TensorFlow ``tf.data.Dataset``.

        Parameters
        ----------
        split : {"train", "test"}, default="train"

        Returns
        -------
        tf.data.Dataset
            One element per image: float32 images of shape (height, width, 1)
            in [0, 1] (channels last, TensorFlow's and Keras's default layout)
            and int64 labels; ``.batch(n)`` makes batches.

        Raises
        ------
        ImportError
            TensorFlow is not installed (the message names the extra).
        ValueError
            ``split`` is neither ``"train"`` nor ``"test"``.
        """
        X, y = self._images(split, "to_tf")
        try:
            import tensorflow as tf
        except ImportError:
            msg = "Dataset.to_tf needs TensorFlow, which is not installed: pip install 'mnist-classic[tensorflow]'"
            raise ImportError(msg) from None
        return tf.data.Dataset.from_tensor_slices((X[..., None], y))


@dataclass(frozen=True)
class FileCheck:
    """The outcome of verifying one file against its pinned hash."""

    role: str
    path: str
    expected: str | None
    actual: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the payload was read and its hash is the pinned one."""
        return self.error is None and self.expected is not None and self.expected == self.actual


def _check_int(value: Any, name: str, high: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= high:
        msg = f"The '{name}' parameter of load_dataset must be an int in [1, {high}] or None. Got {value!r} instead."
        raise ValueError(msg)


def _subset(X: np.ndarray, y: np.ndarray, n: int | None, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    if n is None or n == len(y):
        return X, y
    if seed is None:
        return X[:n], y[:n]
    # Deferred import: scikit-learn is only needed for stratified samples.
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y)
    if n < np.count_nonzero(counts):
        msg = f"A stratified sample needs at least one image per class ({np.count_nonzero(counts)}). Got {n}."
        raise ValueError(msg)
    try:
        idx, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    except ValueError as exc:
        msg = f"A stratified sample of {n} of {len(y)} images is not possible ({exc}); use seed=None for the first n."
        raise ValueError(msg) from None
    idx = np.sort(idx)
    return X[idx], y[idx]


def load_dataset(
    dataset: str | os.PathLike[str] = "mnist",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: int | None = None,
    data_home: str | os.PathLike[str] | None = None,
    download: bool = True,
    cache: bool = True,
) -> Dataset:
    """Load an MNIST-format dataset as normalized, verified matrices.

    Parameters
    ----------
    dataset : str or os.PathLike, default="mnist"
        A registered name (``mnist list datasets``) or a directory holding the
        four IDX files (raw or .gz).
    data_dir : str or os.PathLike or None, default=None
        Read the registered ``dataset`` from this directory instead of the
        bundled or downloaded copy; its payloads are checked against the
        dataset's pinned hashes.
    n_train, n_test : int or None, default=None
        Keep only this many training / test images; ``None`` keeps all.
    seed : int or None, default=None
        ``None`` keeps the first ``n`` images in canonical order; an int draws
        a stratified sample with this seed instead.
    data_home : str or os.PathLike or None, default=None
        Where downloads and the decoded cache live (see
        :func:`~mnist_classic.data.fetch.get_data_home`).
    download : bool, default=True
        Fetch a registered dataset that is not in ``data_home`` yet.
    cache : bool, default=True
        Use and fill the decoded cache (``<data_home>/decoded``).

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        Unknown dataset or bad ``n_train``/``n_test``/``seed``.
    FileNotFoundError
        Missing directory or IDX file.
    IDXError
        A file that is not valid MNIST-format IDX (the message names it).
    DataIntegrityError
        A payload whose SHA-256 differs from the pinned one, or files that
        disagree with each other.

    Examples
    --------
    >>> ds = load_dataset("mnist", n_train=1000, n_test=500)
    >>> ds.X_train.shape, ds.X_train.dtype.name, ds.y_train[:5].tolist()
    ((1000, 784), 'float32', [5, 0, 4, 1, 9])
    """
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        msg = f"The 'seed' parameter of load_dataset must be a non-negative int or None. Got {seed!r} instead."
        raise ValueError(msg)
    spec, paths, pins, pin_folder = resolve_files(dataset, data_dir, data_home, download)
    transpose = spec.transpose if spec else False
    cache_dir = get_data_home(data_home) / "decoded" / CACHE_VERSION if cache else None
    # Inflating, hashing and normalizing release the GIL: the four files load in parallel.
    with ThreadPoolExecutor(max_workers=len(ROLES)) as pool:
        loaded = list(pool.map(lambda r: load_file(paths[r], r, pins.get(r), transpose, cache_dir), ROLES))
    arrays = {info.role: arr for arr, info in loaded}
    infos = [info for _, info in loaded]
    _check_consistent(arrays, infos, spec)
    if pin_folder is not None and spec is not None and any(r not in pins for r in ROLES):
        write_pins(pin_folder, {i.role: i.payload_sha256 for i in infos})
    hashes = {i.role: i.payload_sha256 for i in infos}
    known = spec or identify_spec(hashes)
    name = spec.name if spec else identify(hashes, Path(os.fspath(dataset)))
    if known is not None:
        class_names = known.class_names
    else:
        top = max((int(arrays[r].max()) for r in ("train_labels", "test_labels") if arrays[r].size), default=0)
        class_names = digit_names(max(10, top + 1))
    _check_int(n_train, "n_train", len(arrays["train_labels"]))
    _check_int(n_test, "n_test", len(arrays["test_labels"]))
    X_train, y_train = _subset(arrays["train_images"], arrays["train_labels"], n_train, seed)
    X_test, y_test = _subset(arrays["test_images"], arrays["test_labels"], n_test, seed)
    subset = "first" if seed is None else f"stratified(seed={seed})"
    rows, cols = next(i.shape[1:] for i in infos if i.role == "train_images")
    image_shape = (cols, rows) if transpose else (rows, cols)
    return Dataset(name, X_train, y_train, X_test, y_test, tuple(infos), subset, class_names, image_shape)


def _check_consistent(arrays: dict[str, np.ndarray], infos: list[IDXFileInfo], spec: DatasetSpec | None) -> None:
    by_role = {i.role: i for i in infos}
    for split in ("train", "test"):
        n_img, n_lab = by_role[f"{split}_images"].shape[0], by_role[f"{split}_labels"].shape[0]
        if n_img != n_lab:
            msg = f"{by_role[f'{split}_labels'].path}: {n_lab} labels for {n_img} {split} images"
            raise DataIntegrityError(msg)
    if by_role["train_images"].shape[1:] != by_role["test_images"].shape[1:]:
        msg = (
            f"{by_role['test_images'].path}: test images are {by_role['test_images'].shape[1:]}, "
            f"train images {by_role['train_images'].shape[1:]}"
        )
        raise DataIntegrityError(msg)
    if spec is not None:
        for role in ("train_labels", "test_labels"):
            y = arrays[role]
            if y.size and int(y.max()) >= spec.n_classes:
                top = spec.n_classes - 1
                msg = f"{by_role[role].path}: label {int(y.max())} out of range [0, {top}] for {spec.name}"
                raise DataIntegrityError(msg)


def verify_dataset(
    dataset: str = "mnist",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    data_home: str | os.PathLike[str] | None = None,
) -> list[FileCheck]:
    """Decode every file of ``dataset`` afresh and compare it with the pinned hashes.

    Parameters
    ----------
    dataset : str, default="mnist"
        Registered name whose pinned hashes are the reference.
    data_dir : str or os.PathLike or None, default=None
        Check the files in this directory instead of the dataset's own copy.
    data_home : str or os.PathLike or None, default=None
        Where downloaded datasets live.

    Returns
    -------
    list of FileCheck
        One per role; all ``ok`` only when every payload matches.

    Raises
    ------
    ValueError
        Unknown dataset, or one with no pinned hashes yet.
    FileNotFoundError
        Missing directory or file.
    """
    spec, paths, pins, _ = resolve_files(dataset, data_dir, data_home, download=False)
    if spec is None:
        msg = f"The 'dataset' parameter of verify_dataset must be a registered name. Got {dataset!r} instead."
        raise ValueError(msg)
    if not pins:
        msg = f"{spec.name} has no pinned payload hashes yet: run 'mnist-classic data download {spec.name}' first"
        raise ValueError(msg)
    checks = []
    for role in ROLES:
        path = paths[role]
        try:
            _, actual = decode_file(path, path.read_bytes(), role, None)
        except (OSError, IDXError) as exc:
            checks.append(FileCheck(role, str(path), pins.get(role), None, str(exc)))
            continue
        checks.append(FileCheck(role, str(path), pins.get(role), actual))
    return checks
