"""The results writer: one locked, flushed append per case, never an overwrite.

The writer appends and flushes each row the moment its case ends, never
overwrites, and refuses a file whose header differs; a row cut short by a
crash is removed when the file is next opened.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from filelock import FileLock

from .labels import predictions_dir
from .schema import COLUMNS, ResultsSchemaError, header_line

__all__ = ["ResultWriter", "lock_path"]

logger = logging.getLogger(__name__)
_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation


def lock_path(path: str | os.PathLike[str]) -> Path:
    """The lock file of a results CSV: ``<csv>.lock`` beside it (left in place, as filelock does)."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on the CSV ``path``, held on ``<csv>.lock`` through filelock.

    filelock takes ``flock`` on Unix and ``msvcrt.locking`` on Windows: both
    are released by the system when their process dies, even by ``kill -9``,
    so a crashed run never leaves the CSV locked. (Where neither exists,
    filelock falls back to an exclusive-create lock file, removed on release.)
    """
    with FileLock(lock_path(path)):
        yield


def _pread(fd: int, n: int, offset: int) -> bytes:
    """``n`` bytes at ``offset``; ``os.pread`` where it exists (not on Windows), else seek and read.

    Seeking does not disturb appends: the file is opened with ``O_APPEND``.
    """
    if hasattr(os, "pread"):
        return os.pread(fd, n, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    out = b""
    while len(out) < n and (chunk := os.read(fd, n - len(out))):
        out += chunk
    return out


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _last_newline(fd: int, size: int) -> int:
    """Offset just past the last newline of the file (0 when there is none)."""
    end = size
    while end > 0:
        start = max(0, end - (1 << 16))
        chunk = _pread(fd, end - start, start)
        i = chunk.rfind(b"\n")
        if i >= 0:
            return start + i + 1
        end = start
    return 0


class ResultWriter:
    """Append rows of :data:`COLUMNS` to a CSV: one locked, flushed, single write per row.

    Several writers (runs) may append to one file at once: each row is one
    ``write`` under an exclusive lock on ``<csv>.lock`` (filelock), so rows
    never interleave. A row
    cut short by a crash or a full disk is removed (the file is truncated
    back to its last complete line), so the file always parses.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV. Created with its header if absent or empty; otherwise its
        header must be exactly this schema's, and rows are appended.

    Raises
    ------
    ResultsSchemaError
        If the file exists with another header, or is not a regular file.
    OSError
        If the file or its predictions folder cannot be created or written.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.predictions = predictions_dir(self.path)
        if self.path.exists() and not self.path.is_file():
            msg = f"The output path {self.path} is not a regular file; give a .csv file"
            raise ResultsSchemaError(msg)
        for folder in self.path.absolute().parents:
            if folder.exists():
                if not folder.is_dir():
                    msg = f"Cannot create {self.path}: {folder} is a file, not a folder"
                    raise ResultsSchemaError(msg)
                break
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | _BINARY, 0o644)
        try:
            with _locked(self.path):
                self._prepare(fd)
        finally:
            os.close(fd)
        self.predictions.mkdir(parents=True, exist_ok=True)

    def _prepare(self, fd: int) -> None:
        header = header_line().encode()
        size = os.fstat(fd).st_size
        start = _pread(fd, min(size, len(header)), 0)
        if size < len(header) and header.startswith(start) and b"\n" not in start:
            os.ftruncate(fd, 0)  # empty, or a header cut short while the file was created
            _write_all(fd, header)
            os.fsync(fd)
            return
        if start != header:
            msg = (
                f"{self.path} exists with another header (not this version's results schema); "
                "refusing to append: choose another --output"
            )
            raise ResultsSchemaError(msg)
        complete = _last_newline(fd, size)
        if complete < size:
            logger.warning("%s: removing a row cut short by an earlier crash (%d bytes)", self.path, size - complete)
            os.ftruncate(fd, complete)
            os.fsync(fd)

    def append(self, row: dict[str, Any]) -> None:
        """Write one row (missing keys empty; unknown keys are an error) and flush it to disk.

        Raises
        ------
        OSError
            When the row cannot be written (e.g. the disk is full); the file
            is left as it was before the call.
        """
        unknown = set(row) - set(COLUMNS)
        if unknown:
            msg = f"Unknown result columns: {sorted(unknown)}"
            raise ValueError(msg)
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(["" if row.get(c) is None else row.get(c) for c in COLUMNS])
        data = buf.getvalue().encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | _BINARY)
        try:
            with _locked(self.path):
                size = os.fstat(fd).st_size
                try:
                    _write_all(fd, data)
                    os.fsync(fd)
                except OSError as exc:
                    with suppress(OSError):
                        os.ftruncate(fd, size)  # leave no half row behind
                    msg = f"could not write a row to {self.path}: {exc.strerror or exc}"
                    raise OSError(exc.errno, msg) from None
        finally:
            os.close(fd)
