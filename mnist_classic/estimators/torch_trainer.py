"""The one torch trainer every neural estimator of the suite shares.

A thin scikit-learn classifier of our own rather than skorch's
``NeuralNetClassifier``: skorch returns class indices rather than labels from
``predict`` (it does not encode ``y``), has no ``random_state``, holds out 20%
of the data for validation unless told otherwise, and the thread count,
device choice and per-epoch curves asked for here would need a subclass that
overrides ``fit`` anyway. :class:`TorchClassifier` is one training loop with
the estimator contract kept by hand (every ``__init__`` argument is a
parameter, fitted state ends in ``_``); a model is a subclass that builds its
``torch.nn.Module`` and, if it needs to, its optimizer, learning-rate schedule
and augmentation.

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

__all__ = ["DEVICES", "ModernTorchClassifier", "TorchClassifier", "resolve_device", "shift_batch", "torch_threads"]

logger = logging.getLogger(__name__)

SIDE = 28
N_FEATURES = SIDE * SIDE

#: Values of the ``device`` parameter.
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")

_PREDICT_BATCH = 2048


def resolve_device(device: str) -> str:
    """The torch device ``device`` names: ``auto`` is cuda, else mps, else cpu.

    Raises
    ------
    ValueError
        ``device`` is not one of :data:`DEVICES`, or names a device this torch cannot use.
    """
    import torch

    if device not in DEVICES:
        msg = f"The 'device' parameter must be one of {', '.join(DEVICES)}. Got {device!r} instead."
        raise ValueError(msg)
    mps = getattr(torch.backends, "mps", None)
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": bool(mps and mps.is_available())}
    if device == "auto":
        return next(name for name in ("cuda", "mps", "cpu") if available[name])
    if not available[device]:
        msg = (
            f"The 'device' parameter is {device!r}, but this torch ({torch.__version__}) cannot use it; "
            "use 'cpu' or 'auto'."
        )
        raise ValueError(msg)
    return device


@contextlib.contextmanager
def torch_threads(n_jobs: int | None) -> Iterator[None]:
    """Set torch's intra-op thread count for the block (None: leave it), then restore it."""
    import torch

    previous = torch.get_num_threads()
    if n_jobs is not None:
        torch.set_num_threads(n_jobs)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def shift_batch(X: Any, shift: int, generator: Any) -> Any:
    """Translate each image of ``X`` (batch, 1, 28, 28) by up to ``shift`` pixels each way, zeros filling in.

    Hand-written (torchvision's ``RandomAffine`` does not import beside this
    torch, and it draws from torch's global generator, not ``generator``):
    pad by ``shift``, then crop each image at its own seeded offset.
    """
    import torch
    from torch.nn import functional

    n = X.shape[0]
    padded = functional.pad(X, (shift, shift, shift, shift))
    dy, dx = torch.randint(0, 2 * shift + 1, (2, n, 1), generator=generator)
    rows = (torch.arange(SIDE) + dy)[:, :, None]  # n x 28 x 1
    cols = (torch.arange(SIDE) + dx)[:, None, :]  # n x 1 x 28
    return padded[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)


