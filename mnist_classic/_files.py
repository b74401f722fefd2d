"""Writing a file atomically: to a temporary file beside it, then renamed over it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: Path, write: Callable[[str], object]) -> None:
    """Call ``write(tmp_name)`` for a temporary file in ``path``'s folder, then rename it to ``path``.

    Readers see the old file or the whole new one, never a part; the
    temporary file is removed if ``write`` fails.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
