"""The "new method" of the example: random Fourier features (Rahimi & Recht, 2007) and a ridge classifier.

Written as a user of mnist-classic would write their own method: a plain scikit-learn
estimator (``get_params``/``set_params`` from ``BaseEstimator``, ``fit`` returning
``self``, fitted attributes ending in ``_``), with a ``random_state`` that the suite seeds.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.kernel_approximation import RBFSampler
from sklearn.linear_model import RidgeClassifier
from sklearn.utils.validation import check_is_fitted


class RandomFourierClassifier(ClassifierMixin, BaseEstimator):
    """An approximate RBF-kernel classifier: random Fourier features, then a ridge classifier.

    Parameters
    ----------
    n_components : int, default=2000
        Random features.
    gamma : float, default=0.02
        RBF kernel width, ``exp(-gamma * ||x - y||^2)``.
    alpha : float, default=1.0
        Ridge penalty.
    random_state : int or None, default=None
        Seed of the random features.
    """

    def __init__(self, n_components: int = 2000, gamma: float = 0.02, alpha: float = 1.0, random_state=None):
        self.n_components = n_components
        self.gamma = gamma
        self.alpha = alpha
        self.random_state = random_state

    def fit(self, X, y):
        """Draw the features and fit the ridge classifier on them."""
        self.features_ = RBFSampler(
            gamma=self.gamma, n_components=self.n_components, random_state=self.random_state
        ).fit(X)
        self.ridge_ = RidgeClassifier(alpha=self.alpha).fit(self.features_.transform(X), y)
        self.classes_ = self.ridge_.classes_
        return self

    def predict(self, X) -> np.ndarray:
        """The class of each row of ``X``."""
        check_is_fitted(self, "ridge_")
        return self.ridge_.predict(self.features_.transform(X))
