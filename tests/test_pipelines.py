"""Contract tests over the whole pipeline registry, and the selector syntax."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone, is_classifier

from mnist_classic.measure.timing import timed_fit, timed_predict
from mnist_classic.spec.pipelines import DEFAULT_PIPELINES, PIPELINES
from mnist_classic.spec.selectors.parse import effective_params, parse_selector


@pytest.fixture(scope="module")
def tiny():
    """120 images of 28x28 pixels, 3 separable classes (PCA(50) needs >= 50 of each; Deskew and LeNet-5 need images)."""
    rng = np.random.default_rng(0)
    centers = rng.uniform(0, 1, size=(3, 784))
    y = np.repeat(np.arange(3), 40)
    X = np.clip(centers[y] + rng.normal(0, 0.05, size=(120, 784)), 0, 1).astype(np.float32)
    return X, y


def _needs(name: str) -> list[pytest.MarkDecorator]:
    """The networks of suite cnn need the [cnn] extra (PyTorch); CI installs it."""
    try:
        import torch  # noqa: F401
    except ImportError:
        skip = pytest.mark.skip(reason="the [cnn] extra (torch) is not installed")
        return [skip] if name in ("lenet5", "resnet", "mobilenet", "vit") else []
    return []


@pytest.mark.parametrize("name", [pytest.param(n, marks=_needs(n)) for n in sorted(PIPELINES)])
class TestContract:
    def test_fresh_instance_each_build(self, name):
        c = parse_selector(name)
        a, b = c.build(), c.build()
        assert a is not b
        if hasattr(a, "steps"):
            assert all(sa is not sb for (_, sa), (_, sb) in zip(a.steps, b.steps, strict=True))

    def test_is_cloneable_classifier(self, name):
        est = parse_selector(name).build(random_state=3)
        assert is_classifier(est)
        cloned = clone(est)
        assert effective_params(cloned) == effective_params(est)

    def test_fits_and_predicts_tiny_set(self, name, tiny):
        X, y = tiny
        est = parse_selector(name).build(random_state=0)
        fit_s, fit_steps = timed_fit(est, X, y)
        pred, predict_s, predict_steps = timed_predict(est, X)
        assert pred.shape == y.shape
        assert fit_s >= 0 and predict_s >= 0
        assert set(fit_steps) == set(predict_steps)
        # dummy predicts one class; LeNet-5's 12 epochs are 12 Adam steps on 120 images (chance is 1/3), and
        # resnet's and mobilenet's 8 one-cycle steps on 120 images; vit, with no convolution, learns slowest
        floor = {"dummy": 0.3, "lenet5": 0.6, "resnet": 0.6, "mobilenet": 0.6, "vit": 0.45}.get(name, 0.95)
        assert np.mean(pred == y) >= floor

    def test_every_random_state_is_the_seed(self, name):
        est = parse_selector(name).build(random_state=1234)
        seeds = {k: v for k, v in est.get_params(deep=True).items() if k.endswith("random_state")}
        assert all(v == 1234 for v in seeds.values())
        params = json.loads(effective_params(est))
        assert all(params[k] == 1234 for k in seeds)

    def test_has_description(self, name):
        assert PIPELINES[name].description.strip()
        assert "\n" not in PIPELINES[name].description


def test_defaults_are_the_five_mission_pipelines():
    assert sorted(DEFAULT_PIPELINES) == ["knn", "logreg", "pca_svm", "rf", "svm"]
    assert set(DEFAULT_PIPELINES) <= set(PIPELINES)


def test_stepwise_timing_matches_pipeline_fit(tiny):
    X, y = tiny
    a = parse_selector("pca_svm[n_components=10]").build(random_state=0)
    b = clone(a)
    _, steps = timed_fit(a, X, y)
    assert list(steps) == ["pca", "svc"]
    b.fit(X, y)
    pred_a, _, _ = timed_predict(a, X)
    np.testing.assert_array_equal(pred_a, b.predict(X))
    np.testing.assert_allclose(a.named_steps["pca"].components_, b.named_steps["pca"].components_)


@pytest.mark.parametrize(
    ("selector", "name"),
    [
        ("svm", "svm"),
        ("svm[gamma=scale,C=10]", "svm[C=10,gamma=scale]"),
        (" svm[ C = 10 ] ", "svm[C=10]"),
        ("pca_svm[n_components=30,svc__C=5]", "pca_svm[pca__n_components=30,svc__C=5]"),
        ("pca_svm[C=5,pca__n_components=30]", "pca_svm[pca__n_components=30,svc__C=5]"),
        ("logreg[C=1.5]", "logreg[logreg__C=1.5]"),
        ("rf[max_depth=None,n_estimators=10]", "rf[max_depth=None,n_estimators=10]"),
        ("knn[weights=uniform]", "knn[weights=uniform]"),
    ],
)
def test_selector_names_are_canonical(selector, name):
    c = parse_selector(selector)
    assert c.name == name
    assert parse_selector(c.name).name == name  # the name selects itself


def test_selector_overrides_reach_the_estimator():
    est = parse_selector("pca_svm[n_components=30,C=5]").build()
    assert est.named_steps["pca"].n_components == 30
    assert est.named_steps["svc"].C == 5
    assert est.named_steps["svc"].gamma == "scale"


def test_explicit_random_state_wins_over_seed():
    est = parse_selector("rf[random_state=7]").build(random_state=1)
    assert est.random_state == 7


@pytest.mark.parametrize(
    ("selector", "match"),
    [
        ("svx", r"Unknown pipeline 'svx'; valid pipelines: svm, pca_svm, knn, rf, logreg, .*dummy"),
        ("svm[foo=1]", r"Unknown parameter 'foo' for pipeline 'svm'; valid parameters: C, .*gamma"),
        ("pca_svm[random_state=1]", r"ambiguous: use one of pca__random_state, svc__random_state"),
        ("svm[C]", r"Malformed parameter 'C'"),
        ("svm[C=1", r"Malformed pipeline selector"),
        ("svm[C=1,C=2]", r"set twice"),
        ("svm[C=-1]", r"Invalid value in selector 'svm\[C=-1\]'.*'C' parameter of SVC"),
        ("svm[kernel=banana]", r"'kernel' parameter of SVC"),
    ],
)
def test_selector_errors_name_the_problem(selector, match):
    with pytest.raises(ValueError, match=match):
        parse_selector(selector)
