"""Resampled splits (``run --splits``): the images each split trains and tests on, seeded and paired across pipelines.

- ``5x2`` (Dietterich 1998): five replications of a stratified 2-fold split of the run's training
  images (the first ``n_train``); fold 1 trains on one half and tests on the other, fold 2 the
  reverse. The test set is not used. Replication ``r`` (1 to 5) is split with seed ``seed + r - 1``.
- ``K`` (an integer, Nadeau & Bengio 2003; Bouthillier et al. 2021): K stratified resplits of the
  pooled images (training set then test set) into ``n_train`` training and ``n_test`` test images;
  resplit ``k`` (1 to K) uses seed ``seed + k - 1``.

The same seed gives the same split for every pipeline, so the rows pair by their ``split`` label:
``5x2:rep=3:fold=1`` or ``resplit:7``. scikit-learn's ``StratifiedKFold`` and ``train_test_split``
draw the splits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

__all__ = ["Split", "payload_sha256", "split_arrays", "splits_for"]


@dataclass(frozen=True)
class Split:
    """One split: its label, seed, and the indices into the pool it trains and tests on."""

    label: str
    repeat: int
    seed: int
    train: np.ndarray
    test: np.ndarray


def splits_for(scheme: str, count: int, y_pool: np.ndarray, n_train: int, n_test: int, seed: int) -> list[Split]:
    """The splits of ``scheme`` over a pool of labels ``y_pool``.

    For ``5x2`` the pool is the training images and ``n_train`` its size (``n_test`` unused); for
    ``resplit`` the pool is training then test images, split into ``n_train`` and ``n_test``.

    Raises
    ------
    ValueError
        A pool too small for the sizes, or a class too rare to stratify.
    """
    from sklearn.model_selection import StratifiedKFold, train_test_split

    out: list[Split] = []
    if scheme == "5x2":
        pool = np.arange(n_train)
        for r in range(1, 6):
            folds = StratifiedKFold(n_splits=2, shuffle=True, random_state=seed + r - 1)
            try:
                (a, b), _ = folds.split(pool, y_pool[:n_train])
            except ValueError as exc:
                msg = (
                    f"The 'splits' parameter 5x2 cannot split {n_train} training images in two stratified halves: {exc}"
                )
                raise ValueError(msg) from None
            out.append(Split(f"5x2:rep={r}:fold=1", r - 1, seed + r - 1, np.sort(a), np.sort(b)))
            out.append(Split(f"5x2:rep={r}:fold=2", r - 1, seed + r - 1, np.sort(b), np.sort(a)))
        return out
    if n_train + n_test > y_pool.size:
        msg = (
            f"The 'splits' parameter {count} resplits {y_pool.size} pooled images into n_train + n_test; "
            f"{n_train} + {n_test} is more"
        )
        raise ValueError(msg)
    idx = np.arange(y_pool.size)
    for k in range(1, count + 1):
        try:
            tr, te = train_test_split(
                idx, train_size=n_train, test_size=n_test, stratify=y_pool, random_state=seed + k - 1
            )
        except ValueError as exc:
            msg = f"The 'splits' parameter cannot draw a stratified resplit of {n_train} + {n_test} images: {exc}"
            raise ValueError(msg) from None
        out.append(Split(f"resplit:{k}", k - 1, seed + k - 1, np.sort(tr), np.sort(te)))
    return out


def split_arrays(
    split: Split, X_pool: tuple[np.ndarray, ...], y_pool: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``X_train, y_train, X_test, y_test`` of a split; ``X_pool`` is one array or parts concatenated in order."""
    bounds = np.cumsum([0, *(len(x) for x in X_pool)])

    def take(ix: np.ndarray) -> np.ndarray:
        parts = []
        for i, x in enumerate(X_pool):
            sel = ix[(ix >= bounds[i]) & (ix < bounds[i + 1])] - bounds[i]
            parts.append(np.asarray(x[sel]))
        return np.ascontiguousarray(np.concatenate(parts))

    return take(split.train), y_pool[split.train], take(split.test), y_pool[split.test]


def payload_sha256(X: np.ndarray, y: np.ndarray) -> str:
    """SHA-256 of the images' bytes (C order, as loaded: float32) then the labels as little-endian int64."""
    h = hashlib.sha256(np.ascontiguousarray(X).tobytes())
    h.update(np.ascontiguousarray(y, dtype="<i8").tobytes())
    return h.hexdigest()
