"""Results: the CSV schema, its reader and writer, and the predictions sidecar.

Holds :mod:`.schema` (the fixed column order and the validating reader),
:mod:`.writer` (locked, crash-safe appends) and :mod:`.labels` (predicted labels
stored by hash beside each CSV). The meeting point of the two sides: the runner
(``bench``) writes rows, ``analysis`` reads them.

May import: the standard library, numpy, pandas (on read), ``mnist_classic._files``.
Never imports ``data``, ``bench``, ``analysis`` or ``cli``.
"""

from .labels import (
    labels_sha256,
    load_labels,
    load_probabilities,
    predictions_dir,
    probabilities_sha256,
    row_labels,
    row_probabilities,
    save_labels,
    save_probabilities,
)
from .schema import (
    COLUMNS,
    DEPLOYMENT_COLUMNS,
    NUMERIC_COLUMNS,
    OLDER_SCHEMAS,
    STATUSES,
    ResultsSchemaError,
    header_line,
    read_results,
)
from .writer import ResultWriter

__all__ = [
    "COLUMNS",
    "DEPLOYMENT_COLUMNS",
    "NUMERIC_COLUMNS",
    "OLDER_SCHEMAS",
    "STATUSES",
    "ResultWriter",
    "ResultsSchemaError",
    "header_line",
    "labels_sha256",
    "load_labels",
    "load_probabilities",
    "predictions_dir",
    "probabilities_sha256",
    "read_results",
    "row_labels",
    "row_probabilities",
    "save_labels",
    "save_probabilities",
]
