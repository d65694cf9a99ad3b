"""The naive measure and its exact expectation, the learned KL and its optimal ridge."""
import numpy as np
import pytest

from lindiff import (empirical_stats, gaussian_kl, participation_ratio, power_law_spectrum,
                     rotated_covariance)
from lindiff.measures import LearnedKL, expected_naive_measure, learned_kl, naive_measure, optimal_ridge


def _gaussian(d, k, seed):
    cov = rotated_covariance(power_law_spectrum(d, k), seed=seed)
    return np.linspace(0.0, 1.0, d), cov


def _stats(mean, cov, N, rng):
    X = rng.multivariate_normal(mean, cov, size=N, method="eigh")
    return empirical_stats(X)


def test_naive_measure_simple_cases():
    S = np.diag([4.0, 1.0])
    assert naive_measure(S, S) == 0.0
    assert naive_measure(np.zeros((2, 2)), S) == 1.0
    assert naive_measure(np.diag([5.0, 1.0]), S) == pytest.approx(1.0 / 17.0)


@pytest.mark.parametrize("k, N", [(0.0, 5), (1.0, 20), (2.0, 8), (2.0, 200)])
def test_expected_naive_measure_against_datasets(k, N):
    mean, cov = _gaussian(15, k, seed=1)
    rng = np.random.default_rng(2)
    vals = np.array([naive_measure(_stats(mean, cov, N, rng)[1], cov) for _ in range(3000)])
    exact = expected_naive_measure(cov, N)
    assert abs(vals.mean() - exact) < 4 * vals.std() / np.sqrt(vals.size)
    # and the talk's approximation (d_eff + 1) / N is its large-N form
    d_eff = participation_ratio(cov)
    assert exact == pytest.approx((d_eff + 1) / N, rel=2 * d_eff / N / (d_eff + 1) + 1e-12)


def test_expected_naive_measure_accepts_eigenvalues():
    lam = power_law_spectrum(30, 1.0)
    assert expected_naive_measure(lam, 50) == pytest.approx(expected_naive_measure(rotated_covariance(lam, 3), 50))


@pytest.mark.parametrize("d, N", [(8, 5), (8, 9), (8, 40)])
def test_learned_kl_equals_gaussian_kl(d, N):
    mean, cov = _gaussian(d, 1.0, seed=3)
    m0, S0 = _stats(mean, cov, N, np.random.default_rng(4))
    K = LearnedKL(m0, S0, mean, cov)
    cs = np.array([0.0, 1e-4, 0.03, 1.0, 30.0])
    expect = np.array([gaussian_kl(m0, S0 + c * np.eye(d), mean, cov) for c in cs])
    got = K(cs)
    assert got.shape == cs.shape
    if N <= d:
        assert np.isinf(got[0]) and np.isinf(expect[0])
    assert np.allclose(got[1:], expect[1:], rtol=1e-8)
    if N > d:
        assert got[0] == pytest.approx(expect[0], rel=1e-8)
    assert learned_kl(m0, S0, mean, cov, 0.03) == pytest.approx(expect[2], rel=1e-8)


@pytest.mark.parametrize("d, N, k", [(10, 4, 1.0), (10, 11, 0.0), (10, 30, 2.0), (20, 10, 2.0)])
def test_optimal_ridge_against_grid_search(d, N, k):
    """Brute force with gaussian_kl (dense, independent of the closed form in c) on a fine grid."""
    mean, cov = _gaussian(d, k, seed=5)
    m0, S0 = _stats(mean, cov, N, np.random.default_rng(6))
    c_star = optimal_ridge(m0, S0, mean, cov)
    grid = np.geomspace(1e-6, 10.0, 600)
    kls = np.array([gaussian_kl(m0, S0 + c * np.eye(d), mean, cov) for c in grid])
    i = int(np.argmin(kls))
    assert 0 < i < grid.size - 1  # an interior minimum
    assert grid[i - 1] <= c_star <= grid[i + 1]
    assert learned_kl(m0, S0, mean, cov, c_star) <= kls.min() + 1e-9


def test_optimal_ridge_is_zero_when_the_data_overestimate_every_variance():
    """Sigma_0 = 2 Sigma: sum 1/lambda = Tr Sigma^-1 / 2 < Tr Sigma^-1, so KL increases with c."""
    mean, cov = _gaussian(6, 1.0, seed=7)
    assert optimal_ridge(mean, 2.0 * cov, mean, cov) == 0.0
    K = LearnedKL(mean, 2.0 * cov, mean, cov)
    assert np.all(np.diff(K(np.linspace(0, 1, 50))) > 0)


def test_bad_input_raises():
    mean, cov = _gaussian(3, 1.0, seed=0)
    with pytest.raises(ValueError, match="singular"):
        LearnedKL(mean, cov, mean, np.diag([1.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match="c must"):
        learned_kl(mean, cov, mean, cov, -1.0)
    with pytest.raises(ValueError, match="shape"):
        naive_measure(np.eye(2), cov)
    with pytest.raises(ValueError, match="zero"):
        naive_measure(cov, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="N must be"):
        expected_naive_measure(cov, 1)
    with pytest.raises(ValueError, match="symmetric"):
        optimal_ridge(mean, np.triu(np.ones((3, 3))), mean, cov)
    with pytest.raises(ValueError, match="semi-definite"):
        naive_measure(cov, -cov)
