"""The fixed CSV schema of results and its validating reader.

One row per case, columns in the order of :data:`COLUMNS`, units in the names
(documented column by column in results/README.md). Reader and writer
(:mod:`.writer`) share this module's constants.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from pathlib import Path
from typing import Any

__all__ = [
    "COLUMNS",
    "DEPLOYMENT_COLUMNS",
    "NUMERIC_COLUMNS",
    "OLDER_SCHEMAS",
    "STATUSES",
    "ResultsSchemaError",
    "header_line",
    "read_results",
]

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
    "log_loss",
    "ece",
    "brier",
    "fit_time_s",
    "predict_time_s",
    "latency_ms_p50",
    "latency_ms_p99",
    "latency_n",
    "step_times",
    "peak_memory_mb",
    "model_bytes",
    "predictions_sha256",
    "probabilities_sha256",
    "truth_sha256",
    "deterministic",
    "error",
    "started_at",
    "execution",
    "cluster_job_id",
    "n_jobs",
    "thread_budget",
    "fit_threads",
    "predict_threads",
    "predict_chunks",
    # the data
    "subset",
    "sha256_train_images",
    "sha256_train_labels",
    "sha256_test_images",
    "sha256_test_labels",
    # resampled splits (run --splits): the split's label and the payloads it trained and tested on
    "split",
    "split_train_sha256",
    "split_test_sha256",
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
    "config_sha256",
    # the engine (0.2)
    "engine",
    "engine_version",
    "accelerated",
    # neural (0.3)
    "device",
    "n_params",
    "macs",
    "learning_curves",
    # instruction counts (0.3): run --measure instructions
    "measure",
    "fit_instructions",
    "predict_instructions",
    "step_instructions",
    "valgrind_version",
    "count_basis",
    # clean timings and the machine's state (0.3)
    "fit_cpu_s",
    "predict_cpu_s",
    "warmup",
    "calibration_s",
    "others_cores",
    "steal_fraction",
    "load_avg",
    "procs_running",
    # the process and CPU of each measurement (0.3): the level at which the machine's speed varies
    "process_id",
    "cpu",
    # A/B runs (0.3): mnist-classic ab
    "side",
    "ab_round",
    # tuned cases (0.4): run --tune, empty on untuned rows
    "tuned_params",
    "validation_accuracy",
    "tuning_candidates",
    "tuning_time_s",
    "validation",
    "tuning_scores",
)

#: What a deployment asks of a model (0.3, issue #31): probability quality, one-image latency, size, MACs.
#: They stand beside the columns they relate to; every earlier schema lacks them all.
DEPLOYMENT_COLUMNS: tuple[str, ...] = (
    "log_loss",
    "ece",
    "brier",
    "latency_ms_p50",
    "latency_ms_p99",
    "latency_n",
    "model_bytes",
    "probabilities_sha256",
    "macs",
)
#: The columns 0.3 added (neural, instruction counts, clean timings, machine state, A/B); 0.2 files lack them all.
_NEW_03 = COLUMNS[COLUMNS.index("device") :]
#: The columns added after the neural ones (results/mnist-cnn.csv was written before them).
_AFTER_NEURAL = COLUMNS[COLUMNS.index("measure") :]
#: The columns of tuned cases (run --tune); every earlier file lacks them.
_TUNING = COLUMNS[COLUMNS.index("tuned_params") :]

#: The columns of resampled splits (run --splits); every earlier file lacks them.
_SPLITS = ("split", "split_train_sha256", "split_test_sha256")

#: The column added with runs on batch clusters (run --cluster slurm).
_CLUSTER = ("cluster_job_id",)

#: The columns this round added (--splits, --tune, --cluster, deployment, process/CPU): every earlier file lacks them.
_ROUND_04 = (*_SPLITS, *_TUNING, *_CLUSTER, *DEPLOYMENT_COLUMNS, "process_id", "cpu")


def _lacking(*groups: tuple[str, ...]) -> tuple[str, ...]:
    """The columns an earlier schema lacks: the groups named, and this round's columns, each once."""
    return tuple(dict.fromkeys(c for g in (*groups, _ROUND_04) for c in g))


#: Columns of earlier versions' files, which are read (missing columns empty) but never appended to.
#: Each entry: the version that last wrote that schema, and the columns it lacks.
OLDER_SCHEMAS: dict[str, tuple[str, ...]] = {
    "0.1": _lacking(
        ("fit_threads", "predict_threads", "config_sha256", "engine", "engine_version", "accelerated"), _NEW_03
    ),
    "0.2.0.dev0 (before the thread columns)": _lacking(("fit_threads", "predict_threads"), _NEW_03),
    "0.2.0.dev0 (before engines)": _lacking(("engine", "engine_version", "accelerated"), _NEW_03),
    "0.2 (before the 0.3 columns)": _lacking(_NEW_03),
    "0.3.0.dev0 (neural columns, before instruction counts)": _lacking(_AFTER_NEURAL),
    "0.3.0.dev0 (before resampled splits, tuning, clusters, deployment, process and CPU columns)": _lacking(),
}

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
        "fit_threads",
        "predict_threads",
        "predict_chunks",
        "fit_instructions",
        "predict_instructions",
        "fit_cpu_s",
        "predict_cpu_s",
        "calibration_s",
        "others_cores",
        "steal_fraction",
        "load_avg",
        "procs_running",
        "process_id",
        "cpu",
        "ab_round",
        "n_params",
        "validation_accuracy",
        "tuning_candidates",
        "tuning_time_s",
        "log_loss",
        "ece",
        "brier",
        "latency_ms_p50",
        "latency_ms_p99",
        "latency_n",
        "model_bytes",
        "macs",
    }
)

#: Statuses a row can have.
STATUSES: tuple[str, ...] = ("ok", "error", "timeout")


logger = logging.getLogger(__name__)


class ResultsSchemaError(ValueError):
    """A file that is not a results CSV of this schema."""


def header_line() -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(COLUMNS)
    return buf.getvalue()


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
        older = [
            v for v, lacks in OLDER_SCHEMAS.items() if tuple(df.columns) == tuple(c for c in COLUMNS if c not in lacks)
        ]
        if not older:
            msg = f"{path}: not a results CSV of this schema (columns differ from mnist_classic.results.COLUMNS)"
            raise ResultsSchemaError(msg)
        df = df.reindex(columns=list(COLUMNS))  # an earlier version's file: its missing columns are empty
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
