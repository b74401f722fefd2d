"""The critical-difference diagram (Demšar 2006, Fig. 1): average ranks on an axis, the CD, and bars over groups.

Drawn with matplotlib through :mod:`mnist_classic.analysis.plotting` (a headless Figure, PNG or SVG).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..plotting import new_figure, save_figure

__all__ = ["FIGURE_FORMATS", "cd_figure", "write_cd_diagram"]

#: The file suffixes ``rank --figure`` writes.
FIGURE_FORMATS: tuple[str, ...] = ("png", "svg")


def cd_figure(mean_ranks: dict[str, float], cd: float, groups: list[list[str]], *, title: str = "") -> Any:
    """A matplotlib Figure of the CD diagram: the best (rank 1) on the left, groups joined by thick bars."""
    k = len(mean_ranks)
    order = sorted(mean_ranks, key=lambda m: mean_ranks[m])
    half = (k + 1) // 2
    height = 1.2 + 0.28 * max(half, k - half) + 0.18 * len(groups)
    fig = new_figure(7.0, height)
    ax = fig.add_subplot()
    lo, hi = 1, max(k, 2)
    ax.set_xlim(lo - 0.6, hi + 0.6)
    ax.set_ylim(-(max(half, k - half) + 1.5), 2.2)
    ax.axis("off")
    ax.hlines(0, lo, hi, color="black", lw=1)
    for r in range(lo, hi + 1):
        ax.vlines(r, 0, 0.12, color="black", lw=1)
        ax.text(r, 0.22, str(r), ha="center", va="bottom", fontsize=9)
    # the CD, drawn above the axis from rank 1
    ax.hlines(1.3, lo, lo + cd, color="black", lw=1)
    for x in (lo, lo + cd):
        ax.vlines(x, 1.2, 1.4, color="black", lw=1)
    ax.text(lo + cd / 2, 1.5, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=9)
    for i, m in enumerate(order):
        left = i < half
        level = -(i + 1) if left else -(k - i)
        x = mean_ranks[m]
        end = lo - 0.5 if left else hi + 0.5
        ax.vlines(x, level, 0, color="black", lw=0.8)
        ax.hlines(level, x, end, color="black", lw=0.8)
        label = f"{m} ({x:.2f})"
        ax.text(end, level, label, ha="right" if left else "left", va="center", fontsize=9)
    for j, g in enumerate(g for g in groups if len(g) > 1):
        y = -0.25 - 0.18 * j
        ax.hlines(y, mean_ranks[g[0]] - 0.03, mean_ranks[g[-1]] + 0.03, color="black", lw=3)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def write_cd_diagram(
    path: str | os.PathLike[str], mean_ranks: dict[str, float], cd: float, groups: list[list[str]], *, title: str = ""
) -> Path:
    """Write the CD diagram to ``path`` (``.png`` or ``.svg``); return the path.

    Raises
    ------
    ValueError
        A suffix other than .png or .svg.
    """
    path = Path(path)
    ext = path.suffix.lstrip(".").lower()
    if ext not in FIGURE_FORMATS:
        msg = f"The '--figure' option must name a .png or .svg file. Got {str(path)!r} instead."
        raise ValueError(msg)
    fig = cd_figure(mean_ranks, cd, groups, title=title)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path.parent, path.stem, [ext], title or "critical difference", "")
    return path
