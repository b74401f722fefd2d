"""The quality of predicted probabilities: log-loss, expected calibration error, Brier score, reliability bins.

Computed from the probabilities as the predictions sidecar stores them
(float32, columns in the order of the model's ``classes_``), so that the row's
figures and a report's reliability diagram drawn later from the sidecar agree.
Log-loss and the Brier score are scikit-learn's; the expected calibration
error has no scikit-learn function for more than two classes
(``calibration_curve`` is binary) and is written here, as Guo et al. (ICML
2017) define it: top-label confidence in equal-width bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ECE_BINS", "Reliability", "aligned", "probability_scores", "reliability"]

#: Equal-width confidence bins of the expected calibration error (Guo et al., 2017 use 15).
ECE_BINS = 15


def aligned(proba: np.ndarray, classes: np.ndarray, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``proba`` with a zero column added for every true label the model never saw, and the labels of its columns.

    A model fitted on few images may lack a class of the test set: its
    probability for that class is 0.
    """
    classes = np.asarray(classes)
    missing = np.setdiff1d(np.unique(y_true), classes)
    if missing.size == 0:
        return np.asarray(proba), classes
    labels = np.concatenate([classes, missing])
    order = np.argsort(labels, kind="stable")
    full = np.concatenate([np.asarray(proba), np.zeros((len(proba), missing.size), dtype=proba.dtype)], axis=1)
    return full[:, order], labels[order]


@dataclass(frozen=True)
class Reliability:
    """Top-label reliability in equal-width bins: per bin its count, mean confidence and accuracy (NaN when empty)."""

    edges: np.ndarray
    count: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray

    @property
    def ece(self) -> float:
        """Expected calibration error: the count-weighted mean of |accuracy - confidence| over the bins."""
        used = self.count > 0
        weights = self.count[used] / self.count.sum()
        return float(np.sum(weights * np.abs(self.accuracy[used] - self.confidence[used])))


def reliability(proba: np.ndarray, classes: np.ndarray, y_true: np.ndarray, *, n_bins: int = ECE_BINS) -> Reliability:
    """Bin the top-label confidence of each image into ``n_bins`` equal-width bins of (0, 1].

    Parameters
    ----------
    proba : numpy.ndarray of shape (n_samples, n_classes)
    classes : numpy.ndarray of shape (n_classes,)
        The label of each column.
    y_true : numpy.ndarray of shape (n_samples,)
    n_bins : int, default=ECE_BINS

    Returns
    -------
    Reliability

    Examples
    --------
    >>> import numpy as np
    >>> r = reliability(np.array([[0.9, 0.1], [0.6, 0.4]]), np.array([0, 1]), np.array([0, 1]))
    >>> round(r.ece, 3)  # |1 - 0.9| / 2 + |0 - 0.6| / 2
    0.35
    """
    proba = np.asarray(proba, dtype=np.float64)
    top = proba.argmax(axis=1)
    confidence = proba[np.arange(len(proba)), top]
    correct = np.asarray(classes)[top] == np.asarray(y_true)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Bin b holds confidences in (edges[b], edges[b+1]]; a confidence of exactly 0 goes to the first bin.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(which, weights=confidence, minlength=n_bins) / count
        acc = np.bincount(which, weights=correct.astype(float), minlength=n_bins) / count
    return Reliability(edges, count, conf, acc)


def probability_scores(proba: np.ndarray, classes: np.ndarray, y_true: np.ndarray) -> dict[str, float]:
    """``log_loss``, ``ece`` and ``brier`` of predicted probabilities against the true labels.

    ``log_loss`` is :func:`sklearn.metrics.log_loss` (natural log, probabilities
    clipped away from 0 by scikit-learn); ``brier`` is
    :func:`sklearn.metrics.brier_score_loss` over all classes (the mean over
    images of the squared distance to the one-hot truth, in [0, 2]); ``ece``
    is :attr:`Reliability.ece` over :data:`ECE_BINS` bins.

    Examples
    --------
    >>> import numpy as np
    >>> s = probability_scores(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 1]), np.array([0, 1]))
    >>> round(s["brier"], 3), round(s["ece"], 3)
    (0.05, 0.15)
    """
    from sklearn.metrics import brier_score_loss, log_loss

    y_true = np.asarray(y_true)
    full, labels = aligned(np.asarray(proba, dtype=np.float64), classes, y_true)
    # Rows are renormalized to sum to 1 in float64: float32 storage leaves sums a few ulps off 1.
    full = full / full.sum(axis=1, keepdims=True)
    return {
        "log_loss": float(log_loss(y_true, full, labels=labels)),
        "ece": reliability(full, labels, y_true).ece,
        "brier": float(brier_score_loss(y_true, full, labels=labels, scale_by_half=False)),
    }
