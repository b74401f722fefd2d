"""scikit-learn estimators this suite adds: Deskew and the torch networks; imports nothing from the rest of the package.

``Deskew`` needs only NumPy and scikit-learn. The networks (``LeNet5Classifier``,
``ResNetClassifier``, ``MobileNetClassifier``, ``ViTClassifier``, all on the one
trainer of ``torch_trainer``) need PyTorch and are imported on first use, so
importing this package does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .deskew import Deskew

if TYPE_CHECKING:  # pragma: no cover
    from .lenet import LeNet5Classifier
    from .mobilenet import MobileNetClassifier
    from .resnet import ResNetClassifier
    from .vit import ViTClassifier

__all__ = ["Deskew", "LeNet5Classifier", "MobileNetClassifier", "ResNetClassifier", "ViTClassifier"]

# Public names served lazily (name -> submodule), see __getattr__.
_LAZY: dict[str, str] = {
    "LeNet5Classifier": "lenet",
    "ResNetClassifier": "resnet",
    "MobileNetClassifier": "mobilenet",
    "ViTClassifier": "vit",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
