"""The pipeline registry: one factory per named pipeline.

Each entry is a factory that builds a fresh scikit-learn estimator (a
``Pipeline`` where there are several steps), never a shared instance. Adding a
pipeline is one entry in :data:`PIPELINES`; the CLI, ``mnist-classic list`` and
the contract tests follow from it.

Selectors (``name[param=value,...]``) that configure these entries are parsed
in :mod:`.selectors`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from .._origin import current_origin

__all__ = ["DEFAULT_PIPELINES", "PIPELINES", "SUITES", "PipelineSpec", "Suite", "register_pipeline", "register_suite"]
__all__ += ["suite_pipelines"]


@dataclass(frozen=True)
class PipelineSpec:
    """A registered pipeline: a name, a factory and one line of description.

    ``cost`` is (seconds, exponent): only the exponent is used, the growth of
    fit plus predict with n_train, which scales a probe on a few hundred
    images to the case's size when parallel cases are ordered (the seconds,
    measured once on one machine, are kept for reference and not used).
    ``serial_predict`` marks estimators whose ``predict`` uses one core (it
    may then be split over a case's threads).
    """

    name: str
    factory: Callable[[], BaseEstimator]
    description: str
    source: str = ""
    cost: tuple[float, float] = (10.0, 1.0)
    serial_predict: bool = False
    origin: str = "built-in"


#: The registry: name -> spec. Defaults reproduce published results on full MNIST
#: (see ``mnist-classic list pipelines`` and results/README.md).
PIPELINES: dict[str, PipelineSpec] = {}


Factory = Callable[[], BaseEstimator]


def register_pipeline(
    name: str,
    description: str,
    source: str = "",
    *,
    cost: tuple[float, float] = (10.0, 1.0),
    serial_predict: bool = False,
) -> Callable[[Factory], Factory]:
    """Decorator registering a factory under ``name`` (see :class:`PipelineSpec` for the fields).

    Raises
    ------
    ValueError
        If ``name`` is not a plain identifier-like name, or is already taken
        by an entry of another origin (a plugin may not shadow a built-in).
    """
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][\w-]*", name):
        msg = f"The 'name' parameter of register_pipeline must be letters, digits, '_' or '-'. Got {name!r} instead."
        raise ValueError(msg)

    def decorate(factory: Factory) -> Factory:
        origin = current_origin(getattr(factory, "__module__", "") or "")
        if name in PIPELINES and PIPELINES[name].origin != origin:
            msg = f"Pipeline {name!r} is already registered ({PIPELINES[name].origin}); {origin} cannot replace it"
            raise ValueError(msg)
        PIPELINES[name] = PipelineSpec(name, factory, description, source, cost, serial_predict, origin)
        return factory

    return decorate


@register_pipeline(
    "svm",
    "RBF support vector machine, SVC(C=10, gamma='scale') on raw pixels in [0, 1]",
    "LeCun's table: SVM, Gaussian kernel, 1.4% error",
    cost=(130.0, 1.7),
    serial_predict=True,
)
def _svm() -> BaseEstimator:
    return SVC(kernel="rbf", C=10, gamma="scale")


@register_pipeline(
    "pca_svm",
    "PCA to 50 components, then RBF SVC(C=10, gamma='scale')",
    "LeCun's table: 40 PCA + quadratic classifier, 3.3% error; measured here 98.68%",
    cost=(17.0, 1.5),
    serial_predict=True,
)
def _pca_svm() -> BaseEstimator:
    return Pipeline([("pca", PCA(n_components=50)), ("svc", SVC(kernel="rbf", C=10, gamma="scale"))])


@register_pipeline(
    "knn",
    "k-nearest neighbours, k=4, distance-weighted, Euclidean",
    "Geron, Hands-On ML, notebook 03: k=4, weights=distance, 97.14%",
    cost=(7.5, 1.0),
)
def _knn() -> BaseEstimator:
    return KNeighborsClassifier(n_neighbors=4, weights="distance")


@register_pipeline(
    "rf",
    "random forest of 100 trees",
    "Geron, Hands-On ML, notebook 03: RandomForestClassifier(100), 97.05%",
    cost=(25.0, 1.2),
)
def _rf() -> BaseEstimator:
    return RandomForestClassifier(n_estimators=100)


@register_pipeline(
    "logreg",
    "standardized pixels, multinomial logistic regression (lbfgs, C=0.1)",
    "Geron, Hands-On ML, notebook 03: multinomial lbfgs, 92.55%",
    cost=(16.0, 1.0),
)
def _logreg() -> BaseEstimator:
    return Pipeline([("scaler", StandardScaler()), ("logreg", LogisticRegression(C=0.1, max_iter=1000))])


@register_pipeline("dummy", "most frequent class: the sanity floor (about 11.35% on MNIST)", cost=(0.01, 1.0))
def _dummy() -> BaseEstimator:
    return DummyClassifier(strategy="most_frequent")


#: What ``mnist-classic run`` runs when no pipeline is named: the five mission pipelines.
DEFAULT_PIPELINES: tuple[str, ...] = ("svm", "pca_svm", "knn", "rf", "logreg")


@dataclass(frozen=True)
class Suite:
    """A named set of pipelines: ``run --suite NAME``."""

    name: str
    description: str
    pipelines: tuple[str, ...]
    origin: str = "built-in"


#: Suites by name; ``mnist-classic list`` shows them.
SUITES: dict[str, Suite] = {}


def register_suite(name: str, description: str, pipelines: tuple[str, ...]) -> Suite:
    """Add a named set of registered pipelines (its members must exist when it is used).

    Raises
    ------
    ValueError
        An empty set, or a name taken by a suite of another origin.
    """
    if not pipelines:
        msg = f"The 'pipelines' parameter of register_suite must name at least one pipeline. Got {pipelines!r}."
        raise ValueError(msg)
    origin = current_origin(sys._getframe(1).f_globals.get("__name__", ""))
    if name in SUITES and SUITES[name].origin != origin:
        msg = f"Suite {name!r} is already registered ({SUITES[name].origin}); {origin} cannot replace it"
        raise ValueError(msg)
    SUITES[name] = Suite(name, description, tuple(pipelines), origin)
    return SUITES[name]


def suite_pipelines(names: Sequence[str]) -> list[str]:
    """The pipelines of the suites ``names``, in order, each once.

    Raises
    ------
    ValueError
        An unknown suite (the message lists them) or a member that is not registered.
    """
    out: list[str] = []
    for name in names:
        if name not in SUITES:
            msg = f"The '--suite' option must be one of {', '.join(SUITES)}. Got {name!r} instead."
            raise ValueError(msg)
        for member in SUITES[name].pipelines:
            if member not in PIPELINES:
                msg = f"Suite {name!r} names {member!r}, which is not a registered pipeline"
                raise ValueError(msg)
            if member not in out:
                out.append(member)
    return out


register_suite("default", "the five pipelines run when none is named", DEFAULT_PIPELINES)
