"""mnist-classic: classical machine learning benchmarks on MNIST-format datasets.

The public API is re-exported here; users never import from submodules.
Names that need scikit-learn are imported on first use, so that loading data
(``load_dataset``) stays fast and light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .data import (
    DATASETS,
    ROLES,
    ArchiveSpec,
    DataIntegrityError,
    Dataset,
    DatasetSpec,
    FetchError,
    FileCheck,
    FileSpec,
    IDXError,
    Split,
    decode_idx,
    encode_idx,
    fetch_dataset,
    find_idx_files,
    get_data_home,
    get_dataset_spec,
    load_dataset,
    load_split,
    read_idx,
    register_dataset,
    verify_dataset,
    write_idx,
)
from .results import COLUMNS, ResultsSchemaError, ResultWriter, load_labels, load_probabilities, read_results

# Public names served lazily (module attribute -> submodule), see __getattr__:
# they import scikit-learn or matplotlib.
_LAZY: dict[str, str] = {
    "DEFAULT_PIPELINES": "spec.pipelines",
    "PIPELINES": "spec.pipelines",
    "register_pipeline": "spec.pipelines",
    "SUITES": "spec.pipelines",
    "register_suite": "spec.pipelines",
    "suite_pipelines": "spec.pipelines",
    "ConfiguredPipeline": "spec.selectors.parse",
    "parse_selector": "spec.selectors.parse",
    "RunConfig": "spec.runconfig",
    "RunResult": "bench.runner",
    "run_benchmark": "bench.runner",
    "collect_environment": "measure.environment",
    "reproduce_rows": "bench.reproduce",
    "Reproduction": "bench.reproduce",
    "Deskew": "estimators.deskew",
    "LeNet5Classifier": "estimators.lenet",
    "ResNetClassifier": "estimators.resnet",
    "MobileNetClassifier": "estimators.mobilenet",
    "ViTClassifier": "estimators.vit",
    "DatasetPreview": "analysis.explore.dataview",
    "show_dataset": "analysis.explore.dataview",
    "explore": "analysis.explore.explorer",
    "rank_rows": "analysis.significance.ranking",
    "rank_table": "analysis.significance.ranking",
    "read_score_table": "analysis.significance.ranking",
}

if TYPE_CHECKING:  # pragma: no cover
    from .analysis.explore.dataview import DatasetPreview, show_dataset
    from .analysis.explore.explorer import explore
    from .analysis.significance.ranking import rank_rows, rank_table, read_score_table
    from .bench.reproduce import Reproduction, reproduce_rows
    from .bench.runner import RunResult, run_benchmark
    from .estimators.deskew import Deskew
    from .estimators.lenet import LeNet5Classifier
    from .estimators.mobilenet import MobileNetClassifier
    from .estimators.resnet import ResNetClassifier
    from .estimators.vit import ViTClassifier
    from .measure.environment import collect_environment
    from .spec.pipelines import (
        DEFAULT_PIPELINES,
        PIPELINES,
        SUITES,
        register_pipeline,
        register_suite,
        suite_pipelines,
    )
    from .spec.runconfig import RunConfig
    from .spec.selectors.parse import ConfiguredPipeline, parse_selector

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
    "Split",
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
    "load_split",
    "load_labels",
    "load_probabilities",
    "read_results",
    "read_idx",
    "register_dataset",
    "verify_dataset",
    "write_idx",
    # served lazily (they import scikit-learn):
    "DEFAULT_PIPELINES",
    "PIPELINES",
    "SUITES",
    "ConfiguredPipeline",
    "Deskew",
    "LeNet5Classifier",
    "ResNetClassifier",
    "MobileNetClassifier",
    "ViTClassifier",
    "DatasetPreview",
    "RunConfig",
    "RunResult",
    "Reproduction",
    "collect_environment",
    "parse_selector",
    "register_pipeline",
    "register_suite",
    "reproduce_rows",
    "run_benchmark",
    "suite_pipelines",
    "show_dataset",
    "explore",
    "rank_rows",
    "rank_table",
    "read_score_table",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
