"""mnist-classic: classical machine learning benchmarks on MNIST-format datasets.

The public API is re-exported here; users never import from submodules.
Names that need scikit-learn are imported on first use, so that loading data
(``load_dataset``) stays fast and light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .datasets import DATASETS, ROLES, ArchiveSpec, DatasetSpec, FileSpec, get_dataset_spec, register_dataset
from .fetch import FetchError, fetch_dataset, get_data_home
from .idx import IDXError, decode_idx, encode_idx, read_idx, write_idx
from .loader import DataIntegrityError, Dataset, FileCheck, find_idx_files, load_dataset, verify_dataset
from .results import COLUMNS, ResultsSchemaError, ResultWriter, load_labels, read_results

__version__ = "0.1.0"

# Public names served lazily (module attribute -> submodule), see __getattr__.
_LAZY: dict[str, str] = {
    "DEFAULT_PIPELINES": "pipelines",
    "PIPELINES": "pipelines",
    "ConfiguredPipeline": "pipelines",
    "parse_selector": "pipelines",
    "register_pipeline": "pipelines",
    "RunConfig": "runner",
    "RunResult": "runner",
    "run_benchmark": "runner",
    "collect_environment": "environment",
}

if TYPE_CHECKING:  # pragma: no cover
    from .environment import collect_environment
    from .pipelines import DEFAULT_PIPELINES, PIPELINES, ConfiguredPipeline, parse_selector, register_pipeline
    from .runner import RunConfig, RunResult, run_benchmark

__all__ = [
    "DATASETS",
    "ROLES",
    "COLUMNS",
    "ArchiveSpec",
    "DataIntegrityError",
    "Dataset",
    "DatasetSpec",
    "FetchError",
    "FileCheck",
    "FileSpec",
    "IDXError",
    "ResultWriter",
    "ResultsSchemaError",
    "__version__",
    "decode_idx",
    "encode_idx",
    "fetch_dataset",
    "find_idx_files",
    "get_data_home",
    "get_dataset_spec",
    "load_dataset",
    "load_labels",
    "read_results",
    "read_idx",
    "register_dataset",
    "verify_dataset",
    "write_idx",
    # served lazily (they import scikit-learn):
    "DEFAULT_PIPELINES",
    "PIPELINES",
    "ConfiguredPipeline",
    "RunConfig",
    "RunResult",
    "collect_environment",
    "parse_selector",
    "register_pipeline",
    "run_benchmark",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
