"""Deskew: moments against hand computation on synthetic strokes, the estimator contract, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import check_estimator

from mnist_classic.estimators import Deskew
from mnist_classic.estimators.deskew import image_moments

SHAPE = (28, 28)


def stroke(slope: float, x0: float = 14.0, rows: tuple[int, int] = (5, 23), width: float = 1.0) -> np.ndarray:
    """A 28x28 image of a line through (y=14, x=x0): x = x0 + slope * (y - 14), anti-aliased over columns."""
    img = np.zeros(SHAPE, dtype=np.float32)
    xs = np.arange(SHAPE[1])
    for y in range(*rows):
        centre = x0 + slope * (y - 14)
        img[y] = np.clip(1.0 - np.abs(xs - centre) / width, 0.0, None)
    return img


def hand_moments(img: np.ndarray) -> tuple[float, float, float, float]:
    """Centroid and central moments mu_yy, mu_xy by the textbook double sum."""
    m = cy = cx = 0.0
    for y in range(img.shape[0]):
        for x in range(img.shape[1]):
            m += img[y, x]
            cy += y * img[y, x]
            cx += x * img[y, x]
    cy, cx = cy / m, cx / m
    myy = sum(img[y, x] * (y - cy) ** 2 for y in range(img.shape[0]) for x in range(img.shape[1])) / m
    mxy = sum(img[y, x] * (y - cy) * (x - cx) for y in range(img.shape[0]) for x in range(img.shape[1])) / m
    return cy, cx, myy, mxy


def row_centres(img: np.ndarray) -> np.ndarray:
    """Intensity-weighted column of each non-empty row."""
    mass = img.sum(axis=1)
    keep = mass > 1e-6
    return (img @ np.arange(img.shape[1]))[keep] / mass[keep]


@pytest.mark.parametrize("slope", [0.5, -0.4, 0.25])
def test_image_moments_match_hand_computation(slope: float) -> None:
    img = stroke(slope)
    m = image_moments(img.reshape(1, -1), SHAPE)
    cy, cx, myy, mxy = hand_moments(img.astype(np.float64))
    np.testing.assert_allclose([m["cy"][0], m["cx"][0], m["mu_yy"][0], m["mu_xy"][0]], [cy, cx, myy, mxy], atol=1e-4)
    # For a thin line x = x0 + s (y - cy), mu_xy / mu_yy recovers the slope.
    assert m["mu_xy"][0] / m["mu_yy"][0] == pytest.approx(slope, abs=0.02)


@pytest.mark.parametrize("recenter", [True, False])
@pytest.mark.parametrize("slope", [0.5, -0.4, 0.25])
def test_slanted_stroke_becomes_vertical(slope: float, recenter: bool) -> None:
    img = stroke(slope)
    out = Deskew(recenter=recenter).fit_transform(img.reshape(1, -1))
    assert out.dtype == np.float32
    assert out.shape == (1, 784)
    cy, cx, myy, mxy = hand_moments(out.reshape(SHAPE).astype(np.float64))
    _, _, myy0, mxy0 = hand_moments(img.astype(np.float64))
    assert abs(mxy0) > 5.0
    assert abs(mxy) < 1e-3 * abs(mxy0)
    # Vertical: every row's mass sits in the same column (within a tenth of a pixel).
    assert np.ptp(row_centres(out.reshape(SHAPE))) < 0.1
    # The shear moves pixels along rows only: mass and mu_yy are kept. A vertical move by a
    # fraction g of a pixel, linearly interpolated, adds g (1 - g) <= 1/4 to mu_yy.
    assert out.sum() == pytest.approx(img.sum(), rel=1e-5)
    if recenter:
        assert (cy, cx) == pytest.approx((14.0, 14.0), abs=1e-3)
        assert myy0 - 1e-4 <= myy <= myy0 + 0.25 + 1e-4
    else:
        assert myy == pytest.approx(myy0, rel=1e-4)


def test_upright_centred_stroke_is_unchanged() -> None:
    img = stroke(0.0, x0=14.0, rows=(4, 25))  # centroid exactly (14, 14), mu_xy == 0
    for recenter in (True, False):
        out = Deskew(recenter=recenter).fit_transform(img.reshape(1, -1))
        np.testing.assert_array_equal(out.reshape(SHAPE), img)


def test_upright_stroke_is_only_translated_when_recentring() -> None:
    img = stroke(0.0, x0=10.0, rows=(4, 25))
    np.testing.assert_array_equal(Deskew(recenter=False).fit_transform(img.reshape(1, -1)).reshape(SHAPE), img)
    moved = Deskew().fit_transform(img.reshape(1, -1)).reshape(SHAPE)
    np.testing.assert_array_equal(moved[:, 14], img[:, 10])


def test_batch_equals_one_at_a_time_and_blank_images_pass_through() -> None:
    rng = np.random.default_rng(0)
    images = [stroke(s, x0=x0) for s, x0 in zip(rng.uniform(-0.6, 0.6, 300), rng.uniform(10, 18, 300), strict=True)]
    images[7] = np.zeros(SHAPE, dtype=np.float32)
    X = np.stack(images).reshape(len(images), -1)
    batch = Deskew().transform(X)  # crosses the chunk boundary (256 images)
    singles = np.concatenate([Deskew().transform(X[i : i + 1]) for i in range(len(X))])
    np.testing.assert_allclose(batch, singles, atol=1e-5)
    np.testing.assert_array_equal(batch[7], 0.0)


def test_other_image_shapes() -> None:
    img = np.zeros((10, 16), dtype=np.float32)
    for y in range(1, 9):
        img[y, 4 + y // 2] = 1.0
    out = Deskew(image_shape=(10, 16)).fit_transform(img.reshape(1, -1)).reshape(10, 16)
    assert abs(image_moments(out.reshape(1, -1), (10, 16))["mu_xy"][0]) < 1e-3


def test_contract_clone_params_pickle_pipeline() -> None:
    est = Deskew(image_shape=(14, 14), recenter=False)
    assert est.get_params() == {"image_shape": (14, 14), "recenter": False}
    twin = clone(est)
    assert twin is not est
    assert twin.get_params() == est.get_params()
    assert est.set_params(recenter=True) is est and est.recenter
    X = np.stack([stroke(0.3), stroke(-0.3)]).reshape(2, -1)
    fitted = Deskew().fit(X)
    assert fitted.n_features_in_ == 784
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).transform(X), fitted.transform(X))
    pipe = make_pipeline(Deskew(), KNeighborsClassifier(n_neighbors=1)).fit(X, [0, 1])
    assert pipe.get_params()["deskew__image_shape"] == (28, 28)
    assert list(pipe.predict(X)) == [0, 1]


# check_estimator feeds random data of its own widths (2 to 20 features, not an image):
# every check that builds such data with the default 28x28 shape fails on the width.
def test_check_estimator() -> None:
    results = check_estimator(Deskew(image_shape=(1, 2)), on_fail=None)
    failed = {r["check_name"]: r["exception"] for r in results if r["status"] == "failed"}
    assert all("features" in str(exc) for exc in failed.values()), failed
    passed = [r for r in results if r["status"] == "passed"]
    assert len(passed) > 20


@pytest.mark.parametrize(
    ("image_shape", "shown"),
    [((28,), r"\(28,\)"), ((28, 0), r"\(28, 0\)"), ("28x28", "'28x28'"), ((28.0, 28.0), r"\(28.0, 28.0\)")],
)
def test_bad_image_shape(image_shape: object, shown: str) -> None:
    X = np.zeros((2, 784), dtype=np.float32)
    match = rf"The 'image_shape' parameter of Deskew must be a tuple of two positive ints\. Got {shown} instead\."
    with pytest.raises(ValueError, match=match):
        Deskew(image_shape=image_shape).fit(X)  # type: ignore[arg-type]


def test_negative_intensities() -> None:
    X = np.zeros((2, 784), dtype=np.float32)
    X[1, 3] = -0.5
    match = r"X passed to Deskew must hold non-negative pixel intensities .* Got a minimum of -0\.5 instead\."
    with pytest.raises(ValueError, match=match):
        Deskew().fit(X)
    with pytest.raises(ValueError, match=match):
        Deskew().transform(X)


def test_wrong_number_of_features() -> None:
    X = np.zeros((5, 100), dtype=np.float32)
    match = (
        r"X has 100 features, but Deskew is expecting 784 features as input: with the 'image_shape' parameter "
        r"\(28, 28\), X must have shape \(n_samples, 784\)\. Got shape \(5, 100\) instead\."
    )
    with pytest.raises(ValueError, match=match):
        Deskew().fit(X)
    with pytest.raises(ValueError, match=match):
        Deskew().transform(X)
    with pytest.raises(ValueError, match="Got shape"):
        Deskew(image_shape=(10, 10)).fit(np.zeros((5, 100))).transform(np.zeros((5, 784)))
