"""A worked example for mnist-classic: one custom estimator, registered through an entry point."""

from .estimators import RandomFourierClassifier

__all__ = ["RandomFourierClassifier"]
