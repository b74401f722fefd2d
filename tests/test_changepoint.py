"""Change-point detection: planted steps found where they are, noise left alone, bad input refused."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from mnist_classic.analysis.history.changepoint import Step, detect_steps, noise_scale


def noisy(levels, sizes, noise, seed):
    rng = np.random.default_rng(seed)
    clean = np.repeat(np.asarray(levels, dtype=float), sizes)
    return clean * (1 + noise * rng.standard_normal(clean.size))


@pytest.mark.parametrize("seed", range(5))
def test_planted_step_found_at_its_index(seed):
    y = noisy([1.0, 1.3], [12, 13], 0.03, seed)
    steps = detect_steps(y)
    assert [s.index for s in steps] == [12]
    assert steps[0].ratio == pytest.approx(1.3, rel=0.05)
    assert steps[0].before == pytest.approx(1.0, rel=0.05)


def test_several_steps():
    y = noisy([2.0, 3.0, 2.5, 5.0], [10, 8, 9, 10], 0.02, 1)
    assert [s.index for s in detect_steps(y)] == [10, 18, 27]


def test_step_down_has_ratio_below_one():
    (step,) = detect_steps(noisy([1.0, 0.5], [10, 10], 0.03, 2))
    assert step.index == 10
    assert step.ratio == pytest.approx(0.5, rel=0.05)


def test_constant_series_has_no_step():
    assert detect_steps(np.full(30, 4.2)) == []
    assert detect_steps(np.zeros(5)) == []


def test_noise_free_step_found():
    assert detect_steps([1.0] * 5 + [2.0] * 5) == [Step(index=5, before=1.0, after=2.0, ratio=2.0)]


def test_one_outlier_is_not_a_step_with_min_size_2():
    y = noisy([1.0], [25], 0.02, 3)
    y[12] *= 3
    assert detect_steps(y, min_size=2) == []


@pytest.mark.parametrize("values", [[], [1.0], [1.0, 5.0]])
def test_short_series(values):
    assert detect_steps(values, min_size=2) == []


def test_two_points_with_min_size_1():
    assert [s.index for s in detect_steps([1.0, 5.0], penalty=0.1, min_size=1)] == [1]


def test_min_size_respected():
    y = noisy([1.0, 2.0, 1.0], [10, 2, 10], 0.01, 4)
    assert [s.index for s in detect_steps(y, min_size=2)] == [10, 12]
    bounds = [0, *(s.index for s in detect_steps(y, min_size=3)), y.size]
    assert all(b - a >= 3 for a, b in itertools.pairwise(bounds))


def test_penalty_controls_the_number_of_steps():
    y = noisy([1.0, 1.1, 1.2], [10, 10, 10], 0.02, 5)
    assert len(detect_steps(y, penalty=0.0)) >= len(detect_steps(y)) >= len(detect_steps(y, penalty=1e6)) == 0


def test_zero_before_gives_nan_or_inf_ratio():
    (step,) = detect_steps([0.0] * 5 + [1.0] * 5)
    assert math.isinf(step.ratio)


def test_noise_scale_is_robust_to_a_step():
    rng = np.random.default_rng(0)
    y = 1 + 0.05 * rng.standard_normal(200)
    sigma = noise_scale(y)
    y[100:] += 10
    assert noise_scale(y) == pytest.approx(sigma, rel=0.1)
    assert sigma == pytest.approx(0.05, rel=0.2)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ([1.0, float("nan"), 2.0], r"'values' .* finite numbers .* Got nan at index 1"),
        ([1.0, float("inf")], r"'values' .* Got inf at index 1"),
        ([[1.0, 2.0], [3.0, 4.0]], r"'values' .* 1-D .* Got 2 dimensions"),
        (["a", "b"], r"'values' .* 1-D array of numbers"),
    ],
)
def test_invalid_values(values, match):
    with pytest.raises(ValueError, match=match):
        detect_steps(values)


@pytest.mark.parametrize("penalty", [-1.0, float("nan"), float("inf"), "high"])
def test_invalid_penalty(penalty):
    with pytest.raises(ValueError, match=r"The 'penalty' parameter of detect_steps must be a finite float >= 0"):
        detect_steps([1.0, 2.0, 3.0], penalty=penalty)


@pytest.mark.parametrize("min_size", [0, -1, 1.5, True, None])
def test_invalid_min_size(min_size):
    with pytest.raises(ValueError, match=r"The 'min_size' parameter of detect_steps must be an int >= 1"):
        detect_steps([1.0, 2.0, 3.0], min_size=min_size)


def test_false_alarms_on_pure_noise_are_rare():
    """A loose, deterministic bound (fixed seeds); the measured rates are in
    benchmarks/changepoint_false_alarms.py."""
    rng = np.random.default_rng(12345)
    alarms = 0
    for _ in range(200):
        n = int(rng.integers(20, 31))
        y = 1 + rng.uniform(0.02, 0.05) * rng.standard_normal(n)
        alarms += bool(detect_steps(y))
    assert alarms / 200 <= 0.10