class TorchClassifier(ClassifierMixin, BaseEstimator):
    """Base class: a torch network on flattened 28x28 images, as a scikit-learn classifier.

    Subclasses define ``__init__`` (every argument a parameter, among them
    those this class reads: ``max_epochs``, ``batch_size``, ``learning_rate``,
    ``weight_decay``, ``random_state``, ``n_jobs``, ``device``) and
    :meth:`_build_module`; they may override :meth:`_make_optimizer`,
    :meth:`_make_scheduler` and :meth:`_augment`. The loop: seeded weights and
    batch order, cross-entropy, one optimizer step per mini-batch, the
    scheduler stepped per batch or per epoch, deterministic algorithms on.

    Fitted attributes (every subclass): ``classes_``, ``n_features_in_``
    (784), ``module_`` (the trained network, on ``device_``), ``device_``
    (``cpu``, ``cuda`` or ``mps``), ``n_params_`` (trainable parameters),
    ``n_epochs_``, and the per-epoch curves ``epoch_times_`` (wall-clock
    seconds), ``loss_curve_`` (mean training loss) and
    ``train_accuracy_curve_`` (accuracy on the training batches as they were
    seen during the epoch: no test data is looked at, and nothing is held
    out).
    """

    max_epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    random_state: int | np.random.RandomState | None
    n_jobs: int | None
    device: str

    #: Whether images and weights are kept channels-last (NHWC): much faster for the depthwise and small
    #: convolutions of torch's CPU kernels. Off for LeNet-5, whose predictions stay those of earlier versions.
    _channels_last: bool = False

    #: Present so that the harness checks the values when a selector is parsed, before any run (see
    #: ``bench.selectors``): :meth:`_validate_params` then runs this class's own checks, which need no torch.
    _parameter_constraints: dict[str, list[Any]] = {}  # noqa: RUF012 (read, never mutated)

    def _validate_params(self) -> None:
        """Check every parameter's value (raises ValueError naming the parameter); no torch needed."""
        self._check_params()

    # --- what a model defines ------------------------------------------------------------------------------------

    def _build_module(self, n_classes: int) -> Any:
        """The untrained ``torch.nn.Module``: (batch, 1, 28, 28) images in, ``n_classes`` logits out."""
        raise NotImplementedError

    def _make_optimizer(self, parameters: Any) -> Any:
        """Adam at ``learning_rate`` with ``weight_decay`` (AdamW in subclasses that decouple it)."""
        import torch

        return torch.optim.Adam(parameters, lr=self.learning_rate, weight_decay=self.weight_decay)

    def _make_scheduler(self, optimizer: Any, steps_per_epoch: int) -> tuple[Any, bool]:
        """The learning-rate scheduler and whether it is stepped per batch (True) or per epoch (False)."""
        import torch

        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0), False

    def _augment(self, X: Any, generator: Any) -> Any:
        """The training batch as the network sees it (default: unchanged)."""
        return X

    def _check_model_params(self) -> None:
        """Checks of a subclass's own parameters (raise ValueError naming the parameter)."""

    # --- the loop ------------------------------------------------------------------------------------------------

    def _check_int(self, name: str, value: Any, minimum: int = 1, none_ok: bool = False) -> None:
        if none_ok and value is None:
            return
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < minimum:
            extra = " or None" if none_ok else ""
            msg = (
                f"The '{name}' parameter of {type(self).__name__} must be an int >= {minimum}{extra}. "
                f"Got {value!r} instead."
            )
            raise ValueError(msg)

    def _check_params(self) -> None:
        self._check_int("max_epochs", self.max_epochs)
        self._check_int("batch_size", self.batch_size)
        self._check_int("n_jobs", self.n_jobs, none_ok=True)
        for name in ("learning_rate", "weight_decay"):
            value = getattr(self, name)
            if not isinstance(value, int | float | np.number) or isinstance(value, bool) or not value >= 0:
                msg = f"The '{name}' parameter of {type(self).__name__} must be a number >= 0. Got {value!r} instead."
                raise ValueError(msg)
        if self.device not in DEVICES:
            msg = (
                f"The 'device' parameter of {type(self).__name__} must be one of {', '.join(DEVICES)}. "
                f"Got {self.device!r} instead."
            )
            raise ValueError(msg)
        self._check_model_params()

    def _check_n_features(self, X: NDArray[np.float32]) -> None:
        if X.shape[1] != N_FEATURES:
            msg = (
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting {N_FEATURES} features as input "
                f"(flattened 28x28 images). Got shape {X.shape!r} instead."
            )
            raise ValueError(msg)

    def fit(self, X: ArrayLike, y: ArrayLike) -> TorchClassifier:
        """Train the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, 784)
            Flattened 28x28 images, intensities in [0, 1].
        y : array-like of shape (n_samples,)
            Labels (any type ``np.unique`` sorts).

        Returns
        -------
        self
        """
        self._check_params()
        X_arr, y_arr = check_X_y(X, y, dtype=np.float32, order="C")
        self._check_n_features(X_arr)
        import torch

        self.device_ = resolve_device(self.device)
        self.classes_, y_idx = np.unique(y_arr, return_inverse=True)
        self.n_features_in_ = N_FEATURES
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        deterministic = torch.are_deterministic_algorithms_enabled()
        fill = torch.utils.deterministic.fill_uninitialized_memory  # type: ignore[attr-defined]
        with torch_threads(self.n_jobs):
            # On the CPU every op used here has a deterministic kernel: an op without one would be an error. On
            # cuda (where cuBLAS also wants CUBLAS_WORKSPACE_CONFIG) and mps, such ops warn and run as they are.
            torch.use_deterministic_algorithms(True, warn_only=self.device_ != "cpu")
            # Filling every new tensor with NaN (the deterministic mode's guard against reading uninitialized
            # memory) slows the small convolutions here measurably and changes no result of a correct op.
            torch.utils.deterministic.fill_uninitialized_memory = False  # type: ignore[attr-defined]
            try:
                self._train(torch.tensor(X_arr), torch.tensor(y_idx, dtype=torch.int64), seed)
            finally:
                torch.use_deterministic_algorithms(deterministic)
                torch.utils.deterministic.fill_uninitialized_memory = fill  # type: ignore[attr-defined]
        return self

    def _train(self, X: Any, y: Any, seed: int) -> None:
        import torch
        from torch import nn

        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        module = self._build_module(len(self.classes_)).to(self.device_, memory_format=self._memory_format())
        self.n_params_ = int(sum(p.numel() for p in module.parameters() if p.requires_grad))
        optimizer = self._make_optimizer(module.parameters())
        n = X.shape[0]
        scheduler, per_step = self._make_scheduler(optimizer, -(-n // self.batch_size))
        loss_fn = nn.CrossEntropyLoss()
        self.epoch_times_: list[float] = []
        self.loss_curve_: list[float] = []
        self.train_accuracy_curve_: list[float] = []
        module.train()
        for epoch in range(self.max_epochs):
            start = time.perf_counter()
            order = torch.randperm(n, generator=generator)
            total, correct = 0.0, 0
            for i in range(0, n, self.batch_size):
                idx = order[i : i + self.batch_size]
                batch = self._images(self._augment(X[idx].view(-1, 1, SIDE, SIDE), generator))
                target = y[idx].to(self.device_)
                optimizer.zero_grad()
                logits = module(batch)
                loss = loss_fn(logits, target)
                loss.backward()
                optimizer.step()
                if per_step:
                    scheduler.step()
                total += loss.item() * len(idx)
                correct += int((logits.detach().argmax(1) == target).sum())
            if not per_step:
                scheduler.step()
            self.loss_curve_.append(total / n)
            self.train_accuracy_curve_.append(correct / n)
            self.epoch_times_.append(time.perf_counter() - start)
            logger.info("epoch %d: loss %.4f, %.1f s", epoch + 1, self.loss_curve_[-1], self.epoch_times_[-1])
        self._recalibrate_batch_norm(module, X)
        module.eval()
        self.module_ = module
        self.n_epochs_ = len(self.epoch_times_)

    def _recalibrate_batch_norm(self, module: Any, X: Any) -> None:
        """Recompute batch-norm statistics on up to 10,000 training images, as the trained network sees them.

        The running averages kept during training lag the weights (and after a
        few steps are mostly their initial values); a forward pass in training
        mode with a cumulative average ("precise BN", Wu and Johnson, 2021)
        gives the statistics of the final network. Networks without batch norm
        are left as they are.
        """
        import torch
        from torch import nn

        norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not norms:
            return
        saved = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative moving average over the batches below
        with torch.no_grad():
            for i in range(0, min(X.shape[0], 10_000), self.batch_size):
                module(self._images(X[i : i + self.batch_size].view(-1, 1, SIDE, SIDE)))
        for m, momentum in zip(norms, saved, strict=True):
            m.momentum = momentum

    def _memory_format(self) -> Any:
        import torch

        return torch.channels_last if self._channels_last else torch.contiguous_format

    def _images(self, X: Any) -> Any:
        """A (batch, 1, 28, 28) tensor on the device, in the model's memory format."""
        return X.to(self.device_).contiguous(memory_format=self._memory_format())

    # --- prediction ----------------------------------------------------------------------------------------------

    def _logits(self, X: ArrayLike) -> NDArray[np.float32]:
        check_is_fitted(self, "module_")
        X_arr = check_array(X, dtype=np.float32, order="C")
        self._check_n_features(X_arr)
        import torch

        out = np.empty((X_arr.shape[0], len(self.classes_)), dtype=np.float32)
        with torch_threads(self.n_jobs), torch.inference_mode():
            for i in range(0, X_arr.shape[0], _PREDICT_BATCH):
                batch = self._images(torch.tensor(X_arr[i : i + _PREDICT_BATCH]).view(-1, 1, SIDE, SIDE))
                out[i : i + _PREDICT_BATCH] = self.module_(batch).cpu().numpy()
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


class ModernTorchClassifier(TorchClassifier):
    """Base class of the post-2015 models: AdamW, a one-cycle schedule, random shifts.

    Reads the parameters of :class:`TorchClassifier` and ``shift``: the
    training images are translated by up to ``shift`` pixels each way (0:
    none), drawn from the fit's seeded generator. The learning rate rises
    from ``learning_rate / 25`` to ``learning_rate`` over the first 20% of the
    steps, then anneals to near zero (``OneCycleLR``, stepped per batch);
    ``weight_decay`` is AdamW's decoupled decay.
    """

    shift: int
    _channels_last = True

    def _check_model_params(self) -> None:
        self._check_int("shift", self.shift, minimum=0)
        self._check_architecture()

    def _check_architecture(self) -> None:
        """Checks of the architecture's own parameters."""

    def _make_optimizer(self, parameters: Any) -> Any:
        import torch

        return torch.optim.AdamW(parameters, lr=self.learning_rate, weight_decay=self.weight_decay)

    def _make_scheduler(self, optimizer: Any, steps_per_epoch: int) -> tuple[Any, bool]:
        import torch

        total = self.max_epochs * steps_per_epoch
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=self.learning_rate, total_steps=total, pct_start=0.2, cycle_momentum=False
        )
        return schedule, True

    def _augment(self, X: Any, generator: Any) -> Any:
        return shift_batch(X, self.shift, generator) if self.shift else X
