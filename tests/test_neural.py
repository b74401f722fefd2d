"""The shared torch trainer and its models: contract, parameter checks, one-epoch fits, determinism, the registry."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from mnist_classic.bench.case import neural_fields
from mnist_classic.cli import main
from mnist_classic.estimators import LeNet5Classifier, MobileNetClassifier, ResNetClassifier, ViTClassifier
from mnist_classic.spec.pipelines import PIPELINES, SUITES

MODELS = [LeNet5Classifier, ResNetClassifier, MobileNetClassifier, ViTClassifier]
NEW = [ResNetClassifier, MobileNetClassifier, ViTClassifier]


@pytest.mark.slow
def test_package_imports_without_torch() -> None:
    code = (
        "import sys, mnist_classic.estimators as e; "
        "[getattr(e, n) for n in ('ResNetClassifier', 'MobileNetClassifier', 'ViTClassifier')]; "
        "import mnist_classic.spec.pipelines; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("cls", MODELS)
def test_contract_clone_and_common_parameters(cls) -> None:
    est = cls(max_epochs=3, random_state=7, n_jobs=1)
    params = est.get_params()
    for name in ("max_epochs", "batch_size", "learning_rate", "weight_decay", "random_state", "n_jobs", "device"):
        assert name in params
    assert params["device"] == "auto" and params["max_epochs"] == 3
    twin = clone(est)
    assert twin is not est and twin.get_params() == params


@pytest.mark.parametrize(
    ("cls", "param", "value", "match"),
    [
        (ResNetClassifier, "max_epochs", 0, "must be an int >= 1"),
        (ResNetClassifier, "width", 2.5, "must be an int >= 1"),
        (ResNetClassifier, "shift", -1, "must be an int >= 0"),
        (MobileNetClassifier, "width_mult", 0, "must be a number > 0"),
        (MobileNetClassifier, "learning_rate", -1.0, "must be a number >= 0"),
        (ViTClassifier, "patch", 5, "must divide 28"),
        (ViTClassifier, "heads", 5, "must divide dim=48"),
        (ViTClassifier, "pool", "max", "must be one of mean, cls"),
        (ViTClassifier, "n_jobs", 0, "must be an int >= 1 or None"),
        (LeNet5Classifier, "device", "tpu", "must be one of auto, cpu, cuda, mps"),
    ],
)
def test_bad_params_name_the_parameter(cls, param, value, match) -> None:
    X = np.zeros((4, 784), dtype=np.float32)
    with pytest.raises(ValueError, match=rf"The '{param}' parameter of {cls.__name__} {match}.* Got {value!r}"):
        cls(**{param: value}).fit(X, [0, 1, 0, 1])


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def small_mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from mnist_classic import load_dataset

    ds = load_dataset("mnist")
    return ds.X_train[:300], ds.y_train[:300], ds.X_test[:200], ds.y_test[:200]


@pytest.mark.slow
@pytest.mark.parametrize("cls", MODELS)
def test_one_epoch_fit_predict_and_fitted_attributes(torch, small_mnist, cls) -> None:
    X, y, X_test, _ = small_mnist
    labels = np.array([f"digit{d}" for d in y])  # predictions come back as labels, not indices
    clf = cls(max_epochs=1, batch_size=100, random_state=0, n_jobs=1, device="cpu").fit(X, labels)
    assert clf.device_ == "cpu" and clf.n_epochs_ == 1
    assert clf.n_params_ == sum(p.numel() for p in clf.module_.parameters()) > 1000
    assert len(clf.epoch_times_) == len(clf.loss_curve_) == len(clf.train_accuracy_curve_) == 1
    assert np.isfinite(clf.loss_curve_[0]) and 0 <= clf.train_accuracy_curve_[0] <= 1
    pred = clf.predict(X_test)
    assert pred.shape == (200,) and set(pred) <= set(labels)
    proba = clf.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], pred)
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.utils.deterministic.fill_uninitialized_memory


@pytest.mark.slow
@pytest.mark.parametrize("cls", NEW)
def test_same_seed_same_predictions(torch, small_mnist, cls) -> None:
    X, y, X_test, _ = small_mnist
    kw = {"max_epochs": 1, "batch_size": 50, "n_jobs": 1}
    a = cls(random_state=3, **kw).fit(X, y)
    b = cls(random_state=3, **kw).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))
    assert a.loss_curve_ == b.loss_curve_
    c = cls(random_state=4, **kw).fit(X, y)
    assert not np.array_equal(a.predict_proba(X_test), c.predict_proba(X_test))


def test_batch_norm_statistics_are_recomputed_after_training(torch, small_mnist) -> None:
    X, y, _, _ = small_mnist
    clf = ResNetClassifier(max_epochs=1, batch_size=100, random_state=0, n_jobs=1).fit(X, y)
    norms = [m for m in clf.module_.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    # three batches of the recalibration pass, averaged (momentum None), then the momentum is back
    assert norms and all(int(m.num_batches_tracked) == 3 and m.momentum == 0.1 for m in norms)
    stem = clf.module_[0](torch.tensor(X).view(-1, 1, 28, 28))
    np.testing.assert_allclose(norms[0].running_mean.numpy(), stem.mean(dim=(0, 2, 3)).detach().numpy(), atol=1e-5)


def test_shifts_are_seeded_and_bounded(torch) -> None:
    from mnist_classic.estimators.torch_trainer import shift_batch

    X = torch.zeros(50, 1, 28, 28)
    X[:, 0, 14, 14] = 1.0
    a = shift_batch(X, 2, torch.Generator().manual_seed(0))
    b = shift_batch(X, 2, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == X.shape
    where = a[:, 0].nonzero()[:, 1:]
    assert len(where) == 50 and ((where - 14).abs() <= 2).all()
    assert len({tuple(p) for p in where.tolist()}) > 5  # images are moved independently


def test_an_unavailable_device_is_refused(torch) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    X = np.zeros((4, 784), dtype=np.float32)
    with pytest.raises(ValueError, match=r"The 'device' parameter is 'cuda', but this torch .* cannot use it"):
        ResNetClassifier(device="cuda").fit(X, [0, 1, 0, 1])


class _Fitted:
    def __init__(self) -> None:
        self.device_ = "cpu"
        self.n_params_ = 1234
        self.epoch_times_ = [1.234567, 2.0]
        self.loss_curve_ = [0.5, 0.25]
        self.train_accuracy_curve_ = [0.9, 0.95]


def test_neural_fields_of_a_network_a_pipeline_and_others() -> None:
    out = neural_fields(_Fitted())
    assert out["device"] == "cpu" and out["n_params"] == 1234
    assert json.loads(out["learning_curves"]) == {
        "epoch_s": [1.23457, 2.0],
        "loss": [0.5, 0.25],
        "train_accuracy": [0.9, 0.95],
    }
    assert neural_fields(make_pipeline(FunctionTransformer(), _Fitted()))["device"] == "cpu"
    assert neural_fields(FunctionTransformer()) == {}


def test_suite_cnn_holds_the_four_networks(capsys) -> None:
    assert SUITES["cnn"].pipelines == ("lenet5", "resnet", "mobilenet", "vit")
    assert all(PIPELINES[p].description for p in SUITES["cnn"].pipelines)
    assert main(["list", "suites"]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.split()[:1] == ["cnn"])
    assert lines[at + 1].split() == ["lenet5", "resnet", "mobilenet", "vit"]  # the members, under the description


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet", "mobilenet", "vit"])
def test_one_epoch_run_writes_the_neural_columns(torch, tmp_path, name) -> None:
    from mnist_classic import read_results

    out = tmp_path / "r.csv"
    argv = ["run", "--pipelines", f"{name}[max_epochs=1]", "--n-train", "300", "--n-test", "200", "-o", str(out)]
    assert main([*argv, "-q"]) == 0
    row = read_results(out).iloc[0]
    assert row["status"] == "ok" and row["device"] in ("cpu", "cuda", "mps") and row["n_params"] > 1000
    curves = json.loads(row["learning_curves"])
    assert set(curves) == {"epoch_s", "loss", "train_accuracy"} and len(curves["loss"]) == 1


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("vit[patch=5]", "The 'patch' parameter of ViTClassifier must divide 28"),
        ("resnet[device=tpu]", "The 'device' parameter of ResNetClassifier must be one of auto, cpu, cuda, mps"),
        ("mobilenet[max_epochs=0]", "The 'max_epochs' parameter of MobileNetClassifier must be an int >= 1"),
    ],
)
def test_a_bad_value_is_refused_before_any_run(tmp_path, capsys, selector, message) -> None:
    out = tmp_path / "r.csv"
    assert main(["run", "--pipelines", selector, "--n-train", "100", "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"Invalid value in selector {selector!r}: {message}" in err
    assert not out.exists()  # nothing half-written
