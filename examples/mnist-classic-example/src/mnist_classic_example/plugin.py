"""The entry point ``mnist_classic.pipelines``: registers the example's estimator as the pipeline ``rff``."""

from __future__ import annotations

from mnist_classic import register_pipeline

from .estimators import RandomFourierClassifier


def register() -> None:
    """Called by mnist-classic when it loads installed plugins."""

    @register_pipeline(
        "rff",
        "random Fourier features (2000, gamma=0.02) + ridge classifier: the example's 'new method'",
        "Rahimi & Recht (2007), random features for large-scale kernel machines",
    )
    def _rff() -> RandomFourierClassifier:
        return RandomFourierClassifier()
