"""Figures' plumbing shared by every analysis room: a headless matplotlib Figure, colours, and writing PNG/SVG files.

matplotlib is imported inside the functions, through its object-oriented API
only (``matplotlib.figure.Figure``, no pyplot): no window, no global backend.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FigureFile", "new_figure", "palette", "save_figure", "slug", "test_sets"]


def new_figure(width: float, height: float) -> Any:
    """A matplotlib Figure (constrained layout), or ImportError naming the extra to install."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        msg = 'Figures need matplotlib: pip install "mnist-classic[report]"'
        raise ImportError(msg) from None
    return Figure(figsize=(width, height), layout="constrained")


def palette(names: Sequence[Any]) -> dict[Any, Any]:
    """One tab10 colour per name, in order (the same name keeps its colour across a report's figures)."""
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {n: cmap(i % 10) for i, n in enumerate(names)}


@dataclass(frozen=True)
class FigureFile:
    """A figure written to disk: its file stem, title, caption and one path per format."""

    name: str
    title: str
    caption: str
    paths: tuple[Path, ...]

    def path(self, ext: str) -> Path | None:
        """The file of format ``ext`` (``png`` or ``svg``), or None if not written."""
        return next((p for p in self.paths if p.suffix == f".{ext}"), None)


def save_figure(fig: Any, folder: Path, name: str, formats: Sequence[str], title: str, caption: str) -> FigureFile:
    """Write ``fig`` as ``folder/name.<ext>`` for each format, reproducibly (no dates, fixed SVG ids)."""
    from matplotlib import rc_context

    paths = []
    with rc_context({"svg.hashsalt": "mnist-classic", "svg.fonttype": "path"}):
        for ext in formats:
            path = folder / f"{name}.{ext}"
            meta = {"Date": None} if ext == "svg" else {"Software": None}
            fig.savefig(path, format=ext, dpi=100, metadata=meta)
            paths.append(path)
    return FigureFile(name, title, caption, tuple(paths))


def slug(text: str) -> str:
    """``text`` made safe as a file stem (a dataset name or directory)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "dataset"


def test_sets(rows: Any) -> Iterator[tuple[str, int, str, str, Any]]:
    """The rows of each test set (dataset, n_test), in order, with what its figures are named and titled.

    Yields ``(dataset, n_test, stem, where, group)``: ``stem`` is the dataset's
    slug, with ``-test<n>`` when the dataset has several test sizes in ``rows``;
    ``where`` is ``"<dataset>, <n> test images"``; ``group`` the rows (a
    pandas DataFrame).
    """
    n_tests = rows.groupby("dataset")["n_test"].nunique()
    for keys, group in rows.groupby(["dataset", "n_test"], sort=False):
        dataset, n_test = str(keys[0]), int(keys[1])
        stem = slug(dataset) + (f"-test{n_test}" if n_tests[keys[0]] > 1 else "")
        yield dataset, n_test, stem, f"{dataset}, {n_test:,} test images", group
