"""LeNet-5 (LeCun et al., 1998) as a scikit-learn classifier, on the shared torch trainer.

PyTorch is imported inside the methods, so importing this module (and the
package) does not need it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .torch_trainer import TorchClassifier

__all__ = ["LeNet5Classifier"]


class LeNet5Classifier(TorchClassifier):
    """LeNet-5 convolutional network on flattened 28x28 images.

    Architecture: conv 6@5x5 (padding 2) - ReLU - max-pool 2 - conv 16@5x5 -
    ReLU - max-pool 2 - dense 120 - ReLU - dense 84 - ReLU - dense
    ``n_classes`` (61,706 parameters for ten classes); cross-entropy loss,
    Adam, mini-batches drawn in a seeded random order. (LeCun et al., 1998
    used tanh-like units, average pooling ("subsampling") and RBF outputs;
    ReLU and max-pooling train faster and reach the same accuracy.)

    Parameters
    ----------
    max_epochs : int, default=12
        Passes over the training set.
    batch_size : int, default=128
        Images per gradient step.
    learning_rate : float, default=1e-3
        Adam's initial step size; multiplied by ``lr_decay`` after every epoch.
    lr_decay : float, default=0.85
        Per-epoch multiplicative decay of the learning rate.
    weight_decay : float, default=0.0
        L2 penalty (Adam's ``weight_decay``).
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation and the batch order. With an int,
        two fits on the same machine, library versions and ``n_jobs``
        give identical predictions.
    n_jobs : int or None, default=None
        Threads torch uses during ``fit`` and ``predict`` (``torch.set_num_threads``);
        the previous setting is restored afterwards. None leaves torch's default.
    device : {'auto', 'cpu', 'cuda', 'mps'}, default='auto'
        Where the network is trained and run; ``auto`` takes cuda, else mps,
        else cpu. The device used is ``device_``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in ``fit``.
    n_features_in_ : int
        Always 784.
    module_ : torch.nn.Module
        The trained network (outputs logits, classes in the order of ``classes_``).
    device_ : str
        The device used: ``cpu``, ``cuda`` or ``mps``.
    n_params_ : int
        Trainable parameters.
    n_epochs_ : int
        Epochs run.
    epoch_times_ : list of float
        Wall-clock seconds of each epoch.
    loss_curve_ : list of float
        Mean training loss of each epoch.
    train_accuracy_curve_ : list of float
        Accuracy on each epoch's training batches, as they were seen.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((64, 784), dtype=np.float32)
    >>> y = np.repeat([3, 7], 32)
    >>> clf = LeNet5Classifier(max_epochs=1, random_state=0)  # doctest: +SKIP
    >>> clf.fit(X, y).predict(X[:2]).shape  # doctest: +SKIP
    (2,)
    """

    def __init__(
        self,
        max_epochs: int = 12,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        lr_decay: float = 0.85,
        weight_decay: float = 0.0,
        random_state: int | np.random.RandomState | None = None,
        n_jobs: int | None = None,
        device: str = "auto",
    ) -> None:
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lr_decay = lr_decay
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.device = device

    def _build_module(self, n_classes: int) -> Any:
        from torch import nn

        return nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2),  # 6 x 28 x 28
            nn.ReLU(),
            nn.MaxPool2d(2),  # 6 x 14 x 14
            nn.Conv2d(6, 16, kernel_size=5),  # 16 x 10 x 10
            nn.ReLU(),
            nn.MaxPool2d(2),  # 16 x 5 x 5
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, n_classes),
        )

    def _make_scheduler(self, optimizer: Any, steps_per_epoch: int) -> tuple[Any, bool]:
        import torch

        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=self.lr_decay), False
