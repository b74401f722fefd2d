"""pytest-benchmark suite: fit and predict of every registered pipeline on a fixed MNIST subsample.

Not part of the unit tests (``pytest`` alone collects only tests/); run it as
``pytest benchmarks --benchmark-autosave`` (see benchmarks/README.md).
"""

from __future__ import annotations

import numpy as np
import pytest

from mnist_classic import DEFAULT_PIPELINES, load_dataset, parse_selector

N_TRAIN, N_TEST, SEED, ROUNDS = 2000, 1000, 0, 3
#: The five defaults and the floor: the baselines beyond them (minutes each, even here) are measured by `run`.
BENCHED = [*DEFAULT_PIPELINES, "dummy"]


@pytest.fixture(scope="module")
def data():
    ds = load_dataset("mnist", n_train=N_TRAIN, n_test=N_TEST)
    arrays = tuple(np.ascontiguousarray(a) for a in (ds.X_train, ds.y_train, ds.X_test, ds.y_test))
    return (*arrays, ds.sha256)


def _info(benchmark, name, accuracy, sha256):
    benchmark.extra_info.update(
        pipeline=parse_selector(name).name,
        n_train=N_TRAIN,
        n_test=N_TEST,
        seed=SEED,
        accuracy=accuracy,
        dataset="mnist",
        **{f"sha256_{role}": sha for role, sha in sha256.items()},
    )


@pytest.mark.benchmark(group="fit")
@pytest.mark.parametrize("name", BENCHED)
def test_fit(benchmark, data, name):
    X, y, Xt, yt, sha256 = data
    configured = parse_selector(name)
    fitted = []

    def setup():
        est = configured.build(random_state=SEED)  # a fresh estimator each round, built outside the timing
        fitted.append(est)
        return (est,), {}

    benchmark.pedantic(lambda est: est.fit(X, y), setup=setup, rounds=ROUNDS, iterations=1)
    accuracy = float(np.mean(fitted[-1].predict(Xt) == yt))
    _info(benchmark, name, accuracy, sha256)
    assert accuracy > 0.05


@pytest.mark.benchmark(group="predict")
@pytest.mark.parametrize("name", BENCHED)
def test_predict(benchmark, data, name):
    X, y, Xt, yt, sha256 = data
    est = parse_selector(name).build(random_state=SEED).fit(X, y)
    pred = benchmark.pedantic(est.predict, args=(Xt,), rounds=ROUNDS, iterations=1)
    accuracy = float(np.mean(pred == yt))
    _info(benchmark, name, accuracy, sha256)
    assert accuracy > 0.05
