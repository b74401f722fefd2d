"""Data: from bytes on disk to normalized matrices.

Holds the IDX codec (:mod:`.idx`), the dataset registry (:mod:`.datasets`),
where a dataset's files are and their pinned hashes (:mod:`.sources`),
downloads (:mod:`.fetch`), the decoded cache (:mod:`.decoded`), the loader
(:mod:`.loader`) and one split as its uint8 payloads (:mod:`.raw`), in that order of the flow.

May import: the standard library, numpy, platformdirs, ``mnist_classic._files``; torch and
tensorflow only inside ``Dataset.to_torch``/``to_tf``.
Never imports scikit-learn, ``results``, ``bench``, ``analysis`` or ``cli``.
"""

from .datasets import DATASETS, ROLES, ArchiveSpec, DatasetSpec, FileSpec, get_dataset_spec, register_dataset
from .decoded import DataIntegrityError
from .fetch import FetchError, fetch_dataset, get_data_home
from .idx import IDXError, decode_idx, encode_idx, read_idx, write_idx
from .loader import Dataset, FileCheck, load_dataset, verify_dataset
from .raw import Split, load_split
from .sources import find_idx_files

__all__ = [
    "DATASETS",
    "ROLES",
    "ArchiveSpec",
    "DataIntegrityError",
    "Dataset",
    "DatasetSpec",
    "FetchError",
    "FileCheck",
    "FileSpec",
    "IDXError",
    "Split",
    "decode_idx",
    "encode_idx",
    "fetch_dataset",
    "find_idx_files",
    "get_data_home",
    "get_dataset_spec",
    "load_dataset",
    "load_split",
    "read_idx",
    "register_dataset",
    "verify_dataset",
    "write_idx",
]
