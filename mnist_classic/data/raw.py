"""One split of a dataset as the bytes of its IDX files: uint8 images and labels, verified.

:func:`load_split` is what the framework adapters (``mnist_classic.torch``,
``mnist_classic.keras``) stand on. It finds the files the way
:func:`~mnist_classic.data.loader.load_dataset` does (bundled, downloaded or a
directory), checks each payload against the pinned SHA-256, checks that the
images are MNIST images and the labels agree with them, and returns the
payloads themselves, unscaled: ``uint8`` of shape (n, height, width) and
``uint8`` labels, the layout of torchvision's ``MNIST.data`` and of
``keras.datasets.mnist.load_data()``. The decoded cache is not used: it holds
the normalized float32 matrices, not the bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datasets import ROLES, digit_names
from .decoded import DataIntegrityError, IDXFileInfo, decode_file
from .sources import identify, identify_spec, resolve_files, write_pins

__all__ = ["Split", "load_split"]


@dataclass(frozen=True, eq=False)
class Split:
    """One split (train or test) of a dataset, as the bytes of its IDX payloads.

    Attributes
    ----------
    name : str
        Registry name, or the directory's name for an unregistered local set.
    train : bool
        The training split (else the test split).
    images : numpy.ndarray of shape (n, height, width), uint8
        The image payload, writable; upright (a dataset stored transposed,
        such as EMNIST, is turned the way the loader turns it).
    labels : numpy.ndarray of shape (n,), uint8
        The label payload, writable.
    files : tuple of IDXFileInfo
        The images' file, then the labels' file.
    class_names : tuple of str
        The name of each label, label 0 first.
    """

    name: str
    train: bool
    images: np.ndarray
    labels: np.ndarray
    files: tuple[IDXFileInfo, ...]
    class_names: tuple[str, ...]


def load_split(
    dataset: str | os.PathLike[str] = "mnist",
    *,
    train: bool = True,
    data_dir: str | os.PathLike[str] | None = None,
    data_home: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> Split:
    """Load one split of an MNIST-format dataset as its uint8 payloads, verified.

    Parameters
    ----------
    dataset : str or os.PathLike, default="mnist"
        A registered name (``mnist-classic list datasets``) or a directory
        holding the four IDX files (raw or .gz).
    train : bool, default=True
        The training split; ``False`` for the test split.
    data_dir : str or os.PathLike or None, default=None
        Read the registered ``dataset`` from this directory; its payloads are
        checked against the dataset's pinned hashes.
    data_home : str or os.PathLike or None, default=None
        Where downloads live (see :func:`~mnist_classic.data.fetch.get_data_home`).
    download : bool, default=True
        Fetch a registered dataset that is not in ``data_home`` yet.

    Returns
    -------
    Split

    Raises
    ------
    ValueError
        Unknown dataset, or ``train`` not a bool.
    FileNotFoundError
        Missing directory or IDX file, or a dataset not downloaded (with
        ``download=False``).
    IDXError
        A file that is not valid MNIST-format IDX (the message names it).
    DataIntegrityError
        A payload whose SHA-256 differs from the pinned one, or labels that
        disagree with the images.

    Examples
    --------
    >>> test = load_split("mnist", train=False)
    >>> test.images.shape, test.images.dtype.name, test.labels[:5].tolist()
    ((10000, 28, 28), 'uint8', [7, 2, 1, 0, 4])
    """
    if not isinstance(train, (bool, np.bool_)):
        msg = f"The 'train' parameter of load_split must be a bool. Got {train!r} instead."
        raise ValueError(msg)
    spec, paths, pins, pin_folder = resolve_files(dataset, data_dir, data_home, download)
    split = "train" if train else "test"
    arrays: dict[str, np.ndarray] = {}
    infos: list[IDXFileInfo] = []
    for role in (f"{split}_images", f"{split}_labels"):
        path = paths[role]
        arr, sha = decode_file(path, path.read_bytes(), role, pins.get(role))
        arrays[role] = arr
        infos.append(IDXFileInfo(role, str(path), sha, "ubyte", tuple(int(d) for d in arr.shape)))
    images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
    if len(images) != len(labels):
        msg = f"{infos[1].path}: {len(labels)} labels for {len(images)} {split} images"
        raise DataIntegrityError(msg)
    if spec is not None and labels.size and int(labels.max()) >= spec.n_classes:
        top = spec.n_classes - 1
        msg = f"{infos[1].path}: label {int(labels.max())} out of range [0, {top}] for {spec.name}"
        raise DataIntegrityError(msg)
    hashes = {i.role: i.payload_sha256 for i in infos}
    if pin_folder is not None and spec is not None and any(r not in pins for r in hashes):
        # Pinned on first use, as load_dataset pins; the other split's pins are kept.
        write_pins(pin_folder, {r: h for r in ROLES if (h := {**pins, **hashes}.get(r))})
    known = spec or identify_spec(hashes)
    name = spec.name if spec else identify(hashes, Path(os.fspath(dataset)))
    if known is not None:
        class_names = known.class_names
    else:
        class_names = digit_names(max(10, int(labels.max()) + 1 if labels.size else 0))
    if spec is not None and spec.transpose:
        images = images.transpose(0, 2, 1)
    # np.array copies: the decoded payload is a read-only view of the file's bytes.
    images, labels = np.array(images, dtype=np.uint8), np.array(labels, dtype=np.uint8)
    return Split(name, bool(train), images, labels, tuple(infos), class_names)
