"""LeNet5Classifier: a short fit on a few hundred images, determinism, threads, the estimator contract."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone

from mnist_classic.estimators import LeNet5Classifier


@pytest.mark.slow
def test_package_imports_without_torch() -> None:
    code = (
        "import sys, mnist_classic.estimators as e; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert e.LeNet5Classifier.__name__ == 'LeNet5Classifier'; "
        "assert 'torch' not in sys.modules, 'torch imported by the class'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_contract_clone_get_set_params() -> None:
    est = LeNet5Classifier(max_epochs=3, random_state=7, n_jobs=1)
    params = est.get_params()
    assert params == {
        "max_epochs": 3,
        "batch_size": 128,
        "learning_rate": 1e-3,
        "lr_decay": 0.85,
        "weight_decay": 0.0,
        "random_state": 7,
        "n_jobs": 1,
        "device": "auto",
    }
    twin = clone(est)
    assert twin is not est and twin.get_params() == params
    assert est.set_params(batch_size=32) is est and est.batch_size == 32


@pytest.mark.parametrize(("param", "value"), [("max_epochs", 0), ("batch_size", 2.5), ("n_jobs", 0)])
def test_bad_params(param: str, value: object) -> None:
    X = np.zeros((4, 784), dtype=np.float32)
    with pytest.raises(ValueError, match=rf"The '{param}' parameter of LeNet5Classifier must be an int >= 1"):
        LeNet5Classifier(**{param: value}).fit(X, [0, 1, 0, 1])


def test_wrong_number_of_features() -> None:
    match = r"X has 100 features, but LeNet5Classifier is expecting 784 features .* Got shape \(4, 100\) instead\."
    with pytest.raises(ValueError, match=match):
        LeNet5Classifier().fit(np.zeros((4, 100), dtype=np.float32), [0, 1, 0, 1])


@pytest.fixture(scope="module")
def small_mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from mnist_classic import load_dataset

    ds = load_dataset("mnist")
    return ds.X_train[:400], ds.y_train[:400], ds.X_test[:200], ds.y_test[:200]


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def test_one_epoch_fit_predict(torch, small_mnist) -> None:
    X, y, X_test, _ = small_mnist
    # Labels as strings: predictions come back as labels, not indices.
    labels = np.array([f"digit{d}" for d in y])
    clf = LeNet5Classifier(max_epochs=1, batch_size=32, random_state=0, n_jobs=1).fit(X, labels)
    assert clf.n_epochs_ == 1
    assert len(clf.epoch_times_) == 1 and clf.epoch_times_[0] > 0
    assert len(clf.loss_curve_) == 1 and np.isfinite(clf.loss_curve_[0])
    assert list(clf.classes_) == sorted(set(labels))
    pred = clf.predict(X_test)
    assert pred.shape == (200,) and set(pred) <= set(labels)
    proba = clf.predict_proba(X_test)
    assert proba.shape == (200, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], pred)


def test_same_seed_same_predictions(torch, small_mnist) -> None:
    X, y, X_test, _ = small_mnist
    a = LeNet5Classifier(max_epochs=2, batch_size=32, random_state=3, n_jobs=1).fit(X, y)
    b = LeNet5Classifier(max_epochs=2, batch_size=32, random_state=3, n_jobs=1).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))
    np.testing.assert_array_equal(a.loss_curve_, b.loss_curve_)
    c = LeNet5Classifier(max_epochs=2, batch_size=32, random_state=4, n_jobs=1).fit(X, y)
    assert not np.array_equal(a.predict_proba(X_test), c.predict_proba(X_test))


def test_thread_setting_restored(torch, small_mnist, monkeypatch) -> None:
    X, y, X_test, _ = small_mnist
    seen: list[int] = []
    real = torch.nn.Conv2d.forward

    def spy(self, x):
        seen.append(torch.get_num_threads())
        return real(self, x)

    before = torch.get_num_threads()
    target = 2 if before == 1 else 1
    monkeypatch.setattr(torch.nn.Conv2d, "forward", spy)
    clf = LeNet5Classifier(max_epochs=1, batch_size=200, random_state=0, n_jobs=target).fit(X[:200], y[:200])
    assert set(seen) == {target}
    assert torch.get_num_threads() == before
    seen.clear()
    clf.predict(X_test)
    assert set(seen) == {target}
    assert torch.get_num_threads() == before
    assert not torch.are_deterministic_algorithms_enabled()
    # None leaves torch's setting alone.
    seen.clear()
    clf.set_params(n_jobs=None).predict(X_test)
    assert set(seen) == {before}
