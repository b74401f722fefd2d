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
from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from .._origin import current_origin
from ..estimators.deskew import Deskew

__all__ = ["DEFAULT_PIPELINES", "PIPELINES", "SUITES", "PipelineSpec", "Suite", "register_pipeline", "register_suite"]
__all__ += ["suite_pipelines"]


@dataclass(frozen=True)
class PipelineSpec:
    """A registered pipeline: a name, a factory and one line of description.

    ``cost`` is (seconds, exponent): only the exponent is used, and only as a
    prior: the growth of fit with n_train assumed when the probe that orders
    parallel cases ran too briefly to measure one (see
    :class:`~.parallel.ProbeTimes`). The seconds, measured once on one
    machine, are kept for reference and not used.
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


# --- beyond the five: the rows a paper cites (suites "extended", "lecun", "neural") -----------------------------


@register_pipeline(
    "linear",
    "linear SVM by SGD (hinge loss, alpha=1e-4) on raw pixels",
    "bench_mnist.py: LogisticRegression, 8.24% error (LeCun's 1998 1-layer linear classifier: 12.0%)",
    cost=(45.0, 1.0),
)
def _linear() -> BaseEstimator:
    return SGDClassifier(loss="hinge", alpha=1e-4)


@register_pipeline(
    "extra_trees",
    "extremely randomized trees, 100 trees",
    "bench_mnist.py: ExtraTrees, 2.94% error",
    cost=(40.0, 1.2),
)
def _extra_trees() -> BaseEstimator:
    return ExtraTreesClassifier(n_estimators=100)


@register_pipeline(
    "hgb",
    "histogram gradient boosting, 300 iterations of 31-leaf trees, no early stopping",
    "LeCun's table: boosted trees (17 leaves), Kegl et al. 2009, 1.53% error",
    cost=(600.0, 1.0),
)
def _hgb() -> BaseEstimator:
    return HistGradientBoostingClassifier(max_iter=300, early_stopping=False)


@register_pipeline(
    "mlp",
    "multi-layer perceptron, two hidden layers of 100, adam (bench_mnist.py's parameters)",
    "bench_mnist.py: MLP adam (100,100), 2.24% error",
    cost=(400.0, 1.0),
)
def _mlp() -> BaseEstimator:
    return MLPClassifier(hidden_layer_sizes=(100, 100), max_iter=400, alpha=1e-4, learning_rate_init=1e-3, tol=1e-4)


@register_pipeline(
    "nystroem_svm",
    "Nystroem RBF features (gamma=0.015, 1000 components), then LinearSVC(C=100)",
    "bench_mnist.py: Nystroem(gamma=0.015, 1000) + LinearSVC(C=100), 2.28% error",
    cost=(170.0, 1.0),
)
def _nystroem_svm() -> BaseEstimator:
    return Pipeline([("nystroem", Nystroem(gamma=0.015, n_components=1000)), ("svc", LinearSVC(C=100))])


@register_pipeline(
    "pca_rf",
    "PCA keeping 95% of the variance, then a random forest of 100 trees",
    "Geron, Hands-On ML, notebook 08: PCA(0.95) + RandomForestClassifier(100), 94.81%",
    cost=(170.0, 1.2),
)
def _pca_rf() -> BaseEstimator:
    return Pipeline([("pca", PCA(n_components=0.95)), ("rf", RandomForestClassifier(n_estimators=100))])


@register_pipeline(
    "deskew_knn",
    "deskewed images (LeCun's shear from second-order moments), then 3-nearest neighbours",
    "LeCun's table: K-NN, Euclidean (L2), deskewing, 2.4% error",
    cost=(100.0, 1.0),
)
def _deskew_knn() -> BaseEstimator:
    return Pipeline([("deskew", Deskew()), ("knn", KNeighborsClassifier(n_neighbors=3))])


@register_pipeline(
    "deskew_poly_svm",
    "deskewed images, then a degree-4 polynomial SVM (coef0=1, C=10, gamma='scale')",
    "LeCun's table: SVM deg 4 polynomial, deskewing, 1.1% error",
    cost=(300.0, 1.7),
    serial_predict=True,
)
def _deskew_poly_svm() -> BaseEstimator:
    svc = SVC(kernel="poly", degree=4, coef0=1, C=10, gamma="scale")
    return Pipeline([("deskew", Deskew()), ("svc", svc)])


@register_pipeline(
    "lenet5",
    "LeNet-5 (PyTorch, CPU): two conv/pool layers, 120-84-10, Adam, 12 epochs (the [cnn] extra)",
    "LeCun's table: LeNet-5, 0.95% error",
    cost=(900.0, 1.0),
)
def _lenet5() -> BaseEstimator:
    from ..estimators.lenet import LeNet5Classifier  # torch is imported only when a LeNet-5 case is built

    return LeNet5Classifier()


@register_pipeline(
    "resnet",
    "small ResNet (PyTorch): 3 stages of basic blocks, 24-48-96 channels, 2-px shifts, AdamW, 8 epochs ([cnn])",
    "no published MNIST figure for this network (He et al. 2015 report ImageNet and CIFAR-10)",
    cost=(900.0, 1.0),
)
def _resnet() -> BaseEstimator:
    from ..estimators.resnet import ResNetClassifier  # torch is imported only when a case is built

    return ResNetClassifier()


@register_pipeline(
    "mobilenet",
    "MobileNetV2 at width 0.5 (PyTorch): inverted-residual depthwise-separable blocks, 2-px shifts, 8 epochs ([cnn])",
    "no published MNIST figure for this network (Sandler et al. 2018 report ImageNet)",
    cost=(900.0, 1.0),
)
def _mobilenet() -> BaseEstimator:
    from ..estimators.mobilenet import MobileNetClassifier

    return MobileNetClassifier()


@register_pipeline(
    "vit",
    "small vision Transformer (PyTorch): 4x4 patches, 3 layers of width 48, mean pooling, 10 epochs ([cnn])",
    "no published MNIST figure for this network (Dosovitskiy et al. 2020 report ImageNet and transfer)",
    cost=(900.0, 1.0),
)
def _vit() -> BaseEstimator:
    from ..estimators.vit import ViTClassifier

    return ViTClassifier()


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
register_suite(
    "extended",
    "every classical pipeline: the five, and linear, trees, boosting, MLP, kernel features, deskewing",
    (
        *DEFAULT_PIPELINES,
        "linear",
        "extra_trees",
        "hgb",
        "mlp",
        "nystroem_svm",
        "pca_rf",
        "deskew_knn",
        "deskew_poly_svm",
    ),
)
register_suite(
    "lecun",
    "reproductions of rows of LeCun's MNIST table",
    ("linear", "knn", "deskew_knn", "svm", "deskew_poly_svm", "hgb", "lenet5"),
)
register_suite("neural", "the neural rows: an MLP and LeNet-5 (needs the [cnn] extra)", ("mlp", "lenet5"))
register_suite(
    "cnn",
    "neural architectures 1998-2020: LeNet-5, ResNet, MobileNetV2, ViT (needs the [cnn] extra)",
    ("lenet5", "resnet", "mobilenet", "vit"),
)
