"""Results: the CSV schema, its reader and writer, and the predictions sidecar.

Holds :mod:`.schema` (the fixed column order and the validating reader),
:mod:`.writer` (locked, crash-safe appends) and :mod:`.labels` (predicted labels
stored by hash beside each CSV), and :mod:`.selection` (rows chosen on the test set: the best of
an untuned grid, which summaries mark). The meeting point of the two sides: the runner
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
from .selection import SELECTION_NOTE, best_on_test, grid_family, is_tuned
from .writer import ResultWriter

__all__ = [
    "COLUMNS",
    "DEPLOYMENT_COLUMNS",
    "NUMERIC_COLUMNS",
    "OLDER_SCHEMAS",
    "SELECTION_NOTE",
    "STATUSES",
    "ResultWriter",
    "ResultsSchemaError",
    "best_on_test",
    "grid_family",
    "header_line",
    "is_tuned",
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
