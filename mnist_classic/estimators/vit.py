"""A small vision Transformer (Dosovitskiy et al., 2020) for 28x28 digits, as a scikit-learn classifier.

PyTorch is imported inside the methods, so importing this module (and the
package) does not need it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .torch_trainer import SIDE, ModernTorchClassifier

__all__ = ["ViTClassifier"]


def _vit(n_classes: int, patch: int, dim: int, depth: int, heads: int, mlp_ratio: int, pool: str) -> Any:
    """Patch embedding (a strided conv), learned positions, pre-norm encoder layers, pooling, a linear head."""
    import torch
    from torch import nn

    n_patches = (SIDE // patch) ** 2

    class ViT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.patches = nn.Conv2d(1, dim, kernel_size=patch, stride=patch)  # one linear map per patch
            self.cls = nn.Parameter(torch.zeros(1, 1, dim)) if pool == "cls" else None
            self.pos = nn.Parameter(torch.randn(1, n_patches + (pool == "cls"), dim) * 0.02)
            # torch's own encoder layer (attention + MLP, residuals), pre-norm as in ViT.
            layer = nn.TransformerEncoderLayer(
                dim, heads, dim * mlp_ratio, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
            )
            self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(dim)
            self.head = nn.Linear(dim, n_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            tokens = self.patches(x).flatten(2).transpose(1, 2)  # batch x patches x dim
            if self.cls is not None:
                tokens = torch.cat([self.cls.expand(x.shape[0], -1, -1), tokens], dim=1)
            states = self.encoder(tokens + self.pos)
            pooled = states[:, 0] if self.cls is not None else states.mean(dim=1)
            out: torch.Tensor = self.head(self.norm(pooled))
            return out

    return ViT()


class ViTClassifier(ModernTorchClassifier):
    """A vision Transformer for 28x28 images: patches, a class token, multi-head self-attention.

    Architecture: the image is cut into ``patch`` x ``patch`` patches (49 of
    them at the default 4), each mapped linearly to ``dim`` features; a
    learned class token and learned position embeddings are added; ``depth``
    pre-norm Transformer encoder layers (``heads`` attention heads, an MLP of
    ``mlp_ratio * dim`` with GELU); the class token's final state, layer-normed,
    goes through a linear layer to the classes (about 61,000 parameters at the
    defaults). Trained with AdamW, a one-cycle schedule and random shifts
    (:class:`ModernTorchClassifier`); no pre-training.

    Parameters
    ----------
    patch : int, default=4
        Side of the square patches; must divide 28.
    dim : int, default=48
        Token width.
    depth : int, default=3
        Encoder layers.
    heads : int, default=4
        Attention heads; must divide ``dim``.
    mlp_ratio : int, default=2
        The encoder's MLP has ``mlp_ratio * dim`` hidden units.
    pool : {'mean', 'cls'}, default='mean'
        What the head reads: the mean of the patch tokens' final states, or
        a learned class token's (ViT's original choice; slower to start
        learning on small data).
    max_epochs : int, default=10
        Passes over the training set.
    batch_size : int, default=16
        Images per gradient step (small: a Transformer trained from scratch needs many steps).
    learning_rate : float, default=1e-3
        Peak learning rate of the one-cycle schedule.
    weight_decay : float, default=5e-2
        AdamW's decoupled weight decay.
    shift : int, default=1
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
        patch: int = 4,
        dim: int = 48,
        depth: int = 3,
        heads: int = 4,
        mlp_ratio: int = 2,
        pool: str = "mean",
        max_epochs: int = 10,
        batch_size: int = 16,
        learning_rate: float = 1e-3,
        weight_decay: float = 5e-2,
        shift: int = 1,
        random_state: int | np.random.RandomState | None = None,
        n_jobs: int | None = None,
        device: str = "auto",
    ) -> None:
        self.patch = patch
        self.dim = dim
        self.depth = depth
        self.heads = heads
        self.mlp_ratio = mlp_ratio
        self.pool = pool
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.shift = shift
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.device = device

    def _check_architecture(self) -> None:
        for name in ("patch", "dim", "depth", "heads", "mlp_ratio"):
            self._check_int(name, getattr(self, name))
        if self.pool not in ("mean", "cls"):
            msg = f"The 'pool' parameter of ViTClassifier must be one of mean, cls. Got {self.pool!r} instead."
            raise ValueError(msg)
        if SIDE % self.patch:
            msg = (
                f"The 'patch' parameter of ViTClassifier must divide {SIDE} (1, 2, 4, 7, 14, 28). "
                f"Got {self.patch!r} instead."
            )
            raise ValueError(msg)
        if self.dim % self.heads:
            msg = f"The 'heads' parameter of ViTClassifier must divide dim={self.dim}. Got {self.heads!r} instead."
            raise ValueError(msg)

    def _build_module(self, n_classes: int) -> Any:
        return _vit(n_classes, self.patch, self.dim, self.depth, self.heads, self.mlp_ratio, self.pool)
