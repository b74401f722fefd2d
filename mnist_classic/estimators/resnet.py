"""A small residual network (He et al., 2015) for 28x28 digits, as a scikit-learn classifier.

PyTorch is imported inside the methods, so importing this module (and the
package) does not need it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .torch_trainer import ModernTorchClassifier

__all__ = ["ResNetClassifier"]


def _basic_block(c_in: int, c_out: int, stride: int) -> Any:
    """He et al.'s basic block: two 3x3 conv-BN layers, identity (or 1x1 projection) shortcut, ReLU after the sum."""
    import torch
    from torch import nn

    class BasicBlock(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
                nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
                nn.BatchNorm2d(c_out),
            )
            self.shortcut: nn.Module = nn.Identity()
            if stride != 1 or c_in != c_out:
                self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.body(x) + self.shortcut(x))

    return BasicBlock()


class ResNetClassifier(ModernTorchClassifier):
    """A residual network for 28x28 images: three stages of basic blocks, global average pooling.

    Architecture: conv 3x3 to ``width`` channels - BN - ReLU, then three
    stages of ``blocks_per_stage`` basic blocks at 28x28 (``width``
    channels), 14x14 (``2 * width``) and 7x7 (``4 * width``), each stage but
    the first opening with a stride-2 block and a 1x1 projection shortcut;
    global average pooling; a linear layer to the classes. The defaults
    (width 24, one block per stage: 8 conv layers, about 0.17M parameters)
    are the CIFAR ResNet of He et al. (2016, section 4.2) cut down for
    MNIST's small grey images. Trained with AdamW, a one-cycle schedule and
    random shifts of up to ``shift`` pixels (:class:`ModernTorchClassifier`).

    Parameters
    ----------
    width : int, default=24
        Channels of the first stage (then doubled per stage).
    blocks_per_stage : int, default=1
        Basic blocks in each of the three stages.
    max_epochs : int, default=8
        Passes over the training set.
    batch_size : int, default=128
        Images per gradient step.
    learning_rate : float, default=3e-3
        Peak learning rate of the one-cycle schedule.
    weight_decay : float, default=5e-4
        AdamW's decoupled weight decay.
    shift : int, default=2
        Training images are shifted by up to this many pixels each way (0: no augmentation).
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the batch order and the shifts.
    n_jobs : int or None, default=None
        Threads torch uses during ``fit`` and ``predict`` (restored afterwards); None leaves torch's default.
    device : {'auto', 'cpu', 'cuda', 'mps'}, default='auto'
        Where the network runs; ``auto`` takes cuda, else mps, else cpu (recorded in ``device_``).

    Attributes
    ----------
    classes_, n_features_in_, module_, device_, n_params_, n_epochs_, epoch_times_, loss_curve_, train_accuracy_curve_
        As for :class:`~mnist_classic.estimators.torch_trainer.TorchClassifier`.
    """

    def __init__(
        self,
        width: int = 24,
        blocks_per_stage: int = 1,
        max_epochs: int = 8,
        batch_size: int = 128,
        learning_rate: float = 3e-3,
        weight_decay: float = 5e-4,
        shift: int = 2,
        random_state: int | np.random.RandomState | None = None,
        n_jobs: int | None = None,
        device: str = "auto",
    ) -> None:
        self.width = width
        self.blocks_per_stage = blocks_per_stage
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.shift = shift
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.device = device

    def _check_architecture(self) -> None:
        self._check_int("width", self.width)
        self._check_int("blocks_per_stage", self.blocks_per_stage)

    def _build_module(self, n_classes: int) -> Any:
        from torch import nn

        w = self.width
        layers: list[Any] = [nn.Conv2d(1, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
        c_in = w
        for stage, c_out in enumerate((w, 2 * w, 4 * w)):
            for block in range(self.blocks_per_stage):
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(_basic_block(c_in, c_out, stride))
                c_in = c_out
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, n_classes)]
        return nn.Sequential(*layers)
