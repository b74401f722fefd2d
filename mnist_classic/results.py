"""Results: the fixed CSV schema, its writer and reader, and the predictions sidecar.

One row per case, columns in the order of :data:`COLUMNS`, units in the names.
The writer appends and flushes each row the moment its case ends, never
overwrites, and refuses a file whose header differs. Predicted labels are kept
beside the CSV in ``<stem>.predictions/<sha256>.npz``, named by the SHA-256 of
the labels (canonical little-endian int64 bytes), which is also the value of
the ``predictions_sha256`` column: the hash both identifies and locates them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic_write

__all__ = [
    "COLUMNS",
    "ResultsSchemaError",
    "ResultWriter",
    "labels_sha256",
    "load_labels",
    "predictions_dir",
    "read_results",
    "row_labels",
    "save_labels",
]

#: The CSV schema, in order. Documented column by column in results/README.md.
COLUMNS: tuple[str, ...] = (
    # the case
    "run_id",
    "dataset",
    "pipeline",
    "params",
    "n_train",
    "n_test",
    "seed",
    "repeat",
    "status",
    "accuracy",
    "fit_time_s",
    "predict_time_s",
    "step_times",
    "peak_memory_mb",
    "predictions_sha256",
    "truth_sha256",
    "deterministic",
    "error",
    "started_at",
    "execution",
    "n_jobs",
    "thread_budget",
    "predict_chunks",
    # the data
    "subset",
    "sha256_train_images",
    "sha256_train_labels",
    "sha256_test_images",
    "sha256_test_labels",
    # the environment
    "python_version",
    "numpy_version",
    "scipy_version",
    "sklearn_version",
    "blas",
    "blas_threads",
    "openmp_threads",
    "cpu_model",
    "cpu_count",
    "platform",
    "suite_version",
    "git_commit",
    "command",
)

#: Columns read back as numbers; every other column is text (hashes and versions must stay strings).
NUMERIC_COLUMNS: frozenset[str] = frozenset(
    {
        "n_train",
        "n_test",
        "seed",
        "repeat",
        "accuracy",
        "fit_time_s",
        "predict_time_s",
        "peak_memory_mb",
        "blas_threads",
        "openmp_threads",
        "cpu_count",
        "n_jobs",
        "thread_budget",
        "predict_chunks",
    }
)

#: Statuses a row can have.
STATUSES: tuple[str, ...] = ("ok", "error", "timeout")


logger = logging.getLogger(__name__)


class ResultsSchemaError(ValueError):
    """A file that is not a results CSV of this schema."""


def _header_line() -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(COLUMNS)
    return buf.getvalue()


def predictions_dir(csv_path: str | os.PathLike[str]) -> Path:
    """The sidecar folder of a results CSV: ``results/x.csv`` -> ``results/x.predictions``."""
    return Path(csv_path).with_suffix(".predictions")


def labels_sha256(labels: np.ndarray) -> str:
    """SHA-256 of labels as canonical little-endian int64 bytes."""
    return hashlib.sha256(np.ascontiguousarray(labels, dtype="<i8").tobytes()).hexdigest()


def save_labels(folder: str | os.PathLike[str], labels: np.ndarray) -> str:
    """Store ``labels`` as ``<sha256>.npz`` in ``folder`` (atomically, once) and return the hash."""
    folder = Path(folder)
    sha = labels_sha256(labels)
    path = folder / f"{sha}.npz"
    if path.exists():
        return sha
    folder.mkdir(parents=True, exist_ok=True)
    labels = np.asarray(labels)
    small = labels.astype(np.uint8) if labels.size and labels.min() >= 0 and labels.max() < 256 else labels

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:  # a file object: savez would append ".npz" to a name
            np.savez_compressed(f, labels=small)

    atomic_write(path, write)
    return sha


def load_labels(folder: str | os.PathLike[str], sha: str) -> np.ndarray:
    """Load labels saved by :func:`save_labels` and check their hash.

    Raises
    ------
    FileNotFoundError
        If no such file is in ``folder``.
    ResultsSchemaError
        If the stored labels do not hash to ``sha``.
    """
    path = Path(folder) / f"{sha}.npz"
    with np.load(path, allow_pickle=False) as z:
        labels = z["labels"].astype(np.int64)
    if labels_sha256(labels) != sha:
        msg = f"{path}: stored labels do not match their SHA-256 {sha}"
        raise ResultsSchemaError(msg)
    return labels


@contextmanager
def _locked(fd: int) -> Iterator[None]:
    """An exclusive advisory lock on an open file (fcntl); a no-op where fcntl does not exist."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: appends are still single writes
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


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
        chunk = os.pread(fd, end - start, start)
        i = chunk.rfind(b"\n")
        if i >= 0:
            return start + i + 1
        end = start
    return 0


