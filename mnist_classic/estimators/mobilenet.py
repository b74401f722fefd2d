"""A small MobileNetV2 (Sandler et al., 2018) for 28x28 digits, as a scikit-learn classifier.

PyTorch is imported inside the methods, so importing this module (and the
package) does not need it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .torch_trainer import ModernTorchClassifier

__all__ = ["MobileNetClassifier"]

#: Inverted-residual stages after the stride-2 stem (14x14): (expansion t, output channels c, blocks n, first
#: stride s), MobileNetV2's table 2 cut to the resolution: one more stride-2 stage (14 -> 7) instead of four,
#: and expansion 4 for 6 (CPU time).
_STAGES: tuple[tuple[int, int, int, int], ...] = ((1, 16, 1, 1), (4, 24, 2, 1), (4, 48, 3, 2), (4, 64, 2, 1))


def _inverted_residual(c_in: int, c_out: int, stride: int, expansion: int) -> Any:
    """1x1 expansion - 3x3 depthwise - 1x1 linear projection, BN after each, ReLU6 after the first two.

    The input is added to the output when the shapes allow (stride 1, same channels).
    """
    import torch
    from torch import nn

    hidden = c_in * expansion
    layers: list[nn.Module] = []
    if expansion != 1:
        layers += [nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
    layers += [
        nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),  # depthwise
        nn.BatchNorm2d(hidden),
        nn.ReLU6(inplace=True),
        nn.Conv2d(hidden, c_out, 1, bias=False),  # linear bottleneck: no activation
        nn.BatchNorm2d(c_out),
    ]

    class InvertedResidual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(*layers)
            self.residual = stride == 1 and c_in == c_out

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.body(x)
            return x + out if self.residual else out

    return InvertedResidual()


class MobileNetClassifier(ModernTorchClassifier):
    """MobileNetV2 for 28x28 images: depthwise-separable inverted-residual blocks with linear bottlenecks.

    Architecture: conv 3x3 stride 2 to ``round(16 * width_mult)`` channels
    (14x14) - BN - ReLU6; inverted-residual stages (expansion, channels,
    blocks, stride) (1, 16, 1, 1), (4, 24, 2, 1), (4, 48, 3, 2), (4, 64, 2, 1), channels
    scaled by ``width_mult``; conv 1x1 to ``head`` channels - BN - ReLU6;
    global average pooling; a linear layer to the classes (about 40,000
    parameters at the defaults). Trained with AdamW, a one-cycle schedule
    and random shifts (:class:`ModernTorchClassifier`).

    Parameters
    ----------
    width_mult : float, default=0.5
        Multiplies every stage's channels (MobileNet's width multiplier).
    head : int, default=128
        Channels of the last 1x1 convolution.
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
        width_mult: float = 0.5,
        head: int = 128,
        max_epochs: int = 8,
        batch_size: int = 128,
        learning_rate: float = 3e-3,
        weight_decay: float = 5e-4,
        shift: int = 2,
        random_state: int | np.random.RandomState | None = None,
        n_jobs: int | None = None,
        device: str = "auto",
    ) -> None:
        self.width_mult = width_mult
        self.head = head
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.shift = shift
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.device = device

    def _check_architecture(self) -> None:
        self._check_int("head", self.head)
        wm = self.width_mult
        if not isinstance(wm, int | float | np.number) or isinstance(wm, bool) or not wm > 0:
            msg = f"The 'width_mult' parameter of MobileNetClassifier must be a number > 0. Got {wm!r} instead."
            raise ValueError(msg)

    def _build_module(self, n_classes: int) -> Any:
        from torch import nn

        def channels(c: int) -> int:
            return max(4, round(c * self.width_mult))

        c_in = channels(16)
        layers: list[Any] = [nn.Conv2d(1, c_in, 3, 2, 1, bias=False), nn.BatchNorm2d(c_in), nn.ReLU6(inplace=True)]
        for t, c, n, s in _STAGES:
            for i in range(n):
                layers.append(_inverted_residual(c_in, channels(c), s if i == 0 else 1, t))
                c_in = channels(c)
        layers += [nn.Conv2d(c_in, self.head, 1, bias=False), nn.BatchNorm2d(self.head), nn.ReLU6(inplace=True)]
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(self.head, n_classes)]
        return nn.Sequential(*layers)
