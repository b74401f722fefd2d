"""Published MNIST results for classical methods, as data with their sources.

The table ships in the package as ``_data/published.csv``, one row per
published figure (standard 60,000 / 10,000 split): the classifier and
preprocessing as the source describes them, the test error in percent, the
figure exactly as published, the work it is credited to, and where it was
read. A row whose ``pipeline`` names one of this suite's pipeline families is a
reference for it; ``rank`` 1 is the closest match, shown in reports. Rows
without a pipeline are context (deskewing, augmentation, other families).

Sources: Y. LeCun, C. Cortes and C. J. C. Burges's MNIST page (results table),
scikit-learn's ``benchmarks/bench_mnist.py`` (the example output in its
docstring) and A. Géron's *Hands-On Machine Learning* notebooks.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from importlib import resources

__all__ = ["PublishedResult", "load_published", "pipeline_family", "published_reference"]

#: The split every published figure uses: (n_train, n_test) of MNIST.
STANDARD_SPLIT: tuple[int, int] = (60000, 10000)

#: The columns of ``_data/published.csv``, in order.
PUBLISHED_COLUMNS: tuple[str, ...] = (
    "pipeline",
    "rank",
    "family",
    "classifier",
    "preprocessing",
    "test_error_pct",
    "as_published",
    "reference",
    "source",
)


@dataclass(frozen=True)
class PublishedResult:
    """One published figure.

    Attributes
    ----------
    pipeline : str or None
        The pipeline family of this suite it is a reference for, else None.
    rank : int or None
        1 for the closest published match of ``pipeline``, 2, 3, ... for others.
    family : str
        Method family as the source groups it (``svm``, ``knn``, ``linear``, ...).
    classifier, preprocessing : str
        As described by the source.
    test_error_pct : float
        Test error in percent.
    as_published : str
        The figure as it appears in the source (``accuracy 0.9714``, ``error 0.0228``).
    reference : str
        The work the source credits (may be empty).
    source : str
        Where the figure was read.
    """

    pipeline: str | None
    rank: int | None
    family: str
    classifier: str
    preprocessing: str
    test_error_pct: float
    as_published: str
    reference: str
    source: str

    @property
    def accuracy(self) -> float:
        """Test accuracy as a fraction, ``1 - test_error_pct / 100``."""
        return 1.0 - self.test_error_pct / 100.0

    @property
    def citation(self) -> str:
        """The source, followed by the credited work when the source names one."""
        return f"{self.source}; {self.reference}" if self.reference else self.source

    @property
    def footnote(self) -> str:
        """What, how, and where from: one line for a report's notes."""
        return f"{self.classifier}, preprocessing: {self.preprocessing} ({self.as_published}). {self.citation}."


def _parse(text: str, origin: str) -> tuple[PublishedResult, ...]:
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != PUBLISHED_COLUMNS:
        msg = f"{origin}: the header must be {','.join(PUBLISHED_COLUMNS)}. Got {reader.fieldnames} instead."
        raise ValueError(msg)
    rows = []
    for line, rec in enumerate(reader, start=2):
        try:
            error = float(rec["test_error_pct"])
            rank = int(rec["rank"]) if rec["rank"] else None
        except ValueError:
            msg = f"{origin}: line {line}: 'test_error_pct' must be a number and 'rank' an int or empty"
            raise ValueError(msg) from None
        if not 0 <= error <= 100 or not rec["source"]:
            msg = f"{origin}: line {line}: test_error_pct must be in [0, 100] and source must not be empty"
            raise ValueError(msg)
        rows.append(
            PublishedResult(
                pipeline=rec["pipeline"] or None,
                rank=rank,
                family=rec["family"],
                classifier=rec["classifier"],
                preprocessing=rec["preprocessing"],
                test_error_pct=error,
                as_published=rec["as_published"],
                reference=rec["reference"],
                source=rec["source"],
            )
        )
    return tuple(rows)


@functools.lru_cache(maxsize=1)
def load_published() -> tuple[PublishedResult, ...]:
    """Every published result shipped with the package, in file order.

    Returns
    -------
    tuple of PublishedResult

    Raises
    ------
    ValueError
        If the packaged file is malformed (the message names the line).

    Examples
    --------
    >>> rows = load_published()
    >>> best = published_reference("svm")
    >>> best.classifier, best.test_error_pct
    ('SVM, Gaussian kernel', 1.4)
    """
    path = resources.files("mnist_classic") / "_data" / "published.csv"
    return _parse(path.read_text(encoding="utf-8"), "mnist_classic/_data/published.csv")


def pipeline_family(pipeline: str) -> str:
    """The family of a configured pipeline name: ``pca_svm[pca__n_components=30]`` -> ``pca_svm``."""
    return pipeline.split("[", 1)[0].strip()


def published_reference(
    pipeline: str, dataset: str = "mnist", n_train: int = STANDARD_SPLIT[0], n_test: int = STANDARD_SPLIT[1]
) -> PublishedResult | None:
    """The closest published result for a (configured) pipeline's family, or None.

    Parameters
    ----------
    pipeline : str
        A pipeline name as in the results CSV, e.g. ``svm`` or ``knn[n_neighbors=3]``.
    dataset : str, default="mnist"
    n_train, n_test : int, default=60000, 10000
        The case's dataset and split: the published figures are for MNIST's
        standard split only, so any other case has no reference.

    Returns
    -------
    PublishedResult or None
        The rank-1 row for the family; None when nothing published matches.

    Examples
    --------
    >>> published_reference("knn[n_neighbors=3]").as_published
    'accuracy 0.9714'
    >>> published_reference("knn", n_train=1000) is None
    True
    """
    if (dataset, n_train, n_test) != ("mnist", *STANDARD_SPLIT):
        return None
    family = pipeline_family(pipeline)
    for row in load_published():
        if row.pipeline == family and row.rank == 1:
            return row
    return None
