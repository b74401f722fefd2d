"""LeNet-5 as a scikit-learn classifier (PyTorch, CPU).

A thin estimator of our own rather than skorch's ``NeuralNetClassifier``:
skorch returns class indices rather than labels from ``predict`` (it does not
encode ``y``), has no ``random_state``, holds out 20% of the data for
validation unless told otherwise, and the thread count and per-epoch timings
asked for here would need a subclass that overrides ``fit`` anyway. This class
is one module, one optimizer and one training loop, with the estimator
contract kept by hand (every ``__init__`` argument is a parameter, fitted
state ends in ``_``).

PyTorch is imported inside the methods, so importing this module (and the
package) does not need it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

__all__ = ["LeNet5Classifier"]

logger = logging.getLogger(__name__)

_SIDE = 28
_N_FEATURES = _SIDE * _SIDE


def _build_module(n_classes: int) -> Any:
    """LeNet-5 for 28x28 inputs: conv 6@5x5 (pad 2) - pool - conv 16@5x5 - pool - 120 - 84 - n_classes."""
    from torch import nn

    return nn.Sequential(
        nn.Unflatten(1, (1, _SIDE, _SIDE)),
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


@contextlib.contextmanager
def _torch_threads(n_jobs: int | None) -> Iterator[None]:
    """Set torch's intra-op thread count for the block (None: leave it), then restore it."""
    import torch

    previous = torch.get_num_threads()
    if n_jobs is not None:
        torch.set_num_threads(n_jobs)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class LeNet5Classifier(ClassifierMixin, BaseEstimator):
    """LeNet-5 convolutional network on flattened 28x28 images.

    Architecture: conv 6@5x5 (padding 2) - ReLU - max-pool 2 - conv 16@5x5 -
    ReLU - max-pool 2 - dense 120 - ReLU - dense 84 - ReLU - dense
    ``n_classes``; cross-entropy loss, Adam, mini-batches drawn in a seeded
    random order, on the CPU. (LeCun et al., 1998 used tanh-like units,
    average pooling ("subsampling") and RBF outputs; ReLU and max-pooling
    train faster and reach the same accuracy.)

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

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in ``fit``.
    n_features_in_ : int
        Always 784.
    module_ : torch.nn.Module
        The trained network (outputs logits, classes in the order of ``classes_``).
    n_epochs_ : int
        Epochs run.
    epoch_times_ : list of float
        Wall-clock seconds of each epoch.
    loss_curve_ : list of float
        Mean training loss of each epoch.

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
    ) -> None:
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lr_decay = lr_decay
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _check_params(self) -> None:
        for name in ("max_epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
                msg = f"The '{name}' parameter of LeNet5Classifier must be an int >= 1. Got {value!r} instead."
                raise ValueError(msg)
        if self.n_jobs is not None and (
            not isinstance(self.n_jobs, int | np.integer) or isinstance(self.n_jobs, bool) or self.n_jobs < 1
        ):
            msg = (
                f"The 'n_jobs' parameter of LeNet5Classifier must be an int >= 1 or None. Got {self.n_jobs!r} instead."
            )
            raise ValueError(msg)

    @staticmethod
    def _check_n_features(X: NDArray[np.float32]) -> None:
        if X.shape[1] != _N_FEATURES:
            msg = (
                f"X has {X.shape[1]} features, but LeNet5Classifier is expecting {_N_FEATURES} features as input "
                f"(flattened 28x28 images). Got shape {X.shape!r} instead."
            )
            raise ValueError(msg)

    def fit(self, X: ArrayLike, y: ArrayLike) -> LeNet5Classifier:
        """Train the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, 784)
            Flattened 28x28 images, intensities in [0, 1].
        y : array-like of shape (n_samples,)
            Labels (any type ``np.unique`` sorts).

        Returns
        -------
        self : LeNet5Classifier
        """
        self._check_params()
        X_arr, y_arr = check_X_y(X, y, dtype=np.float32, order="C")
        self._check_n_features(X_arr)
        import torch

        self.classes_, y_idx = np.unique(y_arr, return_inverse=True)
        self.n_features_in_ = _N_FEATURES
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        deterministic = torch.are_deterministic_algorithms_enabled()
        with _torch_threads(self.n_jobs):
            torch.use_deterministic_algorithms(True)
            try:
                self._train(torch.tensor(X_arr), torch.tensor(y_idx, dtype=torch.int64), seed)
            finally:
                torch.use_deterministic_algorithms(deterministic)
        return self

    def _train(self, X: Any, y: Any, seed: int) -> None:
        import torch
        from torch import nn

        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        module = _build_module(len(self.classes_))
        optimizer = torch.optim.Adam(module.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=self.lr_decay)
        loss_fn = nn.CrossEntropyLoss()
        n = X.shape[0]
        self.epoch_times_: list[float] = []
        self.loss_curve_: list[float] = []
        module.train()
        for epoch in range(self.max_epochs):
            start = time.perf_counter()
            order = torch.randperm(n, generator=generator)
            total = 0.0
            for i in range(0, n, self.batch_size):
                idx = order[i : i + self.batch_size]
                optimizer.zero_grad()
                loss = loss_fn(module(X[idx]), y[idx])
                loss.backward()
                optimizer.step()
                total += loss.item() * len(idx)
            scheduler.step()
            self.epoch_times_.append(time.perf_counter() - start)
            self.loss_curve_.append(total / n)
            logger.info("epoch %d: loss %.4f, %.1f s", epoch + 1, self.loss_curve_[-1], self.epoch_times_[-1])
        module.eval()
        self.module_ = module
        self.n_epochs_ = len(self.epoch_times_)

    def _logits(self, X: ArrayLike) -> NDArray[np.float32]:
        check_is_fitted(self, "module_")
        X_arr = check_array(X, dtype=np.float32, order="C")
        self._check_n_features(X_arr)
        import torch

        out = np.empty((X_arr.shape[0], len(self.classes_)), dtype=np.float32)
        with _torch_threads(self.n_jobs), torch.inference_mode():
            for i in range(0, X_arr.shape[0], 2048):
                out[i : i + 2048] = self.module_(torch.tensor(X_arr[i : i + 2048])).numpy()
        return out

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float32]:
        """Class probabilities (softmax of the network's outputs), columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, 784)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        logits = self._logits(X)
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """Predicted labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, 784)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        return self.classes_[np.argmax(self._logits(X), axis=1)]
