"""Schedule: the derived arrays against direct products and sums; validation of every input."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from lindiff import Schedule


def test_linear_schedule_matches_the_talks_formula():
    s = Schedule.linear()
    assert s.T == 1000
    for t in (1, 2, 500, 1000):
        assert s.betas[t - 1] == pytest.approx(1e-4 + (1e-2 - 1e-4) * t / 1000, rel=1e-14)
    # MATH.md section 3: with beta_max = 1e-2, abar_T = 6.3e-3.
    assert s.alpha_bars[-1] == pytest.approx(6.3e-3, abs=5e-5)
    # Ho et al.'s beta_max = 2e-2 drives abar_T to ~4e-5.
    assert Schedule.linear(beta_max=2e-2).alpha_bars[-1] == pytest.approx(4.0e-5, rel=0.05)


@settings(max_examples=30, deadline=None)
@given(T=hs.integers(1, 60), beta_min=hs.floats(1e-5, 0.1), ratio=hs.floats(1.0, 9.0))
def test_derived_arrays_against_direct_products(T, beta_min, ratio):
    s = Schedule.linear(T, beta_min, beta_min * ratio)
    betas = [beta_min + (beta_min * ratio - beta_min) * t / T for t in range(1, T + 1)]
    abar = [math.prod(1.0 - b for b in betas[:t]) for t in range(1, T + 1)]
    np.testing.assert_allclose(s.betas, betas, rtol=1e-13)
    np.testing.assert_allclose(s.alphas, [1.0 - b for b in betas], rtol=1e-13)
    np.testing.assert_allclose(s.alpha_bars, abar, rtol=1e-12)
    np.testing.assert_allclose(s.alpha_bars_prev, [1.0] + abar[:-1], rtol=1e-12)
    np.testing.assert_allclose(s.sigmas**2, betas, rtol=1e-13)
    np.testing.assert_allclose(s.snr, [a / (1.0 - a) for a in abar], rtol=1e-10)
    assert np.all(np.diff(s.alpha_bars) < 0) and 0 < s.alpha_bars[-1] < 1


def test_custom_betas_and_immutability():
    s = Schedule([0.1, 0.2, 0.3])
    np.testing.assert_allclose(s.alpha_bars, [0.9, 0.72, 0.504])
    with pytest.raises(ValueError):
        s.betas[0] = 0.5  # read-only array
    assert "T=3" in repr(s)


def test_check_step_accepts_integers_in_range():
    s = Schedule.linear(T=10)
    assert s.check_step(1) == 1 and s.check_step(np.int64(10)) == 10


@pytest.mark.parametrize("t", [0, 11, -1, 1.0, 2.5, "3", True, None, np.float64(3.0)])
def test_check_step_rejects(t):
    with pytest.raises(ValueError, match=r"step t must be an integer in 1\.\.10"):
        Schedule.linear(T=10).check_step(t)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(T=0), "T must be >= 1"),
        (dict(T=10.0), "T must be an integer"),
        (dict(beta_min=0.0), "0 < beta_min <= beta_max < 1"),
        (dict(beta_min=-1e-4), "0 < beta_min <= beta_max < 1"),
        (dict(beta_max=1.0), "0 < beta_min <= beta_max < 1"),
        (dict(beta_min=0.02, beta_max=0.01), "0 < beta_min <= beta_max < 1"),
        (dict(beta_max=float("nan")), "0 < beta_min <= beta_max < 1"),
        (dict(beta_max="big"), "must be numbers"),
    ],
)
def test_linear_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Schedule.linear(**kwargs)


@pytest.mark.parametrize(
    "betas, match",
    [
        ([], "empty"),
        ([[0.1, 0.2]], "1-D"),
        ([0.1, float("nan")], "NaN or inf"),
        ([0.1, 1.0], r"lie in \(0, 1\)"),
        ([0.0, 0.1], r"lie in \(0, 1\)"),
        ([object()], "numeric"),
        ([1e-17, 0.1], r"betas\[0\] = 1e-17 \(step t = 1\) is below float64 resolution"),
        ([0.1, 5e-17, 0.2], r"betas\[1\] = 5e-17 \(step t = 2\) is below float64 resolution"),
    ],
)
def test_schedule_rejects_bad_betas(betas, match):
    with pytest.raises(ValueError, match=match):
        Schedule(betas)


def test_schedule_rejects_strings_dates_and_complex():
    for betas in (["0.1"], np.array([0.1 + 0j]), np.array(["2020-01-01"], dtype="datetime64[D]")):
        with pytest.raises(TypeError, match="betas must hold real numeric values"):
            Schedule(betas)


def test_tiny_betas_that_alpha_cannot_carry_are_refused():
    """alpha_t = 1 - beta_t is what the forward process sees, beta_t what the sampler adds: a beta
    that float64 cannot carry through 1 - beta (1e-17: not at all; 2e-16: stored as 2.2e-16) would
    make the sampler draw from another law than its closed form. From 1e-8 on, every beta is
    carried to within 1.2e-8 (half an ulp of 1 is 1.1e-16) and accepted."""
    for tiny in (1e-17, 2e-16, 1e-12, 1e-10):
        stored = 1.0 - (1.0 - tiny)
        assert abs(stored - tiny) > 2e-8 * tiny  # independent check that the beta is misrepresented
        with pytest.raises(ValueError, match="below float64 resolution"):
            Schedule(np.array([0.1, tiny, 0.2]))
    for fine in np.geomspace(1e-8, 1e-6, 50):
        Schedule(np.array([fine, 0.1]))
