"""Figures of result CSVs (matplotlib, headless; PNG and SVG).

- accuracy versus fit time, log axis, with the Pareto front marked;
- learning curves (accuracy versus n_train) and time scaling (fit and predict
  time versus n_train, log-log, with the fitted exponent per pipeline), for
  runs with several training sizes;
- a confusion matrix per pipeline (from the predictions sidecar);
- a gallery of misclassified test images with true and predicted labels
  (the images are loaded and must match the CSV's payload hashes).

matplotlib is imported inside the functions, through its object-oriented API
only (``matplotlib.figure.Figure``, no pyplot): no window, no global backend.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ...data.datasets import DATASETS
from ...results import ResultsSchemaError, row_labels
from ..explore.testset import load_image_set
from ..plotting import FigureFile, new_figure, palette, save_figure, test_sets

__all__ = [
    "FigureFile",
    "confusion_figure",
    "learning_curve_figure",
    "misclassified_figure",
    "pareto_figure",
    "pareto_front",
    "scaling_exponent",
    "time_scaling_figure",
    "write_figures",
]

logger = logging.getLogger(__name__)


def pareto_front(cost: ArrayLike, value: ArrayLike) -> np.ndarray:
    """Mask of the points no other point beats: lower or equal cost with higher value, or lower cost.

    Examples
    --------
    >>> pareto_front([1, 2, 3, 4], [0.90, 0.80, 0.95, 0.95]).tolist()
    [True, False, True, False]
    """
    c, v = np.asarray(cost, dtype=float), np.asarray(value, dtype=float)
    keep = np.zeros(len(c), dtype=bool)
    best = -np.inf
    for i in np.lexsort((-v, c)):  # by cost, then the higher value first
        if v[i] > best:
            keep[i], best = True, v[i]
    return keep


def scaling_exponent(n: ArrayLike, t: ArrayLike) -> float:
    """Least-squares slope of log(t) on log(n): ``t`` grows like ``n**slope`` (NaN with < 2 usable points)."""
    n_, t_ = np.asarray(n, dtype=float), np.asarray(t, dtype=float)
    ok = (n_ > 0) & (t_ > 0)
    if len(np.unique(n_[ok])) < 2:
        return math.nan
    return float(np.polyfit(np.log(n_[ok]), np.log(t_[ok]), 1)[0])


def _size_axis(ax: Any, sizes: Any) -> None:
    """A log x axis of training sizes, ticked at the sizes run (``1,000``), not at powers of ten."""
    from matplotlib.ticker import NullFormatter

    ticks = sorted({int(n) for n in sizes})
    ax.set_xscale("log")
    ax.set_xticks(ticks, [f"{n:,}" for n in ticks], fontsize=8 if len(ticks) < 8 else 6)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("training images (n_train, log scale)")
    ax.grid(True, which="both", alpha=0.3)


def pareto_figure(summary: pd.DataFrame, title: str = "") -> Any:
    """Accuracy (with its 95% CI) versus fit time (log axis, min-max bars); the Pareto front as a step line."""
    s = summary[(summary["k"] > 0) & (summary["fit_median"] > 0)]
    fig = new_figure(8.5, 4.8)
    ax = fig.add_subplot()
    colors = palette(list(dict.fromkeys(s["pipeline"])))
    sizes = sorted(set(s["n_train"]))
    for name, g in s.groupby("pipeline", sort=False):
        x, y = g["fit_median"].to_numpy(), 100 * g["accuracy"].to_numpy()
        xerr = [x - g["fit_min"].to_numpy(), g["fit_max"].to_numpy() - x]
        yerr = [y - 100 * g["ci_low"].to_numpy(), 100 * g["ci_high"].to_numpy() - y]
        ms = [4 + 6 * sizes.index(n) / max(1, len(sizes) - 1) for n in g["n_train"]] if len(sizes) > 1 else [6] * len(g)
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="none", ecolor=colors[name], alpha=0.5, lw=1)
        ax.scatter(x, y, s=np.square(ms), color=colors[name], label=str(name), zorder=3)
        if len(sizes) == 1:
            for xi, yi in zip(x, y, strict=True):
                ax.annotate(str(name), (xi, yi), xytext=(6, 4), textcoords="offset points", fontsize=9)
    front = s[pareto_front(s["fit_median"], s["accuracy"])].sort_values("fit_median")
    fx, fy = front["fit_median"].to_numpy(), 100 * front["accuracy"].to_numpy()
    ax.step(np.append(fx, fx[-1] * 3), np.append(fy, fy[-1]), where="post", color="black", ls="--", lw=1.2)
    ax.scatter(fx, fy, s=160, facecolors="none", edgecolors="black", lw=1.2, zorder=4, label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel("fit time (s, log scale; median, bars min-max)")
    ax.set_ylabel("test accuracy (%, bars 95% CI)")
    ax.grid(True, which="both", alpha=0.3)
    extra = f"; marker size grows with n_train ({sizes[0]:,}-{sizes[-1]:,})" if len(sizes) > 1 else ""
    ax.set_title(title + extra, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def learning_curve_figure(summary: pd.DataFrame, title: str = "") -> Any:
    """Accuracy versus n_train (log axis), one line per pipeline, the 95% CI as a band."""
    s = summary[summary["k"] > 0]
    fig = new_figure(7.5, 4.8)
    ax = fig.add_subplot()
    colors = palette(list(dict.fromkeys(s["pipeline"])))
    for name, g in s.groupby("pipeline", sort=False):
        g = g.sort_values("n_train")
        ax.plot(g["n_train"], 100 * g["accuracy"], "o-", color=colors[name], label=str(name))
        ax.fill_between(g["n_train"], 100 * g["ci_low"], 100 * g["ci_high"], color=colors[name], alpha=0.2, lw=0)
    _size_axis(ax, s["n_train"])
    ax.set_ylabel("test accuracy (%, band 95% CI)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def time_scaling_figure(summary: pd.DataFrame, title: str = "") -> Any:
    """Fit and predict time versus n_train, log-log; each legend entry gives the fitted exponent b of t ~ n^b."""
    s = summary[summary["k"] > 0]
    fig = new_figure(11, 5.4)
    colors = palette(list(dict.fromkeys(s["pipeline"])))
    for i, (what, label) in enumerate((("fit", "fit time"), ("predict", "predict time"))):
        ax = fig.add_subplot(1, 2, i + 1)
        for name, g in s.groupby("pipeline", sort=False):
            g = g[g[f"{what}_median"] > 0].sort_values("n_train")
            if g.empty:
                continue
            b = scaling_exponent(g["n_train"], g[f"{what}_median"])
            lab = f"{name}  ($b$ = {b:.2f})" if not math.isnan(b) else str(name)
            y = g[f"{what}_median"].to_numpy()
            err = [y - g[f"{what}_min"].to_numpy(), g[f"{what}_max"].to_numpy() - y]
            ax.errorbar(g["n_train"], y, yerr=err, fmt="o-", color=colors[name], label=lab, capsize=2)
        ax.set_yscale("log")
        _size_axis(ax, s["n_train"])
        ax.set_ylabel(f"{label} (s, log scale)")
        ax.set_title(f"{label}: median, bars min-max; $t \\propto n^b$", fontsize=10)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    fig.suptitle(title, fontsize=11)
    return fig


def confusion_figure(truth: np.ndarray, predictions: dict[str, np.ndarray], title: str = "") -> Any:
    """A confusion matrix per pipeline (rows true, columns predicted; counts, colour by share of the true class)."""
    n = int(max([int(truth.max()), *(int(p.max()) for p in predictions.values())])) + 1
    cols = min(3, len(predictions))
    rows = math.ceil(len(predictions) / cols)
    fig = new_figure(3.6 * cols, 3.6 * rows + 0.4)
    for i, (name, pred) in enumerate(predictions.items()):
        ax = fig.add_subplot(rows, cols, i + 1)
        m = np.bincount(truth * n + pred, minlength=n * n).reshape(n, n)
        share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
        off = share - np.diag(np.diag(share))
        vmax = max(float(off.max()), 1e-9)
        ax.imshow(np.where(np.eye(n, dtype=bool), np.nan, off), cmap="Reds", vmin=0, vmax=vmax)
        for (r, c), v in np.ndenumerate(m):
            if v:
                dark = r != c and off[r, c] > 0.55 * vmax
                ax.text(c, r, str(v), ha="center", va="center", fontsize=6, color="white" if dark else "#222")
        ax.set_xticks(range(n))
        ax.set_yticks(range(n))
        ax.tick_params(labelsize=7)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("true", fontsize=8)
        ax.set_title(f"{name}: accuracy {100 * np.mean(pred == truth):.2f}%", fontsize=9)
    fig.suptitle(title, fontsize=10)
    return fig


def misclassified_figure(
    images: np.ndarray, truth: np.ndarray, predictions: dict[str, np.ndarray], n: int = 12, title: str = ""
) -> Any:
    """A row per pipeline: its first ``n`` misclassified test images, titled ``true -> predicted``."""
    side = math.isqrt(images.shape[1])
    if side * side != images.shape[1]:
        msg = f"The 'images' parameter must hold square images (n, side*side). Got shape {images.shape}."
        raise ValueError(msg)
    fig = new_figure(0.8 * n + 1.2, 1.0 * len(predictions) + 0.5)
    for r, (name, pred) in enumerate(predictions.items()):
        wrong = np.flatnonzero(pred != truth)[:n]
        for c in range(n):
            ax = fig.add_subplot(len(predictions), n, r * n + c + 1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(str(name), fontsize=8, rotation=0, ha="right", va="center")
            if c >= len(wrong):
                ax.set_frame_on(False)
                continue
            i = wrong[c]
            ax.imshow(images[i].reshape(side, side), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(f"{truth[i]} → {pred[i]}", fontsize=8, color="firebrick", pad=2)
    fig.suptitle(f"{title}{': ' if title else ''}first misclassified test images, true → predicted", fontsize=10)
    return fig


def _test_images(row: pd.Series, data_dir: str | None, data_home: str | None) -> np.ndarray | None:
    """The run's test images, after checking the payloads against the row's hashes; None (logged) if unavailable."""
    dataset = str(row["dataset"])
    if dataset not in DATASETS and data_dir is None:
        logger.warning("%s is not a registered dataset: pass --data-dir to draw its misclassified images", dataset)
        return None
    if row["subset"] != "first":
        logger.warning("%s: no gallery for runs on a %s subset of the images", dataset, row["subset"])
        return None
    try:
        images = load_image_set(row, data_dir=data_dir, data_home=data_home)
    except FileNotFoundError as exc:
        logger.warning("no gallery of misclassified images for %s: %s", dataset, str(exc).splitlines()[0])
        return None
    return images.images.reshape(len(images.images), -1).astype(np.float32) / np.float32(255)


def write_figures(
    df: pd.DataFrame,
    summary: pd.DataFrame,
    folder: str | os.PathLike[str],
    *,
    formats: Sequence[str] = ("png", "svg"),
    data_dir: str | None = None,
    data_home: str | None = None,
    gallery_size: int = 12,
) -> list[FigureFile]:
    """Draw every figure the results allow into ``folder``; return them in order.

    Parameters
    ----------
    df : pandas.DataFrame
        Result rows with ``_source`` (see :func:`~mnist_classic.analysis.runs.load_runs`).
    summary : pandas.DataFrame
        The same rows summarized by :func:`~mnist_classic.analysis.report.summary.summarize`.
    folder : str or os.PathLike
        Created if absent; files are named ``<figure>-<dataset>.<ext>``.
    formats : sequence of {"png", "svg"}, default=("png", "svg")
    data_dir, data_home : str or None, default=None
        Where the images of the run's dataset are (see :func:`~mnist_classic.load_dataset`).
    gallery_size : int, default=12
        Misclassified images shown per pipeline.

    Raises
    ------
    ImportError
        matplotlib is not installed.
    DataIntegrityError
        The images found are not the ones the run used (payload hashes differ).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: list[FigureFile] = []
    for dataset, n_test, stem, where, s in test_sets(summary):
        if (s["k"] > 0).sum() == 0:
            continue
        cap = "Circled points, joined by the dashed step line, are the Pareto front: no other case fits faster "
        cap += "and is more accurate."
        out.append(
            save_figure(pareto_figure(s, where), folder, f"pareto-{stem}", formats, "Accuracy versus fit time", cap)
        )
        if (s[s["k"] > 0].groupby("pipeline")["n_train"].nunique() >= 2).any():
            cap = "Mean test accuracy per training size; the band is the 95% CI."
            fig = learning_curve_figure(s, where)
            out.append(save_figure(fig, folder, f"learning-{stem}", formats, "Learning curves", cap))
            cap = "Median times, log-log; b is the least-squares slope of log(time) on log(n_train)."
            fig = time_scaling_figure(s, where)
            out.append(save_figure(fig, folder, f"scaling-{stem}", formats, "Time scaling", cap))
        ok = df[(df["dataset"] == dataset) & (df["n_test"] == n_test) & (df["status"] == "ok")]
        best = ok.sort_values(["n_train", "seed"], ascending=[False, True]).drop_duplicates("pipeline")
        best = best.set_index("pipeline").loc[list(dict.fromkeys(ok["pipeline"]))].reset_index()
        try:
            truth = row_labels(best.iloc[0], "truth_sha256")
            preds = {
                f"{r['pipeline']} (n_train={r['n_train']:,})": row_labels(r, "predictions_sha256")
                for _, r in best.iterrows()
            }
        except ResultsSchemaError as exc:
            logger.warning("no confusion matrices or gallery for %s: %s", dataset, exc)
            continue
        cap = "Counts; rows are true labels, columns predicted; off-diagonal cells coloured by share of the true "
        cap += "class (scale per panel)."
        fig = confusion_figure(truth, preds, where)
        out.append(save_figure(fig, folder, f"confusion-{stem}", formats, "Confusion matrices", cap))
        images = _test_images(best.iloc[0], data_dir, data_home)
        if images is not None:
            cap = (
                f"The first {gallery_size} misclassified test images of each pipeline, in test order: true → predicted."
            )
            fig = misclassified_figure(images, truth, preds, gallery_size, where)
            out.append(save_figure(fig, folder, f"misclassified-{stem}", formats, "Misclassified test images", cap))
    return out
