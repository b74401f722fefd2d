"""Keras: any MNIST-format dataset as ``keras.datasets.mnist.load_data()`` returns it, offline and verified.

``from mnist_classic.keras import load_data`` in place of ``from
keras.datasets.mnist import load_data`` runs a Keras tutorial without a download:
the same tuples, shapes and dtypes, read from the bundled MNIST, any registered
dataset or any directory of IDX files, each payload checked against its pinned
SHA-256. Keras itself is not imported (the arrays are NumPy's), so this works on
every backend; ``pip install 'mnist-classic[keras]'`` installs Keras 3, which
runs on PyTorch with ``KERAS_BACKEND=torch``.

A thin adapter over :func:`mnist_classic.data.raw.load_split` (it imports only
``data``); never shadows Keras, since every import in the package is absolute.
"""

from __future__ import annotations

import os

import numpy as np

from .data.raw import load_split

__all__ = ["load_data"]


def load_data(
    dataset: str | os.PathLike[str] = "mnist",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    data_home: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(x_train, y_train), (x_test, y_test)``, as ``keras.datasets.mnist.load_data()`` returns them.

    Parameters
    ----------
    dataset : str or os.PathLike, default="mnist"
        A registered name (``mnist-classic list datasets``) or a directory
        holding the four IDX files.
    data_dir : str or os.PathLike or None, default=None
        Read the registered ``dataset`` from this directory (such as Debian's
        ``/usr/share/datasets/fashion-mnist``), checked against its pinned
        hashes.
    data_home : str or os.PathLike or None, default=None
        Where downloads live (see :func:`~mnist_classic.get_data_home`).
    download : bool, default=True
        Fetch a registered dataset that is not in ``data_home`` yet
        (hash-checked), as Keras does; the bundled MNIST is never downloaded.

    Returns
    -------
    (x_train, y_train), (x_test, y_test) : tuple of tuple of numpy.ndarray
        Images uint8 of shape (n, 28, 28), the IDX payloads byte for byte;
        labels uint8 of shape (n,).

    Raises
    ------
    ValueError, FileNotFoundError, IDXError, DataIntegrityError
        As :func:`~mnist_classic.load_dataset`: an unknown dataset, a
        directory without the four files, a file that is not IDX, a payload
        that is not the pinned one.

    Examples
    --------
    >>> (x_train, y_train), (x_test, y_test) = load_data()
    >>> x_train.shape, x_train.dtype.name, y_train.dtype.name, x_test.shape
    ((60000, 28, 28), 'uint8', 'uint8', (10000, 28, 28))
    """
    splits = [
        load_split(dataset, train=train, data_dir=data_dir, data_home=data_home, download=download)
        for train in (True, False)
    ]
    return (splits[0].images, splits[0].labels), (splits[1].images, splits[1].labels)
