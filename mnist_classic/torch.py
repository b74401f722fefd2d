"""PyTorch: any MNIST-format dataset as torchvision's ``MNIST``, offline and verified.

``from mnist_classic.torch import MNIST`` in place of ``from torchvision.datasets
import MNIST`` runs a torchvision tutorial without a download: the bundled MNIST,
any registered dataset (``dataset="fashion-mnist"``) or any directory of IDX
files, each checked against its pinned SHA-256 as
:func:`~mnist_classic.load_dataset` checks it. torchvision is never imported.

A thin adapter over :func:`mnist_classic.data.raw.load_split` (it imports only
``data``). This module is named ``torch`` but never shadows PyTorch: every
import in the package is absolute (``import torch`` is PyTorch, and this module
is ``mnist_classic.torch``). Without PyTorch the module still imports (for the
documentation and doctest collection); :class:`MNIST` and :func:`to_tensor` then
raise an ImportError naming the ``[cnn]`` extra.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .data.raw import load_split

if TYPE_CHECKING:
    import torch
    from torch.utils.data import Dataset as _TorchDataset
else:
    try:
        import torch
        from torch.utils.data import Dataset as _TorchDataset
    except ImportError:  # the class is still defined; using it says what to install
        torch = None
        _TorchDataset = object

__all__ = ["MNIST", "to_tensor"]

_NO_TORCH = "mnist_classic.torch needs PyTorch, which is not installed: pip install 'mnist-classic[cnn]'"


def _require_torch() -> None:
    if torch is None:
        raise ImportError(_NO_TORCH)


def _has_pillow() -> bool:
    """Pillow is installed (then items are PIL images, as torchvision's are)."""
    try:
        from PIL import Image  # noqa: F401
    except ImportError:
        return False
    return True


def to_tensor(image: Any) -> torch.Tensor:
    """An image as a float32 tensor of shape (1, height, width) in [0, 1].

    What torchvision's ``transforms.ToTensor()`` makes of a grayscale image,
    without torchvision: pass it as ``MNIST(transform=to_tensor)`` so that a
    ``DataLoader`` can batch the images.

    Parameters
    ----------
    image : PIL.Image.Image, numpy.ndarray or torch.Tensor
        A grayscale image of shape (height, width): bytes (uint8, scaled by
        1/255), or a float tensor of shape (1, height, width) already in [0, 1]
        (returned as is).

    Returns
    -------
    torch.Tensor

    Raises
    ------
    ImportError
        PyTorch is not installed (the message names the extra).
    """
    _require_torch()
    if isinstance(image, torch.Tensor) and image.is_floating_point():
        return image
    arr = np.asarray(image.numpy() if isinstance(image, torch.Tensor) else image, dtype=np.float32)
    return torch.from_numpy(arr / np.float32(255)).reshape(1, *arr.shape[-2:])


class MNIST(_TorchDataset):
    """An MNIST-format dataset with torchvision's ``MNIST`` interface.

    Parameters
    ----------
    root : str or os.PathLike or None, default=None
        Where downloads go (torchvision's ``root``): the data home of
        :func:`~mnist_classic.get_data_home` (``None``: its default). The
        bundled MNIST needs none; the files of a directory are read where they
        are.
    train : bool, default=True
        The 60,000 training images; ``False`` for the 10,000 test images.
    transform : callable or None, default=None
        Applied to each image: a PIL image (mode ``"L"``) where Pillow is
        installed, as with torchvision, else a float32 tensor of shape
        (1, 28, 28) in [0, 1] (what :func:`to_tensor` makes).
    target_transform : callable or None, default=None
        Applied to each label (an int).
    download : bool, default=False
        Fetch a registered dataset that is not in ``root`` yet (hash-checked).
        The bundled MNIST is never downloaded.
    dataset : str or os.PathLike, default="mnist"
        A registered name (``mnist-classic list datasets``) or a directory
        holding the four IDX files.
    data_dir : str or os.PathLike or None, default=None
        Read the registered ``dataset`` from this directory (such as Debian's
        ``/usr/share/datasets/fashion-mnist``), checked against its pinned
        hashes.

    Attributes
    ----------
    data : torch.Tensor of shape (n, 28, 28), uint8
        The image payload, byte for byte.
    targets : torch.Tensor of shape (n,), int64
    classes : list of str
        The dataset's class names, label 0 first (MNIST's are ``"0"`` to
        ``"9"``; torchvision spells them ``"0 - zero"``, ...).
    class_to_idx : dict of str to int
    name : str
        The dataset's registered name (or the directory's name).
    sha256 : dict of str to str
        Role -> SHA-256 of the payloads read.

    Raises
    ------
    ImportError
        PyTorch is not installed (the message names the extra).
    ValueError, FileNotFoundError, IDXError, DataIntegrityError
        As :func:`~mnist_classic.load_dataset`: an unknown dataset, a
        directory without the four files, a file that is not IDX, a payload
        that is not the pinned one.

    Examples
    --------
    >>> from mnist_classic.torch import MNIST
    >>> test = MNIST(train=False)  # doctest: +SKIP
    >>> len(test), tuple(test.data.shape), test.targets.dtype  # doctest: +SKIP
    (10000, (28, 28), torch.int64)
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        download: bool = False,
        *,
        dataset: str | os.PathLike[str] = "mnist",
        data_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        _require_torch()
        split = load_split(dataset, train=train, data_dir=data_dir, data_home=root, download=download)
        self.root = None if root is None else os.fspath(root)
        self.train = split.train
        self.transform = transform
        self.target_transform = target_transform
        self.name = split.name
        self.sha256 = {f.role: f.payload_sha256 for f in split.files}
        self.data = torch.from_numpy(split.images)
        self.targets = torch.from_numpy(split.labels.astype(np.int64))
        self.classes = list(split.class_names)
        self._pil = _has_pillow()  # decided once: the same type for every item (a bool: the dataset pickles)

    @property
    def class_to_idx(self) -> dict[str, int]:
        """Class name -> label."""
        return {name: i for i, name in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """``(image, label)``, each through its transform."""
        pixels, target = self.data[index], int(self.targets[index])
        if self._pil:
            from PIL import Image

            image: Any = Image.fromarray(pixels.numpy())
        else:
            image = to_tensor(pixels)
        if self.transform is not None:
            image = self.transform(image)
        label: Any = target if self.target_transform is None else self.target_transform(target)
        return image, label

    def __repr__(self) -> str:
        lines = [
            f"Dataset {self.name}",
            f"    Number of datapoints: {len(self)}",
            f"    Root location: {self.root if self.root is not None else '(the data home)'}",
            f"    Split: {'Train' if self.train else 'Test'}",
        ]
        for label, fn in (("Transform", self.transform), ("Target transform", self.target_transform)):
            if fn is not None:
                lines.append(f"    {label}: {fn!r}")
        return "\n".join(lines)