class ResultWriter:
    """Append rows of :data:`COLUMNS` to a CSV: one locked, flushed, single write per row.

    Several writers (runs) may append to one file at once: each row is one
    ``write`` under an exclusive ``flock``, so rows never interleave. A row
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
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            with _locked(fd):
                self._prepare(fd)
        finally:
            os.close(fd)
        self.predictions.mkdir(parents=True, exist_ok=True)

    def _prepare(self, fd: int) -> None:
        header = _header_line().encode()
        size = os.fstat(fd).st_size
        start = os.pread(fd, min(size, len(header)), 0)
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
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            with _locked(fd):
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


def read_results(path: str | os.PathLike[str]) -> Any:
    """Read a results CSV into a pandas DataFrame, checking its schema.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    pandas.DataFrame
        Columns in :data:`COLUMNS` order.

    Raises
    ------
    ResultsSchemaError
        If the header is not this schema's or the file cannot be parsed.
    """
    import pandas as pd

    path = Path(path)
    try:
        dtypes = {c: str for c in COLUMNS if c not in NUMERIC_COLUMNS}
        df = pd.read_csv(path, dtype=dtypes, keep_default_na=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        msg = f"{path}: not a results CSV: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        raise ResultsSchemaError(msg) from None
    if tuple(df.columns) != COLUMNS:
        msg = f"{path}: not a results CSV of this schema (columns differ from mnist_classic.results.COLUMNS)"
        raise ResultsSchemaError(msg)
    for col in sorted(NUMERIC_COLUMNS):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() & df[col].notna()
        if bad.any():
            line = int(bad.to_numpy().nonzero()[0][0]) + 2  # 1-based, after the header
            msg = f"{path}: line {line}: column {col!r} must be a number, got {df[col][bad].iloc[0]!r}"
            raise ResultsSchemaError(msg)
        df[col] = values
    bad_status = ~df["status"].isin(STATUSES)
    if bad_status.any():
        line = int(bad_status.to_numpy().nonzero()[0][0]) + 2
        got = df["status"][bad_status].iloc[0]
        msg = f"{path}: line {line}: status must be one of {', '.join(STATUSES)}, got {got!r}"
        raise ResultsSchemaError(msg)
    return df


def row_labels(row: Any, column: str) -> np.ndarray:
    """The labels a result row points to (``predictions_sha256`` or ``truth_sha256``).

    ``row`` comes from :func:`mnist_classic.compare.load_runs`: its ``_source``
    column names the CSV, whose sidecar folder holds the labels.

    Raises
    ------
    ResultsSchemaError
        When the row names no labels, or its sidecar folder lacks them.
    """
    sha = row[column]
    folder = predictions_dir(row["_source"])
    if not isinstance(sha, str) or not sha:
        msg = f"{row['_source']}: the {row['pipeline']} row has no {column}"
        raise ResultsSchemaError(msg)
    try:
        return load_labels(folder, sha)
    except FileNotFoundError:
        msg = (
            f"{row['_source']}: predictions of {row['pipeline']} ({sha[:12]}...) not found in {folder}; "
            "keep the .predictions folder beside its CSV"
        )
        raise ResultsSchemaError(msg) from None
