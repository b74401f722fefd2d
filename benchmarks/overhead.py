"""The runner's timing overhead against a bare fit/predict of the same estimator.

For each pipeline, alternately: (a) plain scikit-learn, ``est.fit(X, y)`` and
``est.predict(X_test)`` timed with ``perf_counter`` around each call; (b) the
runner's ``run_case`` on the same data and seed. Prints the median fit and
predict times of each and their ratio (goal: within 3%), and checks that both
predict exactly the same labels.

    python benchmarks/overhead.py [--n-train 10000] [--rounds 3] [--pipelines pca_svm rf logreg knn]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from mnist_classic import load_dataset, parse_selector
from mnist_classic.bench.case import Case, run_case


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pipelines", nargs="+", default=["pca_svm", "rf", "logreg", "knn"])
    args = parser.parse_args()
    ds = load_dataset("mnist", n_train=args.n_train)
    X, y = np.ascontiguousarray(ds.X_train), np.asarray(ds.y_train)
    Xt, yt = np.ascontiguousarray(ds.X_test), np.asarray(ds.y_test)
    print(
        f"{'pipeline':<10} {'bare fit':>9} {'runner fit':>10} {'ratio':>6} {'bare pred':>9} {'runner pred':>11} "
        f"{'ratio':>6}  same labels"
    )
    for name in args.pipelines:
        configured = parse_selector(name)
        bare_fit, bare_pred, run_fit, run_pred = [], [], [], []
        same = True
        for _ in range(args.rounds):
            est = configured.build(random_state=0)
            t0 = time.perf_counter()
            est.fit(X, y)
            t1 = time.perf_counter()
            pred = est.predict(Xt)
            t2 = time.perf_counter()
            bare_fit.append(t1 - t0)
            bare_pred.append(t2 - t1)
            out = run_case(Case(0, configured, len(y), 0, 0), X, y, Xt, yt)
            run_fit.append(out["fit_time_s"])
            run_pred.append(out["predict_time_s"])
            same &= bool(np.array_equal(pred, out["predictions"]))
        bf, rf_, bp, rp = (statistics.median(v) for v in (bare_fit, run_fit, bare_pred, run_pred))
        print(f"{name:<10} {bf:9.3f} {rf_:10.3f} {rf_ / bf:6.3f} {bp:9.3f} {rp:11.3f} {rp / bp:6.3f}  {same}")


if __name__ == "__main__":
    main()
