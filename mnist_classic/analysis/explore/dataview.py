"""A look at a dataset before training: samples, class balance, mean images, pixel intensities.

:func:`show_dataset` loads a dataset (a registered name or any directory of IDX
files), draws four figures and writes them as PNG and SVG:

- ``samples-<name>``: a grid of training images, one row per class, each row
  labelled with the class name (Fashion-MNIST's classes are garments);
- ``classes-<name>``: the number of images per class, train and test;
- ``means-<name>``: the mean training image of each class;
- ``pixels-<name>``: the histogram of pixel intensities, train and test.

matplotlib is imported inside the functions, through its object-oriented API
only (``matplotlib.figure.Figure``, no pyplot), as in :mod:`mnist_classic.analysis.plotting`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..._files import atomic_write
from ...data.datasets import digit_names
from ...data.loader import Dataset, load_dataset
from ..plotting import new_figure

__all__ = ["FORMATS", "DatasetPreview", "show_dataset"]

#: File formats :func:`show_dataset` writes.
FORMATS: tuple[str, ...] = ("png", "svg")
_MAX_PER_CLASS = 50


@dataclass(frozen=True)
class DatasetPreview:
    """What :func:`show_dataset` found and drew.

    Attributes
    ----------
    name : str
        The dataset's name (registered, or the directory's).
    class_names : tuple of str
        The name of each label, label 0 first.
    image_shape : tuple of int
        Height and width of one image.
    train_counts, test_counts : tuple of int
        Images per class, label 0 first.
    pixel_mean : float
        Mean intensity of the training pixels, in [0, 1].
    zero_fraction : float
        Share of training pixels that are exactly 0 (background).
    paths : tuple of pathlib.Path
        The files written (empty when ``out`` was None).
    figures : dict of str to matplotlib.figure.Figure
        Figure stem -> figure, when ``out`` was None (empty otherwise).
    """

    name: str
    class_names: tuple[str, ...]
    image_shape: tuple[int, int]
    train_counts: tuple[int, ...]
    test_counts: tuple[int, ...]
    pixel_mean: float
    zero_fraction: float
    paths: tuple[Path, ...] = ()
    figures: dict[str, Any] = field(default_factory=dict, repr=False)

    def summary(self) -> str:
        """A few lines for the terminal: sizes, classes with their counts, pixels, files."""
        h, w = self.image_shape
        width = max(len("class"), *(len(n) for n in self.class_names))
        lines = [
            f"dataset: {self.name}",
            f"  {sum(self.train_counts)} train / {sum(self.test_counts)} test images of {h}x{w} pixels, "
            f"{len(self.class_names)} classes",
            f"  {'label':>5}  {'class':<{width}}  {'train':>7}  {'test':>6}",
        ]
        for i, name in enumerate(self.class_names):
            lines.append(f"  {i:>5}  {name:<{width}}  {self.train_counts[i]:>7}  {self.test_counts[i]:>6}")
        lines.append(
            f"  pixels (train): mean {self.pixel_mean:.3f} in [0, 1], {100 * self.zero_fraction:.1f}% exactly 0"
        )
        for p in self.paths:
            lines.append(f"  wrote {p}")
        return "\n".join(lines) + "\n"


def _check_options(per_class: Any, formats: Sequence[str]) -> tuple[str, ...]:
    if (
        isinstance(per_class, bool)
        or not isinstance(per_class, (int, np.integer))
        or not 1 <= per_class <= _MAX_PER_CLASS
    ):
        msg = (
            f"The 'per_class' parameter of show_dataset must be an int in [1, {_MAX_PER_CLASS}]. "
            f"Got {per_class!r} instead."
        )
        raise ValueError(msg)
    fmts = (formats,) if isinstance(formats, str) else tuple(formats)
    bad = [f for f in fmts if f not in FORMATS]
    if bad or not fmts:
        msg = (
            f"The 'formats' parameter of show_dataset must be a non-empty subset of {', '.join(FORMATS)}. "
            f"Got {','.join(fmts) or 'nothing'} instead."
        )
        raise ValueError(msg)
    return tuple(dict.fromkeys(fmts))


def _image_shape(ds: Dataset) -> tuple[int, int]:
    shape = ds.files[0].shape[1:]
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    side = round(ds.X_train.shape[1] ** 0.5)  # pragma: no cover - every loader output is 2-D images
    return side, ds.X_train.shape[1] // side


def _label(k: int, name: str) -> str:
    """``"3"`` for a digit class, ``"3: Dress"`` for a named one (the label stays visible)."""
    return name if name == str(k) else f"{k}: {name}"


def _pick(y: np.ndarray, n_classes: int, per_class: int, seed: int | None) -> list[np.ndarray]:
    """Indices of up to ``per_class`` images of each class: the first ones, or a seeded sample."""
    rng = None if seed is None else np.random.default_rng(seed)
    out = []
    for k in range(n_classes):
        idx = np.flatnonzero(y == k)
        if rng is not None and len(idx) > per_class:
            idx = np.sort(rng.choice(idx, per_class, replace=False))
        out.append(idx[:per_class])
    return out


def samples_figure(ds: Dataset, *, per_class: int = 10, seed: int | None = None) -> Any:
    """A grid of training images: one row per class, labelled with the class name."""
    shape = _image_shape(ds)
    names = ds.class_names
    picks = _pick(np.asarray(ds.y_train), len(names), per_class, seed)
    cell = 0.62
    fig = new_figure(1.6 + cell * per_class, 0.5 + cell * len(names))
    axes = fig.subplots(len(names), per_class, squeeze=False, gridspec_kw={"wspace": 0.02, "hspace": 0.02})
    for k, row in enumerate(axes):
        for j, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if j < len(picks[k]):
                img = np.asarray(ds.X_train[picks[k][j]]).reshape(shape)
                ax.imshow(img, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
        row[0].set_ylabel(_label(k, names[k]), rotation=0, ha="right", va="center", fontsize=10)
    how = "first" if seed is None else f"random (seed {seed})"
    fig.suptitle(f"{ds.name}: {how} {per_class} training images per class", fontsize=11)
    return fig


def classes_figure(ds: Dataset, train_counts: np.ndarray, test_counts: np.ndarray) -> Any:
    """Images per class in the training and the test set, side by side."""
    names = ds.class_names
    fig = new_figure(10.0, 4.2)
    axes = fig.subplots(1, 2, sharey=False)
    pos = np.arange(len(names))
    for ax, counts, split, color in ((axes[0], train_counts, "train", "C0"), (axes[1], test_counts, "test", "C1")):
        bars = ax.bar(pos, counts, color=color)
        ax.bar_label(bars, labels=[str(int(c)) for c in counts], fontsize=7, padding=1)
        labels = [_label(i, n) for i, n in enumerate(names)]
        if max(len(t) for t in labels) > 3:
            ax.set_xticks(pos, labels, rotation=45, ha="right", rotation_mode="anchor")
        else:
            ax.set_xticks(pos, labels)
        ax.set_title(f"{split}: {int(counts.sum())} images")
        ax.set_ylabel("images")
        ax.set_ylim(0, counts.max() * 1.15 if counts.size and counts.max() else 1)
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(f"{ds.name}: images per class", fontsize=11)
    return fig


def means_figure(ds: Dataset) -> Any:
    """The mean training image of each class."""
    shape = _image_shape(ds)
    names = ds.class_names
    y = np.asarray(ds.y_train)
    n = len(names)
    cols = min(n, 5)
    rows = -(-n // cols)
    fig = new_figure(1.9 * cols, 2.1 * rows + 0.4)
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= n:
            ax.set_visible(False)
            continue
        members = y == k
        if members.any():
            mean = np.asarray(ds.X_train[members], dtype=np.float64).mean(axis=0).reshape(shape)
            ax.imshow(mean, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(f"{_label(k, names[k])}\n({int(members.sum())} images)", fontsize=9)
    fig.suptitle(f"{ds.name}: mean training image per class", fontsize=11)
    return fig


def _intensity_counts(X: np.ndarray) -> np.ndarray:
    """Pixels per intensity level 0..255 (the images are stored as bytes, scaled to [0, 1])."""
    levels = np.rint(np.asarray(X, dtype=np.float32) * 255).astype(np.int64)
    return np.bincount(levels.ravel(), minlength=256)[:256]


def pixels_figure(ds: Dataset, train_hist: np.ndarray, test_hist: np.ndarray) -> Any:
    """The histogram of pixel intensities (share of pixels per level, log scale), train and test."""
    fig = new_figure(7.5, 4.0)
    ax = fig.subplots()
    levels = np.arange(256)
    for hist, split, style in (
        (train_hist, "train", {"color": "C0", "linewidth": 2.0, "alpha": 0.6}),
        (test_hist, "test", {"color": "C1", "linewidth": 1.0, "linestyle": "--"}),
    ):
        share = hist / max(1, hist.sum())
        ax.step(levels, share, where="mid", label=f"{split}: {100 * share[0]:.1f}% of pixels at 0", **style)
    ax.set_yscale("log")
    ax.set_xlim(-2, 257)
    ax.set_xlabel("pixel intensity (0 = background, 255 = brightest)")
    ax.set_ylabel("share of pixels (log scale)")
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(f"{ds.name}: pixel intensities", fontsize=11)
    return fig


def _saver(fig: Any, fmt: str) -> Callable[[str], None]:
    def save(tmp: str) -> None:
        fig.savefig(tmp, format=fmt, dpi=110)

    return save


def _stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "dataset"


def show_dataset(
    dataset: str | os.PathLike[str] | Dataset = "mnist",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    per_class: int = 10,
    formats: Sequence[str] = FORMATS,
    seed: int | None = None,
    data_home: str | os.PathLike[str] | None = None,
) -> DatasetPreview:
    """Look at a dataset: samples per class, class balance, mean images, pixel intensities.

    Parameters
    ----------
    dataset : str or os.PathLike or Dataset, default="mnist"
        A registered name, a directory holding the four IDX files (named by
        its payload hashes when they are a registered dataset's, which then
        gives the class names), or a :class:`~mnist_classic.Dataset` already
        loaded.
    data_dir : str or os.PathLike or None, default=None
        Read the registered ``dataset`` from this directory (as in
        :func:`~mnist_classic.load_dataset`).
    out : str or os.PathLike or None, default=None
        Folder to write the figures into (created); ``None`` writes nothing
        and returns the figures instead.
    per_class : int, default=10
        Images per class in the sample grid, in [1, 50].
    formats : sequence of str, default=("png", "svg")
        File formats to write, a subset of :data:`FORMATS`.
    seed : int or None, default=None
        ``None`` shows the first images of each class in canonical order; an
        int a random sample drawn with this seed.
    data_home : str or os.PathLike or None, default=None
        Downloads and the decoded cache (see :func:`~mnist_classic.get_data_home`).
        Nothing is downloaded: a dataset not yet fetched is an error.

    Returns
    -------
    DatasetPreview
        Counts, pixel statistics, the files written (or the figures), and a
        :meth:`~DatasetPreview.summary` for the terminal.

    Raises
    ------
    ValueError
        Bad ``per_class`` or ``formats``, or an unknown dataset.
    FileNotFoundError
        A missing directory, file, or a dataset not downloaded yet.
    ImportError
        When matplotlib is not installed (the ``[report]`` extra).

    Examples
    --------
    >>> preview = show_dataset("mnist", per_class=3)
    >>> preview.class_names[:3], preview.train_counts[:3]
    (('0', '1', '2'), (5923, 6742, 5958))
    >>> sorted(preview.figures)
    ['classes-mnist', 'means-mnist', 'pixels-mnist', 'samples-mnist']
    """
    fmts = _check_options(per_class, formats)
    if isinstance(dataset, Dataset):
        ds = dataset
    else:
        ds = load_dataset(dataset, data_dir=data_dir, data_home=data_home, download=False)
    if not ds.class_names:  # a Dataset built by hand
        top = max(int(np.max(ds.y_train, initial=0)), int(np.max(ds.y_test, initial=0)))
        ds = replace(ds, class_names=digit_names(max(10, top + 1)))
    n_classes = len(ds.class_names)
    train_counts = np.bincount(np.asarray(ds.y_train), minlength=n_classes)[:n_classes]
    test_counts = np.bincount(np.asarray(ds.y_test), minlength=n_classes)[:n_classes]
    train_hist = _intensity_counts(ds.X_train)
    test_hist = _intensity_counts(ds.X_test)
    stem = _stem(ds.name)
    figures = {
        f"samples-{stem}": samples_figure(ds, per_class=per_class, seed=seed),
        f"classes-{stem}": classes_figure(ds, train_counts, test_counts),
        f"means-{stem}": means_figure(ds),
        f"pixels-{stem}": pixels_figure(ds, train_hist, test_hist),
    }
    paths: list[Path] = []
    if out is not None:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        for name, fig in figures.items():
            for fmt in fmts:
                path = folder / f"{name}.{fmt}"
                atomic_write(path, _saver(fig, fmt))
                paths.append(path)
        figures = {}
    total = max(1, int(train_hist.sum()))
    return DatasetPreview(
        name=ds.name,
        class_names=tuple(ds.class_names),
        image_shape=_image_shape(ds),
        train_counts=tuple(int(c) for c in train_counts),
        test_counts=tuple(int(c) for c in test_counts),
        pixel_mean=float(np.dot(np.arange(256), train_hist) / total / 255),
        zero_fraction=float(train_hist[0] / total),
        paths=tuple(paths),
        figures=figures,
    )
