"""A report table: title, summary rows, and the same as text cells with notes, ready to render.

Its own module so that :mod:`.summary` and :mod:`.neural` both build tables without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ReportTable"]


@dataclass
class ReportTable:
    """One dataset and test size: the summary rows, and the same as text cells with notes, ready to render."""

    title: str  # mnist: 10,000 test images
    data: list[dict[str, Any]]
    head: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    left_columns: set[int] | None = None  # set by tables of other columns (the neural table)

    @property
    def left(self) -> set[int]:
        """Left-aligned columns: pipeline, CI method and the McNemar column; numbers align right."""
        if self.left_columns is not None:
            return self.left_columns
        ci = {self.head.index("CI")} if "CI" in self.head else set()
        return {0, *ci} | ({len(self.head) - 1} if self.head[-1].startswith("vs ") else set())
