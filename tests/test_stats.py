"""empirical_stats against numpy's own mean and covariance; the Rayleigh median and its standard error
against a simulation of the estimator."""

import numpy as np
import pytest

from lindiff import LinearDiffusion, Schedule, empirical_stats, rayleigh_median


@pytest.mark.parametrize("N, d", [(2, 1), (2, 30), (7, 3), (50, 5)])
def test_matches_numpy(N, d, make_data):
    X = make_data(N, d, seed=N + d)
    mean, cov = empirical_stats(X)
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(cov, np.atleast_2d(np.cov(X.T, bias=True)), rtol=1e-11, atol=1e-12)
    _, cov1 = empirical_stats(X, ddof=1)
    np.testing.assert_allclose(cov1, np.atleast_2d(np.cov(X.T, ddof=1)), rtol=1e-11, atol=1e-12)
    np.testing.assert_array_equal(cov, cov.T)
    # rank N - 1 at most: the main case N <= d has exact null directions
    assert np.linalg.matrix_rank(cov) == min(N - 1, d)


@pytest.mark.parametrize(
    "X, kwargs, match",
    [
        (np.ones((1, 3)), {}, "N = 1 rows; at least 2 samples"),
        (np.ones(3), {}, "2-D array"),
        (np.ones((4, 0)), {}, "no columns"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), {}, "NaN or inf"),
        (np.array([[object(), 1.0], [0.0, 1.0]], dtype=object), {}, "numeric"),
        (np.ones((3, 2)), {"ddof": 2}, "ddof must be 0 or 1"),
    ],
)
def test_rejects_bad_input(X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        empirical_stats(X, **kwargs)


@pytest.mark.parametrize("scale, n", [(0.25, 600), (2.0, 151)])
def test_rayleigh_median_against_simulated_medians(scale, n):
    """Draw the median of n distances |s z|, z ~ N(0, Id_2), 4000 times: the medians scatter about
    s sqrt(2 ln 2) with the standard deviation the function gives (chapter 1's check uses both)."""
    reps = 4000
    z = np.random.default_rng(n).standard_normal((reps, n, 2))
    medians = np.median(np.linalg.norm(scale * z, axis=2), axis=1)
    median, se = rayleigh_median(scale, n)
    assert median == pytest.approx(scale * np.sqrt(2 * np.log(2)), rel=1e-14)
    # Monte-Carlo errors: mean of the medians se / sqrt(reps); their standard deviation relative
    # 1 / sqrt(2 (reps - 1)) = 1.1 %; the asymptotic formula's own error is O(1/n), below 1 % here
    assert abs(medians.mean() - median) < 4 * se / np.sqrt(reps) + 0.01 * se
    spread = medians.std(ddof=1)
    assert abs(spread / se - 1) < 4 / np.sqrt(2 * (reps - 1)) + 0.01
    # the check has power: s / sqrt(n) (the standard error of a mean of unit-variance draws, 18 % larger) fails it
    assert abs(spread / (scale / np.sqrt(n)) - 1) > 4 / np.sqrt(2 * (reps - 1)) + 0.01


@pytest.mark.parametrize(
    "scale, n, match",
    [(0.0, 10, "scale must be > 0"), (-1.0, 10, "scale must be a finite number"), (1.0, 0, "n must be >= 1")],
)
def test_rayleigh_median_rejects_bad_input(scale, n, match):
    with pytest.raises(ValueError, match=match):
        rayleigh_median(scale, n)


@pytest.mark.parametrize("scale", [1e200, 1e160])
def test_statistics_that_overflow_blame_x(scale):
    """Before: empirical_stats returned an inf covariance and LinearDiffusion.fit(X * 1e200) blamed ``cov``."""
    X = np.random.default_rng(0).standard_normal((5, 3)) * scale
    with pytest.raises(ValueError, match="X is too large for float64 statistics"):
        empirical_stats(X)
    with pytest.raises(ValueError, match="X is too large for float64 statistics"):
        LinearDiffusion.fit(X, Schedule.linear(T=10))
