"""Exploration: candidate defaults for new baselines against published MNIST figures.

Fits each candidate on the full training set (60,000 images) and scores it on
the 10,000 test images, one case at a time, timing fit and predict separately
(``time.perf_counter`` around exactly those calls, and the process's CPU time,
since the machine may be shared; the 1-minute load average is recorded too). Prints one JSON line per
case (to stdout; redirect to a file). Not part of the test suite.

Usage::

    python benchmarks/explore_baselines.py                 # every case, in order
    python benchmarks/explore_baselines.py mlp_adam et10   # selected cases
    python benchmarks/explore_baselines.py --list
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable

import numpy as np
import sklearn
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC, LinearSVC
from threadpoolctl import threadpool_info

from mnist_classic import load_dataset
from mnist_classic.estimators import Deskew, LeNet5Classifier

SEED = 0

# name -> (factory, published figure it is compared with)
CASES: dict[str, tuple[Callable[[], BaseEstimator], str]] = {
    "deskew_knn3": (
        lambda: make_pipeline(Deskew(), KNeighborsClassifier(n_neighbors=3)),
        "LeCun: K-NN L2, deskewing, 2.4% error",
    ),
    "deskew_knn1": (
        lambda: make_pipeline(Deskew(), KNeighborsClassifier(n_neighbors=1)),
        "LeCun: K-NN L2, deskewing, 2.4% error",
    ),
    "sgd_hinge": (
        lambda: SGDClassifier(loss="hinge", alpha=1e-4, random_state=SEED),
        "bench_mnist LogisticRegression-SAG 8.24% error; LeCun linear 12.0% error",
    ),
    "linearsvc": (
        lambda: LinearSVC(C=1.0, random_state=SEED),
        "bench_mnist LogisticRegression-SAG 8.24% error; LeCun linear 12.0% error",
    ),
    "logreg_sag_bench": (
        lambda: LogisticRegression(solver="sag", tol=1e-1, C=1e4, random_state=SEED),
        "bench_mnist LogisticRegression-SAG 8.24% error (its exact params)",
    ),
    "mlp_adam": (
        lambda: MLPClassifier(
            hidden_layer_sizes=(100, 100),
            max_iter=400,
            alpha=1e-4,
            solver="adam",
            learning_rate_init=0.001,
            tol=1e-4,
            random_state=SEED,
        ),
        "bench_mnist MLP-adam (100,100) 2.24% error",
    ),
    "et10": (
        lambda: ExtraTreesClassifier(n_estimators=10, random_state=SEED),
        "bench_mnist ExtraTrees (10 trees then) 2.94% error",
    ),
    "et100": (
        lambda: ExtraTreesClassifier(n_estimators=100, random_state=SEED),
        "bench_mnist ExtraTrees (10 trees then) 2.94% error",
    ),
    "pca_rf": (
        lambda: make_pipeline(
            PCA(n_components=0.95, random_state=SEED), RandomForestClassifier(100, random_state=SEED)
        ),
        "Geron: PCA(0.95) + RandomForest(100) 94.81% accuracy",
    ),
    "nystroem_linearsvc": (
        lambda: make_pipeline(
            Nystroem(gamma=0.015, n_components=1000, random_state=SEED), LinearSVC(C=100, random_state=SEED)
        ),
        "bench_mnist Nystroem-SVM 2.28% error",
    ),
    "hgb": (
        lambda: HistGradientBoostingClassifier(random_state=SEED),
        "Kegl et al.: boosted trees (17 leaves) 1.53% error",
    ),
    "deskew_svc_poly4": (
        lambda: make_pipeline(Deskew(), SVC(kernel="poly", degree=4, gamma="scale", coef0=1, C=10)),
        "LeCun: SVM deg 4 polynomial, deskewing, 1.1% error",
    ),
    "lenet5": (
        lambda: LeNet5Classifier(random_state=SEED),
        "LeCun: LeNet-5 0.95% error (floor here: 98.9% accuracy)",
    ),
}


def _params(est: BaseEstimator) -> dict[str, object]:
    """Non-default-looking hyper-parameters of every step, for the record."""
    steps = est.steps if hasattr(est, "steps") else [(type(est).__name__.lower(), est)]
    out: dict[str, object] = {}
    for name, step in steps:
        defaults = type(step)().get_params(deep=False)
        for k, v in step.get_params(deep=False).items():
            if defaults.get(k) != v:
                out[f"{name}__{k}"] = v
        out[f"{name}__class"] = type(step).__name__
    return out


def run_case(name: str, X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray) -> dict:
    factory, published = CASES[name]
    est = factory()
    c0, t0 = time.process_time(), time.perf_counter()
    est.fit(X_train, y_train)
    fit_s, fit_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    c0, t0 = time.process_time(), time.perf_counter()
    pred = est.predict(X_test)
    predict_s, predict_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    acc = float(np.mean(pred == y_test))
    record = {
        "case": name,
        "params": {k: repr(v) for k, v in _params(est).items()},
        "accuracy": acc,
        "error_pct": round(100 * (1 - acc), 2),
        "fit_s": round(fit_s, 2),
        "predict_s": round(predict_s, 2),
        "fit_cpu_s": round(fit_cpu_s, 2),
        "predict_cpu_s": round(predict_cpu_s, 2),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "published": published,
    }
    for attr in ("n_iter_", "n_estimators_", "n_epochs_", "epoch_times_", "loss_curve_"):
        last = est.steps[-1][1] if hasattr(est, "steps") else est
        if hasattr(last, attr):
            record[attr] = np.round(np.asarray(getattr(last, attr), dtype=float), 4).tolist()
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    if args.list:
        for name, (_, published) in CASES.items():
            print(f"{name:22s} {published}")
        return 0
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        print(f"unknown case(s) {unknown}; valid: {', '.join(CASES)}", file=sys.stderr)
        return 2
    ds = load_dataset("mnist")
    env = {
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "blas": [(i.get("internal_api"), i.get("num_threads")) for i in threadpool_info()],
    }
    print(json.dumps({"environment": env}), flush=True)
    for name in args.cases or list(CASES):
        record = run_case(name, ds.X_train, ds.y_train, ds.X_test, ds.y_test)
        print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
