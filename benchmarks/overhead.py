"""The runner's timing overhead against a bare fit/predict of the same estimator.

For each pipeline, alternately: (a) plain scikit-learn, ``est.fit(X, y)`` and
``est.predict(X_test)`` timed with ``perf_counter`` around each call; (b) the
runner's ``run_case`` on the same data and seed. Prints the median fit and
predict times of each and their ratio (goal: within 3%), and checks that both
predict exactly the same labels.

    python benchmarks/overhead.py [--n-train 10000] [--rounds 3] [--pipelines pca_svm rf logreg knn]

``--harness N``: the harness's own cost per case instead. ``run_benchmark`` on N trivial cases (a
uniform ``DummyClassifier``, n_train 100, n_test 100, as N repeats, the defaults otherwise: warm-up,
machine state, free-core budget, one-image latency, probabilities, CSV and predictions written),
timed as a whole in this process. Every call into the model (``fit``, ``predict``,
``predict_proba``) is timed too, so that the whole splits into the model's time and the harness's:
the harness per case is (the whole - the model's calls) / N (goal: 20 ms). The model's time is
shown in two parts: the row's fit and predict, and the calls of the row's other measurements (at
the defaults, the one-image latency's up to 200 one-image predicts after 10 untimed ones, and
``predict_proba`` on the test set). How often the free-core monitor slept to sample is shown too.
Run it alone: it is a wall-time figure.

    python benchmarks/overhead.py --harness 500 [--latency 0]

``--latency 0`` leaves out the one-image latency (``run --latency 0``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from mnist_classic import load_dataset, parse_selector
from mnist_classic.bench.case import Case, run_case


def harness(cases: int, latency: int | None = None) -> None:
    """The harness's cost per case on ``cases`` trivial cases (see the module's docstring)."""
    import tempfile
    from pathlib import Path

    import pandas as pd

    from mnist_classic import RunConfig, run_benchmark
    from mnist_classic.measure import machine

    sleeps = []
    monitor = machine.FreeCoresMonitor.__call__

    def counting(self: machine.FreeCoresMonitor) -> int:
        before = self.samples
        out = monitor(self)
        sleeps.append(self.samples - before)
        return out

    machine.FreeCoresMonitor.__call__ = counting  # type: ignore[method-assign]

    # Every call into the model, timed: what the model costs, so that the rest is the harness's.
    from sklearn.dummy import DummyClassifier

    model_s = [0.0]

    def timed(method: Any) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return method(self, *args, **kwargs)
            finally:
                model_s[0] += time.perf_counter() - t0

        return call

    for name in ("fit", "predict", "predict_proba"):
        setattr(DummyClassifier, name, timed(getattr(DummyClassifier, name)))

    def whole_run(n: int) -> tuple[float, float, float, int]:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "h.csv"
            config = RunConfig(
                pipelines=["sklearn.dummy:DummyClassifier[strategy=uniform]"],
                n_train=[100],
                n_test=100,
                repeats=n,
                output=str(out),
                latency=latency,
            )
            model_s[0] = 0.0
            t0 = time.perf_counter()
            run_benchmark(config)
            whole = time.perf_counter() - t0
            rows = pd.read_csv(out)
        measured = float(rows["fit_time_s"].sum() + rows["predict_time_s"].sum())
        return whole, measured, model_s[0], len(rows)

    # A run's fixed costs (plan, data, the contract check, the warm-up) are the same for 1 case and for N:
    # the difference of the two runs is N - 1 cases' worth of harness and model calls.
    one, one_measured, one_model, _ = whole_run(1)
    sleeps.clear()
    whole, measured, model, n = whole_run(cases)
    k = max(n - 1, 1)
    in_all = (whole - one) / k
    row = (measured - one_measured) / k  # the rows' fit_time_s + predict_time_s
    calls = (model - one_model) / k  # every model call: those two, and the other measurements' calls
    print(f"{n} cases: {whole:.2f} s ({one:.2f} s for 1 case); fit + predict {measured:.3f} s; model {model:.3f} s")
    print(
        f"per case: {1000 * in_all:.1f} ms = model {1000 * calls:.1f} ms (fit + predict {1000 * row:.1f}, "
        f"latency and probabilities {1000 * (calls - row):.1f}) + harness {1000 * (in_all - calls):.1f} ms"
    )
    print(f"harness per case: {1000 * (in_all - calls):.1f} ms; free-core samples in the {n}-case run: {sum(sleeps)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pipelines", nargs="+", default=["pca_svm", "rf", "logreg", "knn"])
    parser.add_argument("--harness", type=int, default=None, metavar="N", help="the harness's cost on N trivial cases")
    parser.add_argument(
        "--latency", type=int, default=None, metavar="K", help="with --harness: the run's --latency (0: off)"
    )
    args = parser.parse_args()
    if args.harness is not None:
        harness(args.harness, args.latency)
        return
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
