"""Result CSVs read as one table: files or folders of them, each row tagged with its source."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..results import read_results

__all__ = ["DATA_SHA_COLUMNS", "KEY", "load_runs"]

#: What names a case across runs: rows of two runs with these values are the same case, measured twice.
KEY = ("dataset", "pipeline", "n_train", "n_test")
#: The data's hashes in a row: two runs of one case must have tested the same data to be compared.
DATA_SHA_COLUMNS = ("sha256_train_images", "sha256_train_labels", "sha256_test_images", "sha256_test_labels")


def load_runs(paths: Sequence[str | os.PathLike[str]]) -> pd.DataFrame:
    """Read result CSVs (files, or folders of ``*.csv``) into one frame with a ``_source`` column.

    Raises
    ------
    FileNotFoundError
        A path that does not exist, or a folder without CSV files.
    ResultsSchemaError
        A file that is not a results CSV of this schema.
    """
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("*.csv"))
            if not found:
                msg = f"No results CSV in folder {p}"
                raise FileNotFoundError(msg)
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            msg = f"No such results file or folder: {p}"
            raise FileNotFoundError(msg)
    frames = []
    for f in files:
        df = read_results(f)
        df["_source"] = str(f)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)
